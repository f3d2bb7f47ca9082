"""A strict reader of plain zone text: the lines BIND's canonical dump prints, or None.

`check` of many zones asks BIND for its verdict on all of them in one `named-checkconf -z`
(check/checkzone.py); our own rules still need each zone's records. `read` gives them
without a `named-checkzone -D` per zone: for the master-file subset people write ($ORIGIN,
$TTL, `@`, relative names, parentheses, comments, quoted strings, class IN) and the types
in `TYPES`, the lines `named-checkzone -D` of BIND 9.18 prints, byte for byte and in its
order (names in DNSSEC order; SOA, NS, then by type number; each RRset's data in the
order of its wire form; BIND's "full" style columns). Anything it does not read fully
gives None, and the zone goes through named-checkzone itself: $INCLUDE, $GENERATE and
other directives, a backslash, bytes outside printable ASCII (but in comments), another
class or type, a TTL with other units or none, an RRset whose records differ in TTL, a
duplicate record, a name outside the zone. It never judges a zone: BIND does.
tests/test_zoneread.py holds it to BIND's own dump. Pure.
"""

from __future__ import annotations

import functools
import re
import socket
from collections.abc import Callable

from reconciler.check.locate import ttl_seconds
from reconciler.model.zone import CanonicalZone, ZoneText

# Type -> its number, for the dump's order (SOA, NS, then by number) and the reader's dispatch.
TYPES = {
    "A": 1,
    "NS": 2,
    "CNAME": 5,
    "SOA": 6,
    "PTR": 12,
    "MX": 15,
    "TXT": 16,
    "AAAA": 28,
    "SRV": 33,
    "DNAME": 39,
    "CAA": 257,
}
_ORDER = {
    rtype: (0 if rtype == "SOA" else 1 if rtype == "NS" else number + 2)
    for rtype, number in TYPES.items()
}

# BIND's "full" dump style (masterdump.c dns_master_style_full): TTL, class and type
# columns at 46, data at 64, tabs of 8.
_TTL_COLUMN, _DATA_COLUMN, _TAB = 46, 64, 8

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab and newline are the only ones read
_SPECIAL = re.compile(r'["();\\]')
_TOKEN = re.compile(r'"([^"\\\n]*)"|([()])|(;)|([^\s;()"\\]+)|(\S)')
_NAME = re.compile(r"(?:\*|[A-Za-z0-9_-]{1,63})(?:\.[A-Za-z0-9_-]{1,63})*\.?|\.")
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}")
_TTL = re.compile(r"(?:\d+[Ww])?(?:\d+[Dd])?(?:\d+[Hh])?(?:\d+[Mm])?(?:\d+[Ss])?")
_NUMBER = re.compile(r"\d{1,10}")
_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
)
_IPV6 = re.compile(r"[0-9A-Fa-f:]{2,39}")
_CAA_TAG = re.compile(r"[A-Za-z0-9]{1,255}")
_MAX_TTL = 2**31 - 1


class _Refused(Exception):
    """Not in the subset this reader reads fully: BIND reads the zone instead."""


class _RRset:
    """An RRset as it is read: the owner as its first record wrote it (BIND prints that
    case), the TTL, the data as BIND prints it."""

    __slots__ = ("owner", "ttl", "texts")

    def __init__(self, owner: str, ttl: int, text: str) -> None:
        self.owner, self.ttl, self.texts = owner, ttl, [text]


def read(zone: ZoneText) -> CanonicalZone | None:
    """The zone as `named-checkzone -D` prints it, if this reader reads all of it; else None."""
    try:
        return CanonicalZone(zone.name, _dump(zone))
    except _Refused:
        return None


def _dump(zone: ZoneText) -> str:
    if not zone.name or zone.name == "." or _CONTROL.search(zone.text):
        raise _Refused
    if not all(_LABEL.fullmatch(part) for part in zone.name.split(".")):
        raise _Refused
    nodes = _nodes(zone.text, zone.name + ".")
    out: list[str] = []
    for folded in sorted(nodes, key=_name_order):
        rrsets = nodes[folded]
        for rtype in sorted(rrsets, key=_ORDER.__getitem__) if len(rrsets) > 1 else rrsets:
            rrset = rrsets[rtype]
            head = rrset.owner + _between(len(rrset.owner), rrset.ttl, rtype)
            texts = rrset.texts
            if len(texts) > 1:
                texts = _in_wire_order(rtype, texts)
            for text in texts:
                out.append(head + text + "\n")
    return "".join(out)


def _in_wire_order(rtype: str, texts: list[str]) -> list[str]:
    """An RRset's data in the order BIND keeps it: by wire form, names in lower case.

    Two records with the same wire form are one to BIND (merged, or refused by
    check-dup-records): not read here.
    """
    keyed = {_key(rtype, text): text for text in texts}
    if len(keyed) != len(texts):
        raise _Refused
    return [keyed[key] for key in sorted(keyed)]


def _key(rtype: str, text: str) -> bytes:
    """The wire form of data as this reader prints it (names in lower case)."""
    if rtype == "A":
        return bytes(int(octet) for octet in text.split("."))
    if rtype == "AAAA":
        return socket.inet_pton(socket.AF_INET6, text)
    if rtype in ("NS", "CNAME", "PTR", "DNAME"):
        return _wire(text)
    if rtype == "MX":
        preference, name = text.split(" ")
        return int(preference).to_bytes(2, "big") + _wire(name)
    if rtype == "SRV":
        *numbers, name = text.split(" ")
        return b"".join(int(n).to_bytes(2, "big") for n in numbers) + _wire(name)
    if rtype == "TXT":
        strings = text[1:-1].split('" "')  # no string holds a quote (see _tokens)
        return b"".join(bytes((len(s),)) + s.encode() for s in strings)
    if rtype == "CAA":
        flags, tag, value = text.split(" ", 2)
        return bytes((int(flags), len(tag))) + tag.encode() + value[1:-1].encode()
    raise _Refused  # SOA: one per zone, or BIND refuses the zone


def _name_order(folded: str) -> tuple[str, ...]:
    """DNSSEC canonical order (RFC 4034 6.1): labels compared from the right, in lower case."""
    return tuple(reversed(folded[:-1].split(".")))


@functools.cache
def _between(owner_width: int, seconds: int, rtype: str) -> str:
    """What BIND writes from the owner's end to the data: padding, TTL, IN, type, padding."""
    column = owner_width
    out = []
    for text, to in ((str(seconds), _TTL_COLUMN), ("IN", _TTL_COLUMN), (rtype, _TTL_COLUMN)):
        padding, column = _indent(column, to)
        out += [padding, text]
        column += len(text)
    padding, column = _indent(column, _DATA_COLUMN)
    out.append(padding)
    return "".join(out)


def _indent(start: int, to: int) -> tuple[str, int]:
    """masterdump.c indent(): tabs to the last tab stop before `to`, then spaces."""
    to = max(to, start + 1)
    tabs = to // _TAB - start // _TAB
    if tabs > 0:
        return "\t" * tabs + " " * (to - to // _TAB * _TAB), to
    return " " * (to - start), to


def _tokens(line: str, tokens: list[str], depth: int) -> int:
    """The tokens of a line with quotes, parentheses, comments or a backslash, added to
    `tokens`; returns the depth of parentheses after it. A quoted token keeps its opening
    quote (and only it), so `"IN"` is never the class."""
    end, last = -1, ""  # where the previous token ended, and its kind
    for match in _TOKEN.finditer(line):
        quoted, paren, comment, word, other = match.groups()
        if other is not None:
            raise _Refused  # a backslash, or a quote that does not close on its line
        if comment is not None:
            break
        kind = "quoted" if quoted is not None else "word" if word is not None else "paren"
        if match.start() == end and "quoted" in (kind, last) and "paren" not in (kind, last):
            raise _Refused  # a quoted string touching other text
        if quoted is not None:
            if not quoted.isascii() or not quoted.isprintable():
                raise _Refused
            tokens.append('"' + quoted)
        elif word is not None:
            if not word.isascii():
                raise _Refused
            tokens.append(word)
        elif paren == "(":
            depth += 1
        else:
            depth -= 1
            if depth < 0:
                raise _Refused
        end, last = match.end(), kind
    return depth


def _nodes(text: str, apex: str) -> dict[str, dict[str, _RRset]]:
    """Every record, by owner (in lower case) and type; directives followed."""
    below = "." + apex
    nodes: dict[str, dict[str, _RRset]] = {}
    origin = apex
    default_ttl: int | None = None
    owner: str | None = None
    readers, special, name_of = _READERS, _SPECIAL.search, _name
    depth = 0
    tokens: list[str] = []
    blank = False
    for line in text.split("\n"):
        if depth == 0:
            blank = line[:1] in (" ", "\t")
        if special(line) is None:
            if not line.isascii():
                raise _Refused
            if depth:
                tokens += line.split()
                continue
            tokens = line.split()
        else:
            if depth == 0:
                tokens = []
            depth = _tokens(line, tokens, depth)
            if depth:
                continue
        if not tokens:
            continue
        first = tokens[0]
        if not blank and first[0] == "$":
            directive = first.upper()
            if len(tokens) != 2 or tokens[1][0] == '"':
                raise _Refused
            if directive == "$ORIGIN":
                origin = name_of(tokens[1], origin)
            elif directive == "$TTL":
                default_ttl = _ttl(tokens[1])
            else:
                raise _Refused  # $INCLUDE, $GENERATE: BIND reads them
            continue
        index = 0
        if not blank:
            owner = name_of(first, origin)
            index = 1
        if owner is None:
            raise _Refused
        ttl = default_ttl
        explicit = klass = False
        size = len(tokens)
        while index < size:
            token = tokens[index]
            if token[0].isdigit() and not explicit:
                ttl, explicit = _ttl(token), True
            elif not klass and token.upper() == "IN":
                klass = True
            else:
                break
            index += 1
        if index >= size:
            raise _Refused
        rtype = tokens[index].upper()
        reader = readers.get(rtype)
        if reader is None or ttl is None:
            raise _Refused  # another type; or no TTL: BIND takes the SOA's minimum, warning
        data = reader(tokens[index + 1 :], origin)
        folded = owner.lower()
        rrsets = nodes.get(folded)
        if rrsets is None:
            if folded != apex and not folded.endswith(below):
                raise _Refused  # out of zone: BIND drops it with a warning
            rrsets = nodes[folded] = {}
        rrset = rrsets.get(rtype)
        if rrset is None:
            rrsets[rtype] = _RRset(owner, ttl, data)
        elif rrset.ttl != ttl:
            raise _Refused  # BIND warns and gives the RRset the first TTL
        else:
            rrset.texts.append(data)
    if depth:
        raise _Refused
    return nodes


def _name(token: str, origin: str) -> str:
    """A name as BIND reads it in `origin`, absolute, its case kept."""
    if token == "@":
        return origin
    if not _NAME.fullmatch(token):
        raise _Refused
    relative_to = "" if token[-1] == "." else "." if origin == "." else "." + origin
    name = token + relative_to
    if len(name) > 254:
        raise _Refused  # over 255 bytes in wire form
    return name


def _wire(name: str) -> bytes:
    """The name's wire form in lower case: how BIND orders names in data."""
    if name == ".":
        return b"\0"
    labels = name.lower().split(".")[:-1]
    return b"".join(bytes((len(label),)) + label.encode() for label in labels) + b"\0"


def _ttl(token: str) -> int:
    if token.isdigit():
        seconds = int(token)
    elif _TTL.fullmatch(token):
        seconds = ttl_seconds(token)  # the strict form above, read as locate.py reads a TTL
    else:
        raise _Refused
    if seconds > _MAX_TTL:
        raise _Refused
    return seconds


def _number(token: str, top: int) -> int:
    if not _NUMBER.fullmatch(token):
        raise _Refused
    value = int(token)
    if value > top:
        raise _Refused
    return value


def _string(token: str) -> str:
    """A character-string, quoted or one bare word, as BIND prints it in quotes."""
    text = token[1:] if token[0] == '"' else token
    if len(text) > 255:
        raise _Refused
    return '"' + text + '"'


def _a(fields: list[str], origin: str) -> str:
    if len(fields) != 1 or not _IPV4.fullmatch(fields[0]):
        raise _Refused
    return fields[0]


def _aaaa(fields: list[str], origin: str) -> str:
    if len(fields) != 1 or not _IPV6.fullmatch(fields[0]):
        raise _Refused
    try:
        packed = socket.inet_pton(socket.AF_INET6, fields[0])
    except OSError:
        raise _Refused from None
    if packed[:10] == bytes(10) and (
        packed[10:12] == b"\xff\xff" or (packed[10:12] == bytes(2) and packed[12:14] != bytes(2))
    ):
        raise _Refused  # written with an IPv4 tail (::a.b.c.d, ::ffff:a.b.c.d)
    return socket.inet_ntop(socket.AF_INET6, packed)  # the ISC code BIND prints with


def _target(fields: list[str], origin: str) -> str:
    if len(fields) != 1:
        raise _Refused
    return _name(fields[0], origin)


def _mx(fields: list[str], origin: str) -> str:
    if len(fields) != 2:
        raise _Refused
    return f"{_number(fields[0], 65535)} {_name(fields[1], origin)}"


def _srv(fields: list[str], origin: str) -> str:
    if len(fields) != 4:
        raise _Refused
    numbers = " ".join(str(_number(field, 65535)) for field in fields[:3])
    return numbers + " " + _name(fields[3], origin)


def _txt(fields: list[str], origin: str) -> str:
    if not fields:
        raise _Refused
    return " ".join([_string(field) for field in fields])


def _soa(fields: list[str], origin: str) -> str:
    if len(fields) != 7:
        raise _Refused
    names = f"{_name(fields[0], origin)} {_name(fields[1], origin)}"
    timers = " ".join(str(_ttl(field)) for field in fields[3:])
    return f"{names} {_number(fields[2], 2**32 - 1)} {timers}"


def _caa(fields: list[str], origin: str) -> str:
    if len(fields) != 3 or not _CAA_TAG.fullmatch(fields[1]):
        raise _Refused
    return f"{_number(fields[0], 255)} {fields[1]} {_string(fields[2])}"


_READERS: dict[str, Callable[[list[str], str], str]] = {
    "A": _a,
    "AAAA": _aaaa,
    "NS": _target,
    "CNAME": _target,
    "PTR": _target,
    "DNAME": _target,
    "MX": _mx,
    "SRV": _srv,
    "TXT": _txt,
    "SOA": _soa,
    "CAA": _caa,
}
