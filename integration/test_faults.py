"""Real faults: a stopped secondary, TCP/53 dropped by a firewall, the daemon killed mid-
reconcile and the primary restarted. Issue #5, scenarios 4, 5 and 8.

Each fault is made real (docker stop/pause/restart, nftables in the primary's own network
namespace, kill -9) and undone in a `finally`; convergence afterwards comes with no new push.
"""

from __future__ import annotations

from typing import Any

import pytest

from integration.topology import (
    ZONE,
    ZONE_FILE,
    Topology,
    nft_available,
    set_www,
    tcp53_blocked_from,
    wait_until,
)
from reconciler.model.serial import is_newer

LAGGING = "reconciler_secondary_lagging"


def zone_status(status: dict[str, Any], zone: str = ZONE) -> dict[str, Any]:
    (found,) = [z for z in status["zones"] if z["zone"] == zone]
    return found


def lagging_metric(topology: Topology, server: str, zone: str = ZONE) -> float | None:
    key = (LAGGING, (("server", server), ("zone", zone)))
    return topology.metrics().get(key)


def test_a_stopped_secondary_is_reported_lagging_and_catches_up_once_started(
    topology: Topology,
) -> None:
    before = topology.soa("ns1")
    ns3 = topology.nodes["ns3"]
    ns3.container.stop(timeout=10)
    try:
        clone = topology.clone()
        sha = clone.change(
            ZONE_FILE, lambda t: set_www(t, "www     IN A    198.51.100.84"), "Move www"
        )
        assert topology.daemon_log is not None
        event = topology.daemon_log.outcome(sha)
        assert (event["event"], event["status"]) == ("secondaries lag; retrying", "unconfirmed")
        assert "ns3: " in event["reason"] and "ns2: " not in event["reason"], event

        status = topology.status()
        zone = zone_status(status)
        assert status["converged"] is False
        assert zone["lagging"] == ["ns3"], zone
        assert zone["serials"]["ns3"] is None  # it does not answer at all
        assert zone["serials"]["ns1"] == zone["serials"]["ns2"] == zone["recorded"], zone
        assert is_newer(zone["recorded"], before)
        wait_until(
            lambda: lagging_metric(topology, "ns3") == 1,
            "/metrics to show ns3 lagging",
            seen=lambda: lagging_metric(topology, "ns3"),
        )
        assert lagging_metric(topology, "ns2") == 0
    finally:
        ns3.container.start()

    status = topology.wait_converged(sha)  # no new push: the daemon's retries bring ns3 along
    assert topology.head() == sha
    served = topology.same_everywhere()
    assert f"www.{ZONE}. 3600 IN A 198.51.100.84" in served
    wait_until(
        lambda: lagging_metric(topology, "ns3") == 0,
        "/metrics to show ns3 caught up",
        seen=lambda: lagging_metric(topology, "ns3"),
    )


def test_tcp53_dropped_from_a_secondary_stops_its_transfers_until_allowed(
    topology: Topology,
) -> None:
    if not nft_available(topology.primary):
        pytest.fail("nftables does not work in the primary container (NET_ADMIN, nf_tables)")
    before = topology.soa("ns1")
    topology.drop_tcp53_from("ns2")
    try:
        # The fault is real, and is what `doctor` must name (integration.topology.doctor):
        # from ns2 the primary answers over UDP but not over TCP; from ns3 over both.
        assert tcp53_blocked_from(topology, "ns2")
        assert not tcp53_blocked_from(topology, "ns3")

        clone = topology.clone()
        sha = clone.change(
            ZONE_FILE, lambda t: set_www(t, "www     IN A    198.51.100.85"), "Move www"
        )
        assert topology.daemon_log is not None
        event = topology.daemon_log.outcome(sha)
        assert (event["event"], event["status"]) == ("secondaries lag; retrying", "unconfirmed")
        assert "ns2: " in event["reason"] and "ns3: " not in event["reason"], event

        zone = zone_status(topology.status())
        assert zone["lagging"] == ["ns2"], zone
        assert zone["serials"]["ns2"] == before  # it answers, with the old data
        assert topology.answer("ns2", f"www.{ZONE}") != ["198.51.100.85"]
        assert topology.answer("ns3", f"www.{ZONE}") == ["198.51.100.85"]
        wait_until(
            lambda: f"transfer of '{ZONE}/IN' from 172.30.53.10#53: failed" in ns2_log(topology),
            "ns2's named to log the failed transfer",
        )
    finally:
        topology.allow_tcp53()

    assert not tcp53_blocked_from(topology, "ns2")
    topology.wait_converged(sha)  # no new push
    served = topology.same_everywhere()
    assert f"www.{ZONE}. 3600 IN A 198.51.100.85" in served


def ns2_log(topology: Topology) -> str:
    return topology.nodes["ns2"].log()


def test_kill_9_mid_reconcile_and_a_restart_of_the_primary_lose_nothing(
    topology: Topology,
) -> None:
    zones = ("example.com", "example.net", ZONE)
    before = {zone: topology.soa("ns1", zone) for zone in zones}
    kept = {zone: topology.records("ns1", zone) for zone in zones if zone != ZONE}
    primary, ns3 = topology.primary, topology.nodes["ns3"]
    daemon_log = topology.daemon_log
    assert daemon_log is not None

    ns3.container.pause()  # the reconcile waits for ns3 in its confirm step: kill it there
    try:
        clone = topology.clone()
        sha = clone.change(
            ZONE_FILE, lambda t: set_www(t, "www     IN A    198.51.100.86"), "Move www"
        )
        written = daemon_log.wait(
            lambda e: e.get("event") == "zone written" and e.get("commit") == sha[:12],
            "the daemon to write the zone",
        )
        attempted = written["serial"]
        assert is_newer(attempted, before[ZONE])
        state = topology.state()
        assert state["last_attempted"] == sha and state["last_applied"] != sha, state
        pid = primary.read("/run/reconciler/daemon.pid").decode().strip()
        primary.exec("kill", "-9", pid)
        wait_until(  # gone once the entrypoint has reaped it (kill -0 works on a zombie)
            lambda: primary.exec("kill", "-0", pid, check=False).code != 0,
            "the killed daemon to be gone",
        )
        assert topology.state()["last_applied"] != sha  # killed before it recorded success
    finally:
        ns3.container.unpause()

    primary.container.restart(timeout=30)
    daemon_log.wait(lambda e: e.get("event") == "daemon started", "the daemon to start again")
    topology.wait_serving("ns1", ZONE)
    topology.wait_converged(sha)

    assert topology.state()["last_applied"] == sha
    served = topology.same_everywhere()
    assert f"www.{ZONE}. 3600 IN A 198.51.100.86" in served
    serials = topology.serials()
    assert len(set(serials.values())) == 1, serials
    now = serials["ns1"]
    assert now is not None and (now == attempted or is_newer(now, attempted)), (now, attempted)
    for zone, records in kept.items():  # the other zones: same data, same serial, everywhere
        topology.same_everywhere(zone)
        assert topology.records("ns1", zone) == records
        assert topology.soa("ns1", zone) == before[zone]
