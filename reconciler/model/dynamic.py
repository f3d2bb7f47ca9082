"""Dynamic names: records a zone lets an RFC 2136 client (an ACME DNS-01 client) update.

`Dynamic` is reconciler.toml's `[dynamic]` as a value (config/dynamic.py reads it): per
zone, the TSIG key that may update, the names (absolute, lower-case, with the trailing dot)
and the types. `is_dynamic` is the one predicate: the generated include grants exactly
those names and types to the key (bind/conf.py), check refuses them in git, deploy keeps
them across every write, and plan and drift leave them out. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DynamicZone:
    """What one zone lets `key` update: every type of `types` at every name of `names`."""

    zone: str  # lower-case, no trailing dot
    key: str
    names: tuple[str, ...]  # absolute, lower-case, trailing dot; sorted
    types: tuple[str, ...]  # upper-case mnemonics (TXT); sorted


@dataclass(frozen=True)
class Dynamic:
    zones: tuple[DynamicZone, ...] = ()

    def of(self, zone: str) -> DynamicZone | None:
        wanted = zone.rstrip(".").lower()
        return next((z for z in self.zones if z.zone == wanted), None)

    def is_dynamic(self, zone: str, name: str, rdtype: str) -> bool:
        """Whether the record set `name` `rdtype` of `zone` is the dynamic client's, not git's.

        `name` is absolute (a trailing dot or not); `rdtype` a mnemonic such as "TXT".
        """
        found = self.of(zone)
        if found is None:
            return False
        absolute = name.lower() if name.endswith(".") else f"{name.lower()}."
        return absolute in found.names and rdtype.upper() in found.types

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(z.key for z in self.zones)


def is_dynamic(dynamic: Dynamic, zone: str, name: str, rdtype: str) -> bool:
    """`Dynamic.is_dynamic`, as a function (for drift, which ignores dynamic names)."""
    return dynamic.is_dynamic(zone, name, rdtype)
