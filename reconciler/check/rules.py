"""The checks BIND does not make, on zones in canonical form.

- a name that looks like a forgotten trailing dot (`mail.example.com.example.com.`):
  a warning, since such a name is legal and BIND serves it (where BIND itself
  refuses the record, e.g. an NS target without an address, its error says so);
- MX, NS and SRV targets in *another* zone of the repo must have an address and
  must not be a CNAME (BIND checks only targets inside the zone it loads);
- glue for a delegation to a child zone held in the repo must agree with the
  child's own A/AAAA records, and the parent's NS set with the child's apex NS;
- SOA timers outside RFC 1912's advice (warnings).

Pure: takes `CanonicalZone`s (and a `Locator` over their text, for lines) and
returns `Problem`s. Called by `check/inspect.py`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from reconciler.check.locate import Locator
from reconciler.errors import Problem, Severity
from reconciler.model.mail import MTA_STS_HOST
from reconciler.model.zone import CanonicalZone, Record, ZoneText, parse_line

ADDRESS = ("A", "AAAA")
# The types whose records the rules read (check/mail/ among them); see `Zone.records`.
_READ = frozenset({"NS", "MX", "SRV", "SOA", "TXT", "SPF", "CAA", "TLSA"})
_ONLY_ODD = frozenset({"CNAME", "PTR", "DNAME"})  # read only where `trailing_dot` warns
_MTA_STS = MTA_STS_HOST + "."
MTA_STS_TYPES = frozenset({*ADDRESS, "CNAME"})  # read at MTA-STS hosts (check/mail/)
_TARGET_FIELD = {"NS": 0, "CNAME": 0, "PTR": 0, "DNAME": 0, "MX": 1, "SRV": 3}
_COMMON_TLDS = {"com", "net", "org", "edu", "gov", "io", "de", "uk", "fr", "nl", "info", "arpa"}


@dataclass(frozen=True)
class Zone:
    text: ZoneText
    canonical: CanonicalZone
    where: Locator | None = None  # None: the zone's own text only, no includes

    @cached_property
    def locator(self) -> Locator:
        return self.where or Locator(self.text, {}, "")

    @property
    def origin(self) -> str:
        return self.text.name + "."

    @cached_property
    def records(self) -> tuple[Record, ...]:
        """The records a rule reads, parsed once in one pass and shared by every check: those
        of the types the rules read (targets, SOA, TXT, MX, CAA, TLSA), the addresses of
        MTA-STS hosts, and any record whose owner or target looks like a missing trailing dot
        (`trailing_dot`). Not a `Record` per line: the A, AAAA and CNAME records of a large
        zone are only read."""
        doubled = self.text.name + "." + self.origin
        repeats = "." + doubled
        kept = []
        origin = self.origin
        for line in self.canonical.lines():
            owner, ttl, _klass, rtype, *rest = line.split(None, 4)
            owner = owner.lower()
            if (
                rtype in _READ
                or (rtype in MTA_STS_TYPES and owner.startswith(_MTA_STS))
                or owner == doubled
                or owner.endswith(repeats)
                or (
                    rtype in _ONLY_ODD
                    and rest
                    and _missing_dot(rest[0].split()[0].lower(), origin, True) is not None
                )
            ):
                kept.append(
                    Record(owner, int(ttl), rtype, " ".join(rest[0].split()) if rest else "")
                )
        return tuple(kept)


def target_of(record: Record) -> str | None:
    index = _TARGET_FIELD.get(record.rtype)
    if index is None:
        return None
    fields = record.rdata.split()
    return fields[index].lower() if len(fields) > index else None


def _problem(
    zone: Zone,
    message: str,
    record: Record,
    target: str | None = None,
    severity: Severity = "error",
) -> Problem:
    where = zone.locator
    file, line = (
        where.find(record.owner, record.rtype, target)
        or where.find(record.owner)
        or where.first_record()
    )
    return Problem(file, message, line, zone.text.name, f"{record.owner} {record.rtype}", severity)


def trailing_dot(zone: Zone) -> list[Problem]:
    """Names that repeat the origin, or end in a TLD inside the zone: a missing final dot?

    Warnings only: `www.example.com.example.com.` is a legal name BIND serves.
    """
    origin = zone.origin
    problems = []
    for record in zone.records:
        for name, is_target in ((record.owner, False), (target_of(record), True)):
            odd = _missing_dot(name, origin, is_target)
            if name is None or odd is None:
                continue
            meant = name[: -len(origin) - 1] + "."
            if odd == "repeats":
                problems.append(
                    _problem(
                        zone,
                        f"{name} repeats the zone name: missing trailing dot? (write {meant})",
                        record,
                        name if is_target else None,
                        severity="warning",
                    )
                )
            else:
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


def _missing_dot(name: str | None, origin: str, is_target: bool) -> str | None:
    """Why `name` looks like a forgotten final dot: "repeats" (the zone's name twice), "tld"
    (a target ending in a TLD inside the zone), or None."""
    if not name or not name.endswith("." + origin):
        return None
    inside, bare = name[: -len(origin) - 1], origin.rstrip(".")
    if inside == bare or inside.endswith("." + bare):
        return "repeats"
    if is_target and inside.rsplit(".", 1)[-1] in _COMMON_TLDS and "." in inside:
        return "tld"
    return None


def soa_timers(zone: Zone) -> list[Problem]:
    """RFC 1912 section 2.2 advice for refresh, retry, expire; RFC 2308 for the minimum."""
    soa = zone.canonical.soa
    refresh, retry, expire, minimum = (int(f) for f in soa.rdata.split()[3:7])
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
    """Targets, glue and delegations that span zones held in the same repo.

    Only the names these checks ask about are indexed, so a repo of one large
    zone pays one pass over its records and nothing more.
    """
    by_origin = {z.origin: z for z in zones}

    def authority(name: str) -> Zone | None:
        labels = name.split(".")
        for i in range(len(labels) - 1):
            found = by_origin.get(".".join(labels[i:]))
            if found:
                return found
        return None

    targets: list[tuple[Zone, Record, str, Zone]] = []
    delegations: list[tuple[Zone, str, set[str], Zone]] = []
    needed: dict[str, set[str]] = defaultdict(set)
    for zone in zones:
        cuts: dict[str, set[str]] = defaultdict(set)
        for record in zone.records:
            if record.rtype not in ("MX", "NS", "SRV"):
                continue
            target = target_of(record)
            if not target or target == ".":
                continue
            if record.rtype == "NS" and record.owner != zone.origin and record.owner in by_origin:
                cuts[record.owner].add(target)
            other = authority(target)
            if other is not None and other is not zone:
                targets.append((zone, record, target, other))
                needed[other.origin].add(target)
        for owner, names in cuts.items():
            child = by_origin[owner]
            delegations.append((zone, owner, names, child))
            needed[child.origin] |= names | {owner}
            needed[zone.origin] |= names
    tables = {origin: _index(by_origin[origin], names) for origin, names in needed.items()}

    problems: list[Problem] = []
    for zone, record, target, other in targets:
        table = tables[other.origin]
        if table.get((target, "CNAME")):
            message = f"{record.rtype} target {target} is a CNAME in zone {other.text.name}"
        elif not any(table.get((target, t)) for t in ADDRESS):
            message = (
                f"{record.rtype} target {target} has no A or AAAA record in zone {other.text.name}"
            )
        else:
            continue
        problems.append(_problem(zone, message, record, target))
    for zone, owner, names, child in delegations:
        problems += _delegation(zone, owner, names, child, tables)
    return problems


def _index(zone: Zone, names: set[str]) -> dict[tuple[str, str], set[str]]:
    """(owner, type) -> rdata set, for the owners in `names` only (any type: one pass over
    the zone's lines, parsing only those owners' records)."""
    table: dict[tuple[str, str], set[str]] = defaultdict(set)
    for line in zone.canonical.lines():
        if line.split(None, 1)[0].lower() in names:
            record = parse_line(line)
            table[(record.owner, record.rtype)].add(record.rdata.lower())
    return table


def _delegation(
    zone: Zone,
    owner: str,
    names: set[str],
    child: Zone,
    tables: dict[str, dict[tuple[str, str], set[str]]],
) -> list[Problem]:
    """The parent's NS set and glue for a child zone in the repo must match the child's."""
    mine, theirs = tables[zone.origin], tables[child.origin]
    problems = []
    child_ns = theirs.get((owner, "NS"), set())
    if names != child_ns:
        problems.append(
            _problem(
                zone,
                f"delegation NS set {sorted(names)} differs from zone {child.text.name}'s own "
                f"NS set {sorted(child_ns)}",
                Record(owner, 0, "NS", ""),
                severity="warning",
            )
        )
    for target in sorted(names):
        for address_type in ADDRESS:
            glue = mine.get((target, address_type), set())
            real = theirs.get((target, address_type), set())
            if glue and glue != real:
                problems.append(
                    _problem(
                        zone,
                        f"glue {address_type} {sorted(glue)} for {target} disagrees with zone "
                        f"{child.text.name}, which has {sorted(real) or 'none'}",
                        Record(target, 0, address_type, ""),
                    )
                )
    return problems


def run_all(zones: list[Zone]) -> list[Problem]:
    problems: list[Problem] = []
    for zone in zones:
        problems += trailing_dot(zone) + soa_timers(zone)
    return problems + cross_zone(zones)
