"""Zone text and BIND's canonical form of it, as values.

`ZoneText` is a zone's master-file text as BIND will read it; `CanonicalZone`
is `named-checkzone -D` output, one fully-qualified record per line, with the
serial rewrite and the content hash (serial left out). Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ZoneText:
    """A zone's master-file text as BIND will read it."""

    name: str  # without the trailing dot, lower case
    path: str  # the file in the repo (the template for rendered zones)
    text: str
    rendered: bool = False


@dataclass(frozen=True)
class Record:
    owner: str
    ttl: int
    rtype: str
    rdata: str


@dataclass(frozen=True)
class CanonicalZone:
    """A zone in BIND's canonical form: one fully-qualified record per line."""

    name: str
    lines: tuple[str, ...]

    def records(self) -> Iterator[Record]:
        for line in self.lines:
            yield parse_line(line)

    @property
    def serial(self) -> int:
        return int(self.soa.rdata.split()[2])

    @property
    def soa(self) -> Record:
        return parse_line(next(line for line in self.lines if _rtype(line) == "SOA"))

    def with_serial(self, serial: int) -> CanonicalZone:
        """The same records with the SOA serial replaced (the reconciler owns the serial)."""
        lines = []
        for line in self.lines:
            if _rtype(line) == "SOA":
                record = parse_line(line)
                fields = record.rdata.split()
                fields[2] = str(serial)
                line = f"{record.owner} {record.ttl} IN SOA {' '.join(fields)}"
            lines.append(line)
        return CanonicalZone(self.name, tuple(lines))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    @property
    def content_hash(self) -> str:
        """sha256 of the records with the SOA serial left out: equal content, equal hash."""
        digest = hashlib.sha256()
        for line in sorted(self.lines):
            if _rtype(line) == "SOA":
                record = parse_line(line)
                fields = record.rdata.split()
                fields[2] = "0"
                line = f"{record.owner} {record.ttl} IN SOA {' '.join(fields)}"
            digest.update(line.encode() + b"\n")
        return digest.hexdigest()


def _rtype(line: str) -> str:
    parts = line.split(None, 4)
    return parts[3] if len(parts) > 3 else ""


def parse_line(line: str) -> Record:
    owner, ttl, _klass, rtype, *rest = line.split(None, 4)
    return Record(owner.lower(), int(ttl), rtype, " ".join(rest[0].split()) if rest else "")
