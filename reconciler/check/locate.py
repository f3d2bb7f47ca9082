"""Where a record is written: file and line, for messages.

BIND's canonical dump loses line numbers, and some of BIND's own messages name
a record but no line. This scanner reads master-file text as BIND does (quoted
strings, parentheses over several lines, comments, `$ORIGIN`, `$TTL`,
`$INCLUDE` of other files in the zones folder, `$GENERATE`) without checking
it, and answers "which file and line holds this owner, type and target".
Names compare as BIND compares them: case-insensitively, escapes resolved,
raw bytes as `\\DDD`. Pure; `Locator` is built once per zone and indexes
lazily. Called by `checkzone.py`, `rules.py` and `limits.py`.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import dns.exception
import dns.name

from reconciler.model.snapshot import Snapshot
from reconciler.model.zone import ZoneText, decode, encode

MAX_DEPTH = 8  # $INCLUDE nesting followed (zonefiles.py refuses loops before BIND runs)
_TTL = re.compile(r"^(?:\d+[wdhms]?)+$", re.IGNORECASE)
_CLASSES = {"IN", "CH", "CHAOS", "HS", "HESIOD", "NONE", "ANY"}
_GENERATE_COUNTER = re.compile(r"\$(?:\{[^}]*\})?")
_LEXEME = re.compile(
    r"""(?P<quoted>"(?:[^"\\\n]|\\.)*"?)
      | (?P<comment>;[^\n]*)
      | (?P<paren>[()])
      | (?P<space>[ \t\r]+)
      | (?P<word>(?:[^\s"();\\]|\\.|\\)+)""",
    re.VERBOSE,
)


def is_ttl(token: str) -> bool:
    """BIND's TTL syntax: seconds, or numbers with w/d/h/m/s units (`1W2d`, `1h30m`)."""
    return bool(_TTL.match(token))


def ttl_seconds(token: str) -> int:
    """A TTL as BIND reads it (`1h30m` is 5400); 0 when it is not one."""
    if not is_ttl(token):
        return 0
    units = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}
    return sum(int(n) * units[u.lower()] for n, u in re.findall(r"(\d+)([wdhms]?)", token, re.I))


def _is_class(token: str) -> bool:
    upper = token.upper()
    return upper in _CLASSES or (upper.startswith("CLASS") and upper[5:].isdigit())


def canonical(name: str, origin: str = ".") -> str:
    """`name` as BIND prints it: absolute, lower case, escapes resolved and re-escaped.

    `origin` (already canonical) completes relative names; `@` is the origin.
    """
    if name == "@":
        return origin
    plain = name.isascii() and "\\" not in name and "@" not in name and "$" not in name
    if plain and name.endswith("."):
        return name.lower()
    if plain:
        return f"{name}.{origin}".lower() if origin != "." else f"{name}.".lower()
    try:
        parsed = dns.name.from_text(encode(name), dns.name.from_text(origin))
    except (dns.exception.DNSException, UnicodeError, ValueError):
        return name.lower()
    return parsed.canonicalize().to_text()


@dataclass(frozen=True)
class Entry:
    """One record (or `$GENERATE` directive) as written: where, owner, type, data tokens."""

    file: str
    line: int
    owner: str  # canonical; for $GENERATE the left-hand side with its `$`s
    rtype: str  # upper case
    rdata: tuple[str, ...]
    origin: str
    ttl: str | None = None
    generated: re.Pattern[str] | None = None  # the owners a $GENERATE line makes
    order: int = 0  # position in the zone as BIND reads it

    def targets(self) -> set[str]:
        """Every rdata token as a name: a target named in a message is one of them."""
        found = set()
        for token in self.rdata:
            if self.generated is not None:
                token = _GENERATE_COUNTER.sub("0", token)
            found.add(canonical(token, self.origin))
        return found

    def has_owner(self, owner: str) -> bool:
        if self.generated is not None:
            return bool(self.generated.match(owner))
        return self.owner == owner


@dataclass(frozen=True)
class Directive:
    """A `$` line: which one, its arguments, where."""

    file: str
    line: int
    name: str  # upper case, without the `$`
    arguments: tuple[str, ...]


@dataclass
class _Scan:
    entries: list[Entry] = field(default_factory=list)
    directives: list[Directive] = field(default_factory=list)


def _logical_lines(text: str) -> Iterator[tuple[int, bool, list[str]]]:
    """(first line number, starts with blank, tokens) per record, as BIND's lexer splits them.

    Comments are dropped; quoted strings stay one token with their quotes; parentheses
    join lines; a newline inside quotes ends the string (BIND refuses it anyway). A line
    without quotes, parentheses or escapes (most of them) is simply split.
    """
    tokens: list[str] = []
    start, blank, depth = 1, False, 0
    for number, raw in enumerate(text.split("\n"), 1):
        if '"' in raw or "(" in raw or ")" in raw or "\\" in raw:
            words: list[str] = []
            for lexeme in _LEXEME.finditer(raw):
                kind = lexeme.lastgroup
                if kind == "paren":
                    if not tokens and not words and depth == 0:
                        start, blank = number, raw[:1] in " \t"
                    depth = depth + 1 if lexeme.group() == "(" else max(0, depth - 1)
                elif kind in ("quoted", "word"):
                    words.append(lexeme.group())
        else:
            words = raw.split(";", 1)[0].split()
        if words and not tokens:
            start, blank = number, raw[:1] in " \t"
        tokens += words
        if depth == 0 and tokens:
            yield start, blank, tokens
            tokens = []
    if tokens:
        yield start, blank, tokens


def _fields(tokens: list[str]) -> tuple[str | None, str, list[str]]:
    """(ttl, type, rdata) from the tokens after the owner: `[ttl] [class] type rdata`."""
    ttl = None
    rest = list(tokens)
    for _ in range(2):
        if rest and is_ttl(rest[0]) and ttl is None:
            ttl = rest.pop(0)
        elif rest and _is_class(rest[0]):
            rest.pop(0)
    if not rest:
        return ttl, "", []
    return ttl, rest[0].upper(), rest[1:]


def _generated(lhs: str, origin: str) -> re.Pattern[str]:
    """The owner names a $GENERATE left-hand side can make, as a pattern over canonical names."""
    absolute = lhs if lhs.endswith(".") else (f"{lhs}.{origin}" if origin != "." else f"{lhs}.")
    parts = _GENERATE_COUNTER.split(absolute.lower().replace("\\$", "\0"))
    body = ".*?".join(re.escape(p).replace("\0", r"\$") for p in parts)
    return re.compile(f"^{body}$")


def zone_folder(snapshot: Snapshot, zones_dir: str) -> Mapping[str, bytes]:
    """The zones folder's files (what an `$INCLUDE` can name), for a `Locator`."""
    return snapshot.folder(zones_dir)


class Locator:
    """Answers where a zone's records are written, following its `$INCLUDE`s.

    `files` maps repo paths to contents (the zones folder of the same snapshot);
    `$INCLUDE` paths are relative to `zones_dir`, as BIND is run from there.
    """

    def __init__(self, zone: ZoneText, files: Mapping[str, bytes], zones_dir: str) -> None:
        self.zone = zone
        self.files = files
        self.zones_dir = zones_dir
        self.origin = canonical(zone.name + ".")

    @property
    def label(self) -> str:
        """The file name lines of the zone's own text refer to."""
        return f"{self.zone.path} (rendered)" if self.zone.rendered else self.zone.path

    @cached_property
    def _scan(self) -> _Scan:
        scan = _Scan()
        self._read(scan, self.label, self.zone.text, self.origin, 0)
        return scan

    def _read(self, scan: _Scan, file: str, text: str, origin: str, depth: int) -> None:
        owner = origin
        for line, blank, tokens in _logical_lines(text):
            first = tokens[0]
            if first.startswith("$") and not blank:
                name, arguments = first[1:].upper(), tuple(tokens[1:])
                scan.directives.append(Directive(file, line, name, arguments))
                if name == "ORIGIN" and arguments:
                    origin = canonical(arguments[0], origin)
                elif name == "INCLUDE" and arguments and depth < MAX_DEPTH:
                    inner = self._include(arguments[0])
                    if inner is not None:
                        base = canonical(arguments[1], origin) if len(arguments) > 1 else origin
                        self._read(scan, inner[0], inner[1], base, depth + 1)
                elif name == "GENERATE" and len(arguments) >= 3:
                    ttl, rtype, rdata = _fields(list(arguments[2:]))
                    lhs = arguments[1]
                    scan.entries.append(
                        Entry(
                            file,
                            line,
                            lhs,
                            rtype,
                            tuple(rdata),
                            origin,
                            ttl,
                            _generated(lhs, origin),
                            len(scan.entries),
                        )
                    )
                continue
            if not blank:
                owner = canonical(first, origin)
                tokens = tokens[1:]
            ttl, rtype, rdata = _fields(tokens)
            scan.entries.append(
                Entry(file, line, owner, rtype, tuple(rdata), origin, ttl, None, len(scan.entries))
            )

    def _include(self, argument: str) -> tuple[str, str] | None:
        path = posixpath.normpath(posixpath.join(self.zones_dir, argument.strip('"')))
        text = self.files_text(path)
        return None if text is None else (path, text)

    def files_text(self, path: str) -> str | None:
        """The text of another file of the zones folder (an include), or None."""
        data = self.files.get(path)
        return None if data is None else decode(data)

    @cached_property
    def _by_owner(self) -> dict[str, list[Entry]]:
        index: dict[str, list[Entry]] = defaultdict(list)
        for entry in self._scan.entries:
            if entry.generated is None:
                index[entry.owner].append(entry)
        return index

    @cached_property
    def _generated(self) -> list[Entry]:
        return [e for e in self._scan.entries if e.generated is not None]

    def entries(
        self, owner: str | None = None, rtype: str | None = None, target: str | None = None
    ) -> list[Entry]:
        """Every record written with this owner, type and target name (each optional)."""
        if owner is not None:
            owner = canonical(owner)
            generated = [e for e in self._generated if e.has_owner(owner)]
            pool = self._by_owner.get(owner, [])
            if generated:
                pool = sorted(pool + generated, key=lambda e: e.order)
        else:
            pool = self._scan.entries
        wanted = rtype.upper() if rtype else None
        goal = canonical(target) if target is not None else None
        return [
            e
            for e in pool
            if (wanted is None or e.rtype == wanted) and (goal is None or goal in e.targets())
        ]

    def find(
        self, owner: str | None = None, rtype: str | None = None, target: str | None = None
    ) -> tuple[str, int] | None:
        """(file, line) of the first record written with this owner, type and target."""
        found = self.entries(owner, rtype, target)
        if not found and target is not None:
            found = self.entries(owner, rtype)
        return (found[0].file, found[0].line) if found else None

    def first_record(self) -> tuple[str, int]:
        """Where the zone's records begin (the SOA, normally): for messages about the zone."""
        entries = self._scan.entries
        return (entries[0].file, entries[0].line) if entries else (self.label, 1)

    def apex(self, rtype: str = "SOA") -> tuple[str, int]:
        """The first record of `rtype` at the apex, else where the records begin."""
        return self.find(self.origin, rtype) or self.first_record()

    def bad_ttl(self) -> tuple[str, int] | None:
        """The first `$TTL` whose value BIND cannot read (BIND says "bad ttl" with no line)."""
        for directive in self._scan.directives:
            if directive.name == "TTL" and (
                not directive.arguments or not is_ttl(directive.arguments[0])
            ):
                return directive.file, directive.line
        return None


def locate(
    text: str,
    origin: str,
    owner: str | None = None,
    rtype: str | None = None,
    target: str | None = None,
) -> int | None:
    """Line in `text` of the first record with this owner, type and target (no includes)."""
    zone = ZoneText(origin.rstrip(".") or ".", "-", text)
    found = Locator(zone, {}, "").find(owner, rtype, target)
    return found[1] if found else None


def absolute(name: str, origin: str) -> str:
    """`name` as written in a zone file, made fully qualified (canonical, trailing dot)."""
    return canonical(name, canonical(origin))


def locate_all(text: str, origin: str, owner: str, rtype: str) -> list[int]:
    """Every line of `text` that starts a record of this owner and type (no includes)."""
    zone = ZoneText(origin.rstrip(".") or ".", "-", text)
    return [entry.line for entry in Locator(zone, {}, "").entries(owner, rtype)]
