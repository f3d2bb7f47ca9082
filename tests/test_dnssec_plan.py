"""`plan` shows how a commit changes DNSSEC, and refuses as unsafe a change that would
make a zone bogus while its parent holds a DS: the parent is a real named on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.atomic import write_atomic
from reconciler.bind import probe
from reconciler.bind.conf import primary_include
from reconciler.devtools import sandbox
from reconciler.devtools.sandbox import free_port
from reconciler.model.plan import ALLOW_TRAILER
from tests.conftest import ZoneRepo
from tests.test_dnssec_config import with_policy

PARENT = """$TTL 3600
@            IN SOA ns.com. hostmaster.com. ( 1 1800 900 1209600 1800 )
@            IN NS  ns.com.
ns           IN A   192.0.2.53
example      IN NS  ns1.example.com.
example      IN DS  12345 13 2 {digest}
ns1.example  IN A   192.0.2.1
"""
FAST = '\n[dnssec.policies.fast]\nalgorithm = "ed25519"\n'


@pytest.fixture(scope="module")
def parent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A named serving `com.` with a DS for example.com; its ADDR:PORT."""
    root = tmp_path_factory.mktemp("parent")
    with sandbox.start_servers(root, secondaries=0) as servers:
        primary = servers.primary
        assert primary.include_file is not None
        zone_file = primary.zone_dir / "com.zone"
        write_atomic(zone_file, PARENT.format(digest="AB" * 32))
        include = primary_include(
            {"com": zone_file}, [], sandbox.TRANSFER_KEY, servers.catalog_file,
            servers.transfer_key_file,
        )  # fmt: skip
        write_atomic(primary.include_file, include)
        servers.rndc().reconfig()
        assert probe.wait_for_serial(primary.address, primary.port, "com", 1, 30) == 1
        yield f"{primary.address}:{primary.port}"


def _signed(zone_repo: ZoneRepo, policy: str, extra: str = "") -> str:
    root = zone_repo.repo.git.rev_list("--max-parents=0", "HEAD")
    template = zone_repo.repo.git.show(f"{root}:reconciler.toml") + "\n"
    text = with_policy(template, "example.com", policy) + extra
    zone_repo.write("reconciler.toml", text)
    return zone_repo.commit(f"example.com: {policy}")


def test_plan_shows_signing_on_policy_and_algorithm_changes(zone_repo: ZoneRepo) -> None:
    _signed(zone_repo, "default")
    result = zone_repo.run("plan", "--base", "HEAD~", "--head", "HEAD")
    assert result.code == 0, result.out + result.err
    assert "zone example.com: change" in result.out
    assert "dnssec: signing on: default (ECDSAP256SHA256, CSK, NSEC)" in result.out
    assert "0 added, 0 removed, 0 changed RRset(s)" in result.out

    _signed(zone_repo, "fast", FAST)
    result = zone_repo.run("plan", "--base", "HEAD~", "--head", "HEAD")
    assert "dnssec: algorithm change: ECDSAP256SHA256 -> ED25519 (policy default -> fast)" in (
        result.out
    )
    # No parent to ask (CI): said, not guessed, and not unsafe.
    assert "dnssec: the DS at the parent could not be checked" in result.out
    assert result.code == 0, result.out


def test_signing_off_while_the_parent_holds_a_ds_is_unsafe(
    zone_repo: ZoneRepo, parent: str
) -> None:
    _signed(zone_repo, "default")
    _signed(zone_repo, "none")
    result = zone_repo.run("plan", "--base", "HEAD~", "--head", "HEAD", "--parent", parent)
    assert result.code == 3, result.out + result.err
    assert "dnssec: signing off (was default (ECDSAP256SHA256, CSK, NSEC))" in result.out
    assert "dnssec: the parent holds a DS for the zone" in result.out
    assert (
        "UNSAFE: signing off (was default (ECDSAP256SHA256, CSK, NSEC)) while the parent holds "
        'a DS: the zone turns bogus; set the policy to "insecure", withdraw the DS at the '
        'registrar, then "none"'
    ) in result.out

    zone_repo.repo.git.commit("--amend", "-q", "-m", f"example.com: none\n\n{ALLOW_TRAILER}")
    allowed = zone_repo.run("plan", "--base", "HEAD~", "--head", "HEAD", "--parent", parent)
    assert allowed.code == 0 and "verdict: unsafe but allowed" in allowed.out, allowed.out

    # The way out BIND offers is not unsafe: insecure signs on until the DS is gone.
    zone_repo.repo.git.reset("-q", "--hard", "HEAD~")
    _signed(zone_repo, "insecure")
    result = zone_repo.run("plan", "--base", "HEAD~", "--head", "HEAD", "--parent", parent)
    assert result.code == 0 and "going insecure" in result.out, result.out


def test_an_unreachable_parent_is_said(zone_repo: ZoneRepo) -> None:
    _signed(zone_repo, "default")
    _signed(zone_repo, "none")
    nobody = f"127.0.0.1:{free_port()}"
    result = zone_repo.run("plan", "--base", "HEAD~", "--head", "HEAD", "--parent", nobody)
    assert result.code == 0, result.out
    assert "dnssec: the DS at the parent could not be checked" in result.out


def test_parent_without_a_ds_makes_signing_off_safe(
    zone_repo: ZoneRepo, parent: str, tmp_path: Path
) -> None:
    config = (zone_repo.path / "reconciler.toml").read_text()
    zone_repo.write("zones/other.com.zone", (zone_repo.path / "zones/example.com.zone").read_text())
    zone_repo.write("reconciler.toml", with_policy(config, "other.com", "default"))
    zone_repo.commit("other.com, signed")
    zone_repo.write("reconciler.toml", config)
    zone_repo.commit("other.com: unsigned")
    result = zone_repo.run("plan", "--base", "HEAD~", "--head", "HEAD", "--parent", parent)
    assert result.code == 0, result.out
    assert "dnssec: the parent holds no DS" in result.out
