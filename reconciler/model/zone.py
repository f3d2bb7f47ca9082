"""Zone text and BIND's canonical form of it, as values.

`ZoneText` is a zone's master-file text as BIND will read it; `CanonicalZone`
is `named-checkzone -D` output, one fully-qualified record per line, with the
serial rewrite and the content hash (serial left out). Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

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
    """A zone in BIND's canonical form: one fully-qualified record per line.

    Held as one string, `named-checkzone -D`'s dump itself (each line ends in a newline,
    none is empty), not as a string per line: a zone of a million records is one 60 MB
    string, read line by line when asked (`lines`), never held as a million objects.
    """

    name: str
    dump: str

    @classmethod
    def from_lines(cls, name: str, lines: Iterable[str]) -> CanonicalZone:
        """The zone of these lines (empty ones left out)."""
        return cls(name, "".join(line + "\n" for line in lines if line))

    @classmethod
    def from_dump(cls, name: str, text: str) -> CanonicalZone:
        """The zone of BIND's dump (or a file written from one): its lines as they are."""
        if "\r" in text or "\n\n" in text or text.startswith("\n"):
            return cls.from_lines(name, text.splitlines())
        if text and not text.endswith("\n"):
            text += "\n"
        return cls(name, text)

    def lines(self) -> Iterator[str]:
        """The lines in BIND's order, split a chunk at a time (never all at once)."""
        dump, start, size = self.dump, 0, len(self.dump)
        while start < size:
            end = dump.find("\n", min(start + _CHUNK, size - 1))
            yield from dump[start:end].split("\n")
            start = end + 1

    @cached_property
    def count(self) -> int:
        """How many records (lines)."""
        return self.dump.count("\n")

    def records(self) -> Iterator[Record]:
        for line in self.lines():
            yield parse_line(line)

    @property
    def serial(self) -> int:
        return int(self.soa.rdata.split()[2])

    @property
    def soa(self) -> Record:
        return parse_line(self._soa_line()[0])

    def _soa_line(self) -> tuple[str, int]:
        """The SOA line and where it starts in the dump."""
        offset = 0
        for line in self.lines():
            if _rtype(line) == "SOA":
                return line, offset
            offset += len(line) + 1
        raise LookupError(f"{self.name}: no SOA record")

    def with_serial(self, serial: int) -> CanonicalZone:
        """The same records with the SOA serial replaced (the reconciler owns the serial)."""
        try:
            line, start = self._soa_line()
        except LookupError:
            return self
        new = soa_with_serial(line, str(serial))
        return CanonicalZone(self.name, self.dump[:start] + new + self.dump[start + len(line) :])

    def text(self) -> str:
        return self.dump

    @property
    def content_hash(self) -> str:
        """sha256 of the records with the SOA serial left out: equal content, equal hash."""
        digest = hashlib.sha256()
        for line in sorted(self.lines()):
            if _rtype(line) == "SOA":
                line = soa_with_serial(line, SERIAL_LEFT_OUT)
            digest.update(line.encode() + b"\n")
        return digest.hexdigest()


_CHUNK = 1 << 20  # characters of the dump split into lines at a time


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
