"""`reconciler run`: the daemon as a real process against real named and a real bare repo.

Each test starts the demo sandbox (a primary and two secondaries on 127.0.0.1,
a bare repo and a clone), then the daemon as `python -m reconciler.cli run`,
pushes with git, and asserts what the servers serve and what the daemon says
in its JSON log, /healthz and /metrics. Waits are bounded loops, never timing
assertions. The site and its helpers are in daemonsite.py; the faults the daemon must
survive (kill -9 at each step, a full zone folder, named down) are in test_faults.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import git
import pytest

from reconciler.bind import probe
from reconciler.bind.tools import tool
from reconciler.devtools.init import commit_all
from reconciler.model.serial import is_newer
from tests.daemonsite import WAIT, WWW, ZONE, Site, a_records, metrics_of, wait_until


def test_push_reaches_both_secondaries(site: Site) -> None:
    # The push is what makes the daemon look: with the site's 1 s recheck, a periodic look
    # could find the moved ref before the ref watcher's event came (under load), and that
    # reconcile has no push to time.
    site.configure(recheck_interval=60)
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


def test_a_push_to_an_idle_daemon_is_reconciled_at_once(site: Site) -> None:
    # Issue 13: a push waited the whole debounce before its reconcile began, a fixed sleep
    # although the push itself is the event. The debounce gathers only what comes during a
    # reconcile or within it of the last look an event asked for (the start's, here, before
    # the hooks' run); the log says how long each reconcile waited to gather.
    daemon = site.start()
    wait_until(lambda: site.get("/healthz") == (200, "ok\n"), "the first look, idle")
    sha = site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.72"), "Move www")
    event = daemon.wait_event(
        lambda e: e.get("event") == "reconciled" and e.get("commit") == sha[:12], "the reconcile"
    )
    assert event["status"] == "confirmed"
    assert event["gathered"] == 0
    assert a_records(site, "www.example.com") == ["192.0.2.72"]


def test_burst_of_pushes_ends_in_the_last_commit_with_few_reconciles(site: Site) -> None:
    # The hooks (the check before, the nudge after) take most of a second per push; without
    # them twenty pushes come in a second or two, the burst this test is about. The ref
    # watcher sees each push; nudges are the flood test's.
    for hook in ("pre-receive", "post-receive"):
        (site.root / "repo.git" / "hooks" / hook).unlink()
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
    print(f"{count} reconciles for 20 pushes")
    assert count < 10, f"{count} reconciles for 20 pushes"
    for server in site.sandbox.servers.all():
        answer = probe.soa_serial(server.address, server.port, "example.com")
        assert answer == site.serials()[0]
    assert a_records(site, "b19.example.com") == ["192.0.2.20"]
    assert a_records(site, "b18.example.com") == []


def _one_burst_host(text: str, number: int) -> str:
    """The zone with exactly one host bN: each push of the burst replaces the one before."""
    kept = [line for line in text.splitlines() if not line.startswith("b")]
    return "\n".join([*kept, f"b{number} IN A 192.0.2.{number + 1}"]) + "\n"


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
    metrics = metrics_of(site)
    assert metrics[("reconciler_named_up", ())] == 0
    assert metrics[("reconciler_failures_total", (("reason", first["reason"]),))] >= 2
    primary.start()
    event = daemon.wait_event(lambda e: e.get("event") == "reconciled", "the recovery")
    assert event["status"] == "confirmed"
    assert a_records(site, "www.example.com") == ["192.0.2.73"]
    wait_until(lambda: site.get("/healthz")[0] == 200, "healthz to recover")


def test_metrics_parse_and_have_every_series(site: Site) -> None:
    daemon = site.start()
    sha = site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.74"), "Move www")
    daemon.wait_event(lambda e: e.get("event") == "reconciled", "the reconcile")
    metrics = metrics_of(site)
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
    assert other.returncode == 5  # busy
    assert f"the daemon (reconciler run, pid {daemon.process.pid}) holds the lock" in other.stderr
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_event(lambda e: e.get("event") == "daemon.toml reloaded", "the reload")
    assert daemon.stop() == 0
    assert daemon.events()[-1]["event"] == "daemon stopped"


def test_force_push_is_refused_until_a_new_commit(site: Site) -> None:
    daemon = site.start()
    served = site.serials()
    site.clone.git.reset("-q", "--soft", "HEAD~1")  # an amend, with no git identity needed
    commit_all(site.clone, "Rewritten history")
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
    assert a_records(site, "www.example.com") == ["192.0.2.75"]


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
    assert a_records(site, "www.example.com") == ["192.0.2.76"]


def _nudge(site: Site) -> None:
    request = urllib.request.Request(f"http://{site.http}/nudge", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 202


def test_a_flood_of_nudges_does_not_postpone_the_reconcile(site: Site) -> None:
    # Issue 9, item 9: nudges closer together than the debounce postponed the reconcile as
    # long as they came. The flood goes on until the pushed commit is reconciled.
    daemon = site.start()
    flooding = threading.Event()
    flooding.set()

    def flood() -> None:
        while flooding.is_set():
            _nudge(site)  # about 20 a second, against a debounce of 0.3 s
            time.sleep(0.05)

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        sha = site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.77"), "Move www")
        event = daemon.wait_event(
            lambda e: e.get("event") == "reconciled" and e.get("commit") == sha[:12],
            "the reconcile of the push during the flood",
        )
        assert flooder.is_alive()  # the flood was still going when the reconcile came
    finally:
        flooding.clear()
        flooder.join()
    assert event["status"] == "confirmed"
    assert a_records(site, "www.example.com") == ["192.0.2.77"]


def test_backoff_is_waited_out_even_when_woken(site: Site) -> None:
    # Issue 9: the log said retry_in but the daemon retried at every wake (the periodic look,
    # a nudge). Looks every 0.2 s and nudges must not cut a 3 s backoff short.
    site.configure(recheck_interval=0.2, backoff_initial=3, backoff_max=3)
    daemon = site.start()
    site.sandbox.servers.primary.stop()
    site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.78"), "Move www")
    failed = "reconcile failed; backing off"
    first = daemon.wait_event(lambda e: e.get("event") == failed, "a failure")
    assert first["retry_in"] == 3 and first["kind"] == "temporary"
    for _ in range(5):
        _nudge(site)
    second = daemon.wait_event(lambda e: e.get("event") == failed, "the retry")
    gap = datetime.fromisoformat(second["timestamp"]) - datetime.fromisoformat(first["timestamp"])
    # The backoff starts when the failure is decided; its log line follows the metrics'
    # refresh, a few milliseconds later (2.9987 s between the lines was seen once). The bug
    # this guards against retried at each 0.2 s look.
    assert gap.total_seconds() >= first["retry_in"] - 0.05
    site.sandbox.servers.primary.start()
    event = daemon.wait_event(lambda e: e.get("event") == "reconciled", "the recovery")
    assert event["status"] == "confirmed"


def test_healthz_names_a_secondary_that_stops_serving(site: Site) -> None:
    # Issue 9: /healthz stayed 200 while secondaries lagged (or lost every zone).
    site.start()
    wait_until(lambda: site.get("/healthz") == (200, "ok\n"), "healthz ok")
    ns2 = site.sandbox.servers.secondaries[0]
    ns2.stop()
    status, body = wait_until(lambda: _unhealthy(site), "healthz to say a secondary lags")
    assert status == 503
    assert "secondary lags: ns2: example.com serves None" in body
    assert "ns3" not in body
    ns2.start()
    wait_until(lambda: site.get("/healthz") == (200, "ok\n"), "healthz ok again")


def _unhealthy(site: Site) -> tuple[int, str] | None:
    status, body = site.get("/healthz")
    return (status, body) if status != 200 else None


def test_a_missing_key_file_is_not_retried_until_sighup(site: Site) -> None:
    # A missing key file is permanent: retrying cannot help until the host is fixed.
    daemon = site.start()
    key_file = site.sandbox.servers.transfer_key_file
    moved = key_file.with_suffix(".away")
    key_file.rename(moved)
    sha = site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.79"), "Move www")
    event = daemon.wait_event(
        lambda e: e.get("event") == "reconcile failed; waiting for a new commit", "the failure"
    )
    assert event["kind"] == "permanent" and event["reason"] == "ConfigError"
    assert str(key_file.name) in event["error"]
    status, body = site.get("/healthz")
    assert status == 503 and key_file.name in body
    for _ in range(3):  # wakes and periodic looks (every second) do not retry it
        _nudge(site)
        time.sleep(1)
    assert metrics_of(site)[("reconciler_failures_total", (("reason", "ConfigError"),))] == 1
    moved.rename(key_file)
    daemon.process.send_signal(signal.SIGHUP)
    event = daemon.wait_event(lambda e: e.get("event") == "reconciled", "the reconcile")
    assert event["commit"] == sha[:12] and event["status"] == "confirmed"
    assert a_records(site, "www.example.com") == ["192.0.2.79"]


GARBAGE = {
    "not JSON": b"\x00\xffnot json at all{",
    "a string serial": None,  # made from the real file: every serial becomes a string
}


def _garbage(site: Site, kind: str) -> None:
    path = site.root / "state" / "state.json"
    content = GARBAGE[kind]
    if content is None:
        data = json.loads(path.read_text())
        for entry in data["zones"].values():
            entry["serial"] = str(entry["serial"])
        content = json.dumps(data).encode()
    path.write_bytes(content)


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_a_garbage_state_file_is_rebuilt_and_the_daemon_goes_on(site: Site, kind: str) -> None:
    # Issue 9, item 8: garbage in state.json made the daemon exit; a string serial crashed
    # the metrics refresh. It rebuilds the state from the primary and the git notes.
    site.configure(recheck_interval=60)  # the push is what makes the daemon read the state
    daemon = site.start()
    wait_until(lambda: site.get("/healthz") == (200, "ok\n"), "healthz ok")
    applied = site.state()["last_applied"]
    served = {zone: site.serials(zone)[0] for zone in ("example.com", "example.net")}
    _garbage(site, kind)
    sha = site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.80"), "Move www")
    event = daemon.wait_event(lambda e: e.get("event") == "state file rebuilt", "the rebuild")
    assert event["last_applied"] == applied[:12]
    assert event["zones"] == served and event["missing"] == []
    kept = Path(event["kept"])
    assert kept.parent == site.root / "state" and kept.name.startswith("state.json.unreadable-")
    event = daemon.wait_event(lambda e: e.get("event") == "reconciled", "the reconcile")
    assert event["commit"] == sha[:12] and event["status"] == "confirmed"
    assert event["reconciles"] == 1  # the rebuilt state needed no reconcile of its own
    assert a_records(site, "www.example.com") == ["192.0.2.80"]
    assert is_newer(site.serials()[0], served["example.com"])
    assert site.state()["last_applied"] == sha
    wait_until(lambda: site.get("/healthz") == (200, "ok\n"), "healthz ok again")
    assert metrics_of(site)[("reconciler_named_up", ())] == 1
    assert daemon.process.poll() is None


def test_a_state_rebuilt_while_named_is_down_is_red_until_a_reconcile_proves_it(
    site: Site,
) -> None:
    site.configure(recheck_interval=60)  # the push is what makes the daemon read the state
    daemon = site.start()
    wait_until(lambda: site.get("/healthz") == (200, "ok\n"), "healthz ok")
    served = {zone: site.serials(zone)[0] for zone in ("example.com", "example.net")}
    primary = site.sandbox.servers.primary
    primary.stop()
    _garbage(site, "not JSON")
    sha = site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.81"), "Move www")
    event = daemon.wait_event(lambda e: e.get("event") == "state file rebuilt", "the rebuild")
    assert event["zones"] == served  # from the git notes: the primary does not answer
    daemon.wait_event(lambda e: e.get("event") == "reconcile failed; backing off", "a failure")
    status, body = site.get("/healthz")
    assert status == 503
    assert "named does not answer on the primary" in body
    assert "the state file was unreadable" in body and "not JSON" in body
    primary.start()
    event = daemon.wait_event(lambda e: e.get("event") == "reconciled", "the recovery")
    assert event["commit"] == sha[:12] and event["status"] == "confirmed"
    assert a_records(site, "www.example.com") == ["192.0.2.81"]
    assert is_newer(site.serials()[0], served["example.com"])
    wait_until(lambda: site.get("/healthz") == (200, "ok\n"), "healthz ok again")


@pytest.mark.parametrize("command", ["apply", "rollback"])
def test_apply_and_rollback_while_the_daemon_runs_say_what_to_do(site: Site, command: str) -> None:
    # Issue 10, item 6: its own exit code, and a message that says how to go through the daemon.
    daemon = site.start()
    served = site.serials()
    result = subprocess.run(
        [sys.executable, "-m", "reconciler.cli", command, "--config", str(site.config)],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert result.returncode == 5, result.stderr
    said = result.stderr.strip()
    assert len(said.splitlines()) == 1, said
    assert f"the daemon (reconciler run, pid {daemon.process.pid}) holds the lock" in said
    assert "git revert" in said and "git push" in said
    assert "or stop the daemon" in said
    assert site.serials() == served


def test_a_lagging_secondary_that_catches_up_is_confirmed(site: Site) -> None:
    # Issue 10, item 6: after the catch-up the log said "unchanged"; it is a confirmation.
    daemon = site.start()
    ns3 = site.sandbox.servers.secondaries[1]
    ns3.stop()
    sha = site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.84"), "Move www")
    event = daemon.wait_event(lambda e: e.get("event") == "secondaries lag; retrying", "the lag")
    assert event["status"] == "unconfirmed" and "ns3" in event["reason"]
    ns3.start()
    event = daemon.wait_event(lambda e: e.get("event") == "reconciled", "the catch-up")
    assert event["commit"] == sha[:12] and event["status"] == "confirmed"
    assert a_records(site, "www.example.com") == ["192.0.2.84"]
    note = git.Repo(site.root / "repo.git").git.notes("--ref=reconciler", "show", sha)
    assert note.startswith("reconciler: confirmed at ")


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith("VmRSS:")).split()[1]) / 1024


def test_the_daemon_falls_back_to_its_idle_size_after_a_large_zone(site: Site) -> None:
    # Issue 13: after serving a large zone the daemon kept its peak (a 60 MB zone: 1.2 GB
    # for good). What a reconcile built is garbage once it is over, and is handed back.
    daemon = site.start()
    idle = _rss_mb(daemon.process.pid)
    lines = ["$TTL 3600", "@ IN SOA ns1 hostmaster 1 1800 900 1209600 1800"]
    lines += ["@ IN NS ns1", "@ IN NS ns2", "ns1 IN A 192.0.2.1", "ns2 IN A 192.0.2.2"]
    # 500,000 records: since the zone is held once (issue 13), 200,000 peak only ~70 MB over idle
    lines += [f"h{i} IN A 10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(500_000)]
    (site.root / "clone" / "zones" / "large.example.zone").write_text("\n".join(lines) + "\n")
    sha = commit_all(site.clone, "A large zone")
    site.clone.git.push("-q", "origin", "main")
    event = daemon.wait_event(
        lambda e: e.get("event") == "reconciled" and e.get("commit") == sha[:12], "the reconcile"
    )
    assert event["status"] == "confirmed"
    peak = int(
        next(x for x in Path(f"/proc/{daemon.process.pid}/status").read_text().splitlines()
             if x.startswith("VmHWM:")).split()[1]
    ) / 1024  # fmt: skip
    print(f"daemon RSS: idle {idle:.0f} MB, peak {peak:.0f} MB")
    assert peak > idle + 100  # the zone was large enough to matter
    wait_until(lambda: _rss_mb(daemon.process.pid) < idle + 50, "the daemon back near idle")


def test_the_daemon_takes_what_the_hook_proved_from_the_cache(site: Site, tmp_path: Path) -> None:
    # Issue 13: pre-receive checked the pushed commit with BIND; the daemon (the same user,
    # one cache, as in the demo) serves it without checking it again. Its BIND tools run
    # through wrappers on its PATH that write down each call.
    calls = tmp_path / "calls"
    calls.touch()
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("named-checkzone", "named-checkconf"):
        wrapper = folder / name
        wrapper.write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\nexec {tool(name)} "$@"\n')
        wrapper.chmod(0o755)
    daemon = site.start(env={"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"})
    daemon.wait_event(lambda e: e.get("event") == "no drift", "the drift check at start")
    calls.write_text("")  # the check at start transfers every zone: only the push counts
    sha = site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.85"), "Move www")
    event = daemon.wait_event(
        lambda e: e.get("event") == "reconciled" and e.get("commit") == sha[:12], "the push"
    )
    assert event["status"] == "confirmed"
    assert a_records(site, "www.example.com") == ["192.0.2.85"]
    lines = calls.read_text().splitlines()
    checks = [c for c in lines if c.startswith("named-checkzone -") and c != "named-checkzone -v"]
    checks += [c for c in lines if c.startswith("named-checkconf") and " -z" in c]
    assert checks == [], lines  # no zone checked again: its canonical form from the cache
