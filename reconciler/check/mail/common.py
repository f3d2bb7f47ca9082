"""What every mail rule needs: the records it reads, across the repo's zones, and where they are.

`Mail` indexes the records the rules read (TXT, MX, CAA, TLSA and a few names) of every
valid zone once; `problem` makes a `Problem` that names the rule and the line of the very
record (of several TXT records at one name, the one meant); `tag_list` parses the
`tag=value;` lists of DKIM, DMARC, MTA-STS and TLS-RPT. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from reconciler.check.rules import MTA_STS_TYPES, Zone
from reconciler.errors import Problem, Severity
from reconciler.model.mail import MTA_STS_HOST, labels, txt_text
from reconciler.model.rules import Rule
from reconciler.model.zone import Record

INDEXED = frozenset({"TXT", "MX", "CAA", "TLSA", "SPF"})
_MTA_STS_PREFIX = MTA_STS_HOST + "."


@dataclass
class Mail:
    """The records the mail rules read, per zone and type, and across the repo's zones."""

    zones: list[Zone]
    # origin -> type -> owner -> records, owners in a stable order
    records: dict[str, dict[str, dict[str, list[Record]]]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # owners of mta-sts host addresses
    by_origin: dict[str, Zone] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_origin = {z.origin: z for z in self.zones}
        for zone in self.zones:
            table: dict[str, dict[str, list[Record]]] = {rtype: {} for rtype in INDEXED}
            for record in zone.records:
                if record.rtype in INDEXED:
                    table[record.rtype].setdefault(record.owner, []).append(record)
                elif record.rtype in MTA_STS_TYPES and record.owner.startswith(_MTA_STS_PREFIX):
                    self.names.add(record.owner)
            self.records[zone.origin] = {
                rtype: dict(sorted(owners.items())) for rtype, owners in table.items()
            }

    def of(self, zone: Zone, rtype: str) -> Iterator[tuple[str, list[Record]]]:
        """(owner, records) of every RRset of `rtype` in `zone`, in a stable order."""
        yield from self.records[zone.origin][rtype].items()

    def at(self, owner: str, rtype: str) -> list[Record] | None:
        """The records at `owner` (in whichever repo zone holds it); None: no repo zone does."""
        zone = self.zone_of(owner)
        if zone is None:
            return None
        return self.records[zone.origin][rtype].get(owner, [])

    def zone_of(self, name: str) -> Zone | None:
        """The deepest zone of the repo that holds `name`."""
        parts = labels(name)
        for i in range(len(parts) + 1):
            found = self.by_origin.get(".".join(parts[i:]) + ".")
            if found is not None:
                return found
        return None


def problem(
    zone: Zone,
    rule: Rule,
    message: str,
    record: Record,
    severity: Severity = "error",
) -> Problem:
    """A Problem of `rule` at the line of `record` (the one of its RRset meant, for TXT)."""
    line = find_line(zone, record)
    file = zone.text.path + (" (rendered)" if zone.text.rendered and line else "")
    return Problem(
        file, message, line, zone.text.name, f"{record.owner} {record.rtype}", severity, str(rule)
    )


def _squeezed(text: str) -> str:
    return re.sub(r'[\s"()]', "", text)


def find_line(zone: Zone, record: Record) -> int | None:
    """The line where `record` starts in the zone's text.

    Of several lines with its owner and type, the one whose text holds the start of the
    record's data (quotes, spaces and parentheses left out, as strings may be split).
    """
    where = zone.locator  # the zone's own scan, made once: not the whole text again per call
    lines = [e.line for e in where.entries(record.owner, record.rtype) if e.file == where.label]
    if len(lines) <= 1:
        return lines[0] if lines else None
    data = txt_text(record.rdata) if record.rtype == "TXT" else record.rdata
    needle = _squeezed(data)[:24].lower()
    text = zone.text.text.splitlines()
    for index, number in enumerate(lines):
        end = lines[index + 1] - 1 if index + 1 < len(lines) else min(len(text), number + 40)
        if needle and needle in _squeezed(" ".join(text[number - 1 : end])).lower():
            return number
    return lines[0]


def in_file_order(zone: Zone, records: list[Record]) -> list[Record]:
    """`records` in the order of their lines in the zone's text (BIND's canonical order is not)."""
    return sorted(records, key=lambda r: find_line(zone, r) or 0)


_TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def tag_list(text: str) -> tuple[list[tuple[str, str]], str]:
    """RFC 6376 3.2 `tag=value; ...` (also DMARC's, MTA-STS's and TLS-RPT's lists).

    Returns the (name, value) pairs in order, names as written, values stripped, and what
    is wrong ("" when nothing): a part without "=", a bad tag name, a tag given twice.
    """
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    parts = text.split(";")
    if parts and not parts[-1].strip():
        parts = parts[:-1]  # a trailing ";" is allowed
    for part in parts:
        name, equals, value = part.partition("=")
        name = name.strip()
        if not equals:
            return pairs, f"'{part.strip()}' is not tag=value"
        if not _TAG_NAME.match(name):
            return pairs, f"'{name}' is not a tag name"
        if name.lower() in seen:
            return pairs, f"tag {name} is given twice"
        seen.add(name.lower())
        pairs.append((name, value.strip()))
    return pairs, ""


def quote(text: str, limit: int = 60) -> str:
    """`text` for a message: in quotes, cut at `limit` characters."""
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"'{shown}'"
