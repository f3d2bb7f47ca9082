"""`apply`, `status` and `rollback` against real named processes and a real git repo.

Each test gets its own primary and two secondaries on 127.0.0.1 (reconciler.demo
sets them up exactly as `make demo` does) and asserts what the servers serve.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import git
import pytest
from click.testing import CliRunner

from reconciler.bind import probe
from reconciler.bind.keys import read_key_file
from reconciler.cli.main import main
from reconciler.devtools import demo
from reconciler.devtools.init import commit_all
from reconciler.devtools.sandbox import ServerProcess

WWW = "www     IN A    192.0.2.10"
ZONE = "zones/example.com.zone"


@dataclass
class Deployment:
    sandbox: demo.Demo

    @property
    def clone(self) -> git.Repo:
        return git.Repo(self.sandbox.root / "clone")

    @property
    def config(self) -> str:
        return str(self.sandbox.root / "daemon.toml")

    def edit(self, path: str, change: Callable[[str], str], message: str) -> str:
        file = self.sandbox.root / "clone" / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(change(file.read_text() if file.exists() else ""))
        sha = commit_all(self.clone, message)
        self.clone.git.push("-q", "origin", "main")
        return sha

    def run(self, *args: str) -> tuple[int, dict]:
        result = CliRunner().invoke(main, [*args, "--config", self.config, "--format", "json"])
        assert result.stdout, result.stderr
        return result.exit_code, json.loads(result.stdout)

    def apply(self, *args: str) -> tuple[int, dict]:
        return self.run("apply", *args)

    @property
    def servers(self) -> list[ServerProcess]:
        return self.sandbox.servers.all()

    def serials(self, zone: str = "example.com") -> list[int | None]:
        return [probe.soa_serial(s.address, s.port, zone, timeout=1.0) for s in self.servers]

    def answer(self, server: ServerProcess, name: str, rtype: str = "A") -> list[str]:
        query = dns.message.make_query(name, rtype)
        response = dns.query.udp(query, server.address, port=server.port, timeout=2)
        return sorted(r.to_text() for rrset in response.answer for r in rrset)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    sandbox = demo.setup(
        tmp_path / "demo", primary_options="max-zone-ttl 86400;", deadline=4, hooks=False
    )
    try:
        yield Deployment(sandbox)
    finally:
        sandbox.servers.stop_all()


def test_first_apply_reaches_both_secondaries_through_the_catalog(deployment: Deployment) -> None:
    outcome = deployment.sandbox.outcome
    assert outcome.status == "confirmed", outcome.reason
    for zone in ("example.com", "example.net"):
        serials = deployment.serials(zone)
        assert serials[0] == outcome.served[zone]
        assert serials == [serials[0]] * 3, f"{zone}: {serials}"
    for server in deployment.servers:
        assert deployment.answer(server, "www.example.com") == ["192.0.2.10"]


def test_good_commit_reaches_both_secondaries(deployment: Deployment) -> None:
    before = deployment.serials()[0]
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.99"), "Move www")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    assert outcome["status"] == "confirmed"
    after = outcome["served"]["example.com"]
    assert after != before and "example.net" not in outcome["served"]
    assert deployment.serials() == [after] * 3
    for server in deployment.servers:
        assert deployment.answer(server, "www.example.com") == ["192.0.2.99"]


def test_reformat_only_and_repeat_change_nothing(deployment: Deployment) -> None:
    before = deployment.serials()
    log = deployment.sandbox.servers.primary.log_file
    loads = log.read_text().count("loaded serial")
    deployment.edit(
        ZONE, lambda t: t.replace(WWW, "www IN A 192.0.2.10 ; same, reformatted"), "Reformat"
    )
    code, outcome = deployment.apply()
    assert (code, outcome["status"]) == (0, "unchanged")
    code, outcome = deployment.apply()
    assert (code, outcome["status"]) == (0, "unchanged")
    assert deployment.serials() == before
    assert log.read_text().count("loaded serial") == loads


def test_invalid_zone_writes_nothing(deployment: Deployment) -> None:
    zone_file = deployment.sandbox.host.zone_dir / "example.com.zone"
    written = zone_file.read_bytes()
    before = deployment.serials()
    deployment.edit(ZONE, lambda t: t + "www IN CNAME mail\n", "Break example.com")
    line = (deployment.sandbox.root / "clone" / ZONE).read_text().count("\n")
    code, outcome = deployment.apply()
    assert code == 1
    assert outcome["status"] == "invalid"
    assert (
        f"zones/example.com.zone:{line}: example.com: www.example.com.: CNAME and other data"
        in (outcome["reason"])
    )
    assert zone_file.read_bytes() == written
    assert deployment.serials() == before


def test_zone_named_refuses_is_rolled_back(deployment: Deployment) -> None:
    # check refuses a TTL over the max-zone-ttl of the primary's named.conf before anything
    # is written; what it cannot foresee is a named.conf edited but not yet reloaded: named
    # still refuses TTLs over a day while the file on disk no longer says so.
    named_conf = deployment.sandbox.host.named_conf
    assert named_conf is not None
    text = named_conf.read_text()
    assert "max-zone-ttl 86400;" in text
    named_conf.write_text(text.replace("max-zone-ttl 86400;", ""))
    before = deployment.serials()[0]
    sha = deployment.edit(
        ZONE,
        lambda t: t.replace(WWW, "www 172800 IN A 192.0.2.77"),
        "A TTL over the primary's max-zone-ttl",
    )
    code, outcome = deployment.apply()
    assert code == 2, outcome
    assert outcome["status"] == "rolled-back"
    assert sha[:12] in outcome["reason"] and "example.com" in outcome["reason"]
    assert "max-zone-ttl" in outcome["reason"] or "TTL" in outcome["reason"]
    served = outcome["served"]["example.com"]
    assert probe.is_newer(served, before) if hasattr(probe, "is_newer") else served != before
    assert deployment.serials() == [served] * 3
    for server in deployment.servers:
        assert deployment.answer(server, "www.example.com") == ["192.0.2.10"]
    code, status = deployment.run("status")
    assert status["last_failure"]["commit"] == sha


def test_stopped_secondary_is_named_then_converges(deployment: Deployment) -> None:
    ns3 = deployment.servers[2]
    ns3.stop()
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.98"), "Move www")
    code, outcome = deployment.apply()
    assert code == 4, outcome
    assert outcome["status"] == "unconfirmed"
    assert any(item.startswith(f"{ns3.name}: example.com") for item in outcome["lagging"])
    served = outcome["served"]["example.com"]
    assert deployment.serials()[:2] == [served, served]
    code, status = deployment.run("status")
    assert status["converged"] is False
    (zone,) = [z for z in status["zones"] if z["zone"] == "example.com"]
    assert zone["lagging"] == [ns3.name] and zone["serials"][ns3.name] is None
    ns3.start()
    code, outcome = deployment.apply()  # the same commit: nothing to write, lag re-checked
    assert (code, outcome["status"]) == (0, "confirmed"), outcome  # the lag is over
    assert deployment.serials() == [served] * 3
    code, status = deployment.run("status")
    assert status["converged"] is True, status


def test_zone_added_and_removed_through_the_catalog(deployment: Deployment) -> None:
    zone = (
        "$TTL 300\n@ SOA ns1.example.com. hostmaster.example.com. 1 1800 900 1209600 1800\n"
        "@ NS ns1.example.com.\n@ NS ns2.example.com.\nwww A 192.0.2.44\n"
    )
    deployment.edit("zones/example.org.zone", lambda _: zone, "Add example.org")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    serial = outcome["served"]["example.org"]
    assert deployment.serials("example.org") == [serial] * 3
    (deployment.sandbox.root / "clone" / "zones" / "example.org.zone").unlink()
    commit_all(deployment.clone, "Remove example.org\n\nReconciler-Allow: unsafe")
    deployment.clone.git.push("-q", "origin", "main")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    for _ in range(300):  # bounded: catalog removals wait for min-update-interval (5 s)
        if deployment.serials("example.org") == [None] * 3:
            break
        time.sleep(0.1)
    assert deployment.serials("example.org") == [None] * 3
    assert deployment.serials("example.com")[0] is not None


def test_zone_removal_without_the_trailer_is_refused(deployment: Deployment) -> None:
    (deployment.sandbox.root / "clone" / "zones" / "example.net.zone.j2").unlink()
    commit_all(deployment.clone, "Remove example.net")
    deployment.clone.git.push("-q", "origin", "main")
    code, outcome = deployment.apply()
    assert code == 3
    assert outcome["reason"] == "unsafe: example.net: deletes the zone (7 records)"
    assert deployment.serials("example.net")[0] is not None


def test_force_push_refused_and_rollback_to(deployment: Deployment) -> None:
    first = deployment.clone.head.commit.hexsha
    first_serial = deployment.serials()[0]
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.97"), "Move www")
    assert deployment.apply()[0] == 0
    deployment.clone.git.reset("-q", "--hard", first)
    (deployment.sandbox.root / "clone" / "zones" / "example.com.zone").write_text(
        (deployment.sandbox.root / "clone" / ZONE).read_text() + "ftp IN A 192.0.2.21\n"
    )
    commit_all(deployment.clone, "Rewritten history")
    deployment.clone.git.push("-q", "-f", "origin", "main")
    code, outcome = deployment.apply()
    assert code == 3
    assert "is not a descendant of the last applied commit" in outcome["reason"]
    code, outcome = deployment.run("rollback", "--to", first)
    assert code == 0, outcome
    served = outcome["served"]["example.com"]
    assert served != first_serial
    for server in deployment.servers:
        assert deployment.answer(server, "www.example.com") == ["192.0.2.10"]
    assert deployment.serials() == [served] * 3


def test_serial_wraps_around_at_2_to_the_32(deployment: Deployment) -> None:
    deployment.edit(
        "reconciler.toml",
        lambda t: t.replace('scheme = "date"', 'scheme = "increment"'),
        "increment",
    )
    zone = (
        "$TTL 300\n@ SOA ns1.example.com. hostmaster.example.com. 4294967295 1800 900 "
        "1209600 1800\n@ NS ns1.example.com.\n@ NS ns2.example.com.\nwww A 192.0.2.44\n"
    )
    deployment.edit("zones/wrap.example.zone", lambda _: zone, "A zone at the top of the range")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    assert outcome["served"]["wrap.example"] == 4294967295
    deployment.edit("zones/wrap.example.zone", lambda t: t + "ftp A 192.0.2.45\n", "Add ftp")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    assert outcome["served"]["wrap.example"] == 0
    assert deployment.serials("wrap.example") == [0, 0, 0]
    for server in deployment.servers:
        assert deployment.answer(server, "ftp.wrap.example") == ["192.0.2.45"]


def test_git_notes_are_the_deployment_history(deployment: Deployment) -> None:
    bare = git.Repo(deployment.sandbox.root / "repo.git")
    note = bare.git.notes("--ref=reconciler", "show", "main")
    assert note.startswith("reconciler: confirmed at ")
    assert "served: example.com serial" in note


def test_demo_detached_lists_servers_and_stops_everything(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    runner = CliRunner()
    result = runner.invoke(main, ["demo", "--dir", str(root), "--detach"])
    try:
        assert result.exit_code == 0, result.output
        assert "confirmed:" in result.stdout
        assert f"reconciler demo --dir {root} --stop" in result.stdout
        status = runner.invoke(
            main, ["status", "--config", str(root / "daemon.toml"), "--format", "json"]
        )
        assert status.exit_code == 0, status.output
        servers = json.loads(status.stdout)["servers"]
        assert [(s["name"], s["role"], s["address"]) for s in servers] == [
            ("ns1", "primary", "127.0.0.1"),
            ("ns2", "secondary", "127.0.0.1"),
            ("ns3", "secondary", "127.0.0.1"),
        ]
        ports = [s["port"] for s in servers]
        assert all(probe.soa_serial("127.0.0.1", port, "example.com") for port in ports)
        assert (root / "clone" / ".git").is_dir() and (root / "repo.git").is_dir()
        clone = git.Repo(root / "clone")
        zone = root / "clone" / ZONE
        zone.write_text(zone.read_text().replace(WWW, "www     IN A    192.0.2.99"))
        commit_all(clone, "Move www")
        clone.git.push("-q", "origin", "main")  # no apply: the demo's daemon does it
        for _ in range(600):  # bounded wait for the daemon
            if all(_www(port) == ["192.0.2.99"] for port in ports):
                break
            time.sleep(0.1)
        assert [_www(port) for port in ports] == [["192.0.2.99"]] * 3
        pid = json.loads((root / "demo.json").read_text())["daemon_pid"]
    finally:
        stopped = runner.invoke(main, ["demo", "--dir", str(root), "--stop"])
    assert stopped.exit_code == 0, stopped.output
    assert stopped.stdout.startswith(f"stopped the daemon (pid {pid}) and 3 name server(s)")
    assert all(probe.soa_serial("127.0.0.1", port, "example.com") is None for port in ports)
    assert not Path(f"/proc/{pid}/cmdline").exists() or b"run" not in _cmdline(Path(f"/proc/{pid}"))
    assert '"event": "reconciled"' in (root / "daemon.log").read_text()


def _www(port: int) -> list[str]:
    response = dns.query.udp(
        dns.message.make_query("www.example.com", "A"), "127.0.0.1", port=port, timeout=2
    )
    return sorted(r.to_text() for rrset in response.answer for r in rrset)


def test_secrets_never_leave_the_key_files(deployment: Deployment) -> None:
    servers = deployment.sandbox.servers
    secrets = [
        read_key_file(servers.transfer_key_file).secret,
        read_key_file(servers.rndc_key_file).secret,
    ]
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.96"), "Move www")
    result = CliRunner().invoke(main, ["-v", "apply", "--config", deployment.config])
    status = CliRunner().invoke(main, ["status", "--config", deployment.config])
    root = deployment.sandbox.root
    seen = [
        result.stdout,
        result.stderr,
        status.stdout,
        status.stderr,
        (root / "state" / "state.json").read_text(),
        (root / "daemon.toml").read_text(),
        git.Repo(root / "repo.git").git.log("--notes=reconciler", "-n", "3"),
    ]
    assert result.exit_code == 0, result.output
    assert "zone written" in result.stderr  # -v logs went somewhere we can read
    for secret in secrets:
        assert all(secret not in text for text in seen)
        assert secret not in (root / "clone" / "reconciler.toml").read_text()


def test_bind_config_for_a_secondary(deployment: Deployment) -> None:
    clone = str(deployment.sandbox.root / "clone")
    result = CliRunner().invoke(main, ["-C", clone, "bind-config", "--secondary", "ns3"])
    assert result.exit_code == 0, result.output
    primary = deployment.sandbox.servers.primary
    assert f'127.0.0.1 port {primary.port} key "transfer-key"' in result.stdout
    assert "catalog-zones" in result.stdout and "allow-new-zones yes;" in result.stdout
    as_json = CliRunner().invoke(
        main,
        [
            "-C",
            clone,
            "bind-config",
            "--secondary",
            "ns3",
            "--min-update-interval",
            "1",
            "--format",
            "json",
        ],
    )
    assert as_json.exit_code == 0, as_json.output
    piece = json.loads(as_json.stdout)
    assert "min-update-interval 1" in piece["options"]
    assert 'zone "catalog.invalid"' in piece["top_level"] and piece["secondary"] == "ns3"
    missing = CliRunner().invoke(main, ["-C", clone, "bind-config", "--secondary", "ns9"])
    assert missing.exit_code == 1
    assert missing.stderr.strip() == (
        "error: reconciler.toml: no secondary named 'ns9' (have: ns2, ns3)"
    )


def test_tsig_key_name_must_match_the_hosts_key_file(deployment: Deployment) -> None:
    before = deployment.serials()
    include = deployment.sandbox.host.include_file.read_text()
    deployment.edit(
        "reconciler.toml",
        lambda t: t.replace('tsig_key = "transfer-key"', 'tsig_key = "xfer"'),
        "Rename key",
    )
    code, outcome = deployment.apply()
    assert code == 1
    assert outcome["reason"] == (
        "invalid: reconciler.toml: [transfer] tsig_key is 'xfer' but "
        f"{deployment.sandbox.servers.transfer_key_file} holds the key 'transfer-key'"
    )
    assert deployment.sandbox.host.include_file.read_text() == include
    assert deployment.serials() == before


def test_demo_in_the_foreground_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    demo_process = subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli", "demo", "--dir", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in demo_process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("The daemon is watching the repo"):
                break
        assert any(line.startswith("confirmed:") for line in lines), "".join(lines)
        servers = json.loads((root / "demo.json").read_text())
        ports = [s["port"] for s in [servers["primary"], *servers["secondaries"]]]
        assert all(probe.soa_serial("127.0.0.1", p, "example.com") for p in ports)
        demo_process.send_signal(signal.SIGINT)
        rest = demo_process.communicate(timeout=180)[0]  # a bound, never asserted on
    finally:
        if demo_process.poll() is None:
            demo_process.kill()
            demo.stop(root)
    assert demo_process.returncode == 0, rest
    assert "stopping" in rest
    assert all(probe.soa_serial("127.0.0.1", p, "example.com") is None for p in ports)
    assert not [p for p in Path("/proc").glob("[0-9]*") if str(root).encode() in _cmdline(p)]


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""
