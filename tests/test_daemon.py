"""`reconciler run`: the daemon as a real process against real named and a real bare repo.

Each test starts the demo sandbox (a primary and two secondaries on 127.0.0.1,
a bare repo and a clone), then the daemon as `python -m reconciler.cli run`,
pushes with git, and asserts what the servers serve and what the daemon says
in its JSON log, /healthz and /metrics. Waits are bounded loops, never timing
assertions.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import git
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.bind import probe
from reconciler.devtools import demo
from reconciler.devtools.init import commit_all
from reconciler.devtools.sandbox import free_port
from reconciler.model.serial import is_newer

WWW = "www     IN A    192.0.2.10"
ZONE = "zones/example.com.zone"
WAIT = 60.0  # seconds any one awaited event may take before the test gives up


def wait_until(check: Callable[[], object], what: str, limit: float = WAIT) -> object:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


@dataclass
class Running:
    """One daemon process and its JSON log."""

    process: subprocess.Popen[bytes]
    log_file: Path
    seen: int = 0

    def events(self) -> list[dict]:
        lines = self.log_file.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def wait_event(self, match: Callable[[dict], bool], what: str) -> dict:
        """The first event after the last one returned that matches."""

        def find() -> dict | None:
            exited = self.process.poll() is not None  # read before the log: nothing is missed
            events = self.events()
            for index in range(self.seen, len(events)):
                if match(events[index]):
                    self.seen = index + 1
                    return events[index]
            if exited:
                raise AssertionError(
                    f"the daemon exited ({self.process.returncode}) before "
                    f"{what}: {self.log_file.read_text()[-2000:]}"
                )
            return None

        return wait_until(find, what)  # type: ignore[return-value]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


@dataclass
class Site:
    sandbox: demo.Demo
    http: str
    daemons: list[Running] = field(default_factory=list)
    pushes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.sandbox.root

    @property
    def config(self) -> Path:
        return self.root / "daemon.toml"

    @property
    def clone(self) -> git.Repo:
        return git.Repo(self.root / "clone")

    def start(self, env: dict[str, str] | None = None) -> Running:
        log_file = self.root / f"daemon-{len(self.daemons)}.log"
        with open(log_file, "wb") as stderr:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "reconciler.cli", "run", "--config", str(self.config)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, **(env or {})},
            )
        running = Running(process, log_file)
        self.daemons.append(running)
        running.wait_event(lambda e: e.get("event") == "daemon started", "the daemon to start")
        return running

    def push(self, change: Callable[[str], str], message: str, *flags: str) -> str:
        file = self.root / "clone" / ZONE
        file.write_text(change(file.read_text()))
        sha = commit_all(self.clone, message)
        self.clone.git.push("-q", *flags, "origin", "main")
        return sha

    def push_in_background(self, change: Callable[[str], str], message: str) -> str:
        """Commit and start the push; the daemon may reconcile before the hooks finish."""
        file = self.root / "clone" / ZONE
        file.write_text(change(file.read_text()))
        sha = commit_all(self.clone, message)
        self.pushes.append(
            subprocess.Popen(
                ["git", "-C", str(self.root / "clone"), "push", "-q", "origin", "main"]
            )
        )
        return sha

    def serials(self, zone: str = "example.com") -> list[int | None]:
        return [
            probe.soa_serial(s.address, s.port, zone, timeout=1.0)
            for s in self.sandbox.servers.all()
        ]

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://{self.http}{path}", timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    sandbox = demo.setup(tmp_path / "demo", deadline=4)
    http = f"127.0.0.1:{free_port()}"
    config = sandbox.root / "daemon.toml"
    text = config.read_text()
    text = re.sub(r'listen = "[^"]*"', f'listen = "{http}"', text)
    text = text.replace(
        "debounce = 0.2\nrecheck_interval = 10\n",
        "debounce = 0.3\nrecheck_interval = 1\nbackoff_initial = 0.5\nbackoff_max = 2\n",
    )
    assert "backoff_max = 2" in text
    config.write_text(text)
    running = Site(sandbox, http)
    try:
        yield running
    finally:
        for push in running.pushes:
            push.wait()
        for daemon in running.daemons:
            daemon.stop()
        sandbox.servers.stop_all()


def test_push_reaches_both_secondaries(site: Site) -> None:
    daemon = site.start()
    before = site.serials()[0]
    sha = site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.71"), "Move www")
    event = daemon.wait_event(lambda e: e.get("event") == "reconciled", "the reconcile")
    assert event["commit"] == sha[:12] and event["status"] == "confirmed"
    assert event["seconds_since_push"] > 0  # the push-to-confirmation time is logged
    serials = site.serials()
    assert serials == [serials[0]] * 3 and is_newer(serials[0], before)
    status, body = site.get("/healthz")
    assert (status, body) == (200, "ok\n")


def test_burst_of_pushes_ends_in_the_last_commit_with_few_reconciles(site: Site) -> None:
    # The pre-receive check takes most of a second per push; without it twenty pushes
    # come in about a second, the burst this test is about.
    (site.root / "repo.git" / "hooks" / "pre-receive").unlink()
    daemon = site.start()
    commits = []  # twenty commits made first, so that the pushes come as one burst
    file = site.root / "clone" / ZONE
    for number in range(20):
        file.write_text(_one_burst_host(file.read_text(), number))
        commits.append(commit_all(site.clone, f"burst {number}"))
    for sha in commits:  # twenty pushes, each one fast-forwarding main by one commit
        site.clone.git.push("-q", "origin", f"{sha}:refs/heads/main")
    last = commits[-1]
    event = daemon.wait_event(
        lambda e: e.get("event") == "reconciled" and e.get("commit") == last[:12], "the last commit"
    )
    assert event["status"] == "confirmed"
    count = event["reconciles"]
    assert count < 10, f"{count} reconciles for 20 pushes"
    for server in site.sandbox.servers.all():
        answer = probe.soa_serial(server.address, server.port, "example.com")
        assert answer == site.serials()[0]
    assert _a(site, "b19.example.com") == ["192.0.2.20"]
    assert _a(site, "b18.example.com") == []


def _one_burst_host(text: str, number: int) -> str:
    """The zone with exactly one host bN: each push of the burst replaces the one before."""
    kept = [line for line in text.splitlines() if not line.startswith("b")]
    return "\n".join([*kept, f"b{number} IN A 192.0.2.{number + 1}"]) + "\n"


def _a(site: Site, name: str) -> list[str]:
    import dns.message
    import dns.query

    answers = []
    for server in site.sandbox.servers.all():
        response = dns.query.udp(
            dns.message.make_query(name, "A"), server.address, port=server.port, timeout=2
        )
        answers.append(sorted(r.to_text() for rrset in response.answer for r in rrset))
    assert all(a == answers[0] for a in answers), answers
    return answers[0]


@pytest.mark.parametrize("stage", ["zone written", "zone reload requested"])
def test_kill_9_mid_reconcile_then_restart_converges(site: Site, stage: str) -> None:
    daemon = site.start()
    before = site.serials()[0]
    # The push returns only after post-receive: by then the reconcile may be over.
    site.push_in_background(lambda t: t.replace(WWW, "www     IN A    192.0.2.72"), "Move www")
    daemon.wait_event(lambda e: e.get("event") == stage, stage)
    daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait()
    state = json.loads((site.root / "state" / "state.json").read_text())
    assert state["last_attempted"] != state["last_applied"]
    killed_at = site.serials()[0]
    again = site.start()
    event = again.wait_event(lambda e: e.get("event") == "reconciled", "the reconcile on restart")
    assert event["status"] == "confirmed"
    serials = site.serials()
    assert serials == [serials[0]] * 3
    assert is_newer(serials[0], before)
    assert serials[0] == killed_at or is_newer(serials[0], killed_at)  # never backwards
    assert _a(site, "www.example.com") == ["192.0.2.72"]
    state = json.loads((site.root / "state" / "state.json").read_text())
    assert state["last_attempted"] == state["last_applied"]


def test_named_down_backs_off_and_recovers_without_a_push(site: Site) -> None:
    daemon = site.start()
    primary = site.sandbox.servers.primary
    primary.stop()
    site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.73"), "Move www")
    first = daemon.wait_event(
        lambda e: e.get("event") == "reconcile failed; backing off", "a failure"
    )
    second = daemon.wait_event(
        lambda e: e.get("event") == "reconcile failed; backing off", "a second failure"
    )
    assert second["retry_in"] > first["retry_in"]  # the backoff grows
    gap = datetime.fromisoformat(second["timestamp"]) - datetime.fromisoformat(first["timestamp"])
    assert gap.total_seconds() >= first["retry_in"] * 0.9  # and is waited out, not cut short
    status, body = site.get("/healthz")
    assert status == 503 and "named does not answer" in body
    metrics = _metrics(site)
    assert metrics[("reconciler_named_up", ())] == 0
    assert metrics[("reconciler_failures_total", (("reason", first["reason"]),))] >= 2
    primary.start()
    event = daemon.wait_event(lambda e: e.get("event") == "reconciled", "the recovery")
    assert event["status"] == "confirmed"
    assert _a(site, "www.example.com") == ["192.0.2.73"]
    wait_until(lambda: site.get("/healthz")[0] == 200, "healthz to recover")


def _metrics(site: Site) -> dict[tuple[str, tuple], float]:
    status, text = site.get("/metrics")
    assert status == 200
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_parse_and_have_every_series(site: Site) -> None:
    daemon = site.start()
    sha = site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.74"), "Move www")
    daemon.wait_event(lambda e: e.get("event") == "reconciled", "the reconcile")
    metrics = _metrics(site)
    names = {name for name, _ in metrics}
    for series in (
        "reconciler_reconcile_duration_seconds_count",
        "reconciler_last_success_timestamp_seconds",
        "reconciler_applied_commit_info",
        "reconciler_zone_serial",
        "reconciler_secondary_lag_seconds",
        "reconciler_secondary_lagging",
        "reconciler_reconciles_total",
        "reconciler_named_up",
    ):
        assert series in names, series
    assert metrics[("reconciler_applied_commit_info", (("commit", sha),))] == 1
    serial = site.serials()[0]
    for server, role in (("ns1", "primary"), ("ns2", "secondary"), ("ns3", "secondary")):
        key = (
            "reconciler_zone_serial",
            (("role", role), ("server", server), ("zone", "example.com")),
        )
        assert metrics[key] == serial
    assert (
        metrics[("reconciler_secondary_lag_seconds", (("server", "ns2"), ("zone", "example.com")))]
        == 0
    )


def test_second_daemon_refuses_and_signals_are_honoured(site: Site) -> None:
    daemon = site.start()
    other = subprocess.run(
        [sys.executable, "-m", "reconciler.cli", "run", "--config", str(site.config)],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert other.returncode == 1
    assert "another reconciler holds the lock" in other.stderr
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_event(lambda e: e.get("event") == "daemon.toml reloaded", "the reload")
    assert daemon.stop() == 0
    assert daemon.events()[-1]["event"] == "daemon stopped"


def test_force_push_is_refused_until_a_new_commit(site: Site) -> None:
    daemon = site.start()
    served = site.serials()
    site.clone.git.commit("-q", "--amend", "-m", "Rewritten history", "--allow-empty")
    site.clone.git.push("-q", "-f", "origin", "main")
    event = daemon.wait_event(
        lambda e: e.get("event") == "commit refused; waiting for a new commit", "the refusal"
    )
    assert "is not a descendant of the last applied commit" in event["reason"]
    assert site.serials() == served
    assert site.get("/healthz")[0] == 503


def test_systemd_is_told_ready_status_and_watchdog(site: Site, tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(WAIT)
    try:
        site.start({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000"})
        messages: list[str] = []
        while not ({"READY=1", "WATCHDOG=1"} <= set(messages)):
            messages += listener.recv(4096).decode().splitlines()
        assert any(m.startswith("STATUS=") for m in messages)
    finally:
        listener.close()


def test_pull_mode_follows_a_remote(site: Site) -> None:
    mirror = site.root / "mirror.git"
    text = site.config.read_text().replace(
        'path = "repo.git"',
        f'path = "mirror.git"\nurl = "{site.root / "repo.git"}"\nfetch_interval = 0.3',
    )
    site.config.write_text(text)
    daemon = site.start()
    assert (mirror / "HEAD").exists()
    sha = site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.75"), "Move www")
    event = daemon.wait_event(
        lambda e: e.get("event") == "reconciled" and e.get("commit") == sha[:12],
        "the pulled commit",
    )
    assert event["status"] == "confirmed"
    assert _a(site, "www.example.com") == ["192.0.2.75"]


def test_sigterm_lets_the_reconcile_under_way_finish(site: Site) -> None:
    daemon = site.start()
    sha = site.push_in_background(
        lambda t: t.replace(WWW, "www     IN A    192.0.2.76"), "Move www"
    )
    daemon.wait_event(lambda e: e.get("event") == "zone written", "the write")
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=WAIT) == 0
    names = [e["event"] for e in daemon.events()]
    assert names.index("reconciled") < names.index("daemon stopped")
    state = json.loads((site.root / "state" / "state.json").read_text())
    assert state["last_applied"] == sha
    assert _a(site, "www.example.com") == ["192.0.2.76"]
