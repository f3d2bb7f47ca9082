"""`reconciler doctor` against real named processes on 127.0.0.1, and its small pure parts.

The world: the demo's primary (ns1) and two secondaries (ns2, ns3) serving the template's
zones (reconciler.demo sets them up as `make demo` does), and a parent server for `com` and
`net` (a named of our own) with the right delegation and glue. Faults are real: a parent
without glue or with other glue, a stopped secondary, a server with an old serial, a server
that hands out AXFR and recursion, a primary whose MX is a CNAME. Every test passes
`--parent` (or names the resolver), so nothing leaves 127.0.0.1; each leaves the world as it
found it. Nothing asserts on time.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler import doctor
from reconciler.bind import probe
from reconciler.bind.catalog import CATALOG, catalog_zone_text
from reconciler.bind.keys import new_key, read_key_file, write_key_file
from reconciler.cli.main import main
from reconciler.config.repo import RepoConfig, Server
from reconciler.devtools import demo
from reconciler.devtools.sandbox import ADDRESS, ServerProcess, free_port
from reconciler.errors import ConfigError
from reconciler.model.zone import CanonicalZone

from .conftest import ZoneRepo

WAIT = 30.0  # a bound on waiting for a server to start, never asserted on
SOA = "@ IN SOA a.gtld.test. hostmaster.gtld.test. 1 1800 900 1209600 300\n@ IN NS a.gtld.test.\n"
GOOD_GLUE = "ns1.example.com. IN A 192.0.2.1\nns2.example.com. IN A 198.51.100.2\n"
DELEGATION = "example.com. IN NS ns1.example.com.\nexample.com. IN NS ns2.example.com.\n"
COM = "$TTL 3600\n" + SOA + DELEGATION + GOOD_GLUE
NET = (
    "$TTL 3600\n"
    + SOA
    + "example.net. IN NS ns1.example.com.\nexample.net. IN NS ns2.example.com.\n"
)
ROOT = (
    "$TTL 3600\n. IN SOA a.root.test. h.root.test. 1 1800 900 1209600 300\n"
    ". IN NS a.root.test.\na.root.test. IN A 127.0.0.1\n"
)
QUIET = "recursion no;\nallow-transfer { none; };"


def start_named(
    root: Path, name: str, zones: dict[str, str], options: str = QUIET
) -> ServerProcess:
    """A named of our own on 127.0.0.1 serving `zones` (name -> master-file text) as primary.

    Returns once it answers for the first zone; the caller stops it.
    """
    folder = root / name
    folder.mkdir(parents=True)
    port = free_port()
    stanzas = []
    for zone, text in zones.items():
        file = folder / f"{'root' if zone == '.' else zone}.zone"
        file.write_text(text)
        stanzas.append(f'zone "{zone}" {{ type primary; file "{file}"; }};')
    conf = folder / "named.conf"
    conf.write_text(
        "options {\n"
        f'\tdirectory "{folder}";\n\tpid-file "{folder}/named.pid";\n'
        f'\tlock-file "{folder}/named.lock";\n\tsession-keyfile "{folder}/session.key";\n'
        f'\tmanaged-keys-directory "{folder}";\n'
        f"\tlisten-on port {port} {{ {ADDRESS}; }};\n\tlisten-on-v6 {{ none; }};\n"
        "\tdnssec-validation no;\n\tcheck-integrity no;\n\tcheck-mx-cname ignore;\n"
        # nothing leaves 127.0.0.1: no NOTIFY to the NS names' addresses, no outside queries
        f"\tnotify no;\n\tquery-source address {ADDRESS};\n"
        f"\t{options}\n}};\n" + "\n".join(stanzas) + "\n"
    )
    server = ServerProcess(name, port, 0, folder, conf, folder / "named.log", folder)
    server.launch()
    end = time.monotonic() + WAIT
    while probe.soa_serial(ADDRESS, port, next(iter(zones)), timeout=0.5) is None:
        if not server.running or time.monotonic() > end:
            server.stop()
            raise AssertionError(f"{name} did not start: {server.output_file.read_text()}")
        time.sleep(0.05)
    return server


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def report(self) -> dict:
        return json.loads(self.out)

    def codes(self, severity: str = "problem") -> list[tuple[str | None, str, str]]:
        """(zone, code, subject) of every finding of `severity` in a JSON report."""
        return [
            (f["zone"], f["code"], f["subject"])
            for f in self.report["findings"]
            if f["severity"] == severity
        ]


def run(*args: str) -> Run:
    result = CliRunner().invoke(main, list(args))
    return Run(result.exit_code, result.stdout, result.stderr)


@dataclass
class World:
    root: Path
    sandbox: demo.Demo
    parent: ServerProcess

    @property
    def clone(self) -> str:
        return str(self.root / "demo" / "clone")

    @property
    def config(self) -> str:
        return str(self.root / "demo" / "daemon.toml")

    def doctor(self, *args: str, parent: ServerProcess | None = None) -> Run:
        chosen = parent or self.parent
        return run("-C", self.clone, "doctor", "--parent", f"{ADDRESS}:{chosen.port}", *args)

    def server(self, name: str) -> ServerProcess:
        return next(s for s in self.sandbox.servers.all() if s.name == name)

    def zone_copy(self, zone: str, serial: int | None = None) -> str:
        """The zone as the primary serves it (by a signed AXFR), with another serial if given."""
        primary = self.sandbox.servers.primary
        key = self.sandbox.servers.transfer_key()
        lines = probe.axfr(primary.address, primary.port, zone, key)
        canonical = CanonicalZone.from_lines(zone, lines)
        return (canonical.with_serial(serial) if serial is not None else canonical).text()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("doctor")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECONCILER_CACHE_DIR", str(root / "cache"))
        sandbox = demo.setup(root / "demo", deadline=10, hooks=False)
    try:
        assert sandbox.outcome.status == "confirmed", sandbox.outcome.reason
        parent = start_named(root, "tld", {"com": COM, "net": NET})
        try:
            yield World(root, sandbox, parent)
        finally:
            parent.stop()
    finally:
        sandbox.servers.stop_all()


@pytest.fixture
def named(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start nameservers of our own for one test; all stopped after it."""
    started: list[ServerProcess] = []

    def start(name: str, zones: dict[str, str], options: str = QUIET) -> ServerProcess:
        started.append(start_named(tmp_path, name, zones, options))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def line(out: str, *parts: str) -> str:
    """The one line of `out` holding every part."""
    found = [text for text in out.splitlines() if all(p in text for p in parts)]
    assert len(found) == 1, f"{parts} in:\n{out}"
    return found[0]


# --- a healthy world ------------------------------------------------------------------------


def test_healthy_zones_pass(world: World) -> None:
    result = world.doctor()
    assert result.code == 0, result.out + result.err
    ns1, ns2, ns3 = (world.server(n) for n in ("ns1", "ns2", "ns3"))
    serial = world.sandbox.outcome.served["example.com"]
    parent = f"parent {ADDRESS}:{world.parent.port}"
    assert result.out.splitlines()[1:12] == [
        f"example.com (serial {serial} on the primary ns1)",
        f"  ok       delegation  {parent}: delegates example.com to ns1.example.com., "
        "ns2.example.com.; the glue matches the zone",
        f"  ok       servers     ns1 {ADDRESS}:{ns1.port} (ns1.example.com.): SOA and MX with "
        f"authority over UDP and TCP, serial {serial}",
        f"  ok       servers     ns2 {ADDRESS}:{ns2.port} (ns2.example.com.): SOA and MX with "
        f"authority over UDP and TCP, serial {serial}",
        f"  ok       servers     ns3 {ADDRESS}:{ns3.port}: SOA and MX with authority over UDP and "
        f"TCP, serial {serial} (not in the NS set: a hidden server)",
        "  ok       mail        MX 10 mail.example.com.: mail.example.com. has A 192.0.2.25",
        "  note     mail        192.0.2.25 (mail.example.com.): reverse DNS not checked: its "
        "reverse zone is neither in the repo nor on the configured servers, and no resolver is "
        "asked (with --parent, only --resolver ADDR is)",
        "  ok       mail        SPF of example.com needs 1 of the 10 DNS lookups it may (mx 1)",
        "  ok       mail        DMARC of example.com: p=quarantine",
        "  ok       mail        the same MX set with authority from ns1, ns2, ns3",
        "  ok       exposure    AXFR without a key refused by ns1, ns2, ns3",
    ]
    assert (
        f"  ok       delegation  {parent}: delegates example.net to ns1.example.com., "
        "ns2.example.com. (outside the zone: no glue)" in result.out.splitlines()
    )
    assert result.out.splitlines()[-2:] == [
        "  ok       exposure    recursion refused by ns1, ns2, ns3",
        "2 zone(s), 3 server(s), 1 parent server(s): 0 problem(s), 0 warning(s): healthy",
    ]


def test_json_report_of_the_deployed_state(world: World) -> None:
    result = run(
        "doctor", "--config", world.config, "--parent", f"{ADDRESS}:{world.parent.port}",
        "--format", "json",
    )  # fmt: skip
    assert result.code == 0, result.out + result.err
    report = result.report
    assert report["healthy"] is True and report["problems"] == 0 and report["warnings"] == 0
    served = world.sandbox.outcome.served
    assert report["zones"] == [{"zone": z, "serial": served[z]} for z in sorted(served)]
    assert [s["name"] for s in report["servers"]] == ["ns1", "ns2", "ns3"]
    assert report["source"].startswith("deployed ")
    codes = {(f["zone"], f["code"]) for f in report["findings"]}
    assert ("example.com", "delegated") in codes and (None, "recursion-refused") in codes
    assert set(report["findings"][0]) == {
        "code", "zone", "check", "severity", "subject", "message", "fix",
    }  # fmt: skip


def test_one_zone_and_an_unknown_zone(world: World) -> None:
    result = world.doctor("example.net.", "--format", "json")
    assert result.code == 0, result.out + result.err
    assert {f["zone"] for f in result.report["findings"]} == {"example.net", None}
    result = world.doctor("example.org")
    assert result.code == 1
    assert (
        result.err
        == "error: zone example.org is not in the repo (have: example.com, example.net)\n"
    )


# --- delegation -------------------------------------------------------------------------------


def test_glue_removed_is_named(world: World, named: Callable[..., ServerProcess]) -> None:
    parent = named("tld", {"com": COM.replace("ns2.example.com. IN A 198.51.100.2\n", "")})
    result = world.doctor("example.com", parent=parent)
    assert result.code == 1, result.out
    assert line(result.out, "glue") == (
        f"  problem  delegation  parent {ADDRESS}:{parent.port}: has no glue for ns2.example.com. "
        "(the zone has A 198.51.100.2): resolvers cannot reach it; fix: add the glue for "
        "ns2.example.com. (A 198.51.100.2) at the registrar"
    )
    assert result.out.splitlines()[-1].endswith("1 problem(s), 0 warning(s): NOT healthy")


def test_glue_that_differs_from_the_zone_is_named(
    world: World, named: Callable[..., ServerProcess]
) -> None:
    parent = named("tld", {"com": COM.replace("192.0.2.1\n", "192.0.2.9\n")})
    result = world.doctor("example.com", parent=parent)
    assert result.code == 1, result.out
    assert line(result.out, "glue") == (
        f"  problem  delegation  parent {ADDRESS}:{parent.port}: glue for ns1.example.com. is "
        "A 192.0.2.9, the zone has A 192.0.2.1; fix: change the glue at the registrar to "
        "A 192.0.2.1 (or the zone, if the glue is right)"
    )


def test_no_glue_at_all_is_off_the_internet(
    world: World, named: Callable[..., ServerProcess]
) -> None:
    parent = named("tld", {"com": COM.replace(GOOD_GLUE, "")})
    result = world.doctor("example.com", "--format", "json", parent=parent)
    assert result.code == 1
    subject = f"parent {ADDRESS}:{parent.port}"
    assert result.codes() == [
        ("example.com", "glue-missing", subject),
        ("example.com", "glue-missing", subject),
        ("example.com", "unreachable", subject),
    ]
    unreachable = result.report["findings"][2]
    assert unreachable["message"] == (
        "no nameserver of example.com can be reached through the parent (every one is inside "
        "the zone and has no glue): the zone is off the Internet"
    )


def test_no_delegation_and_an_ns_set_that_differs(
    world: World, named: Callable[..., ServerProcess]
) -> None:
    other = COM.replace(DELEGATION, "example.com. IN NS ns1.example.com.\n")
    parent = named("tld", {"com": "$TTL 3600\n" + SOA, "net": NET.replace("ns2.", "ns9.")})
    differs = named("tld2", {"com": other})
    result = world.doctor("--format", "json", parent=parent)
    subject = f"parent {ADDRESS}:{parent.port}"
    assert result.code == 1
    assert result.codes() == [
        ("example.com", "not-delegated-nxdomain", subject),
        ("example.net", "ns-missing-at-parent", subject),
        ("example.net", "ns-extra-at-parent", subject),
    ], result.out
    missing, extra = [f for f in result.report["findings"] if f["code"].startswith("ns-")][:2]
    assert missing["message"] == "does not list ns2.example.com., which the zone's NS set has"
    assert extra["message"] == "lists ns9.example.com., which the zone's NS set does not have"
    assert "ns9.example.com." in [f["subject"] for f in result.report["findings"]]  # unmapped
    result = world.doctor("example.com", parent=differs)
    assert "does not list ns2.example.com., which the zone's NS set has" in result.out


def test_silent_parent_server(world: World) -> None:
    port = free_port()
    result = run("-C", world.clone, "doctor", "example.com", "--parent", f"{ADDRESS}:{port}")
    assert result.code == 1
    assert line(result.out, "does not answer") == (
        f"  problem  delegation  parent {ADDRESS}:{port}: does not answer (timeout 1 s); fix: "
        "check the parent server's address, and that it is reachable from here"
    )


def test_parent_servers_found_through_a_resolver(named: Callable[..., ServerProcess]) -> None:
    """The resolver (a named of ours that knows the root and com) names com's servers; their
    addresses (port 53) are only compared, never asked."""
    root = ROOT + "a.gtld.test. IN A 127.0.0.1\n"
    resolver_server = named("resolver", {".": root, "com": COM})
    resolver = doctor.make_resolver(doctor.Endpoint(ADDRESS, resolver_server.port), 1.0, True)
    assert resolver is not None
    parent, endpoints = doctor.find_parent_servers("example.com", resolver)
    assert (parent, endpoints) == ("com.", (doctor.Endpoint("127.0.0.1", 53, "a.gtld.test."),))


# --- servers and transfers ----------------------------------------------------------------------


def test_stopped_secondary_does_not_answer(world: World) -> None:
    ns2 = world.server("ns2")
    ns2.stop()
    try:
        result = world.doctor("example.com", "--timeout", "0.5")
    finally:
        ns2.start()
    assert result.code == 1
    assert line(result.out, "ns2 ") == (
        f"  problem  servers     ns2 {ADDRESS}:{ns2.port} (ns2.example.com.): does not answer "
        f"over UDP or TCP (timeout 0.5 s); fix: is named running on ns2? are UDP and TCP port "
        f"{ns2.port} open to this machine?"
    )
    assert "1 problem(s)" in result.out.splitlines()[-1]


def test_a_server_that_never_answers_is_a_finding_not_a_hang(world: World) -> None:
    """A black hole: UDP datagrams are read and dropped, TCP connections are accepted by the
    kernel and never answered. Every query gives up after --timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind((ADDRESS, 0))
        port = udp.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((ADDRESS, port))
            tcp.listen(16)
            result = world.doctor(
                "example.com", "--timeout", "0.2", "--server", f"ns4={ADDRESS}:{port}"
            )
    assert result.code == 1, result.out
    assert line(result.out, "ns4") == (
        f"  problem  servers     ns4 {ADDRESS}:{port}: does not answer over UDP or TCP (timeout "
        f"0.2 s); fix: is named running on ns4? are UDP and TCP port {port} open to this machine?"
    )


def test_lagging_secondary_and_the_usual_causes(
    world: World, named: Callable[..., ServerProcess]
) -> None:
    serial = world.sandbox.outcome.served["example.com"]
    old = named("stale", {"example.com": world.zone_copy("example.com", serial - 2)})
    result = run(
        "doctor", "example.com", "--config", world.config,
        "--parent", f"{ADDRESS}:{world.parent.port}", "--server", f"ns3={ADDRESS}:{old.port}",
    )  # fmt: skip
    assert result.code == 1, result.out
    primary = world.server("ns1")
    assert line(result.out, "behind") == (
        f"  problem  servers     ns3 {ADDRESS}:{old.port}: serves serial {serial - 2}, the "
        f"primary {serial}: 2 behind; fix: see transfers"
    )
    transfers = [text for text in result.out.splitlines() if " transfers " in text]
    assert transfers == [
        f"  note     transfers   ns3 {ADDRESS}:{old.port}: TCP to the primary ns1 "
        f"{ADDRESS}:{primary.port} works from this machine (it answered SOA over TCP); fix: "
        f"secondaries transfer over TCP: is TCP port {primary.port} of the primary open to ns3?",
        f"  note     transfers   ns3 {ADDRESS}:{old.port}: the serial was incremented "
        f"({serial - 2} -> {serial}): the transfer itself does not happen; fix: on ns3: "
        '`rndc retransfer example.com`, then look for "transfer of \'example.com" in its log '
        "(TSIG key, allow-transfer, TCP)",
        f"  note     transfers   ns1 {ADDRESS}:{primary.port}: the primary gives example.com to "
        "the key transfer-key from this machine: the key and allow-transfer are right there; "
        'fix: is the key file on ns3 the primary\'s (`key "transfer-key"`, the same secret)?',
    ]


@contextlib.contextmanager
def udp_only(server: ServerProcess) -> Iterator[int]:
    """A port of 127.0.0.1 that relays UDP to `server` and refuses TCP: the server as seen
    from a machine whose TCP/53 to it is blocked. Yields the port."""
    port = free_port()
    relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    relay.bind((ADDRESS, port))

    def answer(query: bytes, asker: tuple[str, int]) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
            upstream.settimeout(WAIT)
            upstream.sendto(query, (server.address, server.port))
            with contextlib.suppress(OSError):
                relay.sendto(upstream.recv(65535), asker)

    def serve() -> None:
        while not stop.is_set():
            try:
                query, asker = relay.recvfrom(65535)
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(query, asker), daemon=True).start()

    stop = threading.Event()
    relay.settimeout(0.1)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join()
        relay.close()


def test_tcp_blocked_to_the_primary_is_said_once_and_the_key_is_not_blamed(
    world: World, named: Callable[..., ServerProcess]
) -> None:
    """Issue 10 item 5: TCP/53 to the primary blocked, both secondaries one serial behind."""
    serial = world.sandbox.outcome.served["example.com"]
    old = world.zone_copy("example.com", serial - 1)
    ns2, ns3 = named("old2", {"example.com": old}), named("old3", {"example.com": old})
    with udp_only(world.server("ns1")) as port:
        result = run(
            "doctor", "example.com", "--config", world.config,
            "--parent", f"{ADDRESS}:{world.parent.port}", "--server", f"ns1={ADDRESS}:{port}",
            "--server", f"ns2={ADDRESS}:{ns2.port}", "--server", f"ns3={ADDRESS}:{ns3.port}",
            "--format", "json",
        )  # fmt: skip
    assert result.code == 1, result.out + result.err
    findings = result.report["findings"]
    tcp = [f for f in findings if "TCP" in f["message"] and f["severity"] != "ok"]
    assert [(f["code"], f["subject"]) for f in tcp] == [
        ("silent-tcp", f"ns1 {ADDRESS}:{port} (ns1.example.com.)")
    ], tcp
    assert [f["subject"].split()[0] for f in findings if f["code"] == "behind"] == ["ns2", "ns3"]
    keys = [f for f in findings if f["code"].startswith("key-")]
    assert [(f["code"], f["severity"]) for f in keys] == [("key-untested", "note")], keys
    assert keys[0]["message"] == (
        "whether the primary accepts the key transfer-key is not known from this machine: no "
        "transfer was asked (see the primary under servers)"
    )
    assert keys[0]["fix"].startswith("is the key file on ns2, ns3 the primary's?")


def test_a_key_the_primary_refuses_is_blamed_once(
    world: World, named: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    serial = world.sandbox.outcome.served["example.com"]
    old = world.zone_copy("example.com", serial - 1)
    ns2, ns3 = named("old2", {"example.com": old}), named("old3", {"example.com": old})
    wrong = tmp_path / "wrong.key"  # the key's name, another secret
    write_key_file(wrong, new_key(world.sandbox.servers.transfer_key().name))
    config = Path(world.config).with_name("daemon-wrong-key.toml")
    text = Path(world.config).read_text()
    config.write_text(re.sub(r'(\[tsig\]\nkey_file = )"[^"]*"', rf'\1"{wrong}"', text))
    assert config.read_text() != text
    result = run(
        "doctor", "example.com", "--config", str(config),
        "--parent", f"{ADDRESS}:{world.parent.port}",
        "--server", f"ns2={ADDRESS}:{ns2.port}", "--server", f"ns3={ADDRESS}:{ns3.port}",
        "--format", "json",
    )  # fmt: skip
    config.unlink()
    assert result.code == 1, result.out + result.err
    keys = [f for f in result.report["findings"] if f["code"].startswith("key-")]
    assert [(f["code"], f["severity"]) for f in keys] == [("key-refused", "problem")], keys
    assert "TSIG refused by the server" in keys[0]["message"], keys[0]
    assert read_key_file(wrong).secret not in result.out


def test_the_header_names_the_folder_without_dash_c(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(world.clone)
    result = run("doctor", "example.net", "--parent", f"{ADDRESS}:{world.parent.port}")
    assert result.out.splitlines()[0] == f"doctor: {world.clone} at working tree", result.out


def test_secondary_without_the_zone_whose_catalog_lags(
    world: World, named: Callable[..., ServerProcess]
) -> None:
    primary = world.server("ns1")
    catalog = probe.soa_serial(ADDRESS, primary.port, CATALOG)
    assert catalog is not None
    old = named("nozone", {CATALOG: catalog_zone_text([], catalog - 1)})
    result = world.doctor("example.net", "--server", f"ns3={ADDRESS}:{old.port}")
    assert result.code == 1, result.out
    subject = f"ns3 {ADDRESS}:{old.port}"
    assert line(result.out, "REFUSED") == (
        f"  problem  servers     {subject}: answers SOA and MX over UDP and TCP with REFUSED; "
        "fix: see transfers"
    )
    assert line(result.out, "catalog serial") == (
        f"  problem  transfers   {subject}: has catalog serial {catalog - 1}, the primary "
        f"{catalog}: the list of zones (catalog.invalid) did not reach it; fix: on ns3: "
        "`rndc retransfer catalog.invalid`, then look for 'catalog.invalid' in its log"
    )


def test_same_serial_with_other_data(world: World, named: Callable[..., ServerProcess]) -> None:
    text = world.zone_copy("example.com").replace("MX 10 mail", "MX 20 mail")
    other = named("other", {"example.com": text})
    result = world.doctor("example.com", "--server", f"ns3={ADDRESS}:{other.port}")
    assert result.code == 1
    assert "the zone changed without a new serial" in line(result.out, "another MX set")


# --- exposure and mail ----------------------------------------------------------------------------


def test_open_axfr_and_recursion_are_named(
    world: World, named: Callable[..., ServerProcess]
) -> None:
    zones = {"example.com": world.zone_copy("example.com"), ".": ROOT}
    open_server = named(
        "open", zones, "recursion yes;\nallow-recursion { any; };\nallow-transfer { any; };"
    )
    result = world.doctor("example.com", "--server", f"ns4={ADDRESS}:{open_server.port}")
    assert result.code == 1, result.out
    subject = f"ns4 {ADDRESS}:{open_server.port}"
    assert line(result.out, "AXFR") == (
        f"  problem  exposure    {subject}: gives all of example.com to anyone by AXFR (asked "
        "from this machine, without a key); fix: allow transfers only with the TSIG key: "
        'allow-transfer { key "transfer-key"; }; in the options or the zone on ns4'
    )
    assert line(result.out, "recursion to") == (
        f"  problem  exposure    {subject}: offers recursion to this machine (RA set in the "
        "answer to a recursive query for ./NS): an open resolver serves amplification attacks; "
        "fix: `recursion no;` in named's options (or allow-recursion { localhost; }, then run "
        "doctor from elsewhere)"
    )
    assert "  ok       exposure    recursion refused by ns1, ns2, ns3" in result.out.splitlines()
    assert result.out.splitlines()[-1].endswith("2 problem(s), 0 warning(s): NOT healthy")


MAIL_ZONES = {
    "example.org": """$TTL 3600
@    IN SOA ns1 hostmaster 7 1800 900 1209600 300
@    IN NS  ns1
@    IN MX  10 mail
ns1  IN A   192.0.2.53
mail IN CNAME mx
mx   IN A   192.0.2.25
""",
    "example.edu": """$TTL 3600
@    IN SOA ns1.example.org. hostmaster.example.org. 7 1800 900 1209600 300
@    IN NS  ns1.example.org.
@    IN A   192.0.2.80
""",
}


def test_mx_to_a_cname_and_no_mx(zone_repo: ZoneRepo, named: Callable[..., ServerProcess]) -> None:
    primary = named("ns1", MAIL_ZONES)
    glue = "example.org. IN NS ns1.example.org.\nns1.example.org. IN A 192.0.2.53\n"
    parents = named("tld", {
        "org": "$TTL 3600\n" + SOA + glue,
        "edu": "$TTL 3600\n" + SOA + "example.edu. IN NS ns1.example.org.\n",
    })  # fmt: skip
    for path in (zone_repo.path / "zones").glob("example.*"):
        path.unlink()
    for zone, text in MAIL_ZONES.items():
        zone_repo.write(f"zones/{zone}.zone", text)  # `check` refuses them; doctor serves
    zone_repo.write(
        "reconciler.toml",
        f'[primary]\nname = "ns1"\naddress = "{ADDRESS}"\nport = {primary.port}\n',
    )
    result = zone_repo.run("doctor", "--parent", f"{ADDRESS}:{parents.port}")
    assert result.code == 1, result.out + result.err
    assert line(result.out, "CNAME") == (
        "  problem  mail        MX 10 mail.example.org.: mail.example.org. is a CNAME (to "
        "mx.example.org.): an MX must name a host with its own address (RFC 2181 10.3), and "
        "some mail servers refuse it; fix: point the MX at mx.example.org., or give "
        "mail.example.org. its own A/AAAA records"
    )
    assert line(result.out, "no MX") == (
        "  problem  mail        example.edu has no MX record: mail to it goes to its own "
        "address, if any; fix: add `@ IN MX 10 mail.example.edu.`, or the null MX `@ IN MX 0 .` "
        "(RFC 7505) if example.edu receives no mail"
    )
    assert result.out.splitlines()[-1] == (
        "2 zone(s), 1 server(s), 1 parent server(s): 2 problem(s), 1 warning(s): NOT healthy"
    )
    assert line(result.out, "DMARC").startswith(
        "  warning  mail        example.org receives mail but has no DMARC record"
    )


# --- the pure parts ------------------------------------------------------------------------------


def test_endpoints_and_servers_parse() -> None:
    assert doctor.parse_endpoint("192.0.2.1") == doctor.Endpoint("192.0.2.1", 53)
    assert doctor.parse_endpoint("127.0.0.1:5353") == doctor.Endpoint("127.0.0.1", 5353)
    assert doctor.parse_endpoint("[::1]:5353") == doctor.Endpoint("::1", 5353)
    assert doctor.parse_endpoint("2001:db8::1") == doctor.Endpoint("2001:db8::1", 53)
    assert doctor.parse_server("NS3.Example.NET.=127.0.0.1:5300") == Server(
        "ns3.example.net", "127.0.0.1", 5300
    )
    for bad in ("ns1.example.com", "127.0.0.1:0", "127.0.0.1:x", "[::1]x"):
        with pytest.raises(ConfigError):
            doctor.parse_endpoint(bad)
    with pytest.raises(ConfigError, match="expected NAME=ADDR"):
        doctor.parse_server("ns3")


def test_ns_names_map_to_servers_by_name() -> None:
    config = RepoConfig(
        primary=Server("ns1", "127.0.0.1", 5301),
        secondaries=(Server("ns2", "127.0.0.1", 5302), Server("ns2.example.net", "127.0.0.1", 1)),
    )
    targets = doctor.targets_of(config, (Server("ns1", "127.0.0.1", 9), Server("x", "::1", 53)))
    assert [(t.name, t.port, t.role) for t in targets] == [
        ("ns1", 9, "primary"),
        ("ns2", 5302, "secondary"),
        ("ns2.example.net", 1, "secondary"),
        ("x", 53, "extra"),
    ]
    assert doctor.target_for("ns1.example.com.", targets) == targets[0]
    assert doctor.target_for("NS2.example.com.", targets) == targets[1]
    assert doctor.target_for("ns2.example.net.", targets) == targets[2]
    assert doctor.target_for("ns.other.org.", targets) is None


def _facts(server: doctor.ServerFacts) -> doctor.Facts:
    """One zone on one primary that answered as `server` did; no parent asked."""
    zone = doctor.ZoneFacts(None, None, {}, {}, doctor.Parents(skipped="parent-not-asked"), ())
    target = doctor.Target("ns1", ADDRESS, 5301, "primary")
    return doctor.Facts(
        ("example.com",), (target,), {"example.com": zone}, {("example.com", "ns1"): server}, {}
    )


def test_partial_silence_is_told_apart() -> None:
    """No servers: `evaluate` on answers made by hand (UDP only, TCP only, lost packets)."""
    soa = probe.Answer(
        "NOERROR", True, False, (probe.RR("example.com.", "SOA", 60, "a. b. 5 1 1 1 1"),)
    )
    mx = probe.Answer(
        "NOERROR", True, False, (probe.RR("example.com.", "MX", 60, "10 mx.example.com."),)
    )
    cases = {
        doctor.ServerFacts(soa, None, mx, None, False): ["silent-tcp"],
        doctor.ServerFacts(None, soa, None, mx, False): ["silent-udp"],
        doctor.ServerFacts(None, soa, mx, None, False): ["flaky"],
    }
    for server, codes in cases.items():
        found = doctor.evaluate(_facts(server), doctor.Options())
        assert [f.code for f in found if f.check == "servers"] == codes
    (flaky,) = [
        f
        for f in doctor.evaluate(
            _facts(doctor.ServerFacts(None, soa, mx, None, False)), doctor.Options()
        )
        if f.code == "flaky"
    ]
    assert flaky.message.startswith("did not answer SOA over UDP, MX over TCP (timeout 1 s)")
