"""`reconciler import` and taking over a live primary, against real named processes.

An operator's primary (the sandbox's, serving zones from files in the operator's own
form) is imported from its named.conf's files, and a reconciler primary (the demo's) by
AXFR; then `plan --served` shows no change, and the first `apply` of a reconciler that
never ran there neither lowers a served serial nor reloads a zone whose content did not
change; a change goes on from the served serial.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import git
import pytest
from click.testing import CliRunner

from reconciler.atomic import write_atomic
from reconciler.bind import probe
from reconciler.bind.conf import primary_include
from reconciler.bind.keys import new_key, write_key_file
from reconciler.bind.namedconf import Notified, read_named_conf
from reconciler.cli.main import main
from reconciler.devtools import demo
from reconciler.devtools.init import commit_all
from reconciler.devtools.sandbox import TRANSFER_KEY, Servers, start_servers
from reconciler.model.serial import guess_scheme, is_newer
from tests.daemonsite import wait_until

ORG = """; example.org: kept by hand since 2019. Ask Kim before touching the MX.
$ORIGIN example.org.
$TTL 1h
@   IN SOA ns1 hostmaster (
        2026010105 ; serial, by date
        3h 15m 2w 1h )
    IN NS ns1
    IN NS ns2
    IN MX 10 mail
ns1  IN A 127.0.0.1
ns2  IN A 127.0.0.1
mail IN A 192.0.2.25   ; the old box
www  300 IN A 192.0.2.80
$ORIGIN lab.example.org.
printer IN A 192.0.2.99
"""

NET = """$TTL 600
example.net. IN SOA ns1.example.org. hostmaster.example.org. 7 3600 900 1209600 600
example.net. IN NS ns1.example.org.
example.net. IN NS ns2.example.org.
www.example.net. IN CNAME www.example.org.
"""


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def loads(log: Path, zone: str) -> int:
    """How many times named has loaded `zone` so far (its log says each one)."""
    return log.read_text(errors="replace").count(f"zone {zone}/IN: loaded serial")


def wait_served(servers: Servers, zone: str, serial: int) -> None:
    primary = servers.primary
    while probe.soa_serial(primary.address, primary.port, zone, timeout=1.0) != serial:
        time.sleep(0.05)


@dataclass
class Operator:
    """A primary set up by hand: the operator's files in the zone folder, a named.conf."""

    root: Path
    servers: Servers

    @property
    def primary(self) -> str:
        return f"{self.servers.primary.address}:{self.servers.primary.port}"

    def serial(self, zone: str) -> int | None:
        p = self.servers.primary
        return probe.soa_serial(p.address, p.port, zone, timeout=1.0)

    def daemon_toml(self, repo: Path) -> Path:
        text = demo.daemon_toml(self.root, self.servers, deadline=10)
        text = text.replace('path = "repo.git"', f'path = "{repo}"')
        path = self.root / "daemon.toml"
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture
def operator(tmp_path: Path) -> Iterator[Operator]:
    servers = start_servers(tmp_path / "servers", catalog_min_update_interval=1)
    try:
        primary = servers.primary
        files = {"example.org": ORG, "example.net": NET}
        for zone, text in files.items():
            write_atomic(primary.zone_dir / f"{zone}.zone", text)
        assert primary.include_file is not None
        write_atomic(
            primary.include_file,
            primary_include(
                {z: primary.zone_dir / f"{z}.zone" for z in files},
                [s.server for s in servers.secondaries],
                TRANSFER_KEY,
                servers.catalog_file,
                servers.transfer_key_file,
            ),
        )
        servers.rndc().reconfig()
        wait_served(servers, "example.org", 2026010105)
        wait_served(servers, "example.net", 7)
        yield Operator(tmp_path, servers)
    finally:
        servers.stop_all()


def test_import_from_files_keeps_the_operators_form_and_takes_over(operator: Operator) -> None:
    servers = operator.servers
    target = operator.root / "imported"
    code, out, err = cli(
        "import",
        str(target),
        "--named-conf",
        str(servers.primary.conf),
        "--from-files",
        "--primary",
        operator.primary,
        "--format",
        "json",
    )
    assert code == 0, err + out
    result = json.loads(out)
    assert sorted(z["zone"] for z in result["zones"]) == ["example.net", "example.org"]
    repo = git.Repo(target)
    assert len(list(repo.iter_commits())) == 1
    assert (target / "zones/example.org.zone").read_text() == ORG  # comments, $ORIGIN kept
    assert (target / "zones/example.net.zone").read_text() == NET
    config = tomllib.loads((target / "reconciler.toml").read_text())
    assert config["primary"] == {
        "name": "ns1.example.org",
        "address": servers.primary.address,
        "port": servers.primary.port,
    }
    # also-notify names the two secondaries; the NS names' address (127.0.0.1) is theirs
    assert sorted((s["address"], s["port"]) for s in config["secondary"]) == sorted(
        (s.address, s.port) for s in servers.secondaries
    )
    assert config["transfer"]["tsig_key"] == TRANSFER_KEY
    assert config["serial"]["scheme"] == "increment"  # 7 is no date
    secret = servers.transfer_key().secret
    for path in target.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert secret not in path.read_text(errors="replace"), path

    key = str(servers.transfer_key_file)
    code, out, err = cli("-C", str(target), "plan", "--served", "--key-file", key)
    assert code == 0, err + out
    assert "no change" in out or "unchanged" in out, out
    code, out, err = cli(
        "-C", str(target), "plan", "--served", "--key-file", key, "--format", "json"
    )
    assert code == 0 and json.loads(out)["zones"] == [], out

    # The first apply of a reconciler that never ran here: nothing is reloaded, no serial moves.
    log = servers.primary.log_file
    before = {z: loads(log, z) for z in ("example.org", "example.net")}
    daemon = operator.daemon_toml(target)
    code, out, err = cli("apply", "--config", str(daemon), "--format", "json")
    assert code == 0, err + out
    assert json.loads(out)["status"] in ("unchanged", "confirmed"), out
    assert operator.serial("example.org") == 2026010105
    assert operator.serial("example.net") == 7
    assert {z: loads(log, z) for z in before} == before
    assert (servers.primary.zone_dir / "example.org.zone").read_text() == ORG  # not rewritten

    # A change: served from the served serial on, never lower, even with a lower file serial.
    text = ORG.replace("2026010105", "1").replace("192.0.2.80", "192.0.2.81")
    (target / "zones/example.org.zone").write_text(text)
    commit_all(repo, "Move www")
    code, out, err = cli("apply", "--config", str(daemon), "--format", "json")
    assert code == 0, err + out
    served = json.loads(out)["served"]["example.org"]
    assert is_newer(served, 2026010105)
    assert operator.serial("example.org") == served
    assert operator.serial("example.net") == 7


@pytest.fixture
def reconciled(tmp_path: Path) -> Iterator[demo.Demo]:
    sandbox = demo.setup(tmp_path / "demo", deadline=10, hooks=False)
    try:
        yield sandbox
    finally:
        sandbox.servers.stop_all()


def test_import_by_axfr_from_named_conf_then_plan_and_apply(reconciled: demo.Demo) -> None:
    servers = reconciled.servers
    primary = servers.primary
    target = reconciled.root / "imported"
    key = str(servers.transfer_key_file)
    code, out, err = cli(
        "import",
        str(target),
        "--named-conf",
        str(primary.conf),
        "--key-file",
        key,
        "--primary",
        f"{primary.address}:{primary.port}",
    )
    assert code == 0, err + out
    assert out.startswith("imported 2 zone(s) into"), out
    assert "catalog.invalid" not in out
    text = (target / "zones/example.com.zone").read_text()
    assert "$ORIGIN example.com.\n" in text  # readable: relative names under $ORIGIN
    assert "\nwww " in text and "IN A 192.0.2.10" in text
    toml = target / "reconciler.toml"
    config = tomllib.loads(toml.read_text())
    # also-notify's two secondaries, and the NS ns2.example.com (198.51.100.2)
    assert sorted((s["address"], s["port"]) for s in config["secondary"]) == sorted(
        [(s.address, s.port) for s in servers.secondaries] + [("198.51.100.2", 53)]
    )
    assert config["transfer"]["tsig_key"] == TRANSFER_KEY
    assert config["serial"]["scheme"] == "date"
    assert servers.transfer_key().secret not in toml.read_text()
    # This test talks to loopback only: the operator drops the secondary on 198.51.100.2.
    text = toml.read_text()
    start = text.index('[[secondary]]\nname = "ns2.example.com"')
    toml.write_text(text[:start] + text[text.index("\n\n", start) + 2 :])
    commit_all(git.Repo(target), "Only the secondaries on loopback")

    code, out, err = cli(
        "-C", str(target), "plan", "--served", "--key-file", key, "--format", "json"
    )
    assert code == 0 and json.loads(out)["zones"] == [], out

    # A new reconciler (a state folder of its own) over the zones named serves already.
    serials = {z: reconciled.outcome.served[z] for z in ("example.com", "example.net")}
    log = primary.log_file
    before = {z: loads(log, z) for z in serials}
    daemon = reconciled.root / "daemon-imported.toml"
    daemon.write_text(
        (reconciled.root / "daemon.toml")
        .read_text()
        .replace('path = "repo.git"', f'path = "{target}"')
        .replace('dir = "state"', 'dir = "state-imported"')
    )
    code, out, err = cli("apply", "--config", str(daemon), "--format", "json")
    assert code == 0, err + out
    assert json.loads(out)["status"] == "unchanged", out
    for zone, serial in serials.items():
        assert probe.soa_serial(primary.address, primary.port, zone, timeout=1.0) == serial
    assert {z: loads(log, z) for z in serials} == before


def test_import_of_zones_named_finds_secondaries_in_the_ns_set(reconciled: demo.Demo) -> None:
    servers = reconciled.servers
    primary = servers.primary
    target = reconciled.root / "by-name"
    code, out, err = cli(
        "import",
        str(target),
        "example.com",
        "--key-file",
        str(servers.transfer_key_file),
        "--primary",
        f"ns1={primary.address}:{primary.port}",
        "--format",
        "json",
    )
    assert code == 0, err + out
    config = tomllib.loads((target / "reconciler.toml").read_text())
    assert config["primary"]["name"] == "ns1"
    # the template's example.com: NS ns1 (the SOA MNAME: the primary) and ns2 (198.51.100.2)
    ns2 = {"name": "ns2.example.com", "address": "198.51.100.2", "port": 53}
    assert config["secondary"] == [ns2]
    assert [z["zone"] for z in json.loads(out)["zones"]] == ["example.com"]


def test_import_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("mine")
    write_key_file(tmp_path / "k.key", new_key("k"))
    code, _, err = cli(
        "import", str(tmp_path / "x"), "example.com", "--key-file", str(tmp_path / "k.key")
    )
    assert code == 1
    assert err == f"error: {tmp_path / 'x'}: exists and is not empty\n"
    assert (tmp_path / "x" / "file").read_text() == "mine"


def test_named_conf_primary_zones_files_and_notify_targets(tmp_path: Path) -> None:
    conf = tmp_path / "named.conf"
    conf.write_text(
        'options { directory "' + str(tmp_path) + '"; also-notify { 192.0.2.9; }; };\n'
        'key "xfr" { algorithm hmac-sha256; secret "c2VjcmV0c2VjcmV0c2VjcmV0"; };\n'
        'zone "Example.ORG." { type master; file "db.example.org";\n'
        '  also-notify { 127.0.0.1 port 5302 key "xfr"; 127.0.0.2; };\n'
        '  allow-transfer { key "xfr"; }; };\n'
        'zone "example.net" { type primary; file "/srv/example.net"; };\n'
        'zone "example.com" { type secondary; primaries { 192.0.2.1; }; file "x"; };\n'
    )
    zones = read_named_conf(conf)
    assert [(z.name, z.file) for z in zones] == [
        ("example.org", tmp_path / "db.example.org"),
        ("example.net", Path("/srv/example.net")),
    ]
    assert zones[0].also_notify == (Notified("127.0.0.1", 5302), Notified("127.0.0.2", 53))
    assert zones[0].transfer_keys == ("xfr",)
    assert zones[1].also_notify == (Notified("192.0.2.9", 53),)  # the options' own


def test_serial_scheme_guessed_from_the_serials() -> None:
    assert guess_scheme([2026112500, 2019010101]) == "date"
    assert guess_scheme([1764547200]) == "unixtime"
    assert guess_scheme([7, 2026112500]) == "increment"


def _on_a_terminal(*args: str) -> tuple[int, str, str]:
    """`reconciler ARGS` as a program with stderr on a pseudo-terminal: (exit, stdout, stderr)."""
    program = Path(sys.executable).parent / "reconciler"
    main_end, child = pty.openpty()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(
            [str(program), *args], stdout=out, stderr=child, stdin=subprocess.DEVNULL
        )
        os.close(child)
        seen = b""
        while True:
            try:
                chunk = os.read(main_end, 4096)
            except OSError:  # EIO: the program closed its end
                break
            if not chunk:
                break
            seen += chunk
        os.close(main_end)
        code = process.wait()
        out.seek(0)
        return code, out.read().decode(), seen.decode(errors="replace")


def test_import_shows_a_progress_bar_at_a_terminal_only(operator: Operator) -> None:
    servers = operator.servers
    common = ["--named-conf", str(servers.primary.conf), "--from-files"]
    common += ["--primary", operator.primary]
    code, out, err = _on_a_terminal("import", str(operator.root / "tty"), *common)
    assert code == 0, err
    assert "importing" in err and "2/2" in err, err
    assert out.startswith("imported 2 zone(s)")
    code, out, err = _on_a_terminal(
        "import", str(operator.root / "json"), *common, "--format", "json"
    )
    assert code == 0, err
    assert "importing" not in err
    assert json.loads(out)["commit"]
    code, out, err = cli("import", str(operator.root / "pipe"), *common)  # not a terminal
    assert code == 0 and "importing" not in err


def test_zones_of_named_conf_itself_taken_over_without_a_gap(tmp_path: Path) -> None:
    """The zones are named.conf's own statements: import --config stages the reconciler's
    files and include; the operator swaps the statements for the include; apply changes
    nothing."""
    servers = start_servers(tmp_path / "servers", catalog_min_update_interval=1)
    try:
        primary = servers.primary
        own = tmp_path / "operator"
        own.mkdir()
        (own / "db.example.org").write_text(ORG)
        notify = " ".join(
            f'127.0.0.1 port {s.port} key "{TRANSFER_KEY}";' for s in servers.secondaries
        )
        statement = (
            f'zone "example.org" {{ type primary; file "{own / "db.example.org"}"; '
            f'allow-transfer {{ key "{TRANSFER_KEY}"; }}; also-notify {{ {notify} }}; }};\n'
        )
        conf = primary.conf.read_text()
        primary.conf.write_text(conf + statement)
        servers.rndc().reconfig()
        wait_served(servers, "example.org", 2026010105)
        operator = Operator(tmp_path, servers)
        daemon = operator.daemon_toml(tmp_path / "imported")

        code, out, err = cli(
            "import",
            str(tmp_path / "imported"),
            "--named-conf",
            str(primary.conf),
            "--from-files",
            "--primary",
            operator.primary,
            "--config",
            str(daemon),
        )
        assert code == 0, err + out
        assert "staged 1 zone file(s)" in out and "rndc reconfig" in out, out
        staged = primary.zone_dir / "example.org.zone"
        assert primary.include_file is not None
        assert str(staged) in primary.include_file.read_text()
        assert (own / "db.example.org").read_text() == ORG  # the operator's file is left alone

        # The operator's swap: the include lists the zone now, so named.conf's statement goes.
        log = primary.log_file
        primary.conf.write_text(conf)
        servers.rndc().reconfig()
        wait_until(lambda: loads(log, "example.org") >= 2, "named to load the staged file")
        assert operator.serial("example.org") == 2026010105
        before = loads(log, "example.org")
        code, out, err = cli("apply", "--config", str(daemon), "--format", "json")
        assert code == 0, err + out
        assert json.loads(out)["status"] == "unchanged", out
        assert operator.serial("example.org") == 2026010105
        assert loads(log, "example.org") == before

        # Staged once: a second import --config writes over nothing.
        code, out, err = cli(
            "import",
            str(tmp_path / "again"),
            "--named-conf",
            str(primary.conf),
            "--key-file",
            str(servers.transfer_key_file),
            "--primary",
            operator.primary,
            "--config",
            str(daemon),
        )
        assert code == 1 and "lists zones already (example.org)" in err, err + out
    finally:
        servers.stop_all()


def test_import_from_files_refuses_an_include_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "db.example.org").write_text(ORG + "$INCLUDE /etc/bind/more.db\n")
    conf = tmp_path / "named.conf"
    conf.write_text(f'zone "example.org" {{ type primary; file "{tmp_path}/db.example.org"; }};\n')
    code, out, err = cli(
        "import", str(tmp_path / "repo"), "--named-conf", str(conf), "--from-files"
    )
    line = ORG.count("\n") + 1
    assert code == 1, out
    assert err == (
        f"error: {tmp_path}/db.example.org:{line}: zone example.org: $INCLUDE is not followed "
        "by an import from files; import this zone by AXFR (--key-file) instead\n"
    )
    assert not (tmp_path / "repo").exists()
