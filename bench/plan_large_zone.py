"""Benchmark `reconciler plan` and `reconciler check` against BIND's own tools.

What it measures (every figure is wall time, best of --repeat runs, with the peak
RSS and CPU time of the measured process):

1. One zone of N records (default 100,000) in a zone repository with two commits,
   the second changing exactly one record:
   - `reconciler plan --base C1 --head C2 --format json`
   - `reconciler check C2`
   - one `named-compilezone -o /dev/null` run on the same zone file (the yardstick)
   - one strict `named-checkzone -D` run, with the flags `reconciler` uses
   - dnspython's `dns.zone.from_text` (parse only, in a child Python process)
   - optionally octoDNS's `octodns_bind.ZoneFileSource` populate, from a separate
     throwaway venv (never a dependency of this project)
   and each figure's ratio to one named-compilezone run. A one-record change in a
   100,000-record zone should plan in about the time of two named-compilezone runs.
2. M zones (default 1,000) of 100 records each in one repository:
   `reconciler check` (working tree and HEAD) against one `named-checkconf -z`
   process loading every zone, and one strict `named-checkzone` process per zone,
   in a sequential loop and with one worker per core.

It works in a temporary directory, spawns only local processes and uses no network
(except the one-time octoDNS install below); it prints figures and never fails on
time. Run it with the project's venv:

    .venv/bin/python bench/plan_large_zone.py [--records N] [--zones M] [--repeat R]
                                              [--profile N] [--no-octodns]

--profile N also runs the plan in-process under cProfile and lists the package's N
costliest functions. The octoDNS peer figure uses the venv given by --octodns-venv
(default /tmp/reconciler-bench-octodns), created with `pip install octodns
octodns-bind` (from PyPI) when missing unless --no-octodns-install is given; without
it that row says why the figure is unavailable.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import git

from reconciler.bind.tools import tool
from reconciler.check.checkzone import STRICT
from reconciler.devtools.init import init_repo

ZONE = "big.example"
OCTODNS_VENV = Path("/tmp/reconciler-bench-octodns")
AUTHOR = git.Actor("reconciler bench", "bench@localhost")
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None

DNSPYTHON_SNIPPET = """
import sys, time
import dns.zone
text = open(sys.argv[1], encoding="utf-8").read()
start = time.perf_counter()
zone = dns.zone.from_text(text, sys.argv[2], relativize=False)
elapsed = time.perf_counter() - start
print(elapsed, sum(1 for _ in zone.iterate_rdatas()))
"""

OCTODNS_SNIPPET = """
import sys, time
from octodns.zone import Zone
from octodns_bind import ZoneFileSource
source = ZoneFileSource("bench", directory=sys.argv[1], file_extension=".zone")
zone = Zone(sys.argv[2] + ".", [])
start = time.perf_counter()
source.populate(zone)
elapsed = time.perf_counter() - start
print(elapsed, sum(len(r.values) if hasattr(r, "values") else 1 for r in zone.records))
"""


@dataclass(frozen=True)
class Run:
    """One measured child process (or a group of them, for loops)."""

    seconds: float
    rss_mb: float  # peak resident set of the largest process in the tree
    cpu: float  # user + system seconds of the process and its waited-for children
    code: int
    out: str = ""
    err: str = ""


@dataclass(frozen=True)
class Row:
    what: str
    run: Run | None
    note: str = ""


# ---------------------------------------------------------------------------
# Zone data


def zone_lines(origin: str, records: int, salt: int = 0) -> list[str]:
    """A valid master file of exactly `records` records: SOA, NS with addresses, a mix.

    Owners are unique; MX and CNAME point at an A record of the same block of 20,
    so the zone passes named-checkzone's strict integrity checks.
    """
    if records < 5:
        raise ValueError("a zone needs at least 5 records (SOA, 2 NS, 2 addresses)")
    lines = [
        "$TTL 3600",
        f"@ IN SOA ns1.{origin}. hostmaster.{origin}. 1 1800 900 1209600 1800",
        f"@ IN NS ns1.{origin}.",
        f"@ IN NS ns2.{origin}.",
        "ns1 IN A 192.0.2.1",
        "ns2 IN A 198.51.100.2",
    ]
    for i in range(records - 5):
        slot = i % 20
        base = i - slot  # host-{base} is always an A record (slot 0)
        ttl = " 300" if i % 7 == 0 else ""
        if slot < 8:
            n = i + salt
            lines.append(f"host-{i}{ttl} IN A 10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}")
        elif slot < 12:
            n = i + salt
            lines.append(f"host-{i}{ttl} IN AAAA 2001:db8::{n >> 16:x}:{n & 0xFFFF:x}")
        elif slot < 15:
            lines.append(
                f'txt-{i}{ttl} IN TXT "bench record {i}" "token={(i * 2654435761) % 2**32:08x}"'
            )
        elif slot < 17:
            lines.append(f"mail-{i}{ttl} IN MX {10 + slot} host-{base}")
        else:
            lines.append(f"www-{i}{ttl} IN CNAME host-{base}")
    return lines


def change_one(lines: list[str]) -> tuple[list[str], str]:
    """The same zone with one A record in the middle given another address."""
    changed = list(lines)
    middle = len(lines) // 2
    index = next(i for i in range(middle, len(lines)) if " IN A " in lines[i])
    owner = lines[index].split()[0]
    changed[index] = f"{owner} IN A 192.0.2.123"
    return changed, owner


def write_zone(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def new_repo(path: Path) -> git.Repo:
    """`reconciler init`'s repository with the template's zones removed."""
    repo = init_repo(path)
    template_zones = [p for p in (path / "zones").rglob("*") if p.is_file()]
    repo.index.remove([str(p) for p in template_zones], working_tree=True)
    shutil.rmtree(path / "zones", ignore_errors=True)
    (path / "zones").mkdir()
    return repo


def commit(repo: git.Repo, paths: list[Path], message: str) -> str:
    repo.index.add([str(p) for p in paths])
    return repo.index.commit(message, author=AUTHOR, committer=AUTHOR).hexsha


# ---------------------------------------------------------------------------
# Measuring


def run_child(
    argv: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> Run:
    """Run one process to the end: its wall time, peak RSS and CPU time.

    Peak RSS is the largest process of the tree (Linux folds waited-for children
    into it). It comes from GNU time (/usr/bin/time) when present, because the
    high-water mark survives exec: read straight from this Python, it would be at
    least this Python's own RSS. CPU time is wait4's: the whole tree, user + system.
    """
    with tempfile.TemporaryDirectory(prefix="run-") as tmp:
        usage_file = Path(tmp, "usage")
        wrapped = list(argv)
        if GNU_TIME:
            wrapped = [GNU_TIME, "-f", "%M", "-o", str(usage_file), *wrapped]
        with open(Path(tmp, "out"), "w+b") as out, open(Path(tmp, "err"), "w+b") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(
                wrapped, stdout=out, stderr=err, cwd=cwd, env={**os.environ, **(env or {})}
            )
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")
        rss_kb = float(usage.ru_maxrss)
        if GNU_TIME and usage_file.exists():
            last = usage_file.read_text().split()[-1:]
            if last and last[0].isdigit():
                rss_kb = float(last[0])
    cpu = usage.ru_utime + usage.ru_stime
    return Run(elapsed, rss_kb / 1024, cpu, proc.returncode, stdout, stderr)


def in_child_parse(python: str, snippet: str, *args: str) -> Run:
    """A parse timed inside a child Python: seconds are the parse only, RSS the child's peak."""
    run = run_child([python, "-c", snippet, *args])
    if run.code != 0:
        return run
    seconds, count = run.out.split()
    return Run(float(seconds), run.rss_mb, run.cpu, 0, out=count, err=run.err)


def best(repeat: int, measure: Callable[[], Run]) -> Run:
    """The fastest of `repeat` runs; the first failure, if any run fails."""
    runs = []
    for _ in range(repeat):
        run = measure()
        if run.code != 0:
            return run
        runs.append(run)
    return min(runs, key=lambda r: r.seconds)


# ---------------------------------------------------------------------------
# Printing


def table(rows: list[Row], yardstick: Run | None, yardstick_name: str) -> None:
    width = max(len(r.what) for r in rows)
    print(f"{'what':<{width}}  {'seconds':>8}  {'peak RSS MB':>11}  {'CPU s':>7}  ratio")
    print("-" * (width + 44))
    for row in rows:
        run = row.run
        if run is None:
            print(f"{row.what:<{width}}  {'n/a':>8}  {'':>11}  {'':>7}  {row.note}")
            continue
        if run.code != 0:
            said = (run.err + run.out).strip().splitlines() or ["no output"]
            reason = said[-1][:70]
            print(f"{row.what:<{width}}  {'failed':>8}  exit {run.code}: {reason}")
            continue
        ratio = f"{run.seconds / yardstick.seconds:6.2f}x" if yardstick else "     -"
        note = f"  {row.note}" if row.note else ""
        print(
            f"{row.what:<{width}}  {run.seconds:8.3f}  {run.rss_mb:11.1f}  {run.cpu:7.2f}"
            f"  {ratio}{note}"
        )
    print(f"(ratio: seconds / one {yardstick_name} run)")


def ok(run: Run | None) -> bool:
    return run is not None and run.code == 0


# ---------------------------------------------------------------------------
# Section 1: one large zone


def octodns_python(venv: Path, install: bool) -> tuple[str | None, str]:
    """The octoDNS venv's python, creating it if asked; (None, why) when unavailable."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import octodns, octodns_bind"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return str(python), ""
    if not install:
        return None, f"no octoDNS venv at {venv} (and --no-octodns-install)"
    print(f"  installing octodns + octodns-bind into {venv} (throwaway venv) ...", flush=True)
    steps = [
        ["python3", "-m", "venv", str(venv)],
        [str(venv / "bin" / "pip"), "install", "-q", "octodns", "octodns-bind"],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"{' '.join(step[:3])}: {exc}"
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"{' '.join(step[:3])} failed: {last[:80]}"
    if subprocess.run(probe, capture_output=True).returncode != 0:
        return None, "octodns_bind installed but does not import"
    return str(python), ""


def cache_env(work: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Environments for cold runs (the checkzone cache off) and warm ones (a cache of our own)."""
    return {"RECONCILER_CACHE_DIR": "off"}, {"RECONCILER_CACHE_DIR": str(work / "cache")}


def large_zone(
    work: Path,
    records: int,
    repeat: int,
    reconciler: str,
    octodns: tuple[str | None, str],
    profile: int = 0,
) -> None:
    print(f"== 1. one zone of {records:,} records, a commit changing one record ==")
    repo_dir = work / "large"
    repo = new_repo(repo_dir)
    zone_file = repo_dir / "zones" / f"{ZONE}.zone"
    lines = zone_lines(ZONE, records)
    write_zone(zone_file, lines)
    c1 = commit(repo, [zone_file], f"{ZONE}: {records} records")
    changed, owner = change_one(lines)
    write_zone(zone_file, changed)
    c2 = commit(repo, [zone_file], f"{ZONE}: move {owner}")
    size = zone_file.stat().st_size
    print(f"  repo {repo_dir}: C1 {c1[:12]}, C2 {c2[:12]} ({size / 2**20:.1f} MiB zone file)")
    print(f"  C2 changes the A record of {owner}.{ZONE}.")
    print(f"  {repeat} runs each, best shown ...", flush=True)

    compilezone, checkzone = tool("named-compilezone"), tool("named-checkzone")
    zone_dir = repo_dir / "zones"
    plan_argv = [reconciler, "-C", str(repo_dir), "plan", "--base", c1, "--head", c2]
    startup = best(repeat, lambda: run_child([reconciler, "--help"]))
    cold, warm = cache_env(work)
    plan = best(repeat, lambda: run_child([*plan_argv, "--format", "json"], env=cold))
    check_argv = [reconciler, "-C", str(repo_dir), "check", c2]
    check = best(repeat, lambda: run_child(check_argv, env=cold))
    run_child([*plan_argv, "--format", "json"], env=warm)  # fills the cache
    plan_warm = best(repeat, lambda: run_child([*plan_argv, "--format", "json"], env=warm))
    check_warm = best(repeat, lambda: run_child(check_argv, env=warm))
    compile_argv = [compilezone, "-o", "/dev/null", ZONE, zone_file.name]
    compiled = best(repeat, lambda: run_child(compile_argv, zone_dir))
    strict_argv = [checkzone, *STRICT, "-D", "-o", "/dev/null", ZONE, zone_file.name]
    strict = best(repeat, lambda: run_child(strict_argv, zone_dir))
    parsed = best(
        repeat, lambda: in_child_parse(sys.executable, DNSPYTHON_SNIPPET, str(zone_file), ZONE)
    )
    rows = [
        Row("reconciler plan --base C1 --head C2 --format json", plan),
        Row("reconciler check C2", check),
        Row("reconciler plan, checkzone cache warm", plan_warm),
        Row("reconciler check C2, checkzone cache warm", check_warm),
        Row("reconciler --help (start-up and imports only)", startup),
        Row("named-compilezone -o /dev/null (1 run)", compiled),
        Row("named-checkzone strict -D (reconciler's flags)", strict),
        Row("dnspython dns.zone.from_text (parse only)", parsed, f"{parsed.out} rdatas"),
    ]
    python, why = octodns
    if python is None:
        rows.append(Row("octoDNS ZoneFileSource populate", None, f"unavailable: {why}"))
    else:
        peer = best(repeat, lambda: in_child_parse(python, OCTODNS_SNIPPET, str(zone_dir), ZONE))
        rows.append(Row("octoDNS ZoneFileSource populate (peer)", peer, f"{peer.out} values"))
    print()
    table(rows, compiled if ok(compiled) else None, "named-compilezone")

    if ok(plan):
        summary = json.loads(plan.out)
        zones = summary["zones"]
        changes = [c for z in zones for c in z["changes"]]
        counts = [(z["records_before"], z["records_after"]) for z in zones]
        print(
            f"plan says: verdict {summary['verdict']}, {len(changes)} change(s) "
            f"({', '.join(c['owner'] + ' ' + c['rtype'] for c in changes)}), "
            f"records before/after {counts}"
        )
    if ok(plan) and ok(compiled):
        ratio = plan.seconds / compiled.seconds
        print()
        print(f">>> plan of a one-record change in {records:,} records:")
        print(
            f">>> {plan.seconds:.2f} s = {ratio:.2f} x one named-compilezone run "
            f"({compiled.seconds:.2f} s); target: about 2x"
        )
        if ok(strict):
            floor = 2 * strict.seconds
            print(
                f">>> two strict named-checkzone -D runs (base + head, what plan spawns) take "
                f"{floor:.2f} s; plan spends {plan.seconds - floor:.2f} s besides them"
            )
    if profile:
        print()
        profile_plan(repo_dir, c1, c2, profile)
    print()


def profile_plan(repo_dir: Path, base: str, head: str, top: int) -> None:
    """`reconciler plan` in this process under cProfile: the package's costliest functions."""
    from reconciler.cli.main import main as cli_main

    argv = ["-C", str(repo_dir), "plan", "--base", base, "--head", head, "--format", "json"]
    profiler = cProfile.Profile()
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        profiler.runcall(cli_main, argv, standalone_mode=False)
    elapsed = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats
    package = str(Path(init_repo.__code__.co_filename).parent) + os.sep
    mine = [
        (cumulative, own, calls, f"{Path(file).name}:{line}({name})")
        for (file, line, name), (_, calls, own, cumulative, _) in stats.items()
        if file.startswith(package)
    ]
    mine.sort(reverse=True)
    print(f"cProfile of plan, in-process ({elapsed:.2f} s with the profiler's overhead);")
    print(f"the package's {top} costliest functions by cumulative time:")
    print(f"{'cumulative s':>12}  {'own s':>7}  {'calls':>8}  function")
    for cumulative, own, calls, where in mine[:top]:
        print(f"{cumulative:12.3f}  {own:7.3f}  {calls:8d}  {where}")


# ---------------------------------------------------------------------------
# Section 2: many small zones


def many_zones(work: Path, zones: int, per_zone: int, repeat: int, reconciler: str) -> None:
    print(f"== 2. {zones:,} zones of {per_zone} records each, one repository ==")
    repo_dir = work / "many"
    repo = new_repo(repo_dir)
    zone_dir = repo_dir / "zones"
    names = [f"zone-{k:05d}.example" for k in range(zones)]
    files = []
    for k, name in enumerate(names):
        path = zone_dir / f"{name}.zone"
        write_zone(path, zone_lines(name, per_zone, salt=k))
        files.append(path)
    commit(repo, files, f"{zones} zones")
    conf = work / "named.conf"
    body = [f'options {{ directory "{zone_dir}"; }};']
    body += [f'zone "{n}" {{ type primary; file "{n}.zone"; }};' for n in names]
    conf.write_text("\n".join(body) + "\n", encoding="utf-8")
    print(f"  repo {repo_dir}, config {conf}; {repeat} runs each, best shown ...", flush=True)

    checkconf, checkzone = tool("named-checkconf"), tool("named-checkzone")
    cores = os.cpu_count() or 1
    strict = " ".join([checkzone, *STRICT, "-D", "-o", "/dev/null"])
    listing = work / "zones.txt"
    listing.write_text("\n".join(names) + "\n", encoding="utf-8")
    each = f'while read z; do {strict} "$z" "$z.zone" || exit 1; done'
    loop = f"{each} < {shlex.quote(str(listing))} >/dev/null"
    xargs = f"xargs -P {cores} -I{{}} {strict} {{}} {{}}.zone < {shlex.quote(str(listing))}"
    base = [reconciler, "-C", str(repo_dir), "check"]
    cold, warm = cache_env(work)
    worktree = best(repeat, lambda: run_child(base, env=cold))
    head = best(repeat, lambda: run_child([*base, "HEAD"], env=cold))
    run_child(base, env=warm)  # fills the cache
    worktree_warm = best(repeat, lambda: run_child(base, env=warm))
    conf_run = best(repeat, lambda: run_child([checkconf, "-z", str(conf)]))
    serial = best(repeat, lambda: run_child(["bash", "-c", loop], zone_dir))
    parallel = best(repeat, lambda: run_child(["bash", "-c", xargs], zone_dir))
    rows = [
        Row("reconciler check (working tree)", worktree),
        Row("reconciler check HEAD", head),
        Row("reconciler check (working tree), cache warm", worktree_warm),
        Row("named-checkconf -z (1 process, all zones)", conf_run),
        Row(f"named-checkzone strict, {zones} processes, shell loop", serial),
        Row(f"named-checkzone strict, {zones} processes, xargs -P {cores}", parallel),
    ]
    print()
    table(rows, conf_run if ok(conf_run) else None, "named-checkconf -z")
    if ok(worktree) and ok(conf_run) and ok(serial):
        print(
            f">>> reconciler check: {worktree.seconds / conf_run.seconds:.2f} x named-checkconf -z,"
            f" {worktree.seconds / serial.seconds:.2f} x a sequential named-checkzone loop,"
            f" {worktree.seconds / zones * 1000:.1f} ms per zone"
        )
    print()


# ---------------------------------------------------------------------------


def find_reconciler() -> str:
    beside = Path(sys.executable).with_name("reconciler")
    found = str(beside) if beside.exists() else shutil.which("reconciler")
    if not found:
        sys.exit("reconciler CLI not found: run with the project's venv (.venv/bin/python)")
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="records in the big zone")
    parser.add_argument("--zones", type=int, default=1000, help="zones in section 2")
    parser.add_argument("--per-zone", type=int, default=100, help="records per zone, section 2")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best shown)")
    parser.add_argument(
        "--octodns-venv",
        type=Path,
        default=OCTODNS_VENV,
        help=f"throwaway venv with octodns + octodns-bind (default {OCTODNS_VENV})",
    )
    parser.add_argument(
        "--no-octodns-install",
        action="store_true",
        help="use the octoDNS venv only if it already exists",
    )
    parser.add_argument("--no-octodns", action="store_true", help="skip the octoDNS peer figure")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also run plan in-process under cProfile and list its N costliest functions",
    )
    args = parser.parse_args(argv)

    reconciler = find_reconciler()
    print(
        f"dns-reconciler bench: {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, "
        f"{run_child([tool('named-checkzone'), '-v']).out.strip()} (BIND)"
    )
    if args.no_octodns:
        octodns: tuple[str | None, str] = (None, "skipped (--no-octodns)")
    else:
        octodns = octodns_python(args.octodns_venv, not args.no_octodns_install)
    print(f"measuring the reconciler package in {Path(init_repo.__code__.co_filename).parent}")
    print()
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        work = Path(tmp)
        large_zone(work, args.records, args.repeat, reconciler, octodns, args.profile)
        many_zones(work, args.zones, args.per_zone, args.repeat, reconciler)


if __name__ == "__main__":
    main()
