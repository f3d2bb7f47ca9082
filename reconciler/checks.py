"""The checks BIND does not make, on zones in canonical form.

- a name that looks like a forgotten trailing dot (`mail.example.com.example.com.`);
- MX, NS and SRV targets in *another* zone of the repo must have an address and
  must not be a CNAME (BIND checks only targets inside the zone it loads);
- glue for a delegation to a child zone held in the repo must agree with the
  child's own A/AAAA records, and the parent's NS set with the child's apex NS;
- SOA timers outside RFC 1912's advice (warnings).

Pure: takes `CanonicalZone`s (and their text, for line numbers) and returns
`Problem`s. Called by `check.py`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .errors import Problem
from .locate import locate
from .zones import CanonicalZone, Record, ZoneText

ADDRESS = ("A", "AAAA")
_TARGET_FIELD = {"NS": 0, "CNAME": 0, "PTR": 0, "DNAME": 0, "MX": 1, "SRV": 3}
_COMMON_TLDS = {"com", "net", "org", "edu", "gov", "io", "de", "uk", "fr", "nl", "info", "arpa"}


@dataclass(frozen=True)
class Zone:
    text: ZoneText
    canonical: CanonicalZone

    @property
    def origin(self) -> str:
        return self.text.name + "."


def target_of(record: Record) -> str | None:
    index = _TARGET_FIELD.get(record.rtype)
    if index is None:
        return None
    fields = record.rdata.split()
    return fields[index].lower() if len(fields) > index else None


def _problem(
    zone: Zone, message: str, record: Record, target: str | None = None, severity: str = "error"
) -> Problem:
    line = locate(zone.text.text, zone.origin, record.owner, record.rtype, target)
    file = zone.text.path + (" (rendered)" if zone.text.rendered and line else "")
    return Problem(file, message, line, zone.text.name, f"{record.owner} {record.rtype}", severity)


def trailing_dot(zone: Zone) -> list[Problem]:
    """Names that repeat the origin, or end in a TLD inside the zone: a missing final dot."""
    origin = zone.origin
    bare = origin.rstrip(".")
    problems = []
    for record in zone.canonical.records():
        for name, is_target in ((record.owner, False), (target_of(record), True)):
            if not name or not name.endswith("." + origin):
                continue
            inside = name[: -len(origin) - 1]
            meant = inside + "."
            if inside == bare or inside.endswith("." + bare):
                problems.append(
                    _problem(
                        zone,
                        f"{name} repeats the zone name: missing trailing dot? (write {meant})",
                        record,
                        name if is_target else None,
                    )
                )
            elif is_target and inside.rsplit(".", 1)[-1] in _COMMON_TLDS and "." in inside:
                problems.append(
                    _problem(
                        zone,
                        f"{name} looks like a missing trailing dot (did you mean {meant}?)",
                        record,
                        name,
                        severity="warning",
                    )
                )
    return problems


def soa_timers(zone: Zone) -> list[Problem]:
    """RFC 1912 section 2.2 advice for refresh, retry, expire; RFC 2308 for the minimum."""
    soa = zone.canonical.soa
    _, _, _, refresh, retry, expire, minimum = (
        int(f) if f.isdigit() else f for f in soa.rdata.split()
    )
    advice = []
    if not 1200 <= refresh <= 43200:
        advice.append(f"refresh {refresh} outside 1200-43200")
    if retry >= refresh:
        advice.append(f"retry {retry} not below refresh {refresh}")
    if not 1209600 <= expire <= 2419200:
        advice.append(f"expire {expire} outside 1209600-2419200 (2-4 weeks)")
    if not 300 <= minimum <= 86400:
        advice.append(f"minimum (negative-caching TTL) {minimum} outside 300-86400")
    if not advice:
        return []
    return [
        _problem(
            zone,
            "SOA timers against RFC 1912 advice: " + "; ".join(advice),
            soa,
            severity="warning",
        )
    ]


def cross_zone(zones: list[Zone]) -> list[Problem]:
    """Targets, glue and delegations that span zones held in the same repo."""
    by_origin = {z.origin: z for z in zones}
    rrsets: dict[str, dict[tuple[str, str], set[str]]] = {}
    for zone in zones:
        table: dict[tuple[str, str], set[str]] = defaultdict(set)
        for record in zone.canonical.records():
            table[(record.owner, record.rtype)].add(record.rdata)
        rrsets[zone.origin] = table

    def authority(name: str) -> Zone | None:
        labels = name.split(".")
        for i in range(len(labels) - 1):
            found = by_origin.get(".".join(labels[i:]))
            if found:
                return found
        return None

    problems: list[Problem] = []
    for zone in zones:
        for record in zone.canonical.records():
            target = target_of(record)
            if record.rtype not in ("MX", "NS", "SRV") or not target or target == ".":
                continue
            owner_zone = authority(target)
            if owner_zone is None or owner_zone is zone:
                continue
            other = rrsets[owner_zone.origin]
            if other.get((target, "CNAME")):
                problems.append(
                    _problem(
                        zone,
                        f"{record.rtype} target {target} is a CNAME in zone {owner_zone.text.name}",
                        record,
                        target,
                    )
                )
            elif not any(other.get((target, t)) for t in ADDRESS):
                problems.append(
                    _problem(
                        zone,
                        f"{record.rtype} target {target} has no A or AAAA"
                        f" record in zone {owner_zone.text.name}",
                        record,
                        target,
                    )
                )
        problems += _delegations(zone, by_origin, rrsets)
    return problems


def _delegations(
    zone: Zone, by_origin: dict[str, Zone], rrsets: dict[str, dict[tuple[str, str], set[str]]]
) -> list[Problem]:
    problems = []
    mine = rrsets[zone.origin]
    for (owner, rtype), targets in sorted(mine.items()):
        child = by_origin.get(owner)
        if rtype != "NS" or owner == zone.origin or child is None:
            continue
        theirs = rrsets[child.origin]
        child_ns = {t.lower() for t in theirs.get((owner, "NS"), set())}
        if {t.lower() for t in targets} != child_ns:
            record = Record(owner, 0, "NS", "")
            problems.append(
                _problem(
                    zone,
                    f"delegation NS set {sorted(targets)} differs from zone {child.text.name}'s"
                    f" own NS set {sorted(child_ns)}",
                    record,
                    severity="warning",
                )
            )
        for target in sorted(targets):
            for address_type in ADDRESS:
                glue = mine.get((target.lower(), address_type), set())
                real = theirs.get((target.lower(), address_type), set())
                if glue and glue != real:
                    record = Record(target.lower(), 0, address_type, "")
                    problems.append(
                        _problem(
                            zone,
                            f"glue {address_type} {sorted(glue)} for {target} disagrees with "
                            f"zone {child.text.name}, which has {sorted(real) or 'none'}",
                            record,
                        )
                    )
    return problems


def run_all(zones: list[Zone]) -> list[Problem]:
    problems: list[Problem] = []
    for zone in zones:
        problems += trailing_dot(zone) + soa_timers(zone)
    return problems + cross_zone(zones)
