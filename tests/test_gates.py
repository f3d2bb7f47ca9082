"""The signed-commits gate, end to end: daemon.toml's [gates], `reconciler apply`, real named.

The demo's primary and two secondaries (reconciler.demo, as in test_apply.py); an
unsigned commit pushed to the bare repo is refused with exit 3 and nothing changes
on any server; an SSH-signed commit by an allowed key is then served everywhere.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from reconciler.bind import probe
from reconciler.cli.main import main
from reconciler.devtools import demo

WWW = "www     IN A    192.0.2.10"


def _git(clone: Path, *args: str) -> None:
    run = subprocess.run(["git", *args], cwd=clone, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr


def _apply(config: Path) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["apply", "--config", str(config), "--format", "json"])
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout)


def test_unsigned_commit_refused_then_signed_commit_served(tmp_path: Path) -> None:
    sandbox = demo.setup(tmp_path / "demo", deadline=4)
    try:
        servers = sandbox.servers.all()
        key = tmp_path / "operator"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "operator", "-f", str(key)],
            check=True,
        )
        signers = tmp_path / "allowed_signers"
        kind, blob = Path(f"{key}.pub").read_text().split()[:2]
        signers.write_text(f"operator@example.com {kind} {blob}\n")
        config = sandbox.root / "daemon.toml"
        with config.open("a", encoding="utf-8") as handle:
            handle.write(
                f'\n[gates]\nrequire_signed_commits = true\nallowed_signers = "{signers}"\n'
            )

        def serials() -> list[int | None]:
            return [probe.soa_serial(s.address, s.port, "example.com", 1.0) for s in servers]

        before = serials()
        assert before[0] is not None and before == [before[0]] * 3
        clone = sandbox.root / "clone"
        _git(clone, "config", "user.name", "Test Operator")
        _git(clone, "config", "user.email", "operator@example.com")
        zone = clone / "zones" / "example.com.zone"

        zone.write_text(zone.read_text().replace(WWW, "www     IN A    192.0.2.98"))
        _git(clone, "commit", "-qam", "Move www, unsigned")
        _git(clone, "push", "-q", "origin", "main")
        code, outcome = _apply(config)
        assert code == 3, outcome
        assert outcome["status"] == "refused"
        assert "is not signed" in outcome["reason"]
        assert serials() == before

        zone.write_text(zone.read_text().replace("192.0.2.98", "192.0.2.99"))
        signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"]
        _git(clone, *signing, "commit", "-S", "-qam", "Move www again, signed")
        _git(clone, "push", "-q", "origin", "main")
        code, outcome = _apply(config)
        assert code == 0, outcome
        served = outcome["served"]["example.com"]
        assert served != before[0]
        assert serials() == [served] * 3
    finally:
        sandbox.servers.stop_all()
