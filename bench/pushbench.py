"""Push to served on the demo's own servers: the daemon path against the bare BIND pipeline.

A `Site` is `reconciler demo` set up in a folder (a primary and two secondaries on
loopback, the bare repo with its hooks, a clone, the daemon running), with extra zones
added to the clone. Every zone carries one probe record, `bench-probe TXT "..."`; a run
changes it to a new value and the clock stops when every server answers that value:

- daemon path: edit the clone's zone file, `git commit`, `git push` (pre-receive checks
  it; the daemon sees the branch move, post-receive does not nudge a daemon that watches
  the pushed repo), poll every server;
- bare path (what an operator runs by hand on the same servers): edit the primary's
  served file with serial + 1, `named-checkzone`, `rndc reload ZONE`, poll every server.

The daemon's periodic re-check is moved out of the way (`recheck_interval`) so that it does
not repair a bare edit in the middle of a run; the next push serves the repo's content again
with a serial past the bare one. Used by bench.py.
"""

from __future__ import annotations

import contextlib
import re
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype

from reconciler.bind.tools import tool
from reconciler.devtools import demo

PROBE = "bench-probe"
MAX_RECORDS = 2_000_000  # the host's ceiling and the repo's [safety], for the 60 MB zone
GIT = ["git", "-c", "user.name=reconciler bench", "-c", "user.email=bench@localhost"]


@dataclass
class Site:
    root: Path
    setup: demo.Demo
    daemon_pid: int
    values: dict[str, str] = field(default_factory=dict)  # zone -> probe value served

    @property
    def clone(self) -> Path:
        return self.root / "clone"

    @property
    def servers(self) -> list[tuple[str, int]]:
        return [(s.address, s.port) for s in self.setup.servers.all()]

    def stop(self) -> None:
        demo.stop(self.root)
        self.setup.servers.stop_all()


def probe_line(value: str) -> str:
    return f'{PROBE} IN TXT "{value}"'


def start_site(
    root: Path, zones: dict[str, list[str]], recheck: int = 3600, quiet: float = 5.0
) -> Site:
    """The demo in `root` with `zones` (name -> lines) added, the daemon running, all served,
    and no server's log grown for `quiet` seconds."""
    made = demo.setup(root)
    try:
        clone = root / "clone"
        values = {}
        for name in [*zones, "example.com"]:
            path = clone / "zones" / f"{name}.zone"
            lines = zones[name] if name in zones else path.read_text("utf-8").splitlines()
            path.write_text("\n".join([*lines, probe_line("start")]) + "\n", encoding="utf-8")
            values[name] = "start"
        subprocess.run([*GIT, "add", "-A"], cwd=clone, check=True)
        subprocess.run([*GIT, "commit", "-qm", "bench zones"], cwd=clone, check=True)
        subprocess.run([*GIT, "push", "-q"], cwd=clone, check=True, capture_output=True)
        config = root / "daemon.toml"
        text = config.read_text(encoding="utf-8")
        text = re.sub(r"recheck_interval = \d+", f"recheck_interval = {recheck}", text)
        config.write_text(text + f"\n[check]\nmax_records = {MAX_RECORDS}\n", "utf-8")
        pid = demo.start_daemon(root)
        site = Site(root, made, pid, values)
        for name in values:
            wait_served(site, name, "start", deadline=600)
        wait_healthy(site, deadline=1800)
        wait_quiet(site, quiet=quiet, deadline=1800)
    except BaseException:
        demo.stop(root)
        made.servers.stop_all()
        raise
    return site


def wait_healthy(site: Site, deadline: float) -> None:
    """Until the daemon's /healthz says ok: its first reconcile confirmed on every secondary
    (with many new zones the secondaries take a while), nothing left to retry."""
    url = f"http://{site.setup.host.http_listen}/healthz"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with opener.open(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the daemon never said healthy at {url}")


def wait_quiet(site: Site, quiet: float, deadline: float) -> None:
    """Until no server's log has grown for `quiet` seconds: after many new zones the primary
    still drains its rate-limited NOTIFY queue (notify-rate) long after they are served, and
    a change's NOTIFY would wait behind it."""
    logs = [s.log_file for s in site.setup.servers.all()]
    sizes = [-1] * len(logs)
    still = time.monotonic()
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        now = [log.stat().st_size if log.exists() else 0 for log in logs]
        if now != sizes:
            sizes, still = now, time.monotonic()
        elif time.monotonic() - still >= quiet:
            return
        time.sleep(0.5)


def wait_reconciled(site: Site, commit: str, deadline: float) -> None:
    """Until the daemon's log says it reconciled `commit` (its whole turn, not only served)."""
    log = site.root / "daemon.log"
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for line in log.read_text("utf-8", "replace").splitlines():
            if '"reconciled"' in line and f'"commit": "{commit[:12]}"' in line:
                return
        time.sleep(0.5)
    raise RuntimeError(f"the daemon never logged the reconcile of {commit[:12]}")


def answers(address: str, port: int, zone: str, value: str) -> bool:
    query = dns.message.make_query(f"{PROBE}.{zone}.", dns.rdatatype.TXT)
    try:
        reply = dns.query.udp(query, address, port=port, timeout=0.5)
    except (OSError, dns.exception.DNSException):
        return False
    wanted = f'"{value}"'
    return any(r.to_text() == wanted for rrset in reply.answer for r in rrset)


def wait_served(site: Site, zone: str, value: str, deadline: float = 120) -> None:
    """Poll every server until each answers `value` for the zone's probe record."""
    waiting = set(site.servers)
    end = time.monotonic() + deadline
    while waiting:
        waiting = {s for s in waiting if not answers(*s, zone, value)}
        if waiting and time.monotonic() > end:
            raise RuntimeError(f"{zone}: {sorted(waiting)} never answered {value!r}")
        if waiting:
            time.sleep(0.005)
    site.values[zone] = value


def push(site: Site, zone: str, value: str) -> None:
    """The daemon path: edit the clone's file, commit, push."""
    path = site.clone / "zones" / f"{zone}.zone"
    text = re.sub(rf'^{PROBE} IN TXT ".*"$', probe_line(value), path.read_text("utf-8"), flags=re.M)
    path.write_text(text, "utf-8")
    subprocess.run([*GIT, "commit", "-qam", f"probe {value}"], cwd=site.clone, check=True)
    subprocess.run([*GIT, "push", "-q"], cwd=site.clone, check=True, capture_output=True)


def bare(site: Site, zone: str, value: str) -> None:
    """The bare pipeline: the served file edited (serial + 1), checked, reloaded."""
    primary = site.setup.servers.primary
    path = primary.zone_dir / f"{zone}.zone"
    text = path.read_text("utf-8")
    old = f'"{site.values[zone]}"'
    lines = text.split("\n")
    for i, line in enumerate(lines):
        fields = line.split()
        if len(fields) > 6 and fields[3] == "SOA":
            fields[6] = str(int(fields[6]) + 1)
            lines[i] = " ".join(fields)
            break
    text = "\n".join(lines)
    at = text.index(f"{PROBE}.{zone}.")
    end = text.index("\n", at)
    text = text[:at] + text[at:end].replace(old, f'"{value}"') + text[end:]
    path.write_text(text, "utf-8")
    subprocess.run(
        [tool("named-checkzone"), "-q", zone, str(path)], check=True, capture_output=True
    )
    rndc = [
        tool("rndc"),
        "-s",
        primary.address,
        "-p",
        str(primary.rndc_port),
        "-k",
        str(site.setup.servers.rndc_key_file),
    ]
    subprocess.run([*rndc, "reload", zone], check=True, capture_output=True)


def timed(site: Site, zone: str, value: str, change: Callable[[Site, str, str], None]) -> float:
    start = time.perf_counter()
    change(site, zone, value)
    wait_served(site, zone, value)
    return time.perf_counter() - start


@dataclass(frozen=True)
class Figures:
    """Seconds of each run; median and spread."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def spread(self) -> str:
        return f"{min(self.runs):.2f}-{max(self.runs):.2f}"


def alternate(
    first: Callable[[int], float], second: Callable[[int], float], runs: int
) -> tuple[Figures, Figures]:
    """first, second, first, second ... `runs` each, after one warm-up of each."""
    first(0)
    second(0)
    a, b = [], []
    for n in range(1, runs + 1):
        a.append(first(n))
        b.append(second(n))
    return Figures(tuple(a)), Figures(tuple(b))


def push_vs_bare(site: Site, zone: str, runs: int) -> tuple[Figures, Figures]:
    return alternate(
        lambda n: timed(site, zone, f"d-{n}-{time.time_ns()}", push),
        lambda n: timed(site, zone, f"b-{n}-{time.time_ns()}", bare),
        runs,
    )


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of one process, in MB: now and its peak."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def settled_rss(pid: int, still: float = 5.0, deadline: float = 120.0) -> tuple[float, float]:
    """rss_mb once the RSS has not changed for `still` seconds (a large heap takes a while
    to be collected and handed back after the reconcile's log line)."""
    last, since = rss_mb(pid), time.monotonic()
    end = time.monotonic() + deadline
    while time.monotonic() < end and time.monotonic() - since < still:
        time.sleep(0.5)
        now = rss_mb(pid)
        if now[0] != last[0]:
            since = time.monotonic()
        last = now
    return last


def reset_peak(pid: int) -> None:
    """Start the process's peak RSS again from its current RSS (Linux >= 4.0)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
