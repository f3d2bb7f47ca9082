"""A Knot DNS secondary among the BIND ones: configured with `reconciler bind-config
--secondary ns4 --software knot`, it follows the primary's catalog zone and confirms every
change as ns2 and ns3 do, through a zone added and removed; doctor asks it as it asks them.
Issue 16, point 5.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from integration.conftest import LOGS
from integration.topology import ZONE, Node, Topology, doctor, set_www, wait_until

KNOT = "ns4"
ADDED = "knot-added.test"
ADDED_ZONE = """$TTL 3600
@       IN SOA  ns1.example.test. hostmaster.example.test. ( 1 1800 900 1209600 300 )
        IN NS   ns1.example.test.
        IN NS   ns2.example.test.
        IN NS   ns3.example.test.
www     IN A    198.51.100.91
"""
SECONDARY = f"""[[secondary]]
name = "{KNOT}"
address = "172.30.53.13"
port = 53

"""


@pytest.fixture
def knot(topology: Topology) -> Iterator[Node]:
    """ns4 running knotd with what bind-config printed for it, listed in reconciler.toml."""
    clone = topology.clone()
    config = clone.read("reconciler.toml")
    marker = "# Zone transfers"
    clone.write("reconciler.toml", config.replace(marker, SECONDARY + marker, 1))
    listed = clone.commit("A Knot DNS secondary, ns4")
    printed = topology.primary.exec(
        "reconciler", "-C", clone.path, "bind-config", "--secondary", KNOT, "--software", "knot"
    ).out
    assert "catalog-role: interpret" in printed
    node = topology.create(KNOT)
    try:
        node.put("/etc/bind/transfer.key", topology.primary.read("/etc/bind/tsig/transfer.key"))
        node.put("/etc/knot/reconciler-secondary.conf", printed)
        node.container.start()
        topology.wait_serving(KNOT, ZONE)
        clone.push()
        assert topology.daemon_log is not None
        event = topology.daemon_log.outcome(listed)  # no zone changed: nothing to confirm
        assert (event["event"], event["status"]) == ("reconciled", "unchanged"), event
        topology.wait_converged(listed)  # `status` asks ns4 too
        yield node
    finally:
        try:
            latest = topology.clone()  # the test pushed from clones of its own
            latest.write("reconciler.toml", latest.read("reconciler.toml").replace(SECONDARY, ""))
            dropped = latest.commit("No Knot secondary any more")
            latest.push()
            if topology.daemon_log is not None:
                topology.daemon_log.outcome(dropped)
        finally:
            LOGS.parent.mkdir(parents=True, exist_ok=True)  # the session's teardown empties LOGS
            (LOGS.parent / f"{KNOT}-knot.log").write_bytes(node.container.logs())
            node.container.remove(force=True, v=True)
            del topology.nodes[KNOT]


def test_knot_secondary_confirms_changes_and_follows_the_catalog(
    topology: Topology, knot: Node
) -> None:
    daemon_log = topology.daemon_log
    assert daemon_log is not None
    assert topology.soa(KNOT, ZONE) == topology.soa("ns1", ZONE)
    status = topology.status()
    assert KNOT in {server["name"] for server in status["servers"]}
    assert status["converged"], status

    clone = topology.clone()
    moved = clone.change(
        f"zones/{ZONE}.zone", lambda t: set_www(t, "www     IN A    198.51.100.84"), "Move www"
    )
    event = daemon_log.outcome(moved)
    assert (event["event"], event["status"]) == ("reconciled", "confirmed"), event
    assert topology.answer(KNOT, f"www.{ZONE}") == ["198.51.100.84"]
    assert topology.axfr(KNOT, ZONE) == topology.axfr("ns1", ZONE)  # same records, same SOA

    clone.write(f"zones/{ADDED}.zone", ADDED_ZONE)
    added = clone.commit(f"Serve {ADDED}")
    clone.push()
    event = daemon_log.outcome(added)
    assert (event["event"], event["status"]) == ("reconciled", "confirmed"), event
    assert topology.answer(KNOT, f"www.{ADDED}") == ["198.51.100.91"]

    clone.git("rm", "-q", f"zones/{ADDED}.zone")
    removed = clone.commit(f"Stop serving {ADDED}\n\nReconciler-Allow: unsafe")
    clone.push()
    event = daemon_log.outcome(removed)
    assert (event["event"], event["status"]) == ("reconciled", "confirmed"), event
    wait_until(lambda: topology.soa(KNOT, ADDED) is None, f"{ADDED} to disappear from {KNOT}")
    assert topology.soa(KNOT, ZONE) == topology.soa("ns1", ZONE)

    # doctor asks ns4 as it asks ns2 and ns3 (reconciler.toml lists it), and finds it healthy
    run = doctor(topology)
    report = json.loads(run.out)
    assert KNOT in [server["name"] for server in report["servers"]], report["servers"]
    assert run.code == 0 and report["healthy"] is True, run.output
    about = [f for f in report["findings"] if KNOT in f["subject"]]
    assert about and all(f["severity"] != "problem" for f in about), about
