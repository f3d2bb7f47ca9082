"""named's load-time limits, as values: what the primary refuses when it loads a zone.

BIND 9.18 loads a zone only when no RRset holds more than `max-records-per-type`
records, no name more than `max-types-per-name` types (an RRSIG counts once per type
it covers), no TTL is over the `max-zone-ttl` that applies (a `dnssec-policy`'s own
when the zone has one) and the zone has at most `max-records` records. 0 means no
limit, as in named.conf. `named-checkzone` checks none of these. The defaults are
BIND 9.18's (`named -C`). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_RECORDS_PER_TYPE = 100
MAX_TYPES_PER_NAME = 100
DEFAULT_POLICY_MAX_ZONE_TTL = 86400  # dnssec-policy "default", and a policy that sets none


@dataclass(frozen=True)
class LoadLimits:
    """The limits one zone is loaded under, and where they come from (for messages)."""

    max_records_per_type: int = MAX_RECORDS_PER_TYPE
    max_types_per_name: int = MAX_TYPES_PER_NAME
    max_zone_ttl: int = 0
    max_records: int = 0
    source: str = "BIND 9.18's defaults"


@dataclass(frozen=True)
class Limits:
    """The limits of every zone: the server's, and those a zone statement sets for itself."""

    default: LoadLimits = LoadLimits()
    zones: Mapping[str, LoadLimits] = field(default_factory=dict)

    def of(self, zone: str) -> LoadLimits:
        return self.zones.get(zone.lower().rstrip("."), self.default)
