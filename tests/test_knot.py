"""A Knot DNS secondary: what `bind-config --software knot` prints, checked and run.

The printed knot.conf passes `knotc conf-check` with the key file its own instructions
make from BIND's key file; then a real `knotd` configured with the same text (its folders
under the test's) follows the sandbox primary's catalog zone: `apply` waits for it as for the
BIND secondaries, a changed record, an added zone and a removed zone all reach it.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import git
import pytest
from click.testing import CliRunner

from reconciler.bind import probe
from reconciler.bind.knot import KEY_TO_KNOT, knot_config
from reconciler.cli.main import main
from reconciler.config.repo import Server
from reconciler.devtools import demo
from reconciler.devtools.init import commit_all
from reconciler.devtools.sandbox import free_port
from tests.daemonsite import WWW, ZONE, wait_until

KNOTC = shutil.which("knotc") or "/usr/sbin/knotc"
KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"


def knot_key(bind_key: Path, knot_key_file: Path) -> None:
    """Knot's form of a BIND key file, made by the command bind-config prints."""
    subprocess.run(
        f"{KEY_TO_KNOT} {bind_key} > {knot_key_file}", shell=True, check=True, timeout=60
    )


def conf_check(conf: Path) -> subprocess.CompletedProcess[str]:
    assert Path(KNOTC).exists(), "knotc is missing: `make test` installs Debian's knot package"
    return subprocess.run(
        [KNOTC, "-c", str(conf), "conf-check"], capture_output=True, text=True, check=False
    )


def test_bind_config_for_knot_passes_knotc_conf_check(tmp_path: Path) -> None:
    sandbox = demo.setup(tmp_path / "demo", hooks=False)
    try:
        clone = str(sandbox.root / "clone")
        key_conf = tmp_path / "transfer.key.conf"
        result = CliRunner().invoke(
            main,
            ["-C", clone, "bind-config", "--secondary", "ns2", "--software", "knot",
             "--key-file", str(key_conf), "--zone-dir", str(tmp_path / "knot")],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        text = result.stdout
        assert "catalog-role: interpret" in text and "catalog-template: catalog-member" in text
        ns1, ns2 = sandbox.servers.primary, sandbox.servers.secondaries[0]
        assert f"address: 127.0.0.1@{ns1.port}" in text
        assert f"listen: 127.0.0.1@{ns2.port}" in text
        assert f'include: "{key_conf}"' in text
        secret = sandbox.servers.transfer_key().secret
        assert secret not in text and secret not in result.stderr
        # the key file, made as the printed instructions say, from the primary's key file
        bind_copy = tmp_path / "transfer.key"
        shutil.copy(sandbox.servers.transfer_key_file, bind_copy)
        command = next(line for line in text.splitlines() if "awk '" in line)
        assert command.strip().removeprefix("#").strip() == (
            f"{KEY_TO_KNOT} {bind_copy} > {key_conf}"
        )
        knot_key(bind_copy, key_conf)
        assert secret in key_conf.read_text()
        conf = tmp_path / "knot.conf"
        conf.write_text(text)
        checked = conf_check(conf)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        # and knotc does check: a key name the remote does not know is refused
        conf.write_text(text.replace("    key: transfer-key\n", "    key: other-key\n", 1))
        assert conf_check(conf).returncode != 0
        as_json = CliRunner().invoke(
            main,
            ["-C", clone, "bind-config", "--secondary", "ns2", "--software", "knot",
             "--format", "json"],
        )  # fmt: skip
        assert as_json.exit_code == 0 and '"software": "knot"' in as_json.stdout
    finally:
        sandbox.servers.stop_all()


@dataclass
class Knot:
    server: Server
    process: subprocess.Popen[bytes]
    log: Path

    def serial(self, zone: str) -> int | None:
        return probe.soa_serial(self.server.address, self.server.port, zone, timeout=1.0)

    def rcode(self, zone: str) -> int:
        query = dns.message.make_query(zone, "SOA")
        answer = dns.query.udp(query, self.server.address, port=self.server.port, timeout=2)
        return answer.rcode()


@pytest.fixture
def knot_site(tmp_path: Path) -> Iterator[tuple[demo.Demo, Knot]]:
    """The demo sandbox, and a knotd following its catalog as secondary ns4."""
    sandbox = demo.setup(tmp_path / "demo", hooks=False, deadline=30)
    process = None
    try:
        ns4 = Server("ns4", "127.0.0.1", free_port())
        folder = tmp_path / "knot"
        (folder / "storage").mkdir(parents=True)
        knot_key(sandbox.servers.transfer_key_file, folder / "transfer.key.conf")
        piece = knot_config(
            sandbox.servers.primary.server,
            ns4,
            "transfer-key",
            folder / "transfer.key.conf",
            folder / "storage",
            rundir=folder,
            user=None,
            log_target=str(folder / "knot.log"),
        )
        conf = folder / "knot.conf"
        conf.write_text(piece.config)
        assert conf_check(conf).returncode == 0
        process = subprocess.Popen([KNOTD, "-c", str(conf)], stderr=subprocess.DEVNULL)
        knot = Knot(ns4, process, folder / "knot.log")
        wait_until(lambda: knot.serial("example.com") is not None, "knotd to serve the zones")
        yield sandbox, knot
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait()
        sandbox.servers.stop_all()


def push(sandbox: demo.Demo, message: str, edit: dict[str, str | None]) -> None:
    clone = sandbox.root / "clone"
    for relative, text in edit.items():
        if text is None:
            (clone / relative).unlink()
        else:
            (clone / relative).write_text(text)
    repo = git.Repo(clone)
    commit_all(repo, message)
    repo.git.push("-q", "origin", "main")


def apply(sandbox: demo.Demo) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["apply", "--config", str(sandbox.root / "daemon.toml")])
    return result.exit_code, result.output


def test_knot_secondary_confirms_changes_and_follows_the_catalog(
    knot_site: tuple[demo.Demo, Knot],
) -> None:
    sandbox, knot = knot_site
    clone = sandbox.root / "clone"
    toml = (clone / "reconciler.toml").read_text()
    topology = f'[[secondary]]\nname = "ns4"\naddress = "127.0.0.1"\nport = {knot.server.port}\n\n'
    toml = toml.replace("# Zone transfers", topology + "# Zone transfers", 1)
    push(sandbox, "A Knot secondary", {"reconciler.toml": toml})
    code, output = apply(sandbox)
    assert code == 0, output  # confirmed: ns4 among "every secondary"
    primary = sandbox.servers.primary
    served = probe.soa_serial(primary.address, primary.port, "example.com", timeout=1)
    assert knot.serial("example.com") == served
    assert knot.serial("example.net") is not None

    zone = (clone / ZONE).read_text()
    push(sandbox, "Move www", {ZONE: zone.replace(WWW, "www     IN A    192.0.2.77")})
    code, output = apply(sandbox)
    assert code == 0, output
    answer = dns.query.udp(
        dns.message.make_query("www.example.com", "A"), "127.0.0.1", port=knot.server.port
    )
    assert [r.to_text() for rrset in answer.answer for r in rrset] == ["192.0.2.77"]

    added = re.sub(r"\bexample\.com\b", "example.org", zone)
    push(sandbox, "Add example.org", {"zones/example.org.zone": added})
    code, output = apply(sandbox)
    assert code == 0, output
    assert knot.serial("example.org") is not None

    push(
        sandbox,
        "Remove example.org\n\nReconciler-Allow: unsafe",
        {"zones/example.org.zone": None},
    )
    code, output = apply(sandbox)
    assert code == 0, output
    wait_until(lambda: knot.rcode("example.org") == dns.rcode.REFUSED, "knotd to drop example.org")
    assert knot.serial("example.com") is not None
