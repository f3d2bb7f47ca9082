"""Secondaries as the classic setup has them: only the primary sends NOTIFY. Issue #10 item 7.

A secondary configured by `reconciler bind-config` has `notify no`, so it does not NOTIFY
the other servers of a zone's NS set after each transfer, and none of them logs "refused
notify from non-primary" about another secondary all day.
"""

from __future__ import annotations

from integration.topology import Topology, set_www


def test_secondaries_do_not_notify_each_other(topology: Topology) -> None:
    daemon_log = topology.daemon_log
    assert daemon_log is not None
    clone = topology.clone()
    sha = clone.change(
        "zones/example.test.zone",
        lambda text: set_www(text, "www     IN A    198.51.100.187"),
        "Move www, to have the secondaries transfer",
    )
    event = daemon_log.outcome(sha)
    assert (event["event"], event["status"]) == ("reconciled", "confirmed"), event
    topology.wait_converged(sha)
    secondaries = {node.address for node in topology.secondaries}
    for node in topology.servers:
        log = node.log()
        refused = [
            line
            for line in log.splitlines()
            if "refused notify from non-primary" in line
            and any(f": {address}#" in line for address in secondaries)
        ]
        assert not refused, f"{node.name}: {refused[:3]}"
    for node in topology.secondaries:
        assert "transfer of 'example.test/IN'" in node.log()
        assert "sending notifies" not in node.log(), node.name
