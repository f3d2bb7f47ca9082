"""A cache of strict named-checkzone results, keyed by everything that decides them.

A zone's verdict and canonical form depend only on its rendered text, the
files it may $INCLUDE, the strict options and BIND's version: hash those,
and a zone checked once is not checked again. This keeps `check` in a
pre-commit hook, `plan` and the daemon proportional to what changed, even
in a repo of thousands of zones. An entry is two files: `<zone>.<key>.json`
(BIND's problems, and whether a canonical form exists) and `<zone>.<key>.zone`
(that canonical form, BIND's dump as it is: read back as one string, not
parsed); the newest few per zone are kept. The key includes `FORMAT`, so an
entry of an older layout is never read (it is ignored, then dropped).
`RECONCILER_CACHE_DIR` moves the cache (`off` disables it); the default is
`$XDG_CACHE_HOME/dns-reconciler`. A damaged entry is ignored. Called by
`checkzone.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from functools import cache
from pathlib import Path

from reconciler.atomic import write_atomic
from reconciler.errors import Problem
from reconciler.model.zone import decode, encode

KEEP_PER_ZONE = 4
FORMAT = "2"  # the entry's layout: 2, the dump in a file of its own beside the JSON


def folder() -> Path | None:
    configured = os.environ.get("RECONCILER_CACHE_DIR")
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dns-reconciler" / "checkzone"


@cache
def bind_version(checkzone: str) -> str:
    run = subprocess.run([checkzone, "-v"], capture_output=True, text=True, errors="replace")
    return run.stdout.strip() or run.stderr.strip()


def key(*parts: str) -> str:
    digest = hashlib.sha256(b"format " + FORMAT.encode() + b"\0")
    for part in parts:
        digest.update(encode(part) + b"\0")
    return digest.hexdigest()[:32]


def load(where: Path, zone: str, entry: str) -> tuple[tuple[Problem, ...], str | None]:
    """(problems, the canonical dump or None); raises LookupError when there is no usable
    entry."""
    try:
        data = json.loads((where / f"{zone}.{entry}.json").read_text(encoding="utf-8"))
        problems = tuple(Problem(**p) for p in data["problems"])
        if data["format"] != FORMAT:
            raise ValueError(data["format"])
        if not data["canonical"]:
            return problems, None
        dump = decode((where / f"{zone}.{entry}.zone").read_bytes())
        if len(dump) != data["length"]:
            raise ValueError("a dump cut short")
        return problems, dump
    except (OSError, ValueError, TypeError, KeyError):
        raise LookupError(entry) from None


def store(
    where: Path, zone: str, entry: str, problems: tuple[Problem, ...], dump: str | None
) -> None:
    """Keep the result; drop the zone's older entries beyond the newest few."""
    try:
        where.mkdir(parents=True, exist_ok=True)
        data = {
            "format": FORMAT,
            "problems": [p.as_dict() for p in problems],
            "canonical": dump is not None,
            "length": len(dump) if dump is not None else 0,
        }
        if dump is not None:  # the dump first: a JSON file names only a dump written whole
            write_atomic(where / f"{zone}.{entry}.zone", encode(dump))
        write_atomic(where / f"{zone}.{entry}.json", json.dumps(data))
        entries = sorted(where.glob(f"{zone}.*.json"), key=lambda p: p.stat().st_mtime)
        for old in entries[:-KEEP_PER_ZONE]:
            old.unlink(missing_ok=True)
            old.with_suffix(".zone").unlink(missing_ok=True)
    except OSError:
        pass  # a cache that cannot be written is only slower
