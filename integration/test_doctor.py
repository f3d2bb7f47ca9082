"""`reconciler doctor` against the containers: the parent, the primary and the secondaries.

From the primary (with the deployed state) a healthy topology is healthy; the faults of
test_faults.py are named by doctor there (see test_tcp53_is_named_by_doctor_on_the_secondary).
"""

from __future__ import annotations

import json

from integration.topology import ZONE, Topology, doctor, doctor_from


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
    topology.drop_tcp53_from("ns2")
    try:
        code, report = doctor_from(topology, "ns2")
    finally:
        topology.allow_tcp53()
    assert code == 1, report
    codes = _codes(report)
    assert "silent-tcp" in codes, report  # ns1 answers over UDP, not over TCP, from ns2
    (tcp,) = [f for f in report["findings"] if f["code"] == "silent-tcp"]
    assert "ns1" in tcp["subject"] and "open TCP port 53" in tcp["fix"], tcp
    code, report = doctor_from(topology, "ns3")  # from elsewhere all is well again
    assert "silent-tcp" not in _codes(report), report
