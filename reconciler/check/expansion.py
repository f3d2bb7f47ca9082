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
    records, biggest = 0, Count(0, None, "", 0)
    for number, adds, what in _contributions(zone.text, zones_dir, totals):
        records += adds
        if what and adds > biggest.adds:
            biggest = Count(0, number, what, adds)
    return Count(records, biggest.line, biggest.what, biggest.adds)


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
            totals[path] = sum(adds for _, adds, _ in _contributions(files[path], zones_dir, seen))
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
    for line in text.splitlines():
        match = _INCLUDE.match(line)
        if match:
            target = _target(zones_dir, match.group(1).strip('"'))
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
            generate = _GENERATE.match(line)
            if generate:
                yield number, _range_size(generate.group(1)), f"$GENERATE {generate.group(1)}"
                continue
            include = _INCLUDE.match(line)
            if include:
                target = _target(zones_dir, include.group(1).strip('"'))
                adds = totals.get(target, 0) if target else 0
                yield number, adds, f"$INCLUDE {include.group(1)}"
                continue
            if _OTHER_DIRECTIVE.match(line):
                continue
        stripped = line.strip()
        if stripped and not stripped.startswith(";"):
            yield number, 1, ""
            depth = max(_parentheses(line), 0)


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
