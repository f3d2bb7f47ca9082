"""Zones added and removed in git reach the secondaries through the catalog zone, with no
step on any secondary. Issue #5, scenario 6.
"""

from __future__ import annotations

from integration.topology import Topology, wait_until
from reconciler.bind.catalog import CATALOG, catalog_member_id

ADDED = "added.test"
ADDED_ZONE = """$TTL 3600
@       IN SOA  ns1.example.test. hostmaster.example.test. ( 1 1800 900 1209600 300 )
        IN NS   ns1.example.test.
        IN NS   ns2.example.test.
        IN NS   ns3.example.test.
www     IN A    198.51.100.90
"""


def test_a_zone_added_in_git_appears_on_the_secondaries_and_a_removed_one_disappears(
    topology: Topology,
) -> None:
    daemon_log = topology.daemon_log
    assert daemon_log is not None
    clone = topology.clone()
    clone.write(f"zones/{ADDED}.zone", ADDED_ZONE)
    added = clone.commit(f"Serve {ADDED}")
    clone.push()
    event = daemon_log.outcome(added)
    assert (event["event"], event["status"]) == ("reconciled", "confirmed"), event

    member = f"{catalog_member_id(ADDED)}.zones.{CATALOG}. 0 IN PTR {ADDED}."
    assert member in topology.axfr("ns1", CATALOG)
    for node in topology.secondaries:
        assert topology.axfr(node.name, CATALOG) == topology.axfr("ns1", CATALOG)
        assert topology.answer(node.name, f"www.{ADDED}") == ["198.51.100.90"]
    topology.same_everywhere(ADDED)

    # Deleting a zone is unsafe: refused until the head commit carries the trailer.
    clone.git("rm", "-q", f"zones/{ADDED}.zone")
    unsafe = clone.commit(f"Stop serving {ADDED}")
    clone.push()
    event = daemon_log.outcome(unsafe)
    assert (event["event"], event["status"]) == (
        "commit refused; waiting for a new commit",
        "unsafe",
    ), event
    topology.same_everywhere(ADDED)  # still served everywhere

    allowed = clone.commit(f"Stop serving {ADDED}, really\n\nReconciler-Allow: unsafe")
    clone.push()
    event = daemon_log.outcome(allowed)
    assert (event["event"], event["status"]) == ("reconciled", "confirmed"), event
    assert member not in topology.axfr("ns1", CATALOG)

    def gone() -> bool:
        return all(topology.soa(node.name, ADDED) is None for node in topology.servers)

    wait_until(
        gone,
        f"{ADDED} to disappear from every server",
        seen=lambda: {node.name: topology.soa(node.name, ADDED) for node in topology.servers},
    )
    for node in topology.secondaries:
        assert topology.axfr(node.name, CATALOG) == topology.axfr("ns1", CATALOG)
    topology.wait_converged(allowed)
