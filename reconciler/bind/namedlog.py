"""named's log: why a zone did not load, read after a byte offset.

Called by the reconcile step (the reason of a rollback) and devtools/sandbox.py.
"""

from __future__ import annotations

import os
import re
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


def load_failure_reason(log_file: Path, zone: str, since_offset: int = 0) -> str | None:
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
    try:
        with open(log_file, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = since_offset if 0 <= since_offset <= size else 0
            handle.seek(max(start, size - _LOG_MAX))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
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
            if at >= 0 and re.match(r"\d+: ", line[at + len(file) + 1 :]):
                return line[at:].strip()
    for line in window:  # the first error about the zone
        found = tag.search(line)
        severity = _SEVERITY.search(line[: found.start()]) if found else None
        if (
            found
            and "not loaded due to errors" not in line
            and (severity is None or severity.group(1) in ("critical", "error", "warning"))
        ):
            return line[found.start() :].strip()
    found = tag.search(lines[failure])
    return lines[failure][found.start() :].strip() if found else None
