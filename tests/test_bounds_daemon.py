"""The daemon refuses what would exhaust it, and keeps answering while it checks (issue 9 item 5).

Each bomb is pushed to the daemon on the demo sandbox with the pre-receive hook removed
(the hook runs the same `check`: tests/test_bounds.py). The commit is refused as
invalid with the limit it hit, nothing is written, /healthz answers while the check
runs, and a SIGTERM in the middle of a template bomb is honoured.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from reconciler.devtools.init import commit_all
from tests.conftest import GOOD_ZONE
from tests.daemonsite import WAIT, Site, wait_until

ZONE = "zones/example.com.zone"
TEMPLATE = "zones/example.org.zone.j2"
POWER_TOWER = 'x IN TXT "{{ 10**(10**10) }}"\n'
LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}\n"

# (what, file, line appended to the file, words the refusal's reason has)
BOMBS = [
    ("$GENERATE 1-2147483647", ZONE, "$GENERATE 1-2147483647 h$ IN A 192.0.2.1\n", "max_records"),
    ("$GENERATE 1-3000000", ZONE, "$GENERATE 1-3000000 h$ IN A 192.0.2.1\n", "max_records"),
    ("power tower", TEMPLATE, POWER_TOWER, "the CPU time limit"),
    ("nested loops", TEMPLATE, LOOPS, "the CPU time limit"),
    ("ten gigabytes", TEMPLATE, "x IN TXT \"{{ 'a'*10**10 }}\"\n", "the memory limit"),
    ("self-include", TEMPLATE, '{% include "example.org.zone.j2" %}\n', "nest too deeply"),
]


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of each child process of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(entry.name), command))
    return found


def _renderers(pid: int) -> list[int]:
    return [child for child, command in _children(pid) if "reconciler.check.render" in command]


def _push_bomb(site: Site, original: str, path: str, line: str, message: str) -> str:
    """A commit whose only change from the last good one is the bomb in `path`."""
    clone = site.root / "clone"
    (clone / ZONE).write_text(original)  # undo an earlier bomb
    (clone / TEMPLATE).unlink(missing_ok=True)
    (clone / path).write_text((original if path == ZONE else GOOD_ZONE) + line)
    site.clone.git.add("-A")
    commit_all(site.clone, message)
    site.clone.git.push("-q", "origin", "main")
    return site.clone.head.commit.hexsha


def test_every_bomb_is_refused_as_invalid_and_the_daemon_keeps_answering(site: Site) -> None:
    (site.root / "repo.git" / "hooks" / "pre-receive").unlink()
    daemon = site.start()
    served = site.serials()
    original = (site.root / "clone" / ZONE).read_text()
    zone_files = sorted(p.name for p in site.zone_dir.iterdir())
    for what, path, line, words in BOMBS:
        sha = _push_bomb(site, original, path, line, what)
        answers: list[int] = []

        def refused(sha: str = sha, answers: list[int] = answers) -> dict | None:
            answers.append(site.get("/healthz")[0])  # asked while the daemon works
            for event in daemon.events():
                if event.get("commit") == sha[:12] and "status" in event:
                    return event
            return None

        event = wait_until(refused, f"the daemon's verdict on {what}")
        assert isinstance(event, dict)
        assert event["status"] == "invalid", (what, event)
        assert words in event["reason"], (what, event["reason"])
        assert answers and set(answers) <= {200, 503}, answers
        assert site.get("/healthz")[0] == 503
        assert site.serials() == served  # nothing served changed
        assert sorted(p.name for p in site.zone_dir.iterdir()) == zone_files  # nothing written
    assert daemon.process.poll() is None


def test_sigterm_is_honoured_while_a_template_bomb_renders(site: Site) -> None:
    (site.root / "repo.git" / "hooks" / "pre-receive").unlink()
    daemon = site.start()
    original = (site.root / "clone" / ZONE).read_text()
    _push_bomb(site, original, TEMPLATE, POWER_TOWER, "power tower")
    renderer = wait_until(lambda: _renderers(daemon.process.pid), "the template renderer")
    assert isinstance(renderer, list)
    status, _ = site.get("/healthz")  # the worker waits on the renderer; HTTP still answers
    assert status in (200, 503)
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=WAIT) == 0
    events = daemon.events()
    assert events[-1]["event"] == "daemon stopped"
    refusals = [e for e in events if e.get("status") == "invalid"]
    assert refusals and "the CPU time limit" in refusals[-1]["reason"]
    assert not any(os.path.exists(f"/proc/{pid}") for pid in renderer)


def test_a_commit_cannot_raise_the_record_limit_above_the_hosts(site: Site) -> None:
    """A pusher who raises [safety] max_records and adds a big zone in one commit (with the
    trailer that makes a loosened limit 'safe') is still held to daemon.toml's ceiling."""
    (site.root / "repo.git" / "hooks" / "pre-receive").unlink()
    with site.config.open("a") as config:
        config.write("\n[check]\nmax_records = 1000\n")
    daemon = site.start()
    served = site.serials()
    clone = site.root / "clone"
    toml = clone / "reconciler.toml"
    toml.write_text(toml.read_text().replace("max_records = 1000000", "max_records = 100000000"))
    zone = clone / ZONE
    zone.write_text(zone.read_text() + "$GENERATE 1-5000 h$ IN A 192.0.2.1\n")
    site.clone.git.add("-A")
    commit_all(site.clone, "Five thousand hosts\n\nReconciler-Allow: unsafe")
    site.clone.git.push("-q", "origin", "main")
    sha = site.clone.head.commit.hexsha
    event = daemon.wait_event(lambda e: e.get("commit") == sha[:12] and "status" in e, "verdict")
    assert event["status"] == "invalid", event
    assert "over the limit of 1000 records ([check] max_records in daemon.toml)" in event["reason"]
    assert site.serials() == served
