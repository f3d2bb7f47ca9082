"""Validation with BIND's own tools: `named-checkzone` in its strict modes.

One `named-checkzone -D` run per zone both checks the zone (failing, not
warning, on bad names, MX/SRV to CNAME, NS/MX with no address) and returns its
canonical form, which `rules.py` and the plan use; messages.py reads its
messages (out-of-zone data, which BIND only ignores, is an error there).
Runs zones in parallel, one process per core, each under bind/tools.py's limits
(CPU time, memory, output, wall time). A zone is counted before BIND expands it
(expansion.py) and after, against `[safety] max_records`; what a limit stops is
a problem of the zone and never cached as BIND's verdict. Called by `check` and
`plan`; BIND's binaries are found and run by `bind/tools.py`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from reconciler import bounded
from reconciler.bind.tools import LIMITS, run_tool, tool
from reconciler.check import cache, expansion, locate, messages
from reconciler.check.locate import Locator, zone_folder
from reconciler.check.messages import parse_messages
from reconciler.errors import Problem
from reconciler.model.plan import Safety
from reconciler.model.snapshot import Snapshot
from reconciler.model.zone import CanonicalZone, ZoneText, encode

Progress = Callable[[str, int], None]  # a zone's name once it is checked, and how many there are
_T = TypeVar("_T")

STRICT = [
    "-k",
    "fail",
    "-n",
    "fail",
    "-m",
    "fail",
    "-M",
    "fail",
    "-S",
    "fail",
    "-r",
    "fail",
    "-i",
    "local-sibling",
    "-W",
    "warn",
]


@dataclass(frozen=True)
class ZoneResult:
    zone: ZoneText
    problems: tuple[Problem, ...]
    canonical: CanonicalZone | None
    verdict: bool = True  # BIND's own verdict, for the cache; False when a limit decided


def check_zones(
    zones: Iterable[ZoneText],
    snapshot: Snapshot,
    zones_dir: str,
    jobs: int | None = None,
    max_records: int = Safety.max_records,
    limits: bounded.Limits = LIMITS,
    limit_source: str = expansion.REPO_LIMIT,
    progress: Progress | None = None,
) -> list[ZoneResult]:
    """Run strict named-checkzone on each zone; every problem, and the canonical form if valid.

    Zones checked before with the same text, includes, options and BIND are taken from
    the cache (check/cache.py) without running BIND again. A zone over `max_records`
    records (set in `limit_source`), counted before expansion where it can be, is not
    given to BIND at all. `progress` hears of each zone once it is checked (or read from the
    cache), with how many there are, from the worker threads.
    """
    zones = list(zones)
    if not zones:
        return []
    done = _reporter(progress, len(zones))
    checkzone = tool("named-checkzone")
    counts = {z.name: expansion.count(snapshot, zones_dir, z) for z in zones}
    results: dict[str, ZoneResult] = {
        z.name: _too_many(z, counts[z.name].records, max_records, counts[z.name], limit_source)
        for z in zones
        if counts[z.name].records > max_records
    }
    for name, result in results.items():
        done(name, result)
    where = cache.folder()
    keys = _cache_keys(checkzone, zones, snapshot, zones_dir) if where else {}
    for zone in zones:
        if zone.name in results:
            continue
        if where is not None:
            try:
                problems, dump = cache.load(where, zone.name, keys[zone.name])
            except LookupError:
                continue
            canonical = None if dump is None else CanonicalZone(zone.name, dump)
            results[zone.name] = done(zone.name, ZoneResult(zone, problems, canonical))
    missing = [z for z in zones if z.name not in results]
    if missing:
        with tempfile.TemporaryDirectory(prefix="reconciler-check-") as tmp:
            root = Path(tmp, zones_dir)
            _materialize(snapshot, zones_dir, missing, root)
            files = zone_folder(snapshot, zones_dir)
            with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
                fresh = list(
                    pool.map(
                        lambda z: done(z.name, _check_one(root, zones_dir, z, limits, files)),
                        missing,
                    )
                )
        for result in fresh:
            results[result.zone.name] = result
            if where is not None and result.verdict:
                dump = result.canonical.dump if result.canonical else None
                cache.store(where, result.zone.name, keys[result.zone.name], result.problems, dump)
    for name, result in results.items():  # counted after expansion, cached or not
        if result.canonical is not None and result.canonical.count > max_records:
            size = result.canonical.count
            results[name] = _too_many(result.zone, size, max_records, counts[name], limit_source)
    return [results[z.name] for z in zones]


def _reporter(progress: Progress | None, total: int) -> Callable[[str, _T], _T]:
    """`done(name, value)`: tells `progress` that zone `name` is through; returns `value`."""

    def done(name: str, value: _T) -> _T:
        if progress is not None:
            progress(name, total)
        return value

    return done


def _too_many(
    zone: ZoneText, records: int, limit: int, count: expansion.Count, source: str
) -> ZoneResult:
    return ZoneResult(
        zone, (expansion.over_limit(zone, records, limit, count, source),), None, False
    )


def _cache_keys(
    checkzone: str, zones: list[ZoneText], snapshot: Snapshot, zones_dir: str
) -> dict[str, str]:
    """Everything that decides a zone's result, hashed: text, includes, options, BIND.

    A zone with an $INCLUDE depends on every file in the zones folder.
    """
    shared = ""
    if any("$include" in z.text.lower() for z in zones):
        shared = cache.key(
            *(
                f"{path}:{hashlib.sha256(data).hexdigest()}"
                for path, data in sorted(snapshot.folder(zones_dir).items())
            )
        )
    version = cache.bind_version(checkzone)
    options = " ".join([*STRICT, _reader_version()])
    return {
        z.name: cache.key(
            version,
            options,
            z.name,
            z.path,
            str(z.rendered),
            z.text,
            shared if "$include" in z.text.lower() else "",
        )
        for z in zones
    }


@functools.cache
def _reader_version() -> str:
    """How BIND's messages are read and placed is part of a cached result: hash that code."""
    digest = hashlib.sha256()
    for module in (messages, locate):
        try:
            digest.update(Path(module.__file__ or "").read_bytes())
        except OSError:
            digest.update(module.__name__.encode())
    return digest.hexdigest()[:16]


def _materialize(snapshot: Snapshot, zones_dir: str, zones: list[ZoneText], root: Path) -> None:
    """The zones folder in a temp dir: include files as they are, zones as rendered.

    A file no file system can name (a part over 255 bytes, possible in a commit) is left
    out: its own zone is refused by its name, an $INCLUDE of it finds no file.
    """
    root.mkdir(parents=True)
    for path, data in snapshot.folder(zones_dir).items():
        if any(len(encode(part)) > 255 for part in path.split("/")):
            continue
        target = root / path[len(zones_dir) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for zone in zones:
        (root / _work_name(zone, zones_dir)).write_bytes(encode(zone.text))


def _work_name(zone: ZoneText, zones_dir: str) -> str:
    relative = zone.path[len(zones_dir) + 1 :]
    return relative[: -len(".j2")] + ".rendered" if zone.rendered else relative


def _check_one(
    root: Path,
    zones_dir: str,
    zone: ZoneText,
    limits: bounded.Limits,
    files: Mapping[str, bytes],
) -> ZoneResult:
    """One strict run; the canonical dump comes on stdout, BIND's messages on stderr.

    The dump is decoded once into the one string `CanonicalZone` holds; its bytes are let
    go as soon as it is.
    """
    work = _work_name(zone, zones_dir)
    run = run_tool("named-checkzone", [*STRICT, "-D", "-o", "-"], [zone.name, work], root, limits)
    stopped = run.stopped("named-checkzone", limits)
    if stopped:
        return ZoneResult(zone, (Problem(zone.path, stopped, zone=zone.name),), None, False)
    failed, stdout, stderr = run.returncode != 0, run.stdout, run.stderr.decode("utf-8", "replace")
    del run
    where = Locator(zone, files, zones_dir)
    problems = parse_messages(stderr.splitlines(), zone, zones_dir, work, failed, where)
    canonical = None
    if not any(p.severity == "error" for p in problems):
        canonical = CanonicalZone.from_dump(zone.name, stdout.decode("utf-8", "replace"))
    return ZoneResult(zone, tuple(problems), canonical)
