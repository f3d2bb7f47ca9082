"""How many records a zone becomes, counted before BIND expands anything.

`$GENERATE 1-2147483647` is 40 bytes that named-checkzone turns into two billion
records; thirty pieces that each `$INCLUDE` the next one twice make 2**30. `count`
adds up what every line of a zone and of the files it includes makes, without
expanding: a record line is one record, a `$GENERATE` its range, an `$INCLUDE` the
included file's count each time. Included files are counted once each (no
recursion, however long the chain). A range BIND would refuse or that we cannot
read counts nothing here: BIND says what is wrong with it, under its limits.
Pure; called by check/checkzone.py with `[safety] max_records` as the limit.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from reconciler.errors import Problem
from reconciler.model.snapshot import Snapshot
from reconciler.model.zone import ZoneText

# Directives start in the first column (BIND reads " $GENERATE" as an owner), any case.
_GENERATE = re.compile(r"^\$GENERATE[ \t]+(\S+)", re.IGNORECASE)
_INCLUDE = re.compile(r"^\$INCLUDE[ \t]+(\S+)", re.IGNORECASE)
_OTHER_DIRECTIVE = re.compile(r"^\$[A-Za-z]")
# As BIND 9.18 reads a range (sscanf "%u-%u/%u"; trailing text ignored); start <= stop < 2**31.
_RANGE = re.compile(r"^\+?(\d{1,10})-\+?(\d{1,10})(?:/\+?(\d{1,10}))?")
_BIND_MAX = 2**31 - 1


@dataclass(frozen=True)
class Count:
    records: int
    line: int | None  # the zone file's line that adds the most, when it is a directive
    what: str  # that directive, e.g. "$GENERATE 1-3000000"
    adds: int  # how many records that line adds


REPO_LIMIT = "[safety] max_records in reconciler.toml"
HOST_LIMIT = "[check] max_records in daemon.toml"


def over_limit(
    zone: ZoneText, records: int, limit: int, biggest: Count, source: str = REPO_LIMIT
) -> Problem:
    """The problem of a zone of `records` records, over `limit` (set in `source`)."""
    message = f"{records} records, over the limit of {limit} records ({source})"
    if biggest.line is not None:
        message += f"; {biggest.what} makes {biggest.adds}"
    return Problem(zone.path, message, biggest.line, zone.name)


def count(snapshot: Snapshot, zones_dir: str, zone: ZoneText) -> Count:
    """What the zone's text and everything it includes add up to."""
    files = _Files(snapshot, zones_dir)
    totals = _included_totals(files, zones_dir, zone.text)
    return _tally(zone.text, zones_dir, totals)


def _tally(text: str, zones_dir: str, totals: Mapping[str, int]) -> Count:
    """What `_contributions` adds up to, and the line among them adding the most.

    A zone of a million records is mostly plain record lines: those stretches are
    counted by C (`str.count`, one regex over the blank and comment lines), and only
    directive lines and records that open a parenthesis are read in Python, as
    `_contributions` reads them. A text with line breaks other than newline, or with
    characters that `str.strip` takes as blank beyond space and tab, goes the plain way.
    """
    if not plain_text(text):
        records, biggest = 0, Count(0, None, "", 0)
        for number, adds, what in _contributions(text, zones_dir, totals):
            records += adds
            if what and adds > biggest.adds:
                biggest = Count(0, number, what, adds)
        return Count(records, biggest.line, biggest.what, biggest.adds)
    return _Tally(text, zones_dir, totals).run()


# Any of these makes a line break for str.splitlines or a blank for str.strip (in ASCII).
_ODD_SPACE = "\r\x0b\x0c\x1c\x1d\x1e\x1f"
_INCLUDE_NEXT = re.compile(r"\n\$INCLUDE[ \t]+(\S+)", re.IGNORECASE)  # on the line after \n


def plain_text(text: str) -> bool:
    """Whether `text` is ASCII whose only line break is newline and only blanks space and tab."""
    return text.isascii() and not any(odd in text for odd in _ODD_SPACE)


_BLANK_FIRST = re.compile(r"[ \t]*(?:[;\n]|\Z)")  # a blank or comment line, at its start
_BLANK_NEXT = re.compile(r"\n[ \t]*(?=[;\n]|\Z)")  # the line after this \n is one


class _Tally:
    """One walk of a plain ASCII text (lines end in newline): see `_tally`."""

    def __init__(self, text: str, zones_dir: str, totals: Mapping[str, int]) -> None:
        self.text, self.zones_dir, self.totals = text, zones_dir, totals
        self.records, self.biggest = 0, Count(0, None, "", 0)
        self.dollar, self.paren = -1, -1  # the next "$" line's start, the next "(": found lazily

    def run(self) -> Count:
        text, end = self.text, len(self.text)
        pos, number = 0, 1  # the start of a line at depth 0, and its number
        while pos < end:
            special = min(self._next_dollar(pos), self._next_paren_line(pos))
            if special > pos:
                self.records += self._plain(pos, special)
                number += text.count("\n", pos, special)
                pos = special
                continue
            pos, number = self._special(pos, number)
        return Count(self.records, self.biggest.line, self.biggest.what, self.biggest.adds)

    def _next_dollar(self, pos: int) -> int:
        if self.dollar < pos:
            if self.text.startswith("$", pos):
                self.dollar = pos
            else:
                found = self.text.find("\n$", pos)
                self.dollar = found + 1 if found >= 0 else len(self.text)
        return self.dollar

    def _next_paren_line(self, pos: int) -> int:
        if self.paren < pos:
            found = self.text.find("(", pos)
            self.paren = found if found >= 0 else len(self.text)
        if self.paren == len(self.text):
            return self.paren
        return max(self.text.rfind("\n", pos, self.paren) + 1, pos)

    def _plain(self, start: int, stop: int) -> int:
        """The records in lines start..stop (no directive, no parenthesis among them)."""
        text = self.text
        ends_line = text[stop - 1] == "\n"
        lines = text.count("\n", start, stop) + (0 if ends_line else 1)
        blank = len(_BLANK_NEXT.findall(text, start, stop)) - (1 if ends_line else 0)
        if _BLANK_FIRST.match(text, start, stop):
            blank += 1
        return lines - blank

    def _line(self, pos: int) -> tuple[str, int]:
        stop = self.text.find("\n", pos)
        stop = len(self.text) if stop < 0 else stop
        return self.text[pos:stop], stop + 1

    def _special(self, pos: int, number: int) -> tuple[int, int]:
        """Read the line at `pos` (and the lines its parentheses go on over) as
        `_contributions` does; the next line's start and number."""
        line, pos = self._line(pos)
        if line.startswith("$"):
            found = _directive(line, self.zones_dir, self.totals)
            if found is not None:
                adds, what = found
                self.records += adds
                if what and adds > self.biggest.adds:
                    self.biggest = Count(0, number, what, adds)
                return pos, number + 1
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            return pos, number + 1
        self.records += 1
        depth = max(_parentheses(line), 0)
        number += 1
        while depth > 0 and pos < len(self.text):
            line, pos = self._line(pos)
            depth = max(depth + _parentheses(line), 0)
            number += 1
        return pos, number


class _Files(Mapping[str, str]):
    """The zones folder's files as text, decoded when first asked for (most never are)."""

    def __init__(self, snapshot: Snapshot, zones_dir: str) -> None:
        self._snapshot, self._zones_dir = snapshot, zones_dir
        self._folder: Mapping[str, bytes] | None = None  # listed when first asked (most never are)
        self._texts: dict[str, str] = {}

    @property
    def _entries(self) -> Mapping[str, bytes]:
        if self._folder is None:
            self._folder = self._snapshot.folder(self._zones_dir)
        return self._folder

    def __getitem__(self, path: str) -> str:
        if path not in self._texts:
            self._texts[path] = self._entries[path].decode("latin-1")  # lines stay lines
        return self._texts[path]

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def _included_totals(files: Mapping[str, str], zones_dir: str, text: str) -> dict[str, int]:
    """Every file reachable by $INCLUDE from `text`, with what it adds up to.

    Depth-first without recursion; a file on the current path (an include loop, refused
    elsewhere) counts nothing.
    """
    totals: dict[str, int] = {}
    on_path: set[str] = set()
    stack: list[tuple[str, bool]] = [(t, False) for t in _includes(text, zones_dir, files)]
    while stack:
        path, expanded = stack.pop()
        if path in totals:
            continue
        if expanded:
            on_path.discard(path)
            seen = {**totals, **{p: 0 for p in on_path}}
            totals[path] = _tally(files[path], zones_dir, seen).records
            continue
        if path in on_path:
            continue
        on_path.add(path)
        stack.append((path, True))
        stack.extend(
            (t, False) for t in _includes(files[path], zones_dir, files) if t not in totals
        )
    return totals


def _includes(text: str, zones_dir: str, files: Mapping[str, str]) -> Iterator[str]:
    if plain_text(text):  # one regex over the text, not a match per line
        first = _INCLUDE.match(text)
        arguments = [first.group(1)] if first else []
        arguments += _INCLUDE_NEXT.findall(text)
    else:
        matches = (_INCLUDE.match(line) for line in text.splitlines())
        arguments = [match.group(1) for match in matches if match]
    for argument in arguments:
        target = _target(zones_dir, argument.strip('"'))
        if target is not None and target in files:
            yield target


def _contributions(
    text: str, zones_dir: str, totals: Mapping[str, int]
) -> Iterator[tuple[int, int, str]]:
    """(line number, records it adds, the directive or "") for each line that adds any."""
    depth = 0  # inside ( ... ) a record goes on over several lines
    for number, line in enumerate(text.splitlines(), 1):
        if depth > 0:
            depth = max(depth + _parentheses(line), 0)
            continue
        if line.startswith("$"):
            found = _directive(line, zones_dir, totals)
            if found is not None:
                if found[1]:
                    yield number, found[0], found[1]
                continue
        stripped = line.strip()
        if stripped and not stripped.startswith(";"):
            yield number, 1, ""
            depth = max(_parentheses(line), 0)


def _directive(line: str, zones_dir: str, totals: Mapping[str, int]) -> tuple[int, str] | None:
    """(records it adds, "$GENERATE ..." / "$INCLUDE ..." or "") for a directive line;
    None if the line is not one (BIND reads it as a record)."""
    generate = _GENERATE.match(line)
    if generate:
        return _range_size(generate.group(1)), f"$GENERATE {generate.group(1)}"
    include = _INCLUDE.match(line)
    if include:
        target = _target(zones_dir, include.group(1).strip('"'))
        return (totals.get(target, 0) if target else 0), f"$INCLUDE {include.group(1)}"
    if _OTHER_DIRECTIVE.match(line):
        return 0, ""
    return None


def _range_size(text: str) -> int:
    match = _RANGE.match(text)
    if not match:
        return 0
    start, stop = int(match.group(1)), int(match.group(2))
    step = int(match.group(3)) if match.group(3) else 1
    if not (start <= stop <= _BIND_MAX and step >= 1):
        return 0
    return (stop - start) // step + 1


def _parentheses(line: str) -> int:
    """How much `line` opens parentheses, outside quotes and comments."""
    if "(" not in line and ")" not in line:
        return 0
    depth, quoted, escaped = 0, False, False
    for char in line:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char == ";":
            break
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
    return depth


def _target(zones_dir: str, argument: str) -> str | None:
    """The repo path an $INCLUDE names (relative to the zones folder); None if outside."""
    if argument.startswith("/"):
        return None
    target = posixpath.normpath(posixpath.join(zones_dir, argument))
    return target if target.startswith(zones_dir + "/") else None
