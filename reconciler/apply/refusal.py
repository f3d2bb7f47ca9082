"""Why named refused a zone, pointed at the repo's file and line.

named names the file it read, the primary's generated one, and its line: that line of
the canonical form the reconcile step wrote is one record, and `check/locate.py` finds
that record's line in the repo's zone file. The message keeps BIND's words whole
(`too many records (must not exceed 100)`). Pure; called by the reconcile step.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from reconciler.bind.namedlog import LoadFailure
from reconciler.check.locate import locate_all
from reconciler.errors import Problem
from reconciler.model.zone import CanonicalZone, parse_line


def refusal(
    zone: str,
    failure: LoadFailure,
    written: Path,
    attempted: CanonicalZone,
    path: str,
    source: bytes | None,
) -> Problem:
    """`failure` of `zone` as a Problem at the repo's `path` (whose text is `source`).

    `written` is the file the reconcile step wrote with `attempted` in it. The Problem has
    the repo's line when the record is found there; otherwise it says which line of the
    written file named refused.
    """
    owner, rtype, rdata = failure.owner, failure.rtype, None
    read_line = None
    if failure.file and failure.line and Path(failure.file) == written:
        read_line = failure.line
        found = (
            next(islice(attempted.lines(), failure.line - 1, None), None)
            if failure.line > 0
            else None
        )
        if found is not None:
            read = parse_line(found)
            if owner in (None, read.owner):
                owner, rtype, rdata = read.owner, rtype or read.rtype, read.rdata
    line = None
    if source is not None and owner and rtype:
        line = _line(source.decode("utf-8", errors="replace"), zone, owner, rtype, rdata)
    message = f"named refused the zone at load: {failure.message}"
    if line is None and read_line is not None:
        message += f" (line {read_line} of the file the primary read)"
    record = f"{owner} {rtype}" if owner and rtype else owner
    return Problem(path, message, line, zone, record)


def _line(text: str, zone: str, owner: str, rtype: str, rdata: str | None) -> int | None:
    """The line of the record in the repo's text: of its RRset, the one with its data."""
    lines = locate_all(text, f"{zone}.", owner, rtype)
    if rdata:
        first = rdata.split()[0].lower()
        raw = text.splitlines()
        for number in lines:
            if first in raw[number - 1].split(";", 1)[0].lower().split():
                return number
    return lines[0] if lines else None
