"""DNSSEC end to end in the containers: example.test signed from git, its DS published at the
signed parent `test.` by the test (as a registrar would), a validating resolver that trusts
the parent's key answering with AD; a push turning signing off while the DS is published is
refused as unsafe; doctor finds a wrong DS at the parent and signatures about to expire
(a policy of one-day signatures) and says what to do. At the end the DS is withdrawn and the
zone unsigned again, so the next test finds the topology as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import pytest

from integration.conftest import LOGS
from integration.topology import (
    PARENT_ZONE,
    ZONE,
    Clone,
    Topology,
    doctor,
    wait_until,
)
from reconciler.bind.dnssec import zone_keys

CONFIG = "reconciler.toml"
SHORT = """
[dnssec.policies.short]
algorithm = "ecdsap256sha256"
signatures_validity = "1d"
signatures_validity_dnskey = "1d"
signatures_refresh = "12h"
"""
WRONG_DS = f"{ZONE}. IN DS 4711 13 2 " + "AB" * 32


def _signed(config: str, policy: str) -> str:
    """reconciler.toml with example.test under `policy` (the template's [dnssec.zones])."""
    zones = "\n[dnssec.zones]\n"
    assert zones in config
    body = re.sub(rf'^"{re.escape(ZONE)}" = .*\n', "", config, flags=re.M)
    return body.replace(zones, f'{zones}"{ZONE}" = "{policy}"\n', 1)


def _publish(topology: Topology, serial: int, ds: str = "") -> None:
    """The registrar's step: the parent's zone file with `ds` (none: withdrawn), reloaded."""
    parent = topology.nodes["parent"]
    text = PARENT_ZONE.replace("( 1 1800", f"( {serial} 1800", 1)
    parent.put("/srv/parent/test.zone", text + (f"{ds}\n" if ds else ""))
    parent.sh("kill -HUP $(pidof named)")

    def served() -> bool:
        query = dns.message.make_query(f"{ZONE}.", "DS")
        query.flags &= ~dns.flags.RD
        reply = dns.query.udp(query, topology.address("parent"), timeout=2.0)
        found = sorted(r.to_text() for rrset in reply.answer for r in rrset)
        want = [ds.split(" IN DS ", 1)[1].lower()] if ds else []
        return [f.lower() for f in found] == want

    wait_until(served, f"the parent to serve the DS {ds or '(none)'}")


def _findings(topology: Topology) -> dict[str, list[dict]]:
    run = doctor(topology)
    found: dict[str, list[dict]] = {}
    for finding in json.loads(run.out)["findings"]:
        found.setdefault(finding["code"], []).append(finding)
    return found


def _start_resolver(topology: Topology) -> str:
    """The validating resolver, trusting the parent's KSK/CSK; its address."""
    parent = topology.address("parent")
    keys = wait_until(lambda: zone_keys(parent, 53, "test", 2.0), "the parent to be signed")
    anchors = "".join(
        f'\t"test." static-key {k.flags} {k.protocol} {k.algorithm} '
        f'"{k.to_text().split(None, 3)[3].replace(" ", "")}";\n'
        for k in keys
        if k.flags & 1
    )
    node = topology.create("resolver", {"PARENT_ADDRESS": parent})
    node.put("/etc/bind/trust-anchors.conf", f"trust-anchors {{\n{anchors}}};\n")
    node.container.start()
    return topology.address("resolver")


def _validated(resolver: str, name: str) -> tuple[bool, list[str]]:
    """(the AD flag, the A records) of the resolver's answer for `name`."""
    query = dns.message.make_query(name, "A", want_dnssec=True)
    query.flags |= dns.flags.AD
    try:
        reply = dns.query.udp(query, resolver, timeout=3.0)
    except (dns.exception.Timeout, OSError):
        return False, []  # not started yet
    records = sorted(
        r.to_text() for rrset in reply.answer if rrset.rdtype == dns.rdatatype.A for r in rrset
    )
    return bool(reply.flags & dns.flags.AD), records


@pytest.fixture
def clone(topology: Topology) -> Iterator[Clone]:
    """A user's clone; afterwards the DS is withdrawn, the zone unsigned, the resolver gone."""
    clone = topology.clone()
    original = clone.read(CONFIG)
    try:
        yield clone
    finally:
        _publish(topology, 90)  # the registrar withdraws the DS first: then unsigning is safe
        if clone.read(CONFIG) != original:
            clone.write(CONFIG, original)
            clone.commit("Sign example.test no more\n\nReconciler-Allow: unsafe")
            clone.push()
        resolver = topology.nodes.pop("resolver", None)
        if resolver is not None:
            LOGS.mkdir(parents=True, exist_ok=True)
            (LOGS / "resolver-named.log").write_text(resolver.log())
            resolver.container.remove(force=True, v=True)
        topology.wait_converged()


def test_signed_zone_chain_of_trust_and_its_safety(topology: Topology, clone: Clone) -> None:
    daemon_log = topology.daemon_log
    assert daemon_log is not None
    config = clone.read(CONFIG)
    clone.write(CONFIG, _signed(config, "short") + SHORT)
    signed = clone.commit("Sign example.test with one-day signatures")
    clone.push()
    event = daemon_log.outcome(signed)
    assert (event["event"], event["status"]) == ("reconciled", "confirmed"), event

    primary = topology.address("ns1")
    keys = zone_keys(primary, 53, ZONE, 2.0)
    assert keys is not None
    name = dns.name.from_text(ZONE)
    ds = next(
        f"{ZONE}. IN DS {dns.dnssec.make_ds(name, key, 'SHA256').to_text()}"
        for key in keys
        if key.flags & 1
    )

    # No DS yet: doctor hands over the DS; one-day signatures are a problem, with the fix.
    found = _findings(topology)
    (missing,) = found["dnssec-ds-missing"]
    assert ds in missing["fix"] and "rndc dnssec -checkds" in missing["fix"], missing
    expiring = found["dnssec-expiry-problem"]
    assert {f["subject"] for f in expiring} == {"ns1", "ns2", "ns3"}, found.keys()
    assert all("rndc zonestatus example.test" in f["fix"] for f in expiring)

    # The registrar publishes a wrong DS: doctor names it and the one to publish instead.
    _publish(topology, 2, WRONG_DS)
    (wrong,) = _findings(topology)["dnssec-ds-wrong"]
    assert "4711 13 2" in wrong["message"] and "bogus" in wrong["message"]
    assert ds in wrong["fix"], wrong

    # The right DS: the chain holds, and a validating resolver answers with AD.
    _publish(topology, 3, ds)
    assert _findings(topology)["dnssec-ds-ok"]
    resolver = _start_resolver(topology)
    ad, records = wait_until(
        lambda: (answer := _validated(resolver, f"www.{ZONE}"))[1] and answer,
        "the resolver to answer www.example.test",
    )
    assert (ad, records) == (True, ["198.51.100.80"])

    # Turning signing off while the parent holds the DS: refused as unsafe, still signed.
    clone.write(CONFIG, _signed(clone.read(CONFIG), "none"))
    off = clone.commit("Sign example.test no more")
    clone.push()
    event = daemon_log.outcome(off)
    assert (event["event"], event["status"]) == (
        "commit refused; waiting for a new commit",
        "unsafe",
    ), event
    assert "while the parent holds a DS" in json.dumps(event), event
    assert zone_keys(primary, 53, ZONE, 2.0) is not None
    assert _validated(resolver, f"www.{ZONE}") == (True, ["198.51.100.80"])
