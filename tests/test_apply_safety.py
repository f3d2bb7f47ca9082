"""What a reconcile must never do, against real named processes and a real git repo.

Issue 9 (items 1-4, 7 and the rndc leftovers) and issue 10 (items 4 and 7): lost state
must not remove zones, the catalog is the reconciler's own, journals never wedge a zone,
a removed zone's leftovers never poison its re-adding, the safety limits are those of
the last applied commit, a rollback names the repo's line, secondaries do not NOTIFY.
Each test gets its own primary and two secondaries on 127.0.0.1 (the demo's sandbox).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.apply import reconcile
from reconciler.bind import probe
from reconciler.bind.catalog import CATALOG, catalog_zone_text
from reconciler.bind.keys import new_key, read_key_file, write_key_file
from reconciler.cli.main import main
from reconciler.devtools import demo
from reconciler.devtools.init import commit_all
from reconciler.errors import BindError
from reconciler.model.serial import is_newer
from tests.test_apply import WWW, ZONE, Deployment

ZONES = ("example.com", "example.net")


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    sandbox = demo.setup(
        tmp_path / "demo", primary_options="max-zone-ttl 86400;", deadline=4, hooks=False
    )
    try:
        yield Deployment(sandbox)
    finally:
        sandbox.servers.stop_all()


def wait_for(check: object, what: str, limit: float = 60.0) -> None:
    """Poll `check()` until it is true; bounded, so a broken server fails the test."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


# --- issue 10 item 7: secondaries as the classic setup has them ------------------------------


def test_secondaries_send_no_notify(deployment: Deployment) -> None:
    """bind-config's `notify no`: a secondary does not NOTIFY the servers of a zone's NS set."""
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.99"), "Move www")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    for secondary in deployment.sandbox.servers.secondaries:
        log = secondary.log_file.read_text()
        assert "transfer of 'example.com/IN'" in log  # it did get the change
        assert "sending notifies" not in log, secondary.name


# --- issue 9, extras: rndc leaves nothing behind ----------------------------------------------


def test_kill_9_during_an_rndc_call_leaves_no_temp_folder(
    deployment: Deployment, tmp_path: Path
) -> None:
    """rndc's own config lives in the state folder: nothing is left in the temp folder."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # accepts, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    silent.settimeout(120)
    config = Path(deployment.config)
    text = config.read_text()
    port = deployment.sandbox.servers.primary.rndc_port
    config.write_text(text.replace(f"port = {port}\n", f"port = {silent.getsockname()[1]}\n"))
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.99"), "Move www")
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli", "apply", "--config", str(config)],
        env={**os.environ, "TMPDIR": str(private_tmp)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        connection, _ = silent.accept()  # rndc is waiting for an answer now
        process.send_signal(signal.SIGKILL)
        process.wait()
        connection.close()
    finally:
        if process.poll() is None:
            process.kill()
        silent.close()
    assert process.returncode == -signal.SIGKILL
    assert [p.name for p in private_tmp.iterdir() if p.name.startswith("reconciler-rndc-")] == []
    conf = (deployment.sandbox.root / "state" / "rndc.conf").read_text()
    assert "include" in conf and "secret" not in conf
    assert read_key_file(deployment.sandbox.servers.rndc_key_file).secret not in conf


# --- issue 9 item 1: lost last-good copies must not delete zones ------------------------------


def _records(deployment: Deployment, zone: str) -> list[list[str]]:
    """Each server's answer for the zone's www and ftp names, for comparing data."""
    return [
        deployment.answer(server, f"www.{zone}") + deployment.answer(server, f"ftp.{zone}")
        for server in deployment.servers
    ]


def _served_everywhere(deployment: Deployment, zone: str) -> int:
    serials = deployment.serials(zone)
    assert serials[0] is not None and serials == [serials[0]] * 3, f"{zone}: {serials}"
    return serials[0]


def test_lost_good_copies_do_not_make_served_zones_new(deployment: Deployment) -> None:
    before = {zone: _served_everywhere(deployment, zone) for zone in ZONES}
    shutil.rmtree(deployment.sandbox.root / "state" / "good")
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.99"), "Move www")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    (planned,) = outcome["plan"]["zones"]
    assert (planned["zone"], planned["action"]) == ("example.com", "change")
    assert [(c["owner"], c["rtype"]) for c in planned["changes"]] == [("www.example.com.", "A")]
    assert is_newer(_served_everywhere(deployment, "example.com"), before["example.com"])
    assert _served_everywhere(deployment, "example.net") == before["example.net"]
    for zone in ZONES:
        assert (deployment.sandbox.root / "state" / "good" / f"{zone}.zone").exists()


def test_lost_state_keeps_every_zone_and_moves_serials_forward(deployment: Deployment) -> None:
    before = {zone: _served_everywhere(deployment, zone) for zone in ZONES}
    (deployment.sandbox.root / "state" / "state.json").unlink()
    shutil.rmtree(deployment.sandbox.root / "state" / "good")
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.99"), "Move www")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    assert [z["action"] for z in outcome["plan"]["zones"]] == ["change"]
    assert is_newer(_served_everywhere(deployment, "example.com"), before["example.com"])
    assert _served_everywhere(deployment, "example.net") == before["example.net"]
    code, status = deployment.run("status")
    assert [z["zone"] for z in status["zones"]] == list(ZONES)
    assert status["converged"] is True, status


def _named_conf_edited_not_reloaded(deployment: Deployment) -> None:
    """named still refuses TTLs over a day; its named.conf on disk (which check reads)
    no longer says so: what check cannot foresee."""
    named_conf = deployment.sandbox.host.named_conf
    assert named_conf is not None
    text = named_conf.read_text()
    assert "max-zone-ttl 86400;" in text
    named_conf.write_text(text.replace("max-zone-ttl 86400;", ""))


def test_rollback_after_lost_good_copies_removes_no_zone(deployment: Deployment) -> None:
    before = {zone: _served_everywhere(deployment, zone) for zone in ZONES}
    _named_conf_edited_not_reloaded(deployment)
    shutil.rmtree(deployment.sandbox.root / "state" / "good")
    deployment.edit(
        ZONE, lambda t: t.replace(WWW, "www 172800 IN A 192.0.2.77"), "Over max-zone-ttl"
    )
    code, outcome = deployment.apply()
    assert code == 2, outcome
    for zone in ZONES:
        serial = _served_everywhere(deployment, zone)
        assert serial == before[zone] or is_newer(serial, before[zone])
    assert [deployment.answer(s, "www.example.com") for s in deployment.servers] == [
        ["192.0.2.10"]
    ] * 3


def test_named_not_answering_is_temporary_and_writes_nothing(deployment: Deployment) -> None:
    primary = deployment.sandbox.servers.primary
    zone_file = deployment.sandbox.host.zone_dir / "example.com.zone"
    written = zone_file.read_bytes()
    primary.stop()
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.99"), "Move www")
    with pytest.raises(BindError, match="does not answer"):
        reconcile.apply(deployment.sandbox.host)
    assert zone_file.read_bytes() == written
    primary.start()
    code, outcome = deployment.apply()
    assert code == 0, outcome
    assert deployment.answer(primary, "www.example.com") == ["192.0.2.99"]


# --- issue 9 item 3: journals never wedge a zone ----------------------------------------------


def test_wrong_rndc_key_then_named_restart_loses_no_zone(
    deployment: Deployment, tmp_path: Path
) -> None:
    servers = deployment.sandbox.servers
    wrong = tmp_path / "wrong-rndc.key"
    write_key_file(wrong, new_key(read_key_file(servers.rndc_key_file).name))
    host = replace(deployment.sandbox.host, rndc_key_file=wrong)
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.98"), "Move www")
    assert deployment.apply()[0] == 0  # named now keeps a journal of example.com
    before = _served_everywhere(deployment, "example.com")
    deployment.edit(ZONE, lambda t: t.replace("192.0.2.98", "192.0.2.99"), "Move www again")
    with pytest.raises(BindError):
        reconcile.apply(host)
    offset = servers.primary.log_file.stat().st_size
    servers.primary.stop()
    servers.primary.start()
    log = servers.primary.log_file.read_bytes()[offset:].decode()
    assert "journal" not in log or "out of sync" not in log, log
    assert deployment.serials()[0] is not None  # named loaded the zone
    code, outcome = deployment.apply()
    assert code == 0, outcome
    assert is_newer(_served_everywhere(deployment, "example.com"), before)
    assert [deployment.answer(s, "www.example.com") for s in deployment.servers] == [
        ["192.0.2.99"]
    ] * 3


def test_a_zone_file_newer_than_its_journal_is_repaired(deployment: Deployment) -> None:
    """What a write that named never read leaves (a kill -9, an old version): repaired."""
    servers = deployment.sandbox.servers
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.98"), "Move www")
    assert deployment.apply()[0] == 0  # named now keeps a journal of example.com
    zone_file = deployment.sandbox.host.zone_dir / "example.com.zone"
    assert zone_file.with_name("example.com.zone.jnl").exists()
    before = _served_everywhere(deployment, "example.com")
    servers.primary.stop()
    text = zone_file.read_text()
    zone_file.write_text(
        text.replace(str(before), str(before + 5)).replace("192.0.2.98", "192.0.2.66")
    )
    servers.primary.start()
    assert deployment.serials()[0] is None  # the wedge: "journal out of sync with zone"
    code, outcome = deployment.apply()  # the same commit, nothing new pushed
    assert code == 0, outcome
    serial = _served_everywhere(deployment, "example.com")
    assert is_newer(serial, before + 5)  # past everything written, never backwards
    assert [deployment.answer(s, "www.example.com") for s in deployment.servers] == [
        ["192.0.2.98"]
    ] * 3
    servers.primary.stop()  # and it stays loadable
    servers.primary.start()
    wait_for(lambda: deployment.serials()[0] == serial, "named to load example.com again")


# --- issue 9 item 4: a removed zone's leftovers never poison its re-adding --------------------

ORG = """$TTL 300
@ SOA ns1.example.com. hostmaster.example.com. 1 1800 900 1209600 1800
@ NS ns1.example.com.
@ NS ns2.example.com.
"""


def test_a_removed_zone_re_added_with_other_data_starts_clean(deployment: Deployment) -> None:
    org = "zones/example.org.zone"
    deployment.edit(org, lambda _: ORG + "www A 192.0.2.44\n", "Add example.org")
    assert deployment.apply()[0] == 0
    deployment.edit(org, lambda t: t + "ftp A 192.0.2.45\n", "Add ftp")
    assert deployment.apply()[0] == 0
    last = _served_everywhere(deployment, "example.org")
    (deployment.sandbox.root / "clone" / org).unlink()
    commit_all(deployment.clone, "Remove example.org\n\nReconciler-Allow: unsafe")
    deployment.clone.git.push("-q", "origin", "main")
    assert deployment.apply()[0] == 0
    zone_dir = deployment.sandbox.host.zone_dir
    assert sorted(p.name for p in zone_dir.iterdir() if p.name.startswith("example.org")) == []
    wait_for(lambda: deployment.serials("example.org") == [None] * 3, "example.org to go")
    deployment.edit(org, lambda _: ORG + "www A 192.0.2.55\n", "Add example.org again")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    again = _served_everywhere(deployment, "example.org")
    assert is_newer(again, last)  # the name's serial never goes backwards
    assert _records(deployment, "example.org") == [["192.0.2.55"]] * 3
    deployment.edit(org, lambda t: t + "ftp A 192.0.2.56\n", "Add ftp again")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    assert _records(deployment, "example.org") == [["192.0.2.55", "192.0.2.56"]] * 3


# --- issue 9 item 2: the catalog is the reconciler's own ----------------------------------------


def test_a_zone_named_like_the_catalog_never_replaces_it(deployment: Deployment) -> None:
    catalog_file = deployment.sandbox.servers.catalog_file
    written = catalog_file.read_bytes()
    deployment.edit(f"zones/{CATALOG}.zone", lambda _: ORG + "www A 192.0.2.44\n", "Catalog?")
    code, outcome = deployment.apply()
    assert code == 1, outcome
    assert f"zones/{CATALOG}.zone" in outcome["reason"] and "catalog" in outcome["reason"]
    assert catalog_file.read_bytes() == written
    for zone in ZONES:
        _served_everywhere(deployment, zone)


def test_a_catalog_overwritten_on_the_primary_is_regenerated(deployment: Deployment) -> None:
    servers = deployment.sandbox.servers
    serial = probe.soa_serial(servers.primary.address, servers.primary.port, CATALOG)
    assert serial is not None
    # What a pushed zones/catalog.invalid.zone once did: a catalog that lists a stranger.
    servers.catalog_file.write_text(catalog_zone_text(["stranger.example"], serial + 10))
    servers.rndc().reload(CATALOG)
    wait_for(
        lambda: deployment.serials("example.com")[1:] == [None, None],
        "the secondaries to drop the zones the overwritten catalog no longer lists",
    )
    code, status = deployment.run("status")
    assert status["converged"] is False
    code, outcome = deployment.apply()  # the same commit: nothing new pushed
    assert code == 0, outcome
    members = probe.axfr(
        servers.primary.address, servers.primary.port, CATALOG, servers.transfer_key()
    )
    assert [line.split()[-1] for line in members if " PTR " in line] == [
        "example.com.",
        "example.net.",
    ]
    for zone in ZONES:
        wait_for(lambda zone=zone: None not in deployment.serials(zone), f"{zone} back")
        _served_everywhere(deployment, zone)
    code, status = deployment.run("status")
    assert status["converged"] is True, status


# --- issue 9 item 7: the safety limits are the last applied commit's ---------------------------

HOSTS = "".join(f"h{i}     IN A    192.0.2.{100 + i}\n" for i in range(6))


def _renumber(text: str) -> str:
    """Changes 8 of example.com's 18 records (44%, over the 30% limit)."""
    for i in range(6):
        text = text.replace(f"192.0.2.{100 + i}\n", f"192.0.2.{200 + i}\n")
    return text.replace(WWW, "www     IN A    192.0.2.11").replace("192.0.2.25", "192.0.2.26")


def _commit_both(deployment: Deployment, toml: str, zone: str, message: str) -> None:
    clone = deployment.sandbox.root / "clone"
    (clone / "reconciler.toml").write_text(toml)
    (clone / ZONE).write_text(zone)
    commit_all(deployment.clone, message)
    deployment.clone.git.push("-q", "origin", "main")


def test_loosening_safety_in_the_same_commit_does_not_make_a_big_change_safe(
    deployment: Deployment,
) -> None:
    deployment.edit(ZONE, lambda t: t + HOSTS, "Six hosts")
    assert deployment.apply()[0] == 0
    before = deployment.serials()
    clone = deployment.sandbox.root / "clone"
    toml = (clone / "reconciler.toml").read_text()
    assert "min_records = 10\n" in toml
    _commit_both(
        deployment,
        toml.replace("min_records = 10\n", "min_records = 1000\n"),
        _renumber((clone / ZONE).read_text()),
        "Renumber, and raise min_records so that it passes",
    )
    code, outcome = deployment.apply()
    assert code == 3, outcome
    assert "[safety] min_records from 10 to 1000" in outcome["reason"]
    assert "example.com: deletes or changes 8 of 18 records" in outcome["reason"]
    assert deployment.serials() == before


def test_a_commit_that_loosens_safety_is_unsafe_and_the_plan_says_so(
    deployment: Deployment,
) -> None:
    deployment.edit(ZONE, lambda t: t + HOSTS, "Six hosts")
    assert deployment.apply()[0] == 0
    deployment.edit(
        "reconciler.toml",
        lambda t: t.replace("max_change_percent = 30\n", "max_change_percent = 90\n"),
        "Allow larger changes",
    )
    clone = str(deployment.sandbox.root / "clone")
    shown = CliRunner().invoke(main, ["-C", clone, "plan", "--base", "HEAD~1", "--head", "HEAD"])
    assert shown.exit_code == 3, shown.output
    assert "[safety] max_change_percent from 30 to 90" in shown.stdout
    code, outcome = deployment.apply()
    assert code == 3, outcome
    assert outcome["reason"] == (
        "unsafe: reconciler.toml: raises [safety] max_change_percent from 30 to 90 "
        "(a looser safety limit)"
    )
    commit_all(deployment.clone, "Allow larger changes\n\nReconciler-Allow: unsafe")
    deployment.clone.git.push("-q", "origin", "main")
    assert deployment.apply()[0] == 0
    deployment.edit(ZONE, _renumber, "Renumber: 44%, under the new limit of 90%")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    assert [deployment.answer(s, "h0.example.com") for s in deployment.servers] == [
        ["192.0.2.200"]
    ] * 3


# --- issue 10 item 4: a rollback's reason points at the repo ------------------------------------


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[Deployment]:
    """A primary stricter than anything check can know of: its limits are only in its
    named.conf, and daemon.toml does not name that file."""
    sandbox = demo.setup(
        tmp_path / "demo",
        primary_options="max-zone-ttl 86400;\nmax-records-per-type 3;",
        deadline=4,
        hooks=False,
    )
    try:
        config = sandbox.root / "daemon.toml"
        text = config.read_text()
        assert "\nnamed_conf = " in text
        config.write_text("\n".join(x for x in text.splitlines() if "named_conf" not in x))
        yield Deployment(sandbox)
    finally:
        sandbox.servers.stop_all()


def test_a_rollback_names_the_repo_line_and_keeps_bind_s_whole_message(strict: Deployment) -> None:
    text = (strict.sandbox.root / "clone" / ZONE).read_text()
    many = "".join(f"many    IN A    192.0.2.{i}\n" for i in range(1, 5))
    strict.edit(ZONE, lambda t: t + many, "Four addresses for many")
    code, outcome = strict.apply()
    assert code == 2, outcome
    first = len(text.splitlines()) + 1  # named refuses one of the four, the one over 3
    (problem,) = outcome["problems"]
    assert (problem["file"], problem["record"]) == (ZONE, "many.example.com. A")
    assert problem["line"] in range(first, first + 4)
    assert (
        f"{ZONE}:{problem['line']}: example.com: many.example.com. A: named refused the zone "
        "at load: too many records (must not exceed 3)"
    ) in outcome["reason"]
    assert str(strict.sandbox.host.zone_dir) not in outcome["reason"]

    strict.edit(
        ZONE, lambda t: t.replace(many, "").replace(WWW, "www 172800 IN A 192.0.2.77"), "TTL"
    )
    code, outcome = strict.apply()
    assert code == 2, outcome
    www = next(n for n, x in enumerate(text.splitlines(), 1) if x == WWW)
    assert (
        f"{ZONE}:{www}: example.com: www.example.com. A: named refused the zone at load: "
        "TTL 172800 exceeds configured max-zone-ttl 86400"
    ) in outcome["reason"]
    assert [strict.answer(s, "www.example.com") for s in strict.servers] == [["192.0.2.10"]] * 3
