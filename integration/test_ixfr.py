"""A one-record change in a 100,000-record zone reaches both secondaries by IXFR, not by a
new AXFR of the whole zone. Issue #5, scenario 9.

The proof is in named's logs: the primary's xfer-out says "IXFR started" for each
secondary's address at the new serial, and each secondary's xfer-in reports a transfer of a
handful of records (an AXFR would carry all 100,000).
"""

from __future__ import annotations

import re

from integration.topology import Topology

BIG = "big.test"
RECORDS = 100_000
CHANGED = 54_321


def address(index: int, generation: int = 0) -> str:
    return f"10.{generation * 64 + (index >> 16)}.{(index >> 8) & 255}.{index & 255}"


def big_zone() -> str:
    lines = [
        "$TTL 3600",
        "@ IN SOA ns1.example.test. hostmaster.example.test. ( 1 1800 900 1209600 300 )",
        "@ IN NS ns1.example.test.",
        "@ IN NS ns2.example.test.",
        "@ IN NS ns3.example.test.",
    ]
    lines += [f"h{i} IN A {address(i)}" for i in range(RECORDS - 3)]  # with NS: RECORDS
    return "\n".join(lines) + "\n"


def test_one_record_changed_in_a_100000_record_zone_reaches_the_secondaries_by_ixfr(
    topology: Topology,
) -> None:
    daemon_log = topology.daemon_log
    assert daemon_log is not None
    clone = topology.clone()
    clone.write(f"zones/{BIG}.zone", big_zone())
    added = clone.commit(f"Serve {BIG}: {RECORDS} records")
    clone.push()
    try:
        event = daemon_log.outcome(added, limit=240)
        assert (event["event"], event["status"]) == ("reconciled", "confirmed"), event
        topology.wait_converged(added)
        logs = {node.name: len(node.log()) for node in topology.servers}

        old, new = address(CHANGED), address(CHANGED, generation=1)
        sha = clone.change(
            f"zones/{BIG}.zone",
            lambda t: t.replace(f"h{CHANGED} IN A {old}\n", f"h{CHANGED} IN A {new}\n"),
            f"Move h{CHANGED}",
        )
        event = daemon_log.outcome(sha, limit=240)
        assert (event["event"], event["status"]) == ("reconciled", "confirmed"), event
        serial = topology.soa("ns1", BIG)
        assert serial is not None
        for node in topology.secondaries:
            assert topology.soa(node.name, BIG) == serial
            assert topology.answer(node.name, f"h{CHANGED}.{BIG}") == [new]

        sent = topology.primary.log()[logs["ns1"] :]
        for node in topology.secondaries:
            started = re.search(
                rf"client @\S+ {re.escape(node.address)}#\d+/key \S+ \({re.escape(BIG)}\): "
                rf"transfer of '{re.escape(BIG)}/IN': (AXFR|IXFR) started",
                sent,
            )
            assert started, f"no transfer of {BIG} to {node.name} in the primary's log"
            assert started.group(1) == "IXFR", started.group(0)

            received = node.log()[logs[node.name] :]
            done = re.findall(
                rf"transfer of '{re.escape(BIG)}/IN' from \S+: Transfer completed: "
                rf"\d+ messages, (\d+) records.*\(serial {serial}\)",
                received,
            )
            assert done, f"{node.name} logged no completed transfer of serial {serial}"
            assert all(int(count) < 100 for count in done), done  # an AXFR: 100,000
    finally:
        clone.git("rm", "-q", f"zones/{BIG}.zone")
        clone.commit(f"Stop serving {BIG}\n\nReconciler-Allow: unsafe")
        clone.push()
    topology.wait_converged(limit=240)
