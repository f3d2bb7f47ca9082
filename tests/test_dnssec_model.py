"""The pure parts of DNSSEC: how a change of policy reads and when it is unsafe, and doctor's
verdicts on chain-of-trust facts (no BIND, no network: values in, values out)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.bind.dnssec import Signature
from reconciler.doctor.dnssecfacts import Denial, DnssecFacts, ZoneKey
from reconciler.doctor.dnssecfindings import dnssec_findings, ds_mismatch
from reconciler.doctor.values import Endpoint, Options
from reconciler.model.dnssec import BIND_DEFAULT, Dnssec, Policy, breaking_ds, policy_change
from reconciler.model.plan import Safety, make_plan
from reconciler.model.zone import CanonicalZone

pytestmark = pytest.mark.unit

ED = Policy("modern", algorithm="ed25519")
NOW = 1_800_000_000.0
DIGEST = "AB" * 32
KEY = ZoneKey(4711, 13, 257, f"example.com. IN DS 4711 13 2 {DIGEST}")
PARENT = Endpoint("192.0.2.53")


def _config(policy: str) -> Dnssec:
    return Dnssec(zones={"example.com": policy}, policies={"modern": ED})


def test_how_a_change_of_policy_reads_and_which_break_a_ds() -> None:
    on = policy_change(_config("none"), _config("default"), "example.com")
    assert on is not None and on.text == "signing on: default (ECDSAP256SHA256, CSK, NSEC)"
    assert not on.breaks_ds
    off = policy_change(_config("default"), _config("none"), "example.com")
    assert off is not None and off.breaks_ds
    roll = policy_change(_config("default"), _config("modern"), "example.com")
    assert roll is not None and roll.breaks_ds
    assert roll.text == "algorithm change: ECDSAP256SHA256 -> ED25519 (policy default -> modern)"
    out = policy_change(_config("default"), _config("insecure"), "example.com")
    assert out is not None and not out.breaks_ds and out.text.startswith("going insecure")
    assert policy_change(_config("default"), _config("default"), "example.com") is None
    assert breaking_ds(_config("default"), _config("none"), ["example.com", "other.org"]) == [
        "example.com"
    ]
    assert _config("default").policy("example.com") == BIND_DEFAULT


ZONE = CanonicalZone.from_lines(
    "example.com",
    (
        "example.com. 3600 IN SOA ns1.example.com. h.example.com. 5 1800 900 1209600 300",
        "example.com. 3600 IN NS ns1.example.com.",
        "ns1.example.com. 3600 IN A 192.0.2.1",
    ),
)


@pytest.mark.parametrize(
    ("held", "unsafe", "says"),
    [
        (True, True, "the parent holds a DS for the zone"),
        (False, False, "the parent holds no DS"),
        (None, False, "the DS at the parent could not be checked"),
    ],
)
def test_signing_off_is_unsafe_only_while_the_parent_holds_a_ds(
    held: bool | None, unsafe: bool, says: str
) -> None:
    plan = make_plan(
        {"example.com": ZONE},
        {"example.com": ZONE},
        base_label="a",
        head_label="b",
        safety=Safety(),
        scheme="increment",
        now=datetime(2026, 12, 1, tzinfo=UTC),
        dnssec=(_config("default"), _config("none")),
        parent_ds={"example.com": held},
    )
    (zone,) = plan.zones  # no record changed: the signing did
    assert zone.changes == () and zone.serial_after == 6
    assert zone.ds is not None and zone.ds.startswith(says)
    assert (plan.verdict == "unsafe") is unsafe


def _facts(parent: tuple[str, ...] | None, expires_in: float = 10 * 86400) -> DnssecFacts:
    good = Signature(None, int(NOW + expires_in))
    return DnssecFacts(
        keys=(KEY,),
        asked_at=NOW,
        parent_ds=((PARENT, parent),),
        signatures={"ns1": {"SOA": good, "DNSKEY": good}},
        denial={"ns1": Denial("NXDOMAIN", ("NSEC",), True)},
    )


DEFAULTS = Options()  # thresholds: a warning at 7 days, a problem at 2


def _codes(facts: DnssecFacts, options: Options = DEFAULTS) -> dict[str, str]:
    return {f.code: f.severity for f in dnssec_findings("example.com", facts, options)}


def test_doctor_judges_the_chain() -> None:
    right = f"4711 13 2 {DIGEST.lower()}"
    assert _codes(_facts((right,))) == {
        "dnssec-ds-ok": "ok",
        "dnssec-valid": "ok",
        "dnssec-denial": "ok",
    }
    assert ds_mismatch(_facts((right,))) is False
    wrong = _codes(_facts(("999 13 2 " + "CD" * 32,)))
    assert wrong["dnssec-ds-wrong"] == "problem" and "dnssec-cds-missing" in wrong
    assert ds_mismatch(_facts(("999 13 2 " + "CD" * 32,))) is True
    assert _codes(_facts(()))["dnssec-ds-missing"] == "warning"
    assert ds_mismatch(_facts(())) is None
    assert "dnssec-ds-silent" in _codes(_facts(None))


def test_expiry_thresholds() -> None:
    assert "dnssec-expiry-warning" in _codes(_facts((), 5 * 86400))
    assert "dnssec-expiry-problem" in _codes(_facts((), 86400))
    custom = Options(expiry_warning=2 * 86400, expiry_problem=0.5 * 86400)
    assert "dnssec-expiry-warning" in _codes(_facts((), 86400), custom)
    bogus = DnssecFacts(
        keys=(KEY,),
        asked_at=NOW,
        parent_ds=(),
        signatures={"ns2": {"SOA": Signature("example.com SOA: its RRSIG does not validate")}},
    )
    assert _codes(bogus)["dnssec-bogus"] == "problem"
