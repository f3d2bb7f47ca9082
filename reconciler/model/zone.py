"""Zone text and BIND's canonical form of it, as values.

`ZoneText` is a zone's master-file text as BIND will read it; `CanonicalZone`
is `named-checkzone -D` output, one fully-qualified record per line, with the
serial rewrite and the content hash (serial left out). Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

ENCODING = "utf-8"  # with surrogateescape: any byte BIND accepts survives the round trip


def decode(data: bytes) -> str:
    """A zone file's bytes as text that encodes back to the same bytes (see ENCODING)."""
    return data.decode(ENCODING, "surrogateescape")


def encode(text: str) -> bytes:
    """The bytes `decode` read the text from."""
    return text.encode(ENCODING, "surrogateescape")


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
        new = str(serial)
        lines = (soa_with_serial(ln, new) if _rtype(ln) == "SOA" else ln for ln in self.lines)
        return CanonicalZone(self.name, tuple(lines))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    @property
    def content_hash(self) -> str:
        """sha256 of the records with the SOA serial left out: equal content, equal hash."""
        digest = hashlib.sha256()
        for line in sorted(self.lines):
            if _rtype(line) == "SOA":
                line = soa_with_serial(line, SERIAL_LEFT_OUT)
            digest.update(line.encode() + b"\n")
        return digest.hexdigest()


SERIAL_LEFT_OUT = "-"  # the serial field of an SOA line compared, hashed or shown for content alone


def soa_with_serial(line: str, serial: str) -> str:
    """A canonical SOA line with its serial field replaced: the one serial rewrite.

    The owner comes out in lower case and the rdata's whitespace folded, so two SOA lines
    that differ only in serial or spacing come out equal for the same `serial`.
    """
    record = parse_line(line)
    fields = record.rdata.split()
    fields[2] = serial
    return f"{record.owner} {record.ttl} IN SOA {' '.join(fields)}"


def _rtype(line: str) -> str:
    parts = line.split(None, 4)
    return parts[3] if len(parts) > 3 else ""


def parse_line(line: str) -> Record:
    owner, ttl, _klass, rtype, *rest = line.split(None, 4)
    return Record(owner.lower(), int(ttl), rtype, " ".join(rest[0].split()) if rest else "")
