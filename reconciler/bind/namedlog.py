"""named's log: why a zone did not load, read after a byte offset.

`load_failure` returns a `LoadFailure` value: BIND's whole message, and where it
points (the file named read, its line, the record) so that the reconcile step can
name the repo's line instead. Called by the reconcile step (the reason of a
rollback) and devtools/sandbox.py.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from reconciler.model.names import checked_zone_name


def log_size(log_file: Path) -> int:
    """The log's size now: pass it to `load_failure_reason` after a reload. 0 if missing."""
    try:
        return Path(log_file).stat().st_size
    except OSError:
        return 0


_LOG_MAX = 16 << 20


_SEVERITY = re.compile(r"\b(critical|error|warning|notice|info|debug(?: \d+)?): ")


_LOADING = re.compile(r"loading from master file (?P<file>.+?) failed")
# "error adding 'many.example.com/A' in 'example.com/IN' (zone): too many records (must not
# exceed 100)": the record's type and the detail that the master-file error leaves out
_ADDING = re.compile(
    r"error adding '(?P<owner>[^'/]+)/(?P<rtype>[A-Za-z0-9]+)' in '(?P<zone>[^'/]+)/IN'"
    r"[^:]*: (?P<what>.+)$"
)


@dataclass(frozen=True)
class LoadFailure:
    """Why named did not load a zone, as its log says."""

    text: str  # the line that says it best, time and category cut off
    message: str  # BIND's message, whole: what is wrong, with any detail named logged
    file: str | None = None  # the file named read, when the error names one
    line: int | None = None  # ... and its line
    owner: str | None = None  # the record's owner (absolute, lower case), when named names it
    rtype: str | None = None  # ... and its type


def log_since(log_file: Path, since_offset: int = 0) -> str:
    """named's log after byte `since_offset` (all of it when the log is shorter: rotated), at
    most its last _LOG_MAX bytes; "" when it cannot be read."""
    try:
        with open(log_file, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = since_offset if 0 <= since_offset <= size else 0
            handle.seek(max(start, size - _LOG_MAX))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def load_failure_reason(log_file: Path, zone: str, since_offset: int = 0) -> str | None:
    """`load_failure(...).text`: why named did not load `zone`; None if it did."""
    failure = load_failure(log_file, zone, since_offset)
    return failure.text if failure else None


def load_failure(log_file: Path, zone: str, since_offset: int = 0) -> LoadFailure | None:
    """Why named did not load `zone`, from its log after byte `since_offset`; None if the log
    shows no failure of that zone (or a successful load after the last failure).

    Of the lines of the last failure, the first master-file error for the zone's file wins
    (`/z/example.com.zone:5: TTL 86400 exceeds configured max-zone-ttl 3600`), else the first
    error named logged about the zone (`zone example.com/IN: NS 'ns2.example.com' has no
    address records (A or AAAA)`, `zone example.com/IN: loading from master file ... failed:
    ...`), else `zone example.com/IN: not loaded due to errors.`. Time, category and
    severity prefixes are cut off. A log shorter than `since_offset` (rotated) is read whole.
    Works with any named log format that keeps named's message text (a file channel, syslog).
    """
    name = checked_zone_name(zone).lower()
    text = log_since(log_file, since_offset)
    tag = re.compile(rf"\bzone {re.escape(name)}\.?/IN(?:/\S+)?: ", re.IGNORECASE)
    lines = text.splitlines()
    failure = None
    for position, line in enumerate(lines):
        if tag.search(line) and "not loaded due to errors" in line:
            failure = position
    if failure is None or any(
        tag.search(line) and "loaded serial" in line for line in lines[failure + 1 :]
    ):
        return None  # no failure, or the zone loaded again since
    first = 0  # the failure's lines start after the zone's previous load (or failure)
    for position in range(failure - 1, -1, -1):
        found = tag.search(lines[position])
        if found and re.search(r"loaded serial|not loaded due to errors", lines[position]):
            first = position + 1
            break
    window = lines[first : failure + 1]
    files = {m["file"] for line in window if tag.search(line) and (m := _LOADING.search(line))}
    for line in window:  # the master-file error with file and line
        for file in files:
            at = line.find(f"{file}:")
            located = re.match(r"(\d+): (.*)$", line[at + len(file) + 1 :]) if at >= 0 else None
            if located:
                return _at_line(line[at:].strip(), file, int(located[1]), located[2], window, name)
    for line in window:  # the first error about the zone
        found = tag.search(line)
        severity = _SEVERITY.search(line[: found.start()]) if found else None
        if (
            found
            and "not loaded due to errors" not in line
            and (severity is None or severity.group(1) in ("critical", "error", "warning"))
        ):
            text = line[found.start() :].strip()
            return LoadFailure(text, text[found.end() - found.start() :])
    found = tag.search(lines[failure])
    if found is None:
        return None
    text = lines[failure][found.start() :].strip()
    return LoadFailure(text, text[found.end() - found.start() :])


def _at_line(
    text: str, file: str, line: int, message: str, window: list[str], zone: str
) -> LoadFailure:
    """A master-file error (`FILE:LINE: [OWNER: ]WHAT`), with the record and the detail of a
    matching "error adding 'OWNER/TYPE' in 'ZONE/IN' ...: WHAT (DETAIL)" line."""
    owner, _, what = message.partition(": ")
    if not what or " " in owner or "." not in owner:
        owner, what = "", message
    rtype = None
    for candidate in window:
        adding = _ADDING.search(candidate)
        if (
            adding
            and adding["zone"].lower().rstrip(".") == zone
            and (not owner or adding["owner"].lower() == owner.lower())
            and adding["what"].startswith(what)
        ):
            owner, rtype, what = adding["owner"], adding["rtype"].upper(), adding["what"].strip()
            break
    record = owner.lower().rstrip(".") + "." if owner else None
    return LoadFailure(text, what, file, line, record, rtype)
