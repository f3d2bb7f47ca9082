"""Drift: a record changed by hand on the primary, found by the daemon and, when asked, undone.

The daemon runs on the demo's sandbox (tests/daemonsite.py) with `[drift] interval = 1`.
The hand edit is what an operator does on a primary: edit the zone file named loads
and `rndc reload` it. What is asserted is what an operator looks at: the daemon's log
line with the diff, `reconciler status`, /metrics, /healthz, and what the servers answer.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.apply.drift import compare, nothing_ignored
from reconciler.bind import probe
from reconciler.bind.keys import new_key, write_key_file
from reconciler.cli.main import main
from reconciler.config.host import parse_host_config
from reconciler.devtools.init import commit_all
from reconciler.errors import ValidationError
from reconciler.model.serial import is_newer
from reconciler.model.zone import CanonicalZone
from tests.daemonsite import Site, a_records, metrics_of, wait_until

OLD = "www.example.com. 3600 IN A 192.0.2.10"
NEW = "www.example.com. 3600 IN A 192.0.2.66"


def drift_config(site: Site, action: str) -> None:
    with open(site.config, "a", encoding="utf-8") as handle:
        handle.write(f'\n[drift]\ninterval = 1\naction = "{action}"\n')


def edit_by_hand(site: Site, bump: bool) -> int:
    """www moved in the primary's zone file, then reloaded with rndc (`bump`: a new serial)
    or, with the same serial (which `rndc reload` refuses under ixfr-from-differences),
    named restarted; the serial named serves."""
    primary = site.sandbox.servers.primary
    path = site.zone_dir / "example.com.zone"
    lines = path.read_text().splitlines()
    assert OLD.split() in [line.split() for line in lines]
    edited = tuple(NEW if line.split() == OLD.split() else line for line in lines)
    zone = CanonicalZone.from_lines("example.com", edited)
    serial = zone.serial + 1 if bump else zone.serial
    if bump:
        path.write_text(zone.with_serial(serial).text())
        site.sandbox.servers.rndc().reload("example.com")
    else:
        primary.stop()
        path.write_text(zone.text())
        primary.start()

    def moved() -> bool:
        answer = probe.query(primary.address, primary.port, "www.example.com", "A", timeout=1.0)
        return answer is not None and any(
            r.data == "192.0.2.66" for r in answer.records("answer", "www.example.com", "A")
        )

    wait_until(moved, "the primary to serve the hand edit")
    return serial


def status(site: Site, *extra: str) -> str:
    result = CliRunner().invoke(main, ["status", "--config", str(site.config), *extra])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_hand_edit_is_reported_with_its_diff(site: Site) -> None:
    drift_config(site, "report")
    daemon = site.start()
    daemon.wait_event(lambda e: e.get("event") == "no drift", "the first drift check")
    served = edit_by_hand(site, bump=True)

    event = daemon.wait_event(lambda e: e.get("event") == "drift", "drift to be reported")
    assert event["zone"] == "example.com" and event["served_serial"] == served
    assert event["diff"] == [f"- {OLD}", f"+ {NEW}"]

    def unhealthy() -> str | None:
        code, body = site.get("/healthz")
        return body if code == 503 and "drift: example.com" in body else None

    body = wait_until(unhealthy, "/healthz to say drift")
    assert "drift: example.com: 2 record(s) differ from git" in str(body)
    metrics = metrics_of(site)
    assert metrics[("reconciler_zone_drift", (("zone", "example.com"),))] == 1
    assert metrics[("reconciler_zone_drift", (("zone", "example.net"),))] == 0
    report = json.loads(status(site, "--format", "json"))["drift"]
    assert [z["zone"] for z in report["drifted"]] == ["example.com"]
    assert report["drifted"][0]["diff"] == [f"- {OLD}", f"+ {NEW}"]
    text = status(site)
    assert "DRIFT" in text and f"    + {NEW}" in text

    # Reported, not restored: the next check finds it again and the hand edit is served.
    daemon.wait_event(lambda e: e.get("event") == "drift", "the next drift check")
    primary = site.sandbox.servers.primary
    assert probe.soa_serial(primary.address, primary.port, "example.com", 1.0) == served


def test_hand_edit_is_restored_from_git(site: Site) -> None:
    drift_config(site, "restore")
    daemon = site.start()
    daemon.wait_event(lambda e: e.get("event") == "no drift", "the first drift check")
    before = site.serials()[0]
    assert before is not None
    edit_by_hand(site, bump=False)  # the same serial: only the content tells

    event = daemon.wait_event(lambda e: e.get("event") == "drift", "drift to be found")
    assert event["served_serial"] == before and event["diff"] == [f"- {OLD}", f"+ {NEW}"]
    restored = daemon.wait_event(lambda e: e.get("event") == "drift restored", "the restore")
    assert restored["zones"] == ["example.com"] and restored["status"] == "confirmed"
    serial = restored["served"]["example.com"]
    assert is_newer(serial, before)
    daemon.wait_event(lambda e: e.get("event") == "no drift", "no drift after the restore")
    assert site.serials() == [serial] * 3
    assert a_records(site, "www.example.com") == ["192.0.2.10"]

    def healthy() -> bool:
        return site.get("/healthz")[0] == 200

    wait_until(healthy, "/healthz to be ok again")
    assert metrics_of(site)[("reconciler_zone_drift", (("zone", "example.com"),))] == 0


def test_an_acme_client_updating_its_dynamic_names_is_no_drift(site: Site) -> None:
    key_file = site.root / "servers" / "keys" / "acme.key"
    write_key_file(key_file, new_key("acme-key"))
    with open(site.config, "a", encoding="utf-8") as handle:
        handle.write(f'\n[dynamic]\nkey_file = "{key_file.relative_to(site.root)}"\n')
    drift_config(site, "report")
    daemon = site.start()
    toml = site.root / "clone" / "reconciler.toml"
    toml.write_text(
        toml.read_text()
        + '\n[dynamic."example.com"]\nkey = "acme-key"\nnames = ["_acme-challenge"]\n'
        + 'types = ["TXT"]\n'
    )
    commit_all(site.clone, "Let the ACME client update _acme-challenge")
    site.clone.git.push("-q", "origin", "main")
    daemon.wait_event(lambda e: e.get("event") == "reconciled", "the [dynamic] commit")
    primary = site.sandbox.servers.primary
    update = (
        f"server {primary.address} {primary.port}\nzone example.com\n"
        'update add _acme-challenge.example.com. 60 IN TXT "token-1"\nsend\n'
    )
    done = subprocess.run(
        ["nsupdate", "-k", str(key_file)], input=update, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    answer = probe.query(primary.address, primary.port, "_acme-challenge.example.com", "TXT", 1.0)
    assert answer is not None and answer.records("answer", "_acme-challenge.example.com", "TXT")
    daemon.seen = len(daemon.events())
    checked = ("drift", "no drift")
    daemon.wait_event(lambda e: e.get("event") in checked, "a check (it may predate the update)")
    event = daemon.wait_event(lambda e: e.get("event") in checked, "a check after the update")
    assert event["event"] == "no drift", event
    assert metrics_of(site)[("reconciler_zone_drift", (("zone", "example.com"),))] == 0


def _zone(*lines: str) -> CanonicalZone:
    soa = "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 5 1800 900 1209600 60"
    return CanonicalZone.from_lines("example.com", (soa, *lines))


def test_compare_leaves_out_the_serial_signing_and_ignored_names() -> None:
    applied = _zone(OLD, '_acme-challenge.example.com. 60 IN TXT "a"')
    served = _zone(
        OLD, "www.example.com. 3600 IN RRSIG A 13 3 3600 20270101000000 20261201000000 1 x. AA=="
    ).with_serial(9)
    acme = lambda zone, owner, rtype: owner.startswith("_acme-challenge.")  # noqa: E731
    assert compare("example.com", applied, served, acme) is None
    drift = compare("example.com", applied, served, nothing_ignored)
    assert drift is not None and drift.served_serial == 9 and drift.applied_serial == 5
    assert drift.diff == ('- _acme-challenge.example.com. 60 IN TXT "a"',)
    gone = compare("example.com", applied, None, nothing_ignored)
    assert gone is not None and gone.served_serial is None and len(gone.diff) == 3


def test_drift_action_must_be_report_or_restore(tmp_path: Path) -> None:
    text = (
        '[repo]\npath = "r"\n[bind]\nzone_dir = "z"\ninclude_file = "i"\n'
        '[rndc]\nkey_file = "k"\n[tsig]\nkey_file = "t"\n[state]\ndir = "s"\n'
    )
    host = parse_host_config(text, "daemon.toml", tmp_path)
    assert (host.drift_interval, host.drift_action) == (300.0, "report")
    host = parse_host_config(text + '[drift]\ninterval = 0\naction = "restore"\n', "d", tmp_path)
    assert (host.drift_interval, host.drift_action) == (0.0, "restore")
    with pytest.raises(ValidationError) as caught:
        parse_host_config(text + '[drift]\naction = "fix"\n', "daemon.toml", tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        'daemon.toml:13: [drift] action must be "report" or "restore"'
    ]
