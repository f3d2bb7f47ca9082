"""Validation with BIND's own tools: `named-checkzone` in its strict modes.

One `named-checkzone -D` run per zone both checks the zone (failing, not
warning, on bad names, MX/SRV to CNAME, NS/MX with no address, out-of-zone
data) and returns its canonical form, which `rules.py` and the plan use.
Runs zones in parallel, one process per core, each under bind/tools.py's limits
(CPU time, memory, output, wall time). A zone is counted before BIND expands it
(expansion.py) and after, against `[safety] max_records`; what a limit stops is
a problem of the zone and never cached as BIND's verdict. Called by `check` and
`plan`; BIND's binaries are found and run by `bind/tools.py`.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reconciler import bounded
from reconciler.bind.tools import LIMITS, run_tool, tool
from reconciler.check import cache, expansion
from reconciler.check.locate import locate
from reconciler.errors import Problem
from reconciler.model.plan import Safety
from reconciler.model.snapshot import Snapshot
from reconciler.model.zone import CanonicalZone, ZoneText

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
_FILE_LINE = re.compile(r"^(?:dns_\w+: )?(?P<file>[^:\s]+):(?P<line>\d+): (?P<msg>.*)$")
_ZONE_MSG = re.compile(r"^zone (?P<zone>[^/\s]+)/IN: (?P<msg>.*)$")
_RECORD_TARGET = re.compile(
    r"^(?P<owner>\S+)/(?P<type>[A-Z0-9]+) '(?P<target>[^']+)' (?P<what>.*)$"
)
_NS_TARGET = re.compile(r"^NS '(?P<target>[^']+)' (?P<what>.*)$")
_SKIP = ("not loaded due to errors", "loaded serial", "loading from master file")


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
) -> list[ZoneResult]:
    """Run strict named-checkzone on each zone; every problem, and the canonical form if valid.

    Zones checked before with the same text, includes, options and BIND are taken from
    the cache (check/cache.py) without running BIND again. A zone over `max_records`
    records, counted before expansion where it can be, is not given to BIND at all.
    """
    zones = list(zones)
    if not zones:
        return []
    checkzone = tool("named-checkzone")
    counts = {z.name: expansion.count(snapshot, zones_dir, z) for z in zones}
    results: dict[str, ZoneResult] = {
        z.name: _too_many(z, counts[z.name].records, max_records, counts[z.name])
        for z in zones
        if counts[z.name].records > max_records
    }
    where = cache.folder()
    keys = _cache_keys(checkzone, zones, snapshot, zones_dir) if where else {}
    for zone in zones:
        if zone.name in results:
            continue
        if where is not None:
            try:
                problems, lines = cache.load(where, zone.name, keys[zone.name])
            except LookupError:
                continue
            canonical = None if lines is None else CanonicalZone(zone.name, lines)
            results[zone.name] = ZoneResult(zone, problems, canonical)
    missing = [z for z in zones if z.name not in results]
    if missing:
        with tempfile.TemporaryDirectory(prefix="reconciler-check-") as tmp:
            root = Path(tmp, zones_dir)
            _materialize(snapshot, zones_dir, missing, root)
            with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
                fresh = list(pool.map(lambda z: _check_one(root, zones_dir, z, limits), missing))
        for result in fresh:
            results[result.zone.name] = result
            if where is not None and result.verdict:
                lines = result.canonical.lines if result.canonical else None
                cache.store(where, result.zone.name, keys[result.zone.name], result.problems, lines)
    for name, result in results.items():  # counted after expansion, cached or not
        if result.canonical is not None and len(result.canonical.lines) > max_records:
            size = len(result.canonical.lines)
            results[name] = _too_many(result.zone, size, max_records, counts[name])
    return [results[z.name] for z in zones]


def _too_many(zone: ZoneText, records: int, limit: int, count: expansion.Count) -> ZoneResult:
    return ZoneResult(zone, (expansion.over_limit(zone, records, limit, count),), None, False)


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
                f"{path}:{hashlib.sha256(entry.data).hexdigest()}"
                for path, entry in sorted(snapshot.files.items())
                if path.startswith(zones_dir + "/") and entry.data is not None
            )
        )
    version = cache.bind_version(checkzone)
    options = " ".join(STRICT)
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


def _materialize(snapshot: Snapshot, zones_dir: str, zones: list[ZoneText], root: Path) -> None:
    """The zones folder in a temp dir: include files as they are, zones as rendered.

    A file no file system can name (a part over 255 bytes, possible in a commit) is left
    out: its own zone is refused by its name, an $INCLUDE of it finds no file.
    """
    root.mkdir(parents=True)
    for path, entry in snapshot.files.items():
        if path.startswith(zones_dir + "/") and entry.data is not None and not entry.symlink:
            if any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in path.split("/")):
                continue
            target = root / path[len(zones_dir) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(entry.data)
    for zone in zones:
        (root / _work_name(zone, zones_dir)).write_text(zone.text, encoding="utf-8")


def _work_name(zone: ZoneText, zones_dir: str) -> str:
    relative = zone.path[len(zones_dir) + 1 :]
    return relative[: -len(".j2")] + ".rendered" if zone.rendered else relative


def _check_one(root: Path, zones_dir: str, zone: ZoneText, limits: bounded.Limits) -> ZoneResult:
    """One strict run; the canonical dump comes on stdout, BIND's messages on stderr."""
    work = _work_name(zone, zones_dir)
    run = run_tool("named-checkzone", [*STRICT, "-D", "-o", "-"], [zone.name, work], root, limits)
    stopped = run.stopped("named-checkzone", limits)
    if stopped:
        return ZoneResult(zone, (Problem(zone.path, stopped, zone=zone.name),), None, False)
    stdout = run.stdout.decode("utf-8", "replace")
    stderr = run.stderr.decode("utf-8", "replace")
    problems = parse_messages(
        stderr.splitlines(), zone, zones_dir, work, failed=run.returncode != 0
    )
    if run.returncode != 0 and not any(p.severity == "error" for p in problems):
        problems.append(
            Problem(
                zone.path,
                f"named-checkzone refused the zone (exit {run.returncode})",
                zone=zone.name,
            )
        )
    canonical = None
    if not any(p.severity == "error" for p in problems):
        canonical = CanonicalZone(zone.name, tuple(filter(None, stdout.splitlines())))
    return ZoneResult(zone, tuple(problems), canonical)


def parse_messages(
    output: list[str], zone: ZoneText, zones_dir: str, work: str, failed: bool
) -> list[Problem]:
    """Turn named-checkzone's messages into Problems that name the repo file and line."""
    origin = zone.name + "."
    problems: list[Problem] = []
    for raw in output:
        text = raw.strip()
        if not text or text == "OK":
            continue
        if "ignoring out-of-zone data" in text:
            name = text.rsplit("(", 1)[-1].rstrip(")")
            problems.append(
                _at(
                    zone,
                    f"out-of-zone data {name} (a missing trailing dot, or a "
                    "name that belongs in another zone's file)",
                    locate(zone.text, origin, owner=name),
                )
            )
            continue
        located = _FILE_LINE.match(text)
        if located:
            file = located["file"]
            file = zone.path if file == work else f"{zones_dir}/{file}"
            line = int(located["line"])
            message = located["msg"]
            record, _, rest = message.partition(": ")
            if rest and "." in record and " " not in record:
                problems.append(
                    Problem(
                        file,
                        rest,
                        line,
                        zone.name,
                        record.lower() + "." if not record.endswith(".") else record.lower(),
                        _severity(failed),
                    )
                )
            else:
                problems.append(Problem(file, message, line, zone.name, None, _severity(failed)))
            if zone.rendered and file == zone.path:
                problems[-1] = _rendered(problems[-1])
            continue
        message = _ZONE_MSG.match(text)
        body = message["msg"] if message else text
        if any(s in body for s in _SKIP):
            if "loading from master file" in body and not problems:
                problems.append(_at(zone, body.split("failed: ", 1)[-1], None))
            continue
        problems.append(_record_message(zone, body, failed))
    return problems


def _record_message(zone: ZoneText, body: str, failed: bool) -> Problem:
    origin = zone.name + "."
    if body.startswith("has 0 SOA records") or body.startswith("has no SOA"):
        return _at(zone, "no SOA record at the zone apex", None)
    match = _RECORD_TARGET.match(body)
    if match:
        owner, rtype, target = match["owner"] + ".", match["type"], match["target"] + "."
        line = locate(zone.text, origin, owner, rtype, target)
        hint = " (missing trailing dot?)" if target.endswith(f".{origin}{origin}") else ""
        return _at(
            zone,
            f"{match['type']} target {target} {match['what']}{hint}",
            line,
            f"{owner.lower()} {rtype}",
            _severity(failed),
        )
    match = _NS_TARGET.match(body)
    if match:
        target = match["target"] + "."
        line = locate(zone.text, origin, None, "NS", target)
        return _at(
            zone, f"NS target {target} {match['what']}", line, f"{origin} NS", _severity(failed)
        )
    return _at(zone, body, None, None, _severity(failed))


def _severity(failed: bool) -> str:
    return "error" if failed else "warning"


def _at(
    zone: ZoneText,
    message: str,
    line: int | None,
    record: str | None = None,
    severity: str = "error",
) -> Problem:
    problem = Problem(zone.path, message, line, zone.name, record, severity)
    return _rendered(problem) if zone.rendered else problem


def _rendered(problem: Problem) -> Problem:
    """Lines of a rendered template refer to the rendered text: say so."""
    if problem.line is None:
        return problem
    return Problem(
        f"{problem.file} (rendered)",
        problem.message,
        problem.line,
        problem.zone,
        problem.record,
        problem.severity,
    )
