"""Faults the daemon must survive, on the demo's sandbox: what held when issue 9 tried them,
kept held. Each test runs the daemon as a real process (daemonsite.py) while a thread asks
every server for the SOA serial again and again (`SoaSampler`): no server may ever serve a
serial older, in RFC 1982 terms, than one it served before.

- a burst of pushes;
- `kill -9` of the daemon at each step of a reconcile, then a restart that converges to the
  branch head with a serial past anything served. The daemon is held in the step by what it
  waits on, never by a switch inside it: a paused named (SIGSTOP) it asks, or an rndc
  control channel that accepts and never answers; the test sees it waiting there (its JSON
  log, its sockets) and kills it then;
- a full and a read-only zone folder (a real tmpfs): nothing lost, the old data served, a
  clear error, and convergence once the fault is gone, with no new push;
- named down during a push and started again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.bind import probe
from reconciler.model.serial import is_newer
from tests.daemonsite import (
    WWW,
    Running,
    Site,
    SoaSampler,
    a_records,
    asks,
    pause,
    resume,
    wait_until,
)

STAGES = ["after render", "after write", "after reload", "while confirming"]


def www(address: str) -> str:
    return f"www     IN A    {address}"


@contextlib.contextmanager
def silent_control_channel() -> Iterator[tuple[int, threading.Event]]:
    """A TCP port that accepts rndc's connection and never answers: rndc waits on it.
    Yields the port and an event set once a connection came in."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    connected = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                held.append(conn)
                connected.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], connected
    finally:
        for conn in held:
            conn.close()  # rndc sees the end of the stream and gives up
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join()


def kill_when(daemon: Running, waiting: Callable[[], bool]) -> None:
    """kill -9 the daemon while `waiting()` holds: stopped first (SIGSTOP), so that what was
    seen is still so at the moment of the kill."""
    pid = daemon.process.pid

    def caught() -> bool:
        if not waiting():
            return False
        os.kill(pid, signal.SIGSTOP)
        if waiting():
            return True
        os.kill(pid, signal.SIGCONT)
        return False

    wait_until(caught, "the daemon to wait in the step")
    daemon.kill()


@pytest.mark.parametrize("stage", STAGES)
def test_kill_9_at_each_stage_then_a_restart_converges(site: Site, stage: str) -> None:
    servers = site.sandbox.servers
    primary, secondaries = servers.primary, servers.secondaries
    site.configure(deadline=60, query_timeout=2)  # the daemon waits long in the held step
    zone_file = site.zone_dir / "example.com.zone"
    before = site.serials()[0]
    assert before is not None
    with SoaSampler(servers.all()) as sampler, contextlib.ExitStack() as faults:
        if stage == "after write":
            port, connected = faults.enter_context(silent_control_channel())
            real_port = _rndc_port(site)
            site.configure(port=port)
        daemon = site.start()
        if stage == "after render":
            pause(primary)
        if stage in ("after reload", "while confirming"):
            for server in secondaries:
                pause(server)
        sha = site.push(lambda t: t.replace(WWW, www("192.0.2.72")), "Move www")

        def attempted() -> bool:
            return site.state()["last_attempted"] == sha

        if stage == "after render":
            # Rendered and checked; the daemon asks the paused primary which serial it
            # serves, the step before anything is written.
            kill_when(daemon, lambda: attempted() and asks(daemon.process.pid, primary.port))
            assert "192.0.2.72" not in zone_file.read_text()  # nothing was written
            resume(primary)
        elif stage == "after write":
            daemon.wait_event(lambda e: e.get("event") == "zone written", "the write")
            wait_until(connected.is_set, "rndc to connect to the silent control channel")
            daemon.kill()  # written, and waiting for rndc's answer to the reload
            assert "192.0.2.72" in zone_file.read_text()
            faults.close()
            site.configure(port=real_port)
        else:
            daemon.wait_event(lambda e: e.get("event") == "zone reload requested", "the reload")
            if stage == "after reload":
                daemon.kill()
            else:  # the primary serves the new serial; the daemon waits for a secondary
                ports = [s.port for s in secondaries]
                kill_when(daemon, lambda: any(asks(daemon.process.pid, p) for p in ports))
                assert is_newer(site.serials()[0], before)
            for server in secondaries:
                resume(server)
        state = site.state()
        assert state["last_attempted"] == sha and state["last_applied"] != sha, state

        again = site.start()
        event = again.wait_event(
            lambda e: e.get("event") == "reconciled" and e.get("commit") == sha[:12],
            "the reconcile on restart",
        )
    assert event["status"] == "confirmed", event
    serials = site.serials()
    assert serials == [serials[0]] * 3, serials
    assert is_newer(serials[0], before)
    assert not sampler.backwards, sampler.backwards
    assert sampler.highest == {s.name: serials[0] for s in servers.all()}, sampler.highest
    assert a_records(site, "www.example.com") == ["192.0.2.72"]
    state = site.state()
    assert state["last_attempted"] == state["last_applied"] == sha


def _rndc_port(site: Site) -> int:
    (line,) = [x for x in site.config.read_text().splitlines() if x.startswith("port = ")]
    return int(line.split("=")[1])


def test_a_burst_of_pushes_never_serves_an_older_serial_anywhere(site: Site) -> None:
    servers = site.sandbox.servers
    daemon = site.start()
    with SoaSampler(servers.all()) as sampler:
        # Ten pushes, each through the pre-receive check (a second or more each): the daemon
        # reconciles several times while they come, and the sampler asks all along.
        for number in range(10):
            last = site.push(lambda t, n=number: _one_burst_host(t, n), f"burst {number}")
        event = daemon.wait_event(
            lambda e: e.get("event") == "reconciled" and e.get("commit") == last[:12],
            "the last commit",
        )
    assert event["status"] == "confirmed", event
    assert not sampler.backwards, sampler.backwards
    serials = site.serials()
    assert serials == [serials[0]] * 3, serials
    assert sampler.highest == {s.name: serials[0] for s in servers.all()}, sampler.highest
    assert sampler.changes[servers.primary.name] >= 2, sampler.changes  # it moved while asked
    assert a_records(site, "b9.example.com") == ["192.0.2.10"]
    print(f"burst: {sampler.samples} SOA samples, {event['reconciles']} reconciles, none older")


def _one_burst_host(text: str, number: int) -> str:
    """The zone with exactly one host bN: each push of the burst replaces the one before."""
    kept = [line for line in text.splitlines() if not line.startswith("b")]
    return "\n".join([*kept, f"b{number} IN A 192.0.2.{number + 1}"]) + "\n"


@contextlib.contextmanager
def own_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted over `folder`, holding a copy of what was there; unmounted
    afterwards (its files copied back, so named finds what it served)."""
    saved = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    run = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, f"this test needs root to mount a tmpfs: {run.stderr.strip()}"
    try:
        for name, data in saved.items():
            (folder / name).write_bytes(data)
        yield folder
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(folder)], capture_output=True)
        kept = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=True)
        for name, data in kept.items():
            (folder / name).write_bytes(data)


def _fill(folder: Path) -> Path:
    """Fill the file system of `folder` to the last byte; the filler file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (65536, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * chunk):
                    pass
    finally:
        os.close(fd)
    return filler


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_zone_folder_full_or_read_only_loses_nothing_and_converges_once_fixed(
    site: Site, fault: str
) -> None:
    servers = site.sandbox.servers
    folder = site.zone_dir
    served = {
        zone: (site.serials(zone), (folder / f"{zone}.zone").read_bytes())
        for zone in ("example.com", "example.net")
    }
    good = {p.name: p.read_bytes() for p in (site.root / "state" / "good").iterdir()}
    with SoaSampler(servers.all()) as sampler, own_tmpfs(folder, "1m"):
        daemon = site.start()
        if fault == "full":
            filler = _fill(folder)
        else:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        sha = site.push(lambda t: t.replace(WWW, www("192.0.2.77")), "Move www")
        failed = daemon.wait_event(
            lambda e: e.get("event") == "reconcile failed; backing off" and e.get("commit"),
            "the failure",
        )
        daemon.wait_event(
            lambda e: e.get("event") == "reconcile failed; backing off", "a second try"
        )
        why = "No space left on device" if fault == "full" else "Read-only file system"
        assert why in failed["error"] and str(folder) in failed["error"], failed
        assert "\n" not in failed["error"], failed  # one line
        status, body = site.get("/healthz")
        assert status == 503, (status, body)
        for zone, (serials, text) in served.items():  # nothing lost: the old data served
            assert site.serials(zone) == serials, zone
            assert (folder / f"{zone}.zone").read_bytes() == text, zone
        assert a_records(site, "www.example.com") == ["192.0.2.10"]
        assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
        assert {p.name: p.read_bytes() for p in (site.root / "state" / "good").iterdir()} == good
        assert site.state()["last_applied"] != sha

        if fault == "full":  # the fault removed: no new push is needed
            filler.unlink()
        else:
            subprocess.run(["mount", "-o", "remount,rw", str(folder)], check=True)
        event = daemon.wait_event(
            lambda e: e.get("event") == "reconciled" and e.get("commit") == sha[:12],
            "the reconcile once the fault is gone",
        )
        assert event["status"] == "confirmed", event
        assert a_records(site, "www.example.com") == ["192.0.2.77"]
        wait_until(lambda: site.get("/healthz")[0] == 200, "/healthz to say ok again")
        daemon.stop()
    assert not sampler.backwards, sampler.backwards
    assert site.serials("example.net") == served["example.net"][0]  # untouched


@pytest.mark.parametrize("when", ["before the push", "after the write"])
def test_named_down_during_a_push_and_started_again_serves_the_push(site: Site, when: str) -> None:
    """Issue 9 item 3's scenario, as it held once fixed: named stops before the push, or
    after the daemon wrote the zone file and before it reloaded (rndc held on a control
    channel that never answers), and starts again with the zone's journal older than it."""
    servers = site.sandbox.servers
    primary = servers.primary
    daemon = site.start()
    first = site.push(lambda t: t.replace(WWW, www("192.0.2.78")), "Move www")
    daemon.wait_event(
        lambda e: e.get("event") == "reconciled" and e.get("commit") == first[:12], "the first"
    )
    journal = site.zone_dir / "example.com.zone.jnl"
    assert journal.exists()  # named keeps the differences: the case that can go wrong
    other = (site.serials("example.net")[0], _records(site, "example.net"))
    change = (lambda t: t.replace(www("192.0.2.78"), www("192.0.2.79")), "Move www")
    with SoaSampler(servers.all()) as sampler:
        if when == "before the push":
            primary.stop()
            sha = site.push(*change)
            daemon.wait_event(
                lambda e: (
                    e.get("event") == "reconcile failed; backing off"
                    and e.get("commit") == sha[:12]
                ),
                "the failure while named is down",
            )
        else:
            real_port = _rndc_port(site)
            with silent_control_channel() as (port, connected):
                site.configure(port=port)
                daemon.process.send_signal(signal.SIGHUP)
                daemon.wait_event(lambda e: e.get("event") == "daemon.toml reloaded", "reload")
                sha = site.push(*change)
                daemon.wait_event(
                    lambda e: e.get("event") == "zone written" and e.get("commit") == sha[:12],
                    "the write",
                )
                wait_until(connected.is_set, "rndc to wait on the silent control channel")
                primary.stop()  # the new file written, not loaded; the journal older
                assert "192.0.2.79" in (site.zone_dir / "example.com.zone").read_text()
            # rndc sees the stream end: the daemon sets the journal aside and backs off.
            # named starts after that (under load it could win the race and find the
            # journal before the daemon heard of the failure).
            daemon.wait_event(
                lambda e: (
                    e.get("event") == "reconcile failed; backing off"
                    and e.get("commit") == sha[:12]
                ),
                "the failure of rndc",
            )
            site.configure(port=real_port)
            daemon.process.send_signal(signal.SIGHUP)
        primary.start()
        event = daemon.wait_event(
            lambda e: e.get("event") == "reconciled" and e.get("commit") == sha[:12],
            "the reconcile once named is back",
        )
    assert event["status"] == "confirmed", event
    assert "journal rollforward failed" not in primary.log_file.read_text()
    assert a_records(site, "www.example.com") == ["192.0.2.79"]
    serials = site.serials()
    assert serials == [serials[0]] * 3, serials
    assert not sampler.backwards, sampler.backwards
    assert sampler.highest == {s.name: serials[0] for s in servers.all()}, sampler.highest
    # The zone the commit did not touch is served again with its data. (Its serial may move
    # on: asked while named still loads it, the daemon writes it again.)
    assert _records(site, "example.net") == other[1]
    now = site.serials("example.net")
    assert now == [now[0]] * 3 and (now[0] == other[0] or is_newer(now[0], other[0])), now
    state = site.state()
    assert state["last_attempted"] == state["last_applied"] == sha


def _records(site: Site, zone: str) -> list[str]:
    """The zone's records on the primary, by a signed AXFR, without its SOA."""
    primary = site.sandbox.servers.primary
    key = site.sandbox.servers.transfer_key()
    lines = probe.axfr(primary.address, primary.port, zone, key)
    return [line for line in lines if " IN SOA " not in line]
