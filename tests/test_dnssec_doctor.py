"""doctor's DNSSEC walk against real named processes: the demo's servers with example.com
signed inline by a policy of short signatures, and a parent for `com` of our own that holds
no DS, a wrong one, or the right one. Every RRSIG is validated with dnspython."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.dnssec
import dns.name
import git
import pytest

from reconciler.bind.dnssec import zone_keys
from reconciler.devtools import demo
from reconciler.devtools.init import commit_all
from reconciler.devtools.sandbox import ADDRESS, ServerProcess
from tests.test_dnssec_config import with_policy
from tests.test_doctor import COM, Run, run, start_named

SHORT = """
[dnssec.policies.short]
algorithm = "ecdsap256sha256"
signatures_validity = "1d"
signatures_validity_dnskey = "1d"
signatures_refresh = "12h"
"""
WRONG_DS = "example.com. IN DS 4711 13 2 " + "AB" * 32 + "\n"


@dataclass
class Signed:
    root: Path
    sandbox: demo.Demo
    ds: str  # the DS the zone's CSK makes: example.com. IN DS ...

    def doctor(self, parent: ServerProcess, *args: str) -> Run:
        clone = str(self.root / "demo" / "clone")
        where = f"{ADDRESS}:{parent.port}"
        return run("-C", clone, "doctor", "--parent", where, "--format", "json", *args)


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    root = tmp_path_factory.mktemp("dnssec-doctor")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECONCILER_CACHE_DIR", str(root / "cache"))
        sandbox = demo.setup(root / "demo", deadline=20, hooks=False)
        try:
            clone = root / "demo" / "clone"
            config = clone / "reconciler.toml"
            config.write_text(with_policy(config.read_text(), "example.com", "short") + SHORT)
            commit_all(git.Repo(clone), "Sign example.com, short signatures")
            git.Repo(clone).git.push("-q", "origin", "main")
            applied = run("apply", "--config", str(root / "demo" / "daemon.toml"))
            assert applied.code == 0, applied.out + applied.err
            primary = sandbox.servers.primary
            keys = zone_keys(primary.address, primary.port, "example.com", 2.0)
            assert keys is not None
            name = dns.name.from_text("example.com")
            ds = next(
                f"example.com. IN DS {dns.dnssec.make_ds(name, key, 'SHA256').to_text()}"
                for key in keys
                if key.flags & 1
            )
            yield Signed(root, sandbox, ds)
        finally:
            sandbox.servers.stop_all()


@pytest.fixture
def parent(tmp_path: Path) -> Iterator[ServerProcess]:
    """A parent for `com` that holds no DS for example.com."""
    server = start_named(tmp_path, "tld", {"com": COM})
    yield server
    server.stop()


def _finding(result: Run, code: str, subject_part: str = "") -> dict:
    found = [
        f
        for f in result.report["findings"]
        if f["code"] == code and subject_part in f["subject"] and f["zone"] == "example.com"
    ]
    assert found, f"no {code} in {result.out}"
    return found[0]


def test_no_ds_at_the_parent_says_the_ds_to_hand_over(
    signed: Signed, parent: ServerProcess
) -> None:
    result = signed.doctor(parent, "example.com")
    missing = _finding(result, "dnssec-ds-missing")
    assert missing["severity"] == "warning"
    assert signed.ds in missing["fix"] and "rndc dnssec -checkds" in missing["fix"]
    # Signatures of one day: a problem under the default threshold of two days, everywhere.
    for server in ("ns1", "ns2", "ns3"):
        expiring = _finding(result, "dnssec-expiry-problem", server)
        assert "expires in" in expiring["message"]
        assert "rndc zonestatus example.com" in expiring["fix"]
        assert _finding(result, "dnssec-denial", server)["message"].endswith("with NSEC")
    assert result.code == 1


def test_a_wrong_ds_is_a_problem_with_the_right_one_named(signed: Signed, tmp_path: Path) -> None:
    server = start_named(tmp_path, "tld", {"com": COM + WRONG_DS})
    try:
        result = signed.doctor(server, "example.com")
    finally:
        server.stop()
    wrong = _finding(result, "dnssec-ds-wrong")
    assert wrong["severity"] == "problem"
    assert "4711 13 2" in wrong["message"] and "bogus" in wrong["message"]
    assert signed.ds in wrong["fix"]
    codes = {f["code"] for f in result.report["findings"]}
    assert codes & {"dnssec-cds", "dnssec-cds-missing"}, "a DS change is due: CDS not said"
    assert result.code == 1


def test_the_right_ds_holds_and_thresholds_are_configurable(signed: Signed, tmp_path: Path) -> None:
    server = start_named(tmp_path, "tld", {"com": COM + signed.ds + "\n"})
    try:
        result = signed.doctor(
            server, "example.com", "--expiry-warning", "3", "--expiry-problem", "0.1"
        )
    finally:
        server.stop()
    assert _finding(result, "dnssec-ds-ok")["message"].startswith("the DS matches the CSK")
    for name in ("ns1", "ns2", "ns3"):
        assert _finding(result, "dnssec-expiry-warning", name)["severity"] == "warning"
    assert result.code == 0, result.out


def test_the_deployed_signed_zone_is_not_drift_to_doctor(signed: Signed) -> None:
    """BIND moves the signed serial past the one the reconciler served: that is no problem."""
    config = str(signed.root / "demo" / "daemon.toml")
    result = run("doctor", "--config", config, "--format", "json", "example.com")
    codes = {f["code"] for f in result.report["findings"]}
    assert "recorded-differs" not in codes, result.out
    assert "dnssec-ds-not-asked" in codes  # no parent given: the DS is said, not checked
