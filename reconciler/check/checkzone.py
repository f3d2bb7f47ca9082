"""Validation with BIND's own tools: `named-checkzone` in its strict modes.

One `named-checkzone -D` run per zone both checks the zone (failing, not
warning, on bad names, MX/SRV to CNAME, NS/MX with no address) and returns its
canonical form, which `rules.py` and the plan use; messages.py reads its
messages (out-of-zone data, which BIND only ignores, is an error there).
Runs zones in parallel, one process per core, each under bind/tools.py's limits
(CPU time, memory, output, wall time). When only the verdict and our rules' records
are wanted (`check`: `canonical_forms=False`) and many zones are to be checked, BIND's
verdict on all of them comes from one `named-checkconf -z` with the same strict options
(`_batch`), and zoneread.py reads the records of each zone BIND loaded without a word;
every other zone (an error, a warning, anything zoneread does not read) goes through
its own `named-checkzone -D` as before, so its messages are exactly those. A zone is
counted before BIND expands it (expansion.py) and after, against `[safety]
max_records`; what a limit stops is a problem of the zone and never cached as BIND's
verdict. Called by `check` and `plan`; BIND's binaries are found and run by `bind/tools.py`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from reconciler import bounded
from reconciler.bind.tools import LIMITS, run_tool, tool
from reconciler.check import cache, expansion, locate, messages, zoneread
from reconciler.check.locate import Locator, zone_folder
from reconciler.check.messages import parse_messages
from reconciler.check.zonefiles import included_files
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


# named.conf options that make `named-checkconf -z` load zones as STRICT has named-checkzone
# do: -k fail, -m fail, -M fail, -S fail, -r fail, -i local-sibling (integrity and sibling
# glue, no lookups: -z makes none), -W warn. -n fail has no option: named-checkconf warns
# about an NS that is an address, and any message sends a zone to named-checkzone.
BATCH_OPTIONS = (
    "check-names primary fail",
    "check-mx fail",
    "check-mx-cname fail",
    "check-srv-cname fail",
    "check-dup-records fail",
    "check-integrity yes",
    "check-sibling yes",
    "check-wildcard yes",
)
BATCH_FROM = 8  # zones to check before one named-checkconf -z pays off (fewer: one run each)
BATCH_BYTES = 16 * bounded.MIB  # of zone text in one named-checkconf run: far inside LIMITS
_BATCH_NAME = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*")  # no quoting in named.conf
_LOADED = re.compile(r"zone (\S+)/IN: loaded serial \d+")
_NOT_LOADED = re.compile(r"zone (\S+)/IN: not loaded due to errors\.")
_NAMES = re.compile(r"(?:^_default/|zone )([^\s/]+)/IN\b")
_FILES = re.compile(r"\b(\d{7}\.db)\b")


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
    canonical_forms: bool = True,
) -> list[ZoneResult]:
    """Run strict named-checkzone on each zone; every problem, and the canonical form if valid.

    Zones checked before with the same text, includes, options and BIND are taken from
    the cache (check/cache.py) without running BIND again. A zone over `max_records`
    records (set in `limit_source`), counted before expansion where it can be, is not
    given to BIND at all. `progress` hears of each zone once it is checked (or read from the
    cache), with how many there are, from the worker threads.

    `canonical_forms=False`: the caller needs BIND's verdict and the records our rules read, not
    named-checkzone's dump (`check`). Then, from BATCH_FROM zones to check, the zones one
    `named-checkconf -z` loads without a message and zoneread.py reads take no
    named-checkzone of their own: their canonical form is zoneread's, the lines
    named-checkzone -D prints, and is not cached (plan and the daemon compile them).
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
    if missing and not canonical_forms and len(missing) >= BATCH_FROM:
        try:
            batched = _batch(missing, limits, jobs)
        except OSError:
            batched = []  # its files could not be written: each zone is checked on its own
        for result in batched:
            results[result.zone.name] = done(result.zone.name, result)
        missing = [z for z in missing if z.name not in results]
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

    A zone with an $INCLUDE depends on the files its includes reach (zonefiles.py
    `included_files`: all BIND can read for it), each by its path and content; no other
    file of the zones folder is read for the key.
    """
    files = snapshot.folder(zones_dir)
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
            _includes_key(files, zones_dir, z),
        )
        for z in zones
    }


def _includes_key(files: Mapping[str, bytes], zones_dir: str, zone: ZoneText) -> str:
    if "$include" not in zone.text.lower():
        return ""
    parts = []
    for path in included_files(files, zones_dir, zone.text):
        data = files.get(path)
        parts.append(f"{path}:{'absent' if data is None else hashlib.sha256(data).hexdigest()}")
    return cache.key("includes", *parts)


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
    out: its own zone is refused by its name, an $INCLUDE of it finds no file. Only the files
    the zones' `$INCLUDE`s reach are read from the repo and written (none when no zone has
    one): BIND reads no other.
    """
    root.mkdir(parents=True)
    files = snapshot.folder(zones_dir)
    needed = {
        path
        for zone in zones
        if "$include" in zone.text.lower()
        for path in included_files(files, zones_dir, zone.text)
    }
    for path in sorted(needed):
        data = files.get(path)
        if data is None or any(len(encode(part)) > 255 for part in path.split("/")):
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


def _batch(zones: list[ZoneText], limits: bounded.Limits, jobs: int | None) -> list[ZoneResult]:
    """The zones that BIND loads without a word in one strict `named-checkconf -z` and that
    zoneread.py reads, with zoneread's canonical form; zoneread runs while BIND does.

    Zones go in runs of at most BATCH_BYTES of text, each under `limits`; a zone whose name
    named.conf would need to quote, or bigger than that, is left to named-checkzone.
    """
    chosen = [z for z in zones if _BATCH_NAME.fullmatch(z.name)]
    data = {z.name: encode(z.text) for z in chosen}
    chosen = [z for z in chosen if len(data[z.name]) <= BATCH_BYTES]
    if not chosen:
        return []
    runs: list[list[tuple[str, ZoneText]]] = [[]]
    size = 0
    for index, zone in enumerate(chosen):
        if runs[-1] and size + len(data[zone.name]) > BATCH_BYTES:
            runs.append([])
            size = 0
        runs[-1].append((f"{index:07d}.db", zone))
        size += len(data[zone.name])
    total = sum(len(data[z.name]) for z in chosen)
    with tempfile.TemporaryDirectory(prefix="reconciler-batch-", dir=_scratch(total)) as tmp:
        root = Path(tmp)
        confs = []
        for number, run in enumerate(runs):
            for file, zone in run:
                (root / file).write_bytes(data[zone.name])
            conf = root / f"batch-{number}.conf"
            conf.write_text(_batch_conf(root, run), encoding="utf-8")
            confs.append(conf)
        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
            ran = [
                pool.submit(run_tool, "named-checkconf", ["-z"], [str(conf)], root, limits)
                for conf in confs
            ]
            read = {z.name: zoneread.read(z) for z in chosen}  # beside BIND, on another core
            clean: set[str] = set()
            for run, finished in zip(runs, ran, strict=True):
                clean |= _clean(run, finished.result())
    results = []
    for zone in chosen:
        form = read[zone.name]
        if zone.name in clean and form is not None:
            results.append(ZoneResult(zone, (), form))
    return results


def _batch_conf(root: Path, run: list[tuple[str, ZoneText]]) -> str:
    options = "".join(f"\t{option};\n" for option in BATCH_OPTIONS)
    lines = [f'options {{\n\tdirectory "{root}";\n{options}}};']
    lines += [f'zone "{zone.name}" {{ type primary; file "{file}"; }};' for file, zone in run]
    return "\n".join(lines) + "\n"


def _clean(run: list[tuple[str, ZoneText]], finished: bounded.Finished) -> set[str]:
    """The zones of `run` that named-checkconf loaded with no other line about them.

    named-checkconf loads the zones one after the other and ends each with `loaded serial`
    or `not loaded due to errors`; a line before that belongs to the zone it ends, and a
    line naming a zone (or its file) anywhere counts against that zone. Output that cannot
    be placed, or a run a limit stopped, makes no zone clean.
    """
    if finished.stopped_by is not None:
        return set()
    names = {zone.name for _file, zone in run}
    by_file = {file: zone.name for file, zone in run}
    tainted: set[str] = set()

    def named(line: str) -> set[str]:
        found = set(_NAMES.findall(line)) | {by_file.get(f, "") for f in _FILES.findall(line)}
        return found - {""}

    for line in finished.stderr.decode("utf-8", "replace").splitlines():
        found = named(line)
        if not found:
            return set()
        tainted |= found
    loaded: set[str] = set()
    before = 0  # lines since the last zone's last line: they belong to the next zone
    for line in finished.stdout.decode("utf-8", "replace").splitlines():
        ok, end = _LOADED.fullmatch(line), _NOT_LOADED.fullmatch(line)
        if ok is None:
            tainted |= named(line)
        if ok is None and end is None:
            before += 1
            continue
        if ok is not None and before == 0:
            loaded.add(ok.group(1))
        else:
            tainted.add(ok.group(1) if ok is not None else end.group(1) if end else "")
        before = 0
    if before:
        return set()
    return (loaded - tainted) & names


def _scratch(size: int) -> str | None:
    """Where the batch's files go: /dev/shm when it is there with room to spare (writing a
    thousand small files on a busy disk costs as much as BIND's check of them), else the
    default temporary folder."""
    shm = "/dev/shm"
    try:
        stat = os.statvfs(shm)
    except OSError:
        return None
    room = stat.f_bavail * stat.f_frsize
    return shm if os.access(shm, os.W_OK | os.X_OK) and room > 4 * size + 64 * bounded.MIB else None
