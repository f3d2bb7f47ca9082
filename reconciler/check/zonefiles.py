"""Which files are zones, and the file-level rules before BIND reads them.

Pure: takes a `Snapshot` and returns `ZoneText` values (the text BIND will be
given, templates rendered by render.py) or `Problem`s: symlinks, sizes, and
`$INCLUDE` only of regular files inside the zones folder. `$ORIGIN` is free:
where records land is BIND's to say (out-of-zone data is refused by messages.py,
with its line). Files are bytes, as BIND reads them: bytes that are not UTF-8
(Latin-1 comments, TXT data) are kept as they are (decoded with
`surrogateescape`, written back byte for byte). Called by check/inspect.py.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.check.expansion import plain_text
from reconciler.check.render import render
from reconciler.errors import Problem
from reconciler.model.names import zone_name_problem
from reconciler.model.snapshot import Snapshot
from reconciler.model.zone import ZoneText, decode

ZONE_SUFFIX = ".zone"
TEMPLATE_SUFFIX = ".zone.j2"
_INCLUDE = re.compile(r"^\s*\$INCLUDE\s+(\S+)", re.IGNORECASE)


def zone_name(path: str) -> str | None:
    """The zone a file in the zones folder holds, from its name; None for other files."""
    base = posixpath.basename(path)
    for suffix in (TEMPLATE_SUFFIX, ZONE_SUFFIX):
        if base.endswith(suffix):
            return base[: -len(suffix)].lower().rstrip(".")
    return None


def zone_files(snapshot: Snapshot, zones_dir: str) -> tuple[dict[str, str], list[Problem]]:
    """Zone name -> file for every zone file directly in the zones folder; clashes refused."""
    found: dict[str, str] = {}
    problems = []
    for path in sorted(snapshot.files):
        name = zone_name(path)
        if posixpath.dirname(path) != zones_dir or not name:
            continue
        if name in found:
            problems.append(Problem(path, f"zone {name} is already defined by {found[name]}"))
            continue
        found[name] = path
    return found, problems


def load_zone(
    snapshot: Snapshot,
    zones_dir: str,
    name: str,
    path: str,
    variables: dict[str, Any],
    max_bytes: int,
) -> tuple[ZoneText | None, list[Problem]]:
    """Read, check the file-level rules for, and render one zone."""
    entry = snapshot.files[path]
    problems = file_problems(path, entry.symlink, entry.size, entry.data, max_bytes)
    if problems or entry.data is None:
        return None, problems
    invalid = zone_name_problem(name)  # the rule bind/conf.py applies when deploying
    if invalid:
        return None, [Problem(path, f"invalid zone name: {invalid}", zone=name)]
    text = decode(entry.data)
    rendered = path.endswith(TEMPLATE_SUFFIX)
    if rendered:
        output, problems = render(snapshot, zones_dir, path, text, name, variables, max_bytes)
        if output is None:
            return None, problems
        text = output
    if not text.strip():
        return None, [Problem(path, "empty zone file", zone=name)]
    problems += directive_problems(snapshot, zones_dir, path, text, name, max_bytes)
    return (None if problems else ZoneText(name, path, text, rendered)), problems


def file_problems(
    path: str, symlink: bool, size: int, data: bytes | None, max_bytes: int
) -> list[Problem]:
    if symlink:
        return [Problem(path, "is a symlink; zone files and includes must be regular files")]
    if size > max_bytes:
        return [
            Problem(
                path,
                f"file is {size} bytes, over the limit of {max_bytes} bytes "
                "([safety] max_zone_bytes in reconciler.toml)",
            )
        ]
    if size == 0 or data is None:
        return [Problem(path, "empty file")]
    return []


def directive_problems(
    snapshot: Snapshot, zones_dir: str, path: str, text: str, name: str, max_bytes: int
) -> list[Problem]:
    """$INCLUDE only of regular files inside the zones folder (stricter than BIND on
    purpose: any line that starts with `$INCLUDE` counts).

    Included files are followed depth first, each once and without recursion: a chain
    of thousands of files, or pieces that include the next one twice (2**n inclusions),
    cost one look at each file; an include back into a file still being read is a loop.
    A problem in an included file names the line that includes it.
    """
    problems: list[Problem] = []
    # Each open file: its path, its directives still to look at, where it is included.
    stack: list[tuple[str, Iterator[tuple[int, str]], str | None]] = [
        (path, _directives(text), None)
    ]
    reading, done = {path}, set()
    while stack:
        current, directives, via = stack[-1]
        step = next(directives, None)
        if step is None:
            stack.pop()
            reading.discard(current)
            done.add(current)
            continue
        number, argument = step
        target = _include_target(zones_dir, argument)
        entry = snapshot.files.get(target) if target else None
        here = f"$INCLUDE from {current}:{number}"
        if target is None:
            outside = f"$INCLUDE {argument} is outside the {zones_dir}/ folder"
            problems.append(Problem(current, outside, number, name, via))
        elif entry is None:
            missing = f"$INCLUDE {argument}: no such file in {zones_dir}/"
            problems.append(Problem(current, missing, number, name, via))
        elif target in reading:
            itself = f"$INCLUDE {argument} includes itself"
            problems.append(Problem(current, itself, number, name, via))
        elif target not in done:
            found = file_problems(target, entry.symlink, entry.size, entry.data, max_bytes)
            if not found and entry.data is not None:
                stack.append((target, _directives(decode(entry.data)), here))
                reading.add(target)
            problems += [Problem(p.file, p.message, p.line, name, here) for p in found]
    return problems


def included_files(files: Mapping[str, bytes], zones_dir: str, text: str) -> list[str]:
    """Every file `text`'s `$INCLUDE`s reach, through the included files' own, found as
    `directive_problems` finds them (any line that starts with `$INCLUDE`), sorted.

    For a zone that passed `directive_problems` this holds every file BIND reads for it
    (and perhaps more): what decides its result besides its own text (checkzone.py's cache
    key) and what BIND's temporary folder needs. `files`: the zones folder (Snapshot.folder);
    only the files reached are read. A path named but not there is listed too.
    """
    found: set[str] = set()
    texts = [text]
    while texts:
        for _number, argument in _directives(texts.pop()):
            target = _include_target(zones_dir, argument)
            if target is None or target in found:
                continue
            found.add(target)
            data = files.get(target)
            if data is not None:
                texts.append(decode(data))
    return sorted(found)


def _directives(text: str) -> Iterator[tuple[int, str]]:
    """(line number, file named) of each `$INCLUDE` in `text`.

    Only a line with a `$` can be one: in a plain text (lines end in newline) those are
    found by `str.find` and only they are read, not each of a million record lines.
    """
    if not plain_text(text):
        for number, line in enumerate(text.splitlines(), 1):
            match = _INCLUDE.match(line.split(";", 1)[0])
            if match:
                yield number, match.group(1).strip('"')
        return
    number, counted, pos = 1, 0, 0  # `number`: the line that starts at `counted`
    while (dollar := text.find("$", pos)) >= 0:
        start = max(text.rfind("\n", pos, dollar) + 1, pos)
        stop = text.find("\n", dollar)
        stop = len(text) if stop < 0 else stop
        number += text.count("\n", counted, start)
        counted = start
        match = _INCLUDE.match(text[start:stop].split(";", 1)[0])
        if match:
            yield number, match.group(1).strip('"')
        pos = stop + 1


def _include_target(zones_dir: str, argument: str) -> str | None:
    """The repo path an $INCLUDE names (relative to the zones folder), or None if outside."""
    if argument.startswith("/") or "\\" in argument:
        return None
    target = posixpath.normpath(posixpath.join(zones_dir, argument))
    if target.startswith("../") or not target.startswith(zones_dir + "/"):
        return None
    return target
