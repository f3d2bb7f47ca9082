"""A cache of strict named-checkzone results, keyed by everything that decides them.

A zone's verdict and canonical form depend only on its rendered text, the
files it may $INCLUDE, the strict options and BIND's version: hash those,
and a zone checked once is not checked again. This keeps `check` in a
pre-commit hook, `plan` and the daemon proportional to what changed, even
in a repo of thousands of zones. Entries are JSON files named
`<zone>.<key>.json`; the newest few per zone are kept. `RECONCILER_CACHE_DIR`
moves the cache (`off` disables it); the default is `$XDG_CACHE_HOME/
dns-reconciler`. A damaged entry is ignored. Called by `checkzone.py`.
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
from reconciler.model.zone import encode

KEEP_PER_ZONE = 4


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
    digest = hashlib.sha256()
    for part in parts:
        digest.update(encode(part) + b"\0")
    return digest.hexdigest()[:32]


def load(where: Path, zone: str, entry: str) -> tuple[tuple[Problem, ...], tuple[str, ...] | None]:
    """(problems, canonical lines or None); raises LookupError when there is no usable entry."""
    try:
        data = json.loads((where / f"{zone}.{entry}.json").read_text(encoding="utf-8"))
        problems = tuple(Problem(**p) for p in data["problems"])
        lines = data["canonical"]
        return problems, None if lines is None else tuple(lines)
    except (OSError, ValueError, TypeError, KeyError):
        raise LookupError(entry) from None


def store(
    where: Path, zone: str, entry: str, problems: tuple[Problem, ...], lines: tuple[str, ...] | None
) -> None:
    """Keep the result; drop the zone's older entries beyond the newest few."""
    try:
        where.mkdir(parents=True, exist_ok=True)
        data = {
            "problems": [p.as_dict() for p in problems],
            "canonical": None if lines is None else list(lines),
        }
        write_atomic(where / f"{zone}.{entry}.json", json.dumps(data))
        entries = sorted(where.glob(f"{zone}.*.json"), key=lambda p: p.stat().st_mtime)
        for old in entries[:-KEEP_PER_ZONE]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a cache that cannot be written is only slower
