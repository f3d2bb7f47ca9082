"""The daemon as a real process on the demo's sandbox, for the tests that push to it.

`site` (a fixture, made available to every test module by conftest.py) starts the demo
sandbox: a primary and two secondaries on 127.0.0.1, a bare repo with its hooks and a
clone, a daemon.toml with short waits. `Site.start()` runs the daemon as
`python -m reconciler.cli run` and returns a `Running` whose JSON log can be waited on;
`Site.push()` commits a change in the clone and pushes it. Waits are bounded loops,
never timing assertions.

Also here, for the fault tests: `pause`/`resume` of a named (SIGSTOP/SIGCONT: the daemon
then waits on it in a known step), `asks(pid, port)` (whether a process has a UDP socket
connected to a port of 127.0.0.1, that is: waits for a DNS answer from it) and
`SoaSampler`, a thread that asks every server for a zone's SOA serial again and again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import dns.message
import dns.query
import git
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.bind import probe
from reconciler.devtools import demo
from reconciler.devtools.init import commit_all
from reconciler.devtools.sandbox import ServerProcess, free_port
from reconciler.model.serial import is_newer

WWW = "www     IN A    192.0.2.10"
ZONE = "zones/example.com.zone"
WAIT = 180.0  # seconds any one awaited event may take before the test gives up: a bound, never
# asserted on; generous because make test runs 3 workers and a shared machine may run more


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

    def kill(self) -> None:
        """kill -9, and reap it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

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

    @property
    def zone_dir(self) -> Path:
        return self.sandbox.servers.primary.zone_dir

    def state(self) -> dict:
        return json.loads((self.root / "state" / "state.json").read_text())

    def configure(self, **values: object) -> None:
        """Set `key = value` lines of daemon.toml that are there already."""
        text = self.config.read_text()
        for key, value in values.items():
            text, count = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
            assert count == 1, key
        self.config.write_text(text)

    def start(self, env: dict[str, str] | None = None) -> Running:
        for _ in range(3):
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
            try:
                running.wait_event(
                    lambda e: e.get("event") == "daemon started", "the daemon to start"
                )
                return running
            except AssertionError:
                if process.poll() is None or "Address already in use" not in log_file.read_text():
                    raise
            # The HTTP port free_port chose was taken before the daemon bound it (by another
            # worker's test or another program): the fixture's race, not the daemon's.
            self.http = f"127.0.0.1:{free_port()}"
            text = re.sub(r'listen = "[^"]*"', f'listen = "{self.http}"', self.config.read_text())
            self.config.write_text(text)
        raise AssertionError(f"no free HTTP port for the daemon: {log_file.read_text()[-2000:]}")

    def commit(self, change: Callable[[str], str], message: str) -> str:
        """Change the zone file of the clone and commit, without pushing."""
        file = self.root / "clone" / ZONE
        file.write_text(change(file.read_text()))
        return commit_all(self.clone, message)

    def push(self, change: Callable[[str], str], message: str, *flags: str) -> str:
        sha = self.commit(change, message)
        self.clone.git.push("-q", *flags, "origin", "main")
        return sha

    def push_in_background(self, change: Callable[[str], str], message: str) -> str:
        """Commit and start the push; the daemon may reconcile before the hooks finish."""
        sha = self.commit(change, message)
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
        for server in sandbox.servers.all():
            resume(server)  # a paused named would not stop on SIGTERM
        for push in running.pushes:
            push.wait()
        for daemon in running.daemons:
            daemon.stop()
        sandbox.servers.stop_all()


def a_records(site: Site, name: str) -> list[str]:
    """The A records every server answers for `name`; they must all answer the same."""
    answers = []
    for server in site.sandbox.servers.all():
        response = dns.query.udp(
            dns.message.make_query(name, "A"), server.address, port=server.port, timeout=2
        )
        answers.append(sorted(r.to_text() for rrset in response.answer for r in rrset))
    assert all(a == answers[0] for a in answers), answers
    return answers[0]


def metrics_of(site: Site) -> dict[tuple[str, tuple], float]:
    """The daemon's /metrics, parsed: (series, sorted labels) -> value."""
    status, text = site.get("/metrics")
    assert status == 200
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


# --- holding the daemon in a known step ------------------------------------------------------


def pause(server: ServerProcess) -> None:
    """SIGSTOP a named: it answers nothing (queries and rndc wait) until `resume`."""
    assert server.process is not None and server.running, server.name
    os.kill(server.process.pid, signal.SIGSTOP)


def resume(server: ServerProcess) -> None:
    if server.process is not None and server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)


def asks(pid: int, port: int) -> bool:
    """Whether process `pid` has a UDP socket connected to 127.0.0.1:`port` (probe.py
    connects its sockets): it is waiting for a DNS answer from that server."""
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
        table = Path(f"/proc/{pid}/net/udp").read_text()
    except OSError:
        return False
    peer = f"0100007F:{port:04X}"
    for line in table.splitlines()[1:]:
        fields = line.split()
        if fields[2] == peer and fields[9] in inodes:
            return True
    return False


# --- watching what every server serves --------------------------------------------------------


class Repeating:
    """A thread that calls `once()` again and again (`pause` seconds apart), from the start
    of a `with` block to its end."""

    pause = 0.0

    def once(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.once()
            self._stop.wait(self.pause)


@dataclass
class SoaSampler(Repeating):
    """A thread asking every server for the zone's SOA serial, again and again.

    `backwards` lists each time a server answered a serial older (RFC 1982) than one it
    had answered before; `changes` counts, per server, the times its serial moved on;
    `samples` counts the answers; no answer (a timeout) is no sample.
    """

    servers: list[ServerProcess]
    zone: str = "example.com"
    samples: int = 0
    highest: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    backwards: list[str] = field(default_factory=list)

    def once(self) -> None:
        for server in self.servers:
            serial = probe.soa_serial(server.address, server.port, self.zone, timeout=0.5)
            if serial is None:
                continue
            self.samples += 1
            top = self.highest.get(server.name)
            if top is not None and is_newer(top, serial):
                self.backwards.append(f"{server.name} served {serial} after {top}")
            if top is None or is_newer(serial, top):
                self.highest[server.name] = serial
                self.changes[server.name] = self.changes.get(server.name, -1) + 1
