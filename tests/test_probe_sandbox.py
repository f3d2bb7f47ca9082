"""probe.py and sandbox.py against real named processes on 127.0.0.1: a primary and two
secondaries that follow its catalog zone over TSIG, configured with `secondary_config`
(what `reconciler bind-config` prints). One sandbox for the module; every test leaves it as it
found it, so the order does not matter."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.atomic import write_atomic
from reconciler.bind import probe
from reconciler.bind.catalog import CATALOG, catalog_zone_text
from reconciler.bind.conf import primary_include, secondary_config
from reconciler.bind.keys import new_key, read_key_file
from reconciler.bind.tools import checkconf
from reconciler.devtools import sandbox
from reconciler.errors import BindError, TransferError

ZONE = """$TTL 3600
@       IN SOA ns1 hostmaster ( {serial} 1800 900 1209600 1800 )
@       IN NS  ns1
@       IN MX  10 mail
ns1     IN A   192.0.2.1
mail    IN A   192.0.2.25
www     IN A   192.0.2.80
"""
WAIT = 30.0  # a bound on every wait, never asserted on: slow machines are not failures


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sandbox.Servers]:
    with sandbox.start_servers(tmp_path_factory.mktemp("sandbox")) as started:
        yield started


def _catalog_serial(servers: sandbox.Servers) -> int:
    primary = servers.primary
    serial = probe.soa_serial(primary.address, primary.port, CATALOG)
    assert serial is not None
    return serial


def _publish(servers: sandbox.Servers, zones: dict[str, str]) -> int:
    """Serve exactly `zones` from the primary and list them in the catalog, as `apply` does:
    zone files, the catalog (serial moved on), the include; rndc reconfig and reload."""
    primary = servers.primary
    assert primary.include_file is not None
    files: dict[str, Path] = {}
    for zone, text in zones.items():
        files[zone] = primary.zone_dir / f"{zone}.zone"
        write_atomic(files[zone], text)
    serial = _catalog_serial(servers) + 1
    write_atomic(servers.catalog_file, catalog_zone_text(zones, serial))
    include = primary_include(
        files,
        [s.server for s in servers.secondaries],
        sandbox.TRANSFER_KEY,
        servers.catalog_file,
        servers.transfer_key_file,
    )
    write_atomic(primary.include_file, include)
    assert checkconf(primary.conf) == []
    rndc = servers.rndc()
    rndc.reconfig()
    rndc.reload(CATALOG)
    assert probe.wait_for_serial(primary.address, primary.port, CATALOG, serial, WAIT) == (serial)
    return serial


def _named_processes(root: Path) -> list[int]:
    """Live processes whose command line names a file under `root`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(root).encode() in cmdline:
                found.append(int(entry.name))
    return found


# --- the sandbox -----------------------------------------------------------------------------


def test_every_server_answers_for_the_catalog(servers: sandbox.Servers) -> None:
    serial = _catalog_serial(servers)
    for server in servers.secondaries:
        assert server.running
        assert probe.wait_for_serial(server.address, server.port, CATALOG, serial, WAIT) == (serial)
        assert probe.soa_serial(server.address, server.port, CATALOG, tcp=True) == serial
    ports = [p for s in servers.all() for p in (s.port, s.rndc_port)]
    assert len(set(ports)) == 6
    assert [s.name for s in servers.all()] == ["ns1", "ns2", "ns3"]


def test_sandbox_configs_pass_named_checkconf(servers: sandbox.Servers) -> None:
    for server in servers.all():
        assert checkconf(server.conf) == [], server.name
    primary_conf = servers.primary.conf.read_text()
    assert f'include "{servers.primary.include_file}";' in primary_conf
    assert "notify-delay 0;" in primary_conf
    for server in servers.secondaries:
        piece = secondary_config(
            servers.primary.server, sandbox.TRANSFER_KEY, servers.transfer_key_file, server.zone_dir
        )
        conf = server.conf.read_text()
        assert piece.top_level in conf and piece.options in conf  # what bind-config prints


def test_to_dict_has_addresses_and_no_secrets(servers: sandbox.Servers) -> None:
    data = servers.to_dict()
    text = json.dumps(data)
    for key_file in (servers.transfer_key_file, servers.rndc_key_file):
        assert read_key_file(key_file).secret not in text
    assert data["primary"]["port"] == servers.primary.port
    assert data["primary"]["address"] == "127.0.0.1"
    assert [s["name"] for s in data["secondaries"]] == ["ns2", "ns3"]
    assert data["transfer_key"] == "transfer-key"
    assert servers.rndc().port == servers.primary.rndc_port


def test_stopped_secondary_is_none_then_start_brings_it_back(servers: sandbox.Servers) -> None:
    server = servers.secondaries[-1]
    try:
        server.stop()
        assert not server.running
        assert probe.soa_serial(server.address, server.port, CATALOG) is None
        assert probe.soa_serial(server.address, server.port, CATALOG, tcp=True) is None
        assert probe.notify(server.address, server.port, CATALOG) is False
    finally:
        server.start()
    assert server.running
    serial = _catalog_serial(servers)
    assert probe.wait_for_serial(server.address, server.port, CATALOG, serial, WAIT) == serial


def test_failed_start_leaves_nothing_running(tmp_path: Path) -> None:
    # a lock file named cannot take (here: a folder in its way) stops the secondary at start
    (tmp_path / "ns2" / "named.lock").mkdir(parents=True)
    with pytest.raises(BindError, match="ns2: named exited .*could not lock"):
        sandbox.start_servers(tmp_path, secondaries=1)
    assert (tmp_path / "ns1" / "named.log").exists()  # the primary had started...
    assert _named_processes(tmp_path) == []  # ...and was stopped


def test_stop_detached_stops_servers_started_elsewhere(tmp_path: Path) -> None:
    servers = sandbox.start_servers(tmp_path, secondaries=0)
    try:
        assert servers.primary.process is not None
        assert _named_processes(tmp_path) == [servers.primary.process.pid]
        assert sandbox.stop_detached(tmp_path) == ["ns1"]
        assert servers.primary.process is not None
        assert servers.primary.process.wait(WAIT) == 0
        assert _named_processes(tmp_path) == []
        assert sandbox.stop_detached(tmp_path) == []
    finally:
        servers.stop_all()


# --- probes ----------------------------------------------------------------------------------


def test_soa_serial_is_none_unless_an_authoritative_soa(servers: sandbox.Servers) -> None:
    primary = servers.primary
    assert probe.soa_serial(primary.address, primary.port, CATALOG) == _catalog_serial(servers)
    assert probe.soa_serial(primary.address, primary.port, "nosuch.test") is None  # REFUSED
    assert probe.soa_serial(primary.address, primary.port, f"x.{CATALOG}") is None  # NXDOMAIN
    assert probe.soa_serial(primary.address, primary.port, f"version.{CATALOG}") is None
    assert probe.soa_serial(primary.address, sandbox.free_port(), CATALOG) is None


class FakeClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += max(seconds, 0.01)


def test_wait_for_serial_calls_halfway_once_and_returns_last_seen(
    servers: sandbox.Servers,
) -> None:
    primary = servers.primary
    clock, calls = FakeClock(), []
    seen = probe.wait_for_serial(
        primary.address,
        primary.port,
        "nosuch.test",
        1,
        deadline=10,
        halfway=lambda: calls.append(clock.now),
        clock=clock,
        sleep=clock.sleep,
    )
    assert seen is None
    assert len(calls) == 1 and 5 <= calls[0] < 10
    assert clock.now >= 10 and clock.sleeps >= 90  # it kept polling until the deadline

    current = _catalog_serial(servers)
    clock, calls = FakeClock(), []
    behind = (current + 2**31 - 1) % 2**32  # far ahead of what is served: never reached
    seen = probe.wait_for_serial(
        primary.address,
        primary.port,
        CATALOG,
        behind,
        deadline=2,
        halfway=lambda: calls.append(clock.now),
        clock=clock,
        sleep=clock.sleep,
    )
    assert seen == current and len(calls) == 1


def test_wait_for_serial_accepts_newer_serials_in_rfc1982_terms(
    servers: sandbox.Servers,
) -> None:
    primary = servers.primary
    current = _catalog_serial(servers)
    for wanted in (current, (current - 5) % 2**32, (current - 2**31 + 1) % 2**32):
        clock = FakeClock()
        seen = probe.wait_for_serial(
            primary.address,
            primary.port,
            CATALOG,
            wanted,
            deadline=5,
            halfway=lambda: pytest.fail("halfway called although the serial was there"),
            clock=clock,
            sleep=clock.sleep,
        )
        assert seen == current and clock.sleeps == 0


def test_axfr_is_tsig_only_and_equal_everywhere(servers: sandbox.Servers) -> None:
    key = servers.transfer_key()
    serial = _catalog_serial(servers)
    primary = servers.primary
    for server in servers.secondaries:
        probe.wait_for_serial(server.address, server.port, CATALOG, serial, WAIT)
    copy = probe.axfr(primary.address, primary.port, CATALOG, key)
    assert f'version.{CATALOG}. 0 IN TXT "2"' in copy
    assert copy == sorted(copy)
    for server in servers.all():
        assert probe.axfr(server.address, server.port, CATALOG, key) == copy
        with pytest.raises(TransferError, match="REFUSED"):
            probe.axfr(server.address, server.port, CATALOG)
    impostor = new_key(sandbox.TRANSFER_KEY)  # right name, wrong secret
    with pytest.raises(TransferError, match="TSIG") as caught:
        probe.axfr(primary.address, primary.port, CATALOG, impostor)
    assert impostor.secret not in str(caught.value)
    with pytest.raises(TransferError, match="TSIG"):
        probe.axfr(primary.address, primary.port, CATALOG, new_key("unknown-key"))
    with pytest.raises(TransferError, match="refused"):
        probe.axfr(primary.address, sandbox.free_port(), CATALOG, key)


def test_notify_is_acknowledged_only_for_a_zone_the_server_has(servers: sandbox.Servers) -> None:
    server = servers.secondaries[0]
    key = servers.transfer_key()
    assert probe.notify(server.address, server.port, CATALOG, key) is True
    assert probe.notify(server.address, server.port, "nosuch.test", key) is False


# --- the catalog, end to end -------------------------------------------------------------------


def test_catalog_adds_and_removes_zones_on_secondaries(servers: sandbox.Servers) -> None:
    """A zone added on the primary reaches both secondaries through the catalog, with no change
    to their configuration; removed from the catalog, it disappears from them."""
    configs = {s.name: s.conf.read_bytes() for s in servers.secondaries}
    zone, serial = "example.com", 2026112501
    primary, key = servers.primary, servers.transfer_key()
    try:
        _publish(servers, {zone: ZONE.format(serial=serial)})
        for server in servers.secondaries:
            seen = probe.wait_for_serial(server.address, server.port, zone, serial, WAIT)
            assert seen == serial, f"{server.name} serves {seen}: {server.log_file}"
            assert f"catz: adding zone '{zone}' from catalog" in server.log_file.read_text()
        served = probe.axfr(primary.address, primary.port, zone, key)
        assert "www.example.com. 3600 IN A 192.0.2.80" in served
        assert "example.com. 3600 IN MX 10 mail.example.com." in served
        for server in servers.secondaries:
            assert probe.axfr(server.address, server.port, zone, key) == served
            with pytest.raises(TransferError, match="REFUSED"):
                probe.axfr(server.address, server.port, zone)
    finally:
        _publish(servers, {})
    # BIND applies a catalog change at most every min-update-interval (5 s by default) after
    # the previous one: wait, bounded, for the removal to arrive.
    for server in servers.secondaries:
        end = time.monotonic() + WAIT
        while probe.soa_serial(server.address, server.port, zone) is not None:
            if time.monotonic() > end:
                break
            time.sleep(0.1)
        assert probe.soa_serial(server.address, server.port, zone) is None, server.name
        assert probe.soa_serial(server.address, server.port, zone, tcp=True) is None
    assert probe.soa_serial(primary.address, primary.port, zone) is None
    assert {s.name: s.conf.read_bytes() for s in servers.secondaries} == configs
    (primary.zone_dir / f"{zone}.zone").unlink()


def test_named_processes_helper_sees_the_sandbox(servers: sandbox.Servers) -> None:
    """The check the cleanup tests rely on finds running servers (so it can fail)."""
    pids = {s.process.pid for s in servers.all() if s.process is not None}
    assert pids and pids <= set(_named_processes(servers.root))
    assert os.getpid() not in _named_processes(servers.root)


def test_soa_many_answers_as_soa_serial_does_in_one_batch(servers: sandbox.Servers) -> None:
    # Issue 13: the reconcile asks about every zone; one batch, not a socket and thread each.
    primary = servers.primary
    names = [CATALOG, "nosuch.test", f"x.{CATALOG}", f"version.{CATALOG}"]
    names += [f"z{k}.nosuch.test" for k in range(300)]  # more than one window in flight
    asks = [probe.Ask(s.address, s.port, name) for name in names for s in servers.all()]
    closed = probe.Ask(primary.address, sandbox.free_port(), CATALOG)  # ICMP: nobody there
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # takes the questions and never answers
        quiet = [probe.Ask("127.0.0.1", silent.getsockname()[1], n) for n in names[:3]]
        answers = probe.soa_many([*asks, closed, *quiet], timeout=0.5, tries=2)
    expected = [probe.soa_serial(a.address, a.port, a.zone) for a in asks]
    assert [a.served if a else None for a in answers[: len(asks)]] == expected
    assert expected[: len(servers.all())] == [_catalog_serial(servers)] * len(servers.all())
    refused = answers[len(servers.all())]
    assert refused is not None and refused.rcode == "REFUSED" and refused.served is None
    assert answers[len(asks) :] == [None] * (1 + len(quiet))
