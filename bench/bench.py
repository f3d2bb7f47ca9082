"""`make bench`: every comparison of issue 13 in one run; writes bench/results.md and a plot.

1. push -> served on every server, against the bare BIND pipeline on the same demo
   servers, alternately (pushbench.py), for the template's example.com and zones of
   10,000 and 100,000 records;
2. one changed zone in a 1,000-zone repo against the same change in a 10-zone repo
   (push -> served, two demos, alternately); the daemon's idle RSS with 1,000 zones;
3. `reconciler check` of 1,000 zones of 100 records, cache off, against one
   `named-checkconf -z` loading the same zones;
4. `reconciler check` of a one-record change in a 1,000,000-record zone against
   dzonegit's pre-commit check of the identical repo and one `named-checkzone`;
   the peak RSS of `reconciler plan` of that change;
5. the daemon's RSS serving a 60 MB zone: its peak while it reconciles, and after;
6. `reconciler plan` against `octodns-sync` planning the same two versions
   (octodns-bind's ZoneFileProvider as source, another holding the old version as target).

Every figure is the median of --runs runs with the spread (min-max); pairs of commands run
alternately. Peers (dzonegit, octoDNS, matplotlib) come from the bench's own venv
(bench/.venv, made by `make bench`), never from the project's. No figure is judged here:
the targets are printed beside them. `--smoke` runs the smallest sizes once (the test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pushbench
from plan_large_zone import Run, change_one, commit, new_repo, run_child, write_zone, zone_lines
from pushbench import Figures

from reconciler.bind.tools import tool
from reconciler.model.plan import ALLOW_TRAILER

HERE = Path(__file__).resolve().parent
PEERS = HERE / ".venv" / "bin"


@dataclass(frozen=True)
class Sizes:
    runs: int
    push_zones: tuple[int, ...]  # records of the generated zones besides example.com
    many: tuple[int, int]  # zones in the small and the large repo (section 2)
    cold: tuple[int, int]  # zones x records (section 3)
    million: int
    huge: int  # records of the "60 MB" zone
    octodns: int
    # seconds without change that say the servers' logs or the daemon's RSS have settled
    settle: float


# 1,620,000 records of the generator make a 60 MB file (under [safety] max_zone_bytes, 64 MiB)
FULL = Sizes(5, (10_000, 100_000), (10, 1000), (1000, 100), 1_000_000, 1_620_000, 100_000, 5.0)
# The smoke run (tests/test_bench.py) only proves every section still runs: it waits 1 s for
# quiet where the figures need 5.
SMOKE = Sizes(1, (100,), (3, 6), (10, 20), 1000, 2000, 200, 1.0)


@dataclass(frozen=True)
class Line:
    """One row of results.md: what, our figure, the yardstick's, ratio, target."""

    what: str
    ours: str
    theirs: str
    ratio: str
    target: str


def failed(what: str, exc: Exception) -> Line:
    said = " ".join(f"{type(exc).__name__}: {exc}".split()).replace("|", "/")[:300]
    return Line(what, "failed", said, "", "")


def figures(runs: list[Run]) -> Figures:
    failed = [r for r in runs if r.code != 0]
    if failed:
        said = (failed[0].err + failed[0].out).strip().splitlines() or ["no output"]
        raise RuntimeError(f"exit {failed[0].code}: {said[-1][:200]}")
    return Figures(tuple(r.seconds for r in runs))


def pair(a: Callable[[], Run], b: Callable[[], Run], runs: int) -> tuple[list[Run], list[Run]]:
    """a, b, a, b ... after one warm-up of each."""
    a()
    b()
    first, second = [], []
    for _ in range(runs):
        first.append(a())
        second.append(b())
    return first, second


def show(f: Figures) -> str:
    return f"{f.median:.3f} s ({f.spread()})"


def ratio(a: Figures, b: Figures) -> str:
    return f"{a.median / b.median:.2f}x"


def peak(runs: list[Run]) -> float:
    return max(r.rss_mb for r in runs)


# --- 1, 2, 5: the demo's servers ----------------------------------------------------------------


def push_section(work: Path, sizes: Sizes, plot: list[dict[str, object]]) -> list[Line]:
    zones = {f"sz{n}.example": zone_lines(f"sz{n}.example", n) for n in sizes.push_zones}
    site = pushbench.start_site(work / "push", zones, quiet=sizes.settle)
    lines = []
    try:
        targets = {"example.com": "1.25x"} | {z: "1.10x" for z in zones}
        for zone, target in targets.items():
            count = len(zones[zone]) if zone in zones else served_records(site, zone)
            daemon, bare = pushbench.push_vs_bare(site, zone, sizes.runs)
            lines.append(
                Line(
                    f"push -> served everywhere, {zone} ({count:,} records) vs bare pipeline",
                    show(daemon),
                    show(bare),
                    ratio(daemon, bare),
                    target,
                )
            )
            plot.append({"records": count, "push": daemon.runs, "bare": bare.runs})
        try:
            lines.append(huge_zone(site, sizes.huge, sizes.settle))
        except Exception as exc:  # the figures above are kept
            lines.append(failed("daemon RSS serving a 60 MB zone", exc))
    finally:
        site.stop()
    return lines


def served_records(site: pushbench.Site, zone: str) -> int:
    path = site.setup.servers.primary.zone_dir / f"{zone}.zone"
    return sum(1 for line in path.read_text("utf-8").splitlines() if line and line[0] != ";")


def huge_zone(site: pushbench.Site, records: int, settle: float) -> Line:
    """The daemon's own RSS while it serves a zone of `records` (about 60 MB at 1.9 M)."""
    name = "huge.example"
    path = site.clone / "zones" / f"{name}.zone"
    write_zone(path, [*zone_lines(name, records), pushbench.probe_line("start")])
    toml = site.clone / "reconciler.toml"
    limit = f"max_records = {pushbench.MAX_RECORDS}"
    toml.write_text(re.sub(r"(?m)^max_records = 1000000$", limit, toml.read_text()), "utf-8")
    size = path.stat().st_size / 1e6
    pid = site.daemon_pid
    pushbench.reset_peak(pid)
    before, _ = pushbench.rss_mb(pid)
    start = time.perf_counter()
    subprocess.run([*pushbench.GIT, "add", "-A"], cwd=site.clone, check=True)
    message = f"{name}\n\n{ALLOW_TRAILER}\n"  # raising [safety] max_records is unsafe
    subprocess.run([*pushbench.GIT, "commit", "-qm", message], cwd=site.clone, check=True)
    subprocess.run([*pushbench.GIT, "push", "-q"], cwd=site.clone, check=True)
    site.values[name] = "start"
    pushbench.wait_served(site, name, "start", deadline=1800)
    took = time.perf_counter() - start
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=site.clone, capture_output=True, text=True
    ).stdout.strip()
    pushbench.wait_reconciled(site, head, deadline=1800)  # its turn over: confirmed, noted
    after, high = pushbench.settled_rss(pid, still=settle)  # what it hands back after the log line
    return Line(
        f"daemon RSS serving a {size:.0f} MB zone ({records:,} records; push -> served "
        f"{took:.1f} s): peak / after (before {before:.0f} MB)",
        f"{high:.0f} MB / {after:.0f} MB",
        "",
        "",
        "< 1000 MB / < 150 MB",
    )


def many_section(work: Path, sizes: Sizes) -> list[Line]:
    """The same change in a small and a large repo, push -> served; idle RSS with many zones."""
    small_count, large_count = sizes.many

    def zones(count: int) -> dict[str, list[str]]:
        names = [f"z{k:04d}.example" for k in range(count - 2)]  # + the template's two
        return {n: zone_lines(n, 100, salt=k) for k, n in enumerate(names)}

    with ThreadPoolExecutor(2) as pool:
        made = [
            pool.submit(pushbench.start_site, work / f"many{c}", zones(c), 3600, sizes.settle)
            for c in (small_count, large_count)
        ]
        sites = [m.result() for m in made]
    small, large = sites
    try:
        time.sleep(min(2.0, sizes.settle))
        idle, _ = pushbench.rss_mb(large.daemon_pid)
        idle_small, _ = pushbench.rss_mb(small.daemon_pid)
        big, little = pushbench.alternate(
            lambda n: pushbench.timed(large, "example.com", f"l-{n}", pushbench.push),
            lambda n: pushbench.timed(small, "example.com", f"s-{n}", pushbench.push),
            sizes.runs,
        )
    finally:
        for site in sites:
            site.stop()
    return [
        Line(
            f"push -> served of one changed zone, {large_count:,}-zone repo vs "
            f"{small_count}-zone repo",
            show(big),
            show(little),
            ratio(big, little),
            "1.3x",
        ),
        Line(
            f"daemon RSS idle, {large_count:,} zones ({small_count} zones: {idle_small:.0f} MB)",
            f"{idle:.0f} MB",
            "",
            "",
            "< 120 MB",
        ),
    ]


# --- 3, 4, 6: check and plan against BIND's tools and the peers --------------------------------


def cold_check(work: Path, sizes: Sizes, reconciler: str) -> Line:
    count, per = sizes.cold
    repo_dir = work / "cold"
    repo = new_repo(repo_dir)
    names = [f"zone-{k:05d}.example" for k in range(count)]
    files = []
    for k, name in enumerate(names):
        write_zone(repo_dir / "zones" / f"{name}.zone", zone_lines(name, per, salt=k))
        files.append(repo_dir / "zones" / f"{name}.zone")
    commit(repo, files, f"{count} zones")
    conf = work / "cold.conf"
    body = [f'options {{ directory "{repo_dir / "zones"}"; }};']
    body += [f'zone "{n}" {{ type primary; file "{n}.zone"; }};' for n in names]
    conf.write_text("\n".join(body) + "\n", encoding="utf-8")
    ours, bind = pair(
        lambda: run_child([reconciler, "-C", str(repo_dir), "check"], env=COLD),
        lambda: run_child([tool("named-checkconf"), "-z", str(conf)]),
        sizes.runs,
    )
    a, b = figures(ours), figures(bind)
    return Line(
        f"check of {count:,} zones x {per} records, no cache, vs one named-checkconf -z",
        show(a),
        show(b),
        ratio(a, b),
        "2x",
    )


COLD = {"RECONCILER_CACHE_DIR": "off"}


def big_repo(work: Path, name: str, records: int) -> tuple[Path, str, str]:
    """A repo with one zone of `records` (C1) and a commit changing one record (C2)."""
    repo_dir = work / name
    repo = new_repo(repo_dir)
    path = repo_dir / "zones" / f"{name}.example.zone"
    lines = zone_lines(f"{name}.example", records)
    write_zone(path, lines)
    c1 = commit(repo, [path], "C1")
    changed, _ = change_one(lines)
    changed[1] = changed[1].replace(" 1 1800 ", " 2 1800 ")  # dzonegit wants the serial up
    write_zone(path, changed)
    c2 = commit(repo, [path], "C2")
    return repo_dir, c1, c2


def million(work: Path, sizes: Sizes, reconciler: str) -> list[Line]:
    repo_dir, c1, c2 = big_repo(work, "million", sizes.million)
    subprocess.run(["git", "reset", "-q", "--soft", c1], cwd=repo_dir, check=True)  # C2 staged
    zone = "million.example"
    file = f"zones/{zone}.zone"
    check = lambda: run_child([reconciler, "-C", str(repo_dir), "check"], env=COLD)  # noqa: E731
    checkzone = lambda: run_child([tool("named-checkzone"), zone, file], repo_dir)  # noqa: E731
    ours, bind = pair(check, checkzone, sizes.runs)
    a, b = figures(ours), figures(bind)
    lines = [
        Line(
            f"check of a one-record change in {sizes.million:,} records vs one named-checkzone",
            show(a),
            show(b),
            ratio(a, b),
            "1.2x",
        )
    ]
    dzonegit = PEERS / "dzonegit-pre-commit"
    if dzonegit.exists():
        env = {"PATH": f"{PEERS}:{os.environ['PATH']}"}
        ours, peer = pair(check, lambda: run_child([str(dzonegit)], repo_dir, env), sizes.runs)
        c, d = figures(ours), figures(peer)
        lines.append(
            Line(
                f"check of that change vs dzonegit's pre-commit check ({sizes.million:,} records)",
                show(c),
                show(d),
                ratio(c, d),
                "0.7x",
            )
        )
    else:
        lines.append(Line("check vs dzonegit pre-commit", "n/a", "no bench venv", "", "0.7x"))
    subprocess.run(["git", "reset", "-q", "--hard", c2], cwd=repo_dir, check=True)
    argv = [reconciler, "-C", str(repo_dir), "plan", "--base", c1, "--head", c2]
    plans = [run_child([*argv, "--format", "json"], env=COLD) for _ in range(sizes.runs)]
    f = figures(plans)
    lines.append(
        Line(
            f"plan of that change ({sizes.million:,} records): peak RSS (time {show(f)})",
            f"{peak(plans):.0f} MB",
            "",
            "",
            "< 600 MB",
        )
    )
    return lines


OCTODNS_CONFIG = """\
providers:
  new: {{class: octodns_bind.ZoneFileProvider, directory: "{new}", file_extension: .zone}}
  old: {{class: octodns_bind.ZoneFileProvider, directory: "{old}", file_extension: .zone}}
zones:
  octo.example.: {{sources: [new], targets: [old]}}
"""


def octodns(work: Path, sizes: Sizes, reconciler: str) -> Line:
    what = f"plan of a one-record change in {sizes.octodns:,} records vs octodns-sync (plan)"
    sync = PEERS / "octodns-sync"
    if not sync.exists():
        return Line(what, "n/a", "no bench venv", "", "0.1x")
    repo_dir, c1, c2 = big_repo(work, "octo", sizes.octodns)
    old, new = work / "octo-old", work / "octo-new"
    for folder, rev in ((old, c1), (new, c2)):
        folder.mkdir()
        data = subprocess.run(
            ["git", "show", f"{rev}:zones/octo.example.zone"], cwd=repo_dir, capture_output=True
        ).stdout
        (folder / "octo.example.zone").write_bytes(data)
    config = work / "octodns.yaml"
    config.write_text(OCTODNS_CONFIG.format(new=new, old=old), encoding="utf-8")
    ours, peer = pair(
        lambda: run_child(
            [reconciler, "-C", str(repo_dir), "plan", "--base", c1, "--head", c2], env=COLD
        ),
        lambda: run_child([str(sync), "--config-file", str(config)]),
        sizes.runs,
    )
    a, b = figures(ours), figures(peer)
    return Line(what, show(a), show(b), ratio(a, b), "0.1x")


# --- the report ---------------------------------------------------------------------------------


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = Path("/proc/meminfo").read_text().split()[1]
    bind = subprocess.run([tool("named-checkzone"), "-v"], capture_output=True, text=True)
    return (
        f"{os.cpu_count()} cores ({cpu}), {int(memory) / 2**20:.0f} GiB, "
        f"{platform.platform()}, Python {platform.python_version()}, "
        f"BIND {bind.stdout.strip()}, load average at start {os.getloadavg()[0]:.2f}"
    )


def peers() -> str:
    """The peers' versions, from the bench's venv."""
    python = PEERS / "python"
    if not python.exists():
        return "peers: none (no bench/.venv)"
    names = ("dzonegit", "octodns", "octodns-bind", "matplotlib")
    code = (
        "import importlib.metadata as m, sys; "
        "print(', '.join(n + ' ' + m.version(n) for n in sys.argv[1:]))"
    )
    done = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True)
    return f"peers: {done.stdout.strip() or done.stderr.strip()[-200:]}"


def report(lines: list[Line], runs: int, plot_note: str) -> str:
    rows = [
        "| comparison | ours | yardstick | ratio | target |",
        "|---|---|---|---|---|",
        *(f"| {x.what} | {x.ours} | {x.theirs} | {x.ratio} | {x.target} |" for x in lines),
    ]
    return (
        "# dns-reconciler bench results\n\n"
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `make bench` "
        f"(bench/bench.py); machine: {machine()}; {peers()}.\n\n"
        f"Each figure: the median of {runs} runs (min-max in brackets); the two sides of a "
        "comparison ran alternately. Ratio = median ours / median yardstick.\n\n"
        + "\n".join(rows)
        + f"\n\n{plot_note}\n"
        + findings()
    )


def findings() -> str:
    """bench/findings.md (what was found, fixed and not): kept by hand, carried into each run."""
    path = HERE / "findings.md"
    return "\n" + path.read_text(encoding="utf-8") if path.exists() else ""


PLOT = """
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
data = json.load(open(sys.argv[1]))
x = [d["records"] for d in data]
fig, ax = plt.subplots(figsize=(7, 4.5))
for key, label in (("push", "git push -> served (daemon)"), ("bare", "bare BIND pipeline")):
    med = [sorted(d[key])[len(d[key]) // 2] for d in data]
    lo = [m - min(d[key]) for m, d in zip(med, data)]
    hi = [max(d[key]) - m for m, d in zip(med, data)]
    ax.errorbar(x, med, yerr=[lo, hi], marker="o", capsize=4, label=label)
ax.set_xscale("log")
ax.set_xlabel("records in the changed zone")
ax.set_ylabel("seconds until every server answers")
ax.set_title("push -> served on the demo's servers (median, min-max)")
ax.legend()
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
"""


def draw(plot: list[dict[str, object]], out: Path) -> str:
    python = PEERS / "python"
    target = out / "push_served.png"
    if not plot:
        return "No plot: the push section did not run."
    if not python.exists():
        return "No plot: bench/.venv (with matplotlib) is missing; `make bench` makes it."
    data = out / "push_served.json"
    data.write_text(json.dumps(plot), encoding="utf-8")
    done = subprocess.run(
        [str(python), "-c", PLOT, str(data), str(target)], capture_output=True, text=True
    )
    if done.returncode != 0:
        return f"No plot: matplotlib failed: {done.stderr.strip().splitlines()[-1:]}"
    return f"![push -> served against zone size]({target.name})"


SECTIONS = ("push", "many", "cold", "million", "octodns")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="smallest sizes, one run each")
    parser.add_argument("--runs", type=int, help="runs per figure (default 5)")
    parser.add_argument("--out", type=Path, default=HERE, help="where results.md goes")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only these")
    args = parser.parse_args(argv)
    # As installed: with compiled bytecode (a session may ask Python not to write it; then every
    # hook's start would compile the package again).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    package = Path(pushbench.demo.__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=False)
    sizes = SMOKE if args.smoke else FULL
    if args.runs:
        sizes = Sizes(args.runs, *list(sizes.__dict__.values())[1:])
    reconciler = str(Path(sys.executable).with_name("reconciler"))
    chosen = args.only or SECTIONS
    lines: list[Line] = []
    plot: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        work = Path(tmp)
        steps: dict[str, Callable[[], list[Line]]] = {
            "push": lambda: push_section(work, sizes, plot),
            "many": lambda: many_section(work, sizes),
            "cold": lambda: [cold_check(work, sizes, reconciler)],
            "million": lambda: million(work, sizes, reconciler),
            "octodns": lambda: [octodns(work, sizes, reconciler)],
        }
        for name in chosen:
            print(f"== {name} ...", flush=True)
            try:
                found = steps[name]()
            except Exception as exc:  # a section that fails is reported; the others still run
                found = [failed(f"section {name}", exc)]
            for line in found:
                print(
                    f"  {line.what}: {line.ours} vs {line.theirs} = {line.ratio} "
                    f"(target {line.target})",
                    flush=True,
                )
            lines += found
    args.out.mkdir(parents=True, exist_ok=True)
    text = report(lines, sizes.runs, draw(plot, args.out))
    (args.out / "results.md").write_text(text, encoding="utf-8")
    print(f"wrote {args.out / 'results.md'}")


if __name__ == "__main__":
    main()
