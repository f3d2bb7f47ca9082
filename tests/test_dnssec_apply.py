"""A signed zone end to end on the loopback sandbox: real named processes sign inline
(`dnssec-policy`), the reconciler confirms the signed zone on the primary and on every
secondary, and every RRSIG asked for is validated with dnspython against the primary's
DNSKEYs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import git
import pytest
from click.testing import CliRunner

from reconciler.apply.state import good_copy
from reconciler.bind import probe
from reconciler.bind.dnssec import signature, zone_keys
from reconciler.cli.main import main
from reconciler.devtools import demo
from reconciler.devtools.init import commit_all
from reconciler.model.serial import is_newer
from tests.daemonsite import wait_until
from tests.test_apply import WWW, ZONE, Deployment
from tests.test_dnssec_config import with_policy


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    sandbox = demo.setup(tmp_path / "demo", deadline=20, hooks=False)
    try:
        yield Deployment(sandbox)
    finally:
        sandbox.servers.stop_all()


def _not_older(seen: int | None, serial: int) -> bool:
    return seen is not None and (seen == serial or is_newer(seen, serial))


def _signed_everywhere(deployment: Deployment, name: str, rtype: str, want: list[str]) -> None:
    """Every server answers `name` with `want`, under an RRSIG that validates."""
    primary = deployment.sandbox.servers.primary
    keys = zone_keys(primary.address, primary.port, "example.com", 2.0)
    assert keys is not None, "the primary serves no DNSKEY"
    for server in deployment.servers:
        assert deployment.answer(server, name, rtype) == want, server.name
        checked = signature(server.address, server.port, "example.com", name, rtype, keys, 2.0)
        assert checked.problem is None, f"{server.name}: {checked.problem}"


def _sign(deployment: Deployment) -> dict:
    sign = partial(with_policy, zone="example.com", policy="default")
    deployment.edit("reconciler.toml", sign, "Sign example.com")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    return outcome


def test_signed_zone_applied_changed_and_confirmed_on_every_secondary(
    deployment: Deployment,
) -> None:
    first = _sign(deployment)
    assert first["status"] == "confirmed"
    _signed_everywhere(deployment, "www.example.com", "A", ["192.0.2.10"])
    # The file the reconciler writes stays unsigned; BIND signs a copy.
    written = (deployment.sandbox.host.zone_dir / "example.com.zone").read_text()
    assert "RRSIG" not in written and "DNSKEY" not in written

    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.99"), "Move www")
    code, outcome = deployment.apply()
    assert (code, outcome["status"]) == (0, "confirmed"), outcome
    unsigned, signed = outcome["served"]["example.com"], outcome["signed"]["example.com"]
    assert _not_older(signed, unsigned)
    primary, *secondaries = deployment.serials()
    assert _not_older(primary, signed)
    assert all(_not_older(s, signed) for s in secondaries), (signed, secondaries)
    _signed_everywhere(deployment, "www.example.com", "A", ["192.0.2.99"])
    bare = git.Repo(deployment.sandbox.root / "repo.git")
    note = bare.git.notes("--ref=reconciler", "show", "main")
    assert f"served: example.com serial {unsigned}" in note
    assert f"signed: example.com serial {signed}" in note

    # BIND moving the signed serial on its own is not a change: nothing is written again.
    code, again = deployment.apply()
    assert (code, again["status"]) == (0, "unchanged"), again


def test_rollback_of_a_signed_zone_moves_both_serials_forward(deployment: Deployment) -> None:
    _sign(deployment)
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.99"), "Move www")
    code, moved = deployment.apply()
    assert code == 0, moved
    code, back = deployment.run("rollback")
    assert (code, back["status"]) == (0, "confirmed"), back
    zone = "example.com"
    assert is_newer(back["served"][zone], moved["served"][zone])
    assert is_newer(back["signed"][zone], moved["signed"][zone])
    _signed_everywhere(deployment, "www.example.com", "A", ["192.0.2.10"])


def test_keys_stay_in_the_key_directory(deployment: Deployment) -> None:
    outcome = _sign(deployment)
    keys = deployment.sandbox.host.keys
    private = sorted(keys.glob("Kexample.com.+013+*.private"))
    assert private, f"no key in {keys}"
    secret = next(
        line.split(":", 1)[1].strip()
        for line in private[0].read_text().splitlines()
        if line.startswith("PrivateKey:")
    )
    clone = deployment.sandbox.root / "clone"
    tracked = deployment.clone.git.ls_files().splitlines()
    assert not [f for f in tracked if f.startswith("K") or "/K" in f]
    assert secret not in str(outcome)
    bare = git.Repo(deployment.sandbox.root / "repo.git")
    assert secret not in bare.git.log("--all", "-p", "--notes=reconciler")
    assert not list(clone.rglob("*.private"))
    primary = deployment.sandbox.servers.primary
    assert probe.soa_serial(primary.address, primary.port, "example.com") is not None


def test_a_lost_good_copy_of_a_signed_zone_is_rebuilt_without_the_signatures(
    deployment: Deployment,
) -> None:
    _sign(deployment)
    state = deployment.sandbox.host.state_dir
    good = good_copy(state, "example.com")
    kept = good.read_text()
    good.unlink()
    (state / "state.json").unlink()
    code, outcome = deployment.apply()
    assert (code, outcome["status"]) == (0, "unchanged"), outcome
    # The zone as written, with its unsigned serial: not what BIND added when it signed it.
    assert _records(good.read_text()) == _records(kept)


def _records(text: str) -> set[str]:
    return {" ".join(line.split()) for line in text.splitlines() if line}


def test_dnssec_status_names_the_keys_their_ds_and_the_next_step(deployment: Deployment) -> None:
    _sign(deployment)
    result = CliRunner().invoke(main, ["dnssec", "status", "--config", deployment.config])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("example.com: dnssec-policy default\n"), out
    key = re.search(
        r"^  key (\d+) CSK ECDSAP256SHA256: goal omnipresent, dnskey (\w+), ", out, re.M
    )
    assert key, out
    assert f"    DS: example.com. IN DS {key[1]} 13 2 " in out
    # A new key: BIND publishes the DNSKEY first; the DS is the operator's step after it.
    assert "  next: wait: the DNSKEY of key" in out or "  next: publish the DS at the" in out
    assert "example.net" not in out  # not signed

    code, status = deployment.run("status")
    signed = {z["zone"]: z["signed"] for z in status["zones"]}
    assert signed == {"example.com": True, "example.net": False}


def test_a_signed_zone_removed_and_added_again_keeps_its_key(deployment: Deployment) -> None:
    _sign(deployment)
    zone_dir = deployment.sandbox.host.zone_dir
    assert (zone_dir / "example.com.zone.signed").exists()
    primary = deployment.sandbox.servers.primary
    before = zone_keys(primary.address, primary.port, "example.com", 2.0)
    seen = deployment.serials()[0]  # the signed serial the world saw
    assert seen is not None
    clone = deployment.clone
    clone.git.rm("-q", ZONE)
    commit_all(clone, "Stop serving example.com\n\nReconciler-Allow: unsafe")
    clone.git.push("-q", "origin", "main")
    code, removed = deployment.apply()
    assert (code, removed["status"]) == (0, "confirmed"), removed
    assert not list(zone_dir.glob("example.com.zone*"))  # the signed copy went with the zone
    assert list(deployment.sandbox.host.keys.glob("Kexample.com.+013+*.private"))

    clone.git.revert("--no-commit", "HEAD")  # committed by commit_all: no git identity needed
    commit_all(clone, "Serve example.com again")
    clone.git.push("-q", "origin", "main")
    code, added = deployment.apply()
    assert (code, added["status"]) == (0, "confirmed"), added
    after = zone_keys(primary.address, primary.port, "example.com", 2.0)
    assert before is not None and after is not None
    assert {k.to_text() for k in after} == {k.to_text() for k in before}  # the DS still fits
    # Served again past every serial it was seen with, the signed one too.
    assert is_newer(added["served"]["example.com"], seen), (added["served"], seen)
    # (a secondary applies the catalog's removal and re-addition on its own time)
    wait_until(
        lambda: all(s is not None and is_newer(s, seen) for s in deployment.serials()),
        "every server to serve example.com past the serial seen before",
    )
