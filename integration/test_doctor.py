"""`reconciler doctor` against the containers: the parent, the primary and the secondaries.

From the primary (with the deployed state) a healthy topology is healthy; the faults of
test_faults.py are named by doctor there (see test_tcp53_is_named_by_doctor_on_the_secondary).
"""

from __future__ import annotations

import json

from integration.topology import ZONE, ZONE_FILE, Topology, doctor, doctor_from, set_www


def _codes(report: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["code"], []).append(finding["subject"])
    return found


def test_doctor_finds_a_healthy_topology_healthy(topology: Topology) -> None:
    run = doctor(topology)
    assert run.code == 0, run.output
    report = json.loads(run.out)
    assert report["healthy"] is True and report["problems"] == 0, report
    checks = {f["check"] for f in report["findings"] if f["severity"] == "ok"}
    assert {"delegation", "servers", "mail", "exposure"} <= checks, report
    assert report["parents"] == [f"{topology.address('parent')}:53"]
    assert [z["zone"] for z in report["zones"]] == [ZONE]


def test_tcp53_is_named_by_doctor_on_the_secondary(topology: Topology) -> None:
    """Issue 10 item 5: with TCP/53 from ns2 to the primary dropped and ns2 lagging, doctor
    says TCP once, wherever it runs, and blames no key."""
    topology.drop_tcp53_from("ns2")
    try:
        clone = topology.clone()
        sha = clone.change(
            ZONE_FILE, lambda t: set_www(t, "www     IN A    198.51.100.87"), "Move www"
        )
        assert topology.daemon_log is not None
        event = topology.daemon_log.outcome(sha)
        assert event["status"] == "unconfirmed" and "ns2: " in event["reason"], event
        code, on_ns2 = doctor_from(topology, "ns2")
        on_ns3 = doctor_from(topology, "ns3")[1]
        run = doctor(topology)  # on the primary, with the deployed state and the key
    finally:
        topology.allow_tcp53()
    assert code == 1, on_ns2
    # From ns2: the primary answers over UDP, not over TCP. Said once; ns2 is behind.
    assert _tcp(on_ns2) == [("silent-tcp", "problem", "ns1")], on_ns2
    (tcp,) = [f for f in on_ns2["findings"] if f["code"] == "silent-tcp"]
    assert "open TCP port 53" in tcp["fix"], tcp
    assert "ns2" in _codes(on_ns2)["behind"][0], on_ns2
    assert not [f for f in on_ns2["findings"] if f["code"].startswith("key-")], on_ns2
    # From ns3, TCP to the primary works: no claim about it, a question about ns2.
    assert "silent-tcp" not in _codes(on_ns3), on_ns3
    # From the primary TCP works too: the question for ns2, and the key is accepted.
    report = json.loads(run.out)
    assert run.code == 1, run.output
    assert _tcp(report) == [("primary-tcp-open", "note", "ns2")], report
    (question,) = [f for f in report["findings"] if f["code"] == "primary-tcp-open"]
    assert question["fix"].endswith("is TCP port 53 of the primary open to ns2?"), question
    keys = [(f["code"], f["severity"]) for f in report["findings"] if f["code"].startswith("key-")]
    assert keys == [("key-accepted", "note")], report


def _tcp(report: dict) -> list[tuple[str, str, str]]:
    """(code, severity, first word of the subject) of every finding that is not ok and whose
    message says TCP."""
    return [
        (f["code"], f["severity"], f["subject"].split()[0])
        for f in report["findings"]
        if "TCP" in f["message"] and f["severity"] != "ok"
    ]
