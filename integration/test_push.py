"""Pushes: a good one reaches every server, a bad one is refused twice, one named refuses is
refused by the hook (the primary's limits) or, when nothing could foresee it, rolled back.
Issue #5, scenarios 1, 2 and 3; issue #10, item 2.

What is served is read from the test process with dnspython (AXFR with the TSIG key from
the primary, SOA queries) at the containers' addresses; the daemon's verdict from its JSON
log in the primary.
"""

from __future__ import annotations

import re

from integration.topology import REPO, ZONE, ZONE_FILE, Topology, set_www, wait_until
from reconciler.model.serial import is_newer


def test_a_push_from_a_clone_reaches_both_secondaries(topology: Topology) -> None:
    before = topology.soa("ns1")
    assert before is not None
    clone = topology.clone()
    sha = clone.change(ZONE_FILE, lambda t: set_www(t, "www     IN A    198.51.100.81"), "Move www")
    assert topology.head() == sha  # the push was accepted (the pre-receive hook passed)

    assert topology.daemon_log is not None
    event = topology.daemon_log.outcome(sha)
    assert (event["event"], event["status"]) == ("reconciled", "confirmed"), event

    served = topology.same_everywhere()  # AXFR from ns1, ns2, ns3: identical, SOA included
    serials = topology.serials()
    assert len(set(serials.values())) == 1, serials
    assert is_newer(serials["ns1"], before), (serials, before)
    assert f"www.{ZONE}. 3600 IN A 198.51.100.81" in served
    assert f"www.{ZONE}. 3600 IN A 198.51.100.80" not in served
    for node in topology.secondaries:
        assert topology.answer(node.name, f"www.{ZONE}") == ["198.51.100.81"]


def test_a_bad_zone_is_refused_by_the_hook_and_then_by_the_daemon(topology: Topology) -> None:
    good = {node.name: topology.axfr(node.name) for node in topology.servers}
    head = topology.head()
    clone = topology.clone()
    text = clone.read(ZONE_FILE)
    cname_line = len(text.splitlines()) + 1
    www_line = 1 + next(i for i, line in enumerate(text.splitlines()) if line.startswith("www"))
    clone.write(ZONE_FILE, text + "www     IN CNAME mail\n")
    bad = clone.commit("www: a CNAME beside its address")

    push = clone.push(check=False)
    assert push.code != 0, push.output
    found = re.search(rf"{re.escape(ZONE_FILE)}:(\d+): .*CNAME and other data", push.output)
    assert found, push.output
    assert int(found.group(1)) in (cname_line, www_line), push.output
    assert topology.head() == head  # refused: the branch did not move

    hooks = f"{REPO}/hooks"
    topology.primary.sh(f"mv {hooks}/pre-receive {hooks}/pre-receive.off")
    try:
        clone.push()  # no pre-receive hook: accepted
        assert topology.head() == bad
        assert topology.daemon_log is not None
        event = topology.daemon_log.outcome(bad)
        assert event["event"] == "commit refused; waiting for a new commit", event
        assert event["status"] == "invalid", event
        assert "CNAME and other data" in event["reason"], event
        for node in topology.servers:
            assert topology.axfr(node.name) == good[node.name], f"{node.name} changed"
        status = topology.status()
        assert status["deployed"] == head
        assert status["last_failure"]["commit"] == bad
    finally:
        topology.primary.sh(f"mv {hooks}/pre-receive.off {hooks}/pre-receive")
        clone.git("revert", "--no-edit", "HEAD")
        clone.push()
    topology.wait_converged()


def test_a_ttl_named_refuses_is_refused_first_and_rolled_back_when_unforeseen(
    topology: Topology,
) -> None:
    before = topology.soa("ns1")
    assert before is not None
    records = topology.records("ns1")
    head = topology.head()
    clone = topology.clone()
    # named-checkzone accepts this TTL; the primary's named (max-zone-ttl 86400) does not,
    # and the pre-receive hook's check reads that limit from the primary's named.conf
    clone.write(ZONE_FILE, set_www(clone.read(ZONE_FILE), "www     172800 IN A 198.51.100.83"))
    sha = clone.commit("Cache www long")
    push = clone.push(check=False)
    assert push.code != 0, push.output
    assert (
        "TTL 172800 is over 86400: named refuses to load the zone (max-zone-ttl, the primary's "
        "/etc/bind/named.conf)"
    ) in push.output, push.output
    assert topology.head() == head

    # What check cannot foresee: named.conf edited on disk, named not told. named keeps
    # refusing TTLs over a day; the daemon writes the zone, and rolls it back.
    conf = "/etc/bind/named.conf"
    topology.primary.sh(f"cp {conf} {conf}.kept && sed -i '/max-zone-ttl/d' {conf}")
    try:
        clone.push()
        assert topology.daemon_log is not None
        event = topology.daemon_log.outcome(sha)
        assert event["event"] == "commit refused; waiting for a new commit", event
        assert event["status"] == "rolled-back", event
        assert "max-zone-ttl" in event["reason"], event

        def rolled_back() -> dict[str, int | None] | None:
            serials = topology.serials()
            values = set(serials.values())
            if len(values) == 1 and None not in values and is_newer(serials["ns1"], before):
                return serials
            return None

        wait_until(rolled_back, "every server to serve the rolled-back zone, serial moved on")
        for node in topology.servers:
            assert topology.records(node.name) == records, f"{node.name} serves other data"
        topology.same_everywhere()
        assert topology.status()["last_failure"]["commit"] == sha
    finally:
        topology.primary.sh(f"mv {conf}.kept {conf}")
        clone.git("revert", "--no-edit", "HEAD")
        clone.push()
    topology.wait_converged()
