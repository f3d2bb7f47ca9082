"""The parent zone server delegates example.test as a registry does (NS and glue), and every
server it names answers for the zone with authority and the same serial: the walk an operator
does with dig (and `doctor` will automate).
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rdatatype

from integration.topology import ADDRESSES, ZONE, Topology


def test_the_parent_delegates_to_servers_that_all_answer_with_authority(
    topology: Topology,
) -> None:
    query = dns.message.make_query(f"www.{ZONE}", "A")
    query.flags &= ~dns.flags.RD
    referral = dns.query.udp(query, topology.address("parent"), port=53, timeout=2.0)
    assert not referral.flags & dns.flags.AA and not referral.answer, referral
    (delegation,) = [r for r in referral.authority if r.rdtype == dns.rdatatype.NS]
    assert delegation.name.to_text() == f"{ZONE}."
    names = sorted(rdata.target.to_text() for rdata in delegation)
    assert names == [f"ns1.{ZONE}.", f"ns2.{ZONE}.", f"ns3.{ZONE}."]
    glue = {
        rrset.name.to_text(): sorted(rdata.address for rdata in rrset)
        for rrset in referral.additional
        if rrset.rdtype == dns.rdatatype.A
    }
    assert glue == {name: [ADDRESSES[name.split(".")[0]]] for name in names}

    # The zone agrees with its parent: the same NS set and the glue's addresses.
    served = topology.records("ns1")
    for name in names:
        assert f"{ZONE}. 3600 IN NS {name}" in served
        assert f"{name} 3600 IN A {glue[name][0]}" in served

    serials = set()
    for name in names:
        server = name.split(".")[0]
        assert topology.address(server) == glue[name][0]
        serials.add(topology.soa(server))
        assert topology.answer(server, f"www.{ZONE}")  # answered with authority
    assert len(serials) == 1 and None not in serials, serials
