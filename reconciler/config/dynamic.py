"""reconciler.toml's `[dynamic."ZONE"]` tables: names an RFC 2136 client may update.

    [dynamic."example.com"]
    key = "acme-key"                              # the TSIG key's name; its secret is on the host
    names = ["_acme-challenge", "_acme-challenge.www"]   # relative to the zone, or absolute.
    types = ["TXT"]

The generated include grants the key exactly these names and types (`update-policy`); the
records there are the client's, not git's. Pure: every problem names reconciler.toml and
the line. Called by config/repo.py.
"""

from __future__ import annotations

from typing import Any

import dns.exception
import dns.name
import dns.rdatatype

from reconciler.config.tomlfile import key_line, table_line
from reconciler.errors import ConfigError, Problem
from reconciler.model.dynamic import Dynamic, DynamicZone
from reconciler.model.names import KEY_NAME, checked_zone_name

TABLE = "dynamic"
_KEYS = {"key", "names", "types"}
# Types a dynamic client may own: data, never the zone's structure or its signatures.
_NEVER = {"SOA", "NS", "DNSKEY", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "CDS", "CDNSKEY", "ANY"}


def _name(zone: str, raw: str) -> str:
    """`raw` (relative to `zone`, or absolute with a trailing dot) as an absolute name."""
    origin = dns.name.from_text(zone)
    name = dns.name.from_text(raw, origin=None if raw.endswith(".") else origin)
    if not name.is_subdomain(origin):
        raise ConfigError(f"{raw!r} is not in {zone}")
    return name.to_text().lower()


def _zone(text: str, file: str, zone: str, raw: Any) -> tuple[DynamicZone | None, list[Problem]]:
    table = f"{TABLE}.{zone}"  # as tomlfile.py names it: the quotes go
    where = f'[{TABLE}."{zone}"]'

    def at(key: str | None, message: str) -> Problem:
        line = key_line(text, table, key) if key else None
        line = line or table_line(text, table) or table_line(text, TABLE)
        return Problem(file, f"{where}: {message}", line)

    try:
        name = checked_zone_name(zone).lower()
    except ConfigError as exc:
        return None, [at(None, str(exc))]
    if not isinstance(raw, dict):
        return None, [at(None, "must be a table with key, names and types")]
    problems = [at(k, f"unknown key '{k}' (key, names, types)") for k in raw if k not in _KEYS]
    key = raw.get("key")
    if not isinstance(key, str) or not KEY_NAME.match(key.rstrip(".")):
        problems.append(at("key", f"key must be a TSIG key's name, got {key!r}"))
    names: set[str] = set()
    raw_names = raw.get("names")
    if not isinstance(raw_names, list) or not raw_names:
        problems.append(at("names", "names must be a list of names, relative to the zone"))
        raw_names = []
    for item in raw_names:
        try:
            if not isinstance(item, str) or not item or item.strip() != item:
                raise ConfigError(f"{item!r} is not a name")
            found = _name(name, item)
        except (ConfigError, dns.exception.DNSException) as exc:
            problems.append(at("names", f"names: {exc}"))
            continue
        if found == f"{name}.":
            problems.append(at("names", "names: the zone's apex cannot be dynamic"))
        names.add(found)
    types: set[str] = set()
    raw_types = raw.get("types", ["TXT"])
    if not isinstance(raw_types, list) or not raw_types:
        problems.append(at("types", 'types must be a list such as ["TXT"]'))
        raw_types = []
    for item in raw_types:
        try:
            mnemonic = dns.rdatatype.to_text(dns.rdatatype.from_text(str(item))).upper()
        except dns.exception.DNSException:
            problems.append(at("types", f"types: {item!r} is not a record type"))
            continue
        if mnemonic in _NEVER:
            problems.append(at("types", f"types: {mnemonic} cannot be dynamic"))
        types.add(mnemonic)
    if problems:
        return None, problems
    assert isinstance(key, str)
    return DynamicZone(name, key.rstrip("."), tuple(sorted(names)), tuple(sorted(types))), []


def parse_dynamic(text: str, file: str, raw: Any) -> tuple[Dynamic, list[Problem]]:
    """`[dynamic]` (`raw`: its parsed value) and what is wrong with it."""
    if not isinstance(raw, dict):
        example = f'[{TABLE}."example.com"] with key, names and types'
        return Dynamic(), [
            Problem(file, f"[{TABLE}] must be tables: {example}", table_line(text, TABLE))
        ]
    zones: list[DynamicZone] = []
    problems: list[Problem] = []
    for zone, value in raw.items():
        found, wrong = _zone(text, file, zone, value)
        problems += wrong
        if found is not None:
            zones.append(found)
    seen = [z.zone for z in zones]
    for zone in sorted({z for z in seen if seen.count(z) > 1}):
        problems.append(
            Problem(file, f'[{TABLE}."{zone}"] is given twice', table_line(text, TABLE))
        )
    return Dynamic(tuple(sorted(zones, key=lambda z: z.zone))), problems
