"""named's load-time limits, checked on a zone's canonical form before anything is written.

`named-checkzone` passes a zone that named then refuses to load: an RRset of more
than `max-records-per-type` records, a name with more than `max-types-per-name`
types, a TTL over `max-zone-ttl`, more than `max-records` records. These are
counted here, as named counts them (an RRSIG once per type it covers), against the
limits that apply (`model/limits.py`: the primary's, or `[limits]` in
reconciler.toml), and refused with the line where named would stop. At most
`SHOWN` problems of each kind are listed per zone, then how many more. Pure;
called by check/inspect.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.check.locate import Entry, Locator, ttl_seconds
from reconciler.check.rules import Zone
from reconciler.errors import Problem
from reconciler.model.limits import LoadLimits

SHOWN = 20


def _kind(rtype: str, rdata: str | tuple[str, ...]) -> str:
    """What named counts as one type: the type, or for RRSIG the type it covers."""
    if rtype != "RRSIG":
        return rtype
    fields = rdata.split() if isinstance(rdata, str) else list(rdata)
    return f"RRSIG({fields[0].upper()})" if fields else rtype


def _owners(zone: Zone) -> Iterator[tuple[str, dict[str, int], dict[str, int]]]:
    """Each owner with its records counted and its highest TTL, per kind, one owner at a
    time: BIND's dump holds an owner's records together, so a zone of a million records
    is counted without a table of a million owners."""
    owner = ""
    sizes: dict[str, int] = {}
    ttls: dict[str, int] = {}
    for line in zone.canonical.lines():
        parts = line.split(None, 4)
        name = parts[0].lower()
        if name != owner:
            if sizes:
                yield owner, sizes, ttls
            owner, sizes, ttls = name, {}, {}
        kind = (
            parts[3] if parts[3] != "RRSIG" else _kind("RRSIG", parts[4] if len(parts) > 4 else "")
        )
        ttl = int(parts[1])
        if kind in sizes:
            sizes[kind] += 1
            if ttl > ttls[kind]:
                ttls[kind] = ttl
        else:
            sizes[kind] = 1
            ttls[kind] = ttl
    if sizes:
        yield owner, sizes, ttls


def load_limits(zone: Zone, limits: LoadLimits) -> list[Problem]:
    """Every way the zone is over a limit named applies at load."""
    where = zone.locator
    found: list[list[Problem]] = [[], [], []]
    cause = f"named refuses to load the zone ({{}}, {limits.source})"
    per_type, per_name, max_ttl = (
        limits.max_records_per_type,
        limits.max_types_per_name,
        limits.max_zone_ttl,
    )
    for owner, sizes, ttls in _owners(zone) if per_type or per_name or max_ttl else ():
        for kind, count in sizes.items() if per_type else ():
            if count > per_type:
                entries = where.entries(owner, kind.split("(")[0])
                found[0].append(
                    _at(
                        zone,
                        _nth(entries, per_type, where, owner),
                        f"{count} records in one RRset, over {per_type}: "
                        + cause.format("max-records-per-type"),
                        f"{owner} {kind}",
                    )
                )
        if per_name and len(sizes) > per_name:
            found[1].append(
                _at(
                    zone,
                    _type_over(where.entries(owner), per_name, where, owner),
                    f"{len(sizes)} types at one name, over {per_name}: "
                    + cause.format("max-types-per-name"),
                    owner,
                )
            )
        for kind, ttl in ttls.items() if max_ttl else ():
            if ttl > max_ttl:
                entries = where.entries(owner, kind.split("(")[0])
                over = [e for e in entries if e.ttl and ttl_seconds(e.ttl) > max_ttl]
                found[2].append(
                    _at(
                        zone,
                        _nth(over or entries, 0, where, owner),
                        f"TTL {ttl} is over {max_ttl}: " + cause.format("max-zone-ttl"),
                        f"{owner} {kind}",
                    )
                )
    problems: list[Problem] = []
    for same in found:
        same.sort(key=lambda p: (p.file, p.line or 0))  # in the order of the files
        problems += same[:SHOWN]
        if len(same) > SHOWN:
            first = same[SHOWN]
            problems.append(
                Problem(
                    first.file,
                    f"and {len(same) - SHOWN} more like the above",
                    first.line,
                    first.zone,
                    None,
                )
            )
    total = zone.canonical.count
    if limits.max_records and total > limits.max_records:
        file, line = where.first_record()
        problems.append(
            Problem(
                file,
                f"{total} records, over {limits.max_records}: " + cause.format("max-records"),
                line,
                zone.text.name,
            )
        )
    return problems


def _at(zone: Zone, where: tuple[str, int], message: str, record: str) -> Problem:
    return Problem(where[0], message, where[1], zone.text.name, record)


def _nth(entries: list[Entry], index: int, where: Locator, owner: str) -> tuple[str, int]:
    """Where the record that goes over the limit is written (a $GENERATE: its line)."""
    if entries:
        entry = entries[min(index, len(entries) - 1)]
        return entry.file, entry.line
    return where.find(owner) or where.first_record()


def _type_over(entries: list[Entry], limit: int, where: Locator, owner: str) -> tuple[str, int]:
    """Where the first type over the limit at `owner` is written, in the order named reads."""
    seen: set[str] = set()
    for entry in entries:
        seen.add(_kind(entry.rtype, entry.rdata))
        if len(seen) > limit:
            return entry.file, entry.line
    return _nth(entries, len(entries), where, owner)
