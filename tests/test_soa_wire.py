"""probe.soa_answer, the reader of SOA answers off the wire that soa_many uses (issue 13:
dnspython's from_wire of each answer was most of a 1,000-zone survey): the same rcode, AA
flag and serial as dnspython reads, for answers named could send (compressed names, other
records before the SOA, authority and additional sections, EDNS), and None for what is
not an answer to the question. Pure: messages are made in memory."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.bind import probe

pytestmark = pytest.mark.unit

LABEL = st.text(alphabet="abcXYZ019-", min_size=1, max_size=12)
ZONE = st.lists(LABEL, min_size=1, max_size=4).map(lambda labels: ".".join(labels) + ".")


def labels(zone: str) -> tuple[bytes, ...]:
    return tuple(label.lower() for label in dns.name.from_text(zone).labels)


def expected(wire: bytes, zone: str) -> probe.Soa:
    """What dnspython reads of the answer (what soa_serial and survey read before)."""
    message = dns.message.from_wire(wire)
    name = dns.name.from_text(zone)
    serial = None
    for rrset in message.answer:
        if rrset.name == name and rrset.rdtype == dns.rdatatype.SOA:
            serial = int(rrset[0].serial)
            break
    aa = bool(message.flags & dns.flags.AA)
    return probe.Soa(dns.rcode.to_text(message.rcode()), aa, serial)


@settings(max_examples=300, deadline=None)
@given(
    zone=ZONE,
    asked_case=st.booleans(),
    serial=st.integers(0, 2**32 - 1),
    rcode=st.sampled_from(["NOERROR", "SERVFAIL", "REFUSED", "NXDOMAIN", "NOTAUTH"]),
    aa=st.booleans(),
    soa=st.booleans(),
    before=st.booleans(),
    extra=st.booleans(),
    edns=st.booleans(),
)
def test_the_wire_reader_reads_what_dnspython_reads(
    zone: str,
    asked_case: bool,
    serial: int,
    rcode: str,
    aa: bool,
    soa: bool,
    before: bool,
    extra: bool,
    edns: bool,
) -> None:
    asked = zone.upper() if asked_case else zone
    query = dns.message.make_query(asked, "SOA", use_edns=0 if edns else None)
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.from_text(rcode))
    response.flags = (response.flags | dns.flags.AA) if aa else response.flags & ~dns.flags.AA
    if before:  # a record of another owner first (never from named; still read past it)
        response.answer.append(dns.rrset.from_text(f"x.{zone}", 60, "IN", "A", "192.0.2.1"))
    if soa:
        data = f"ns1.{zone} hostmaster.{zone} {serial} 1800 900 1209600 300"
        response.answer.append(dns.rrset.from_text(zone, 300, "IN", "SOA", data))
    if extra:
        response.authority.append(dns.rrset.from_text(zone, 300, "IN", "NS", f"ns1.{zone}"))
        response.additional.append(dns.rrset.from_text(f"ns1.{zone}", 300, "IN", "A", "192.0.2.53"))
    wire = response.to_wire()
    assert probe.soa_answer(wire, labels(zone)) == expected(wire, zone)


def test_what_is_not_an_answer_to_the_question_is_none() -> None:
    zone = "example.com."
    query = dns.message.make_query(zone, "SOA")
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    data = f"ns1.{zone} hostmaster.{zone} 7 1800 900 1209600 300"
    response.answer.append(dns.rrset.from_text(zone, 300, "IN", "SOA", data))
    wire = response.to_wire()
    assert probe.soa_answer(wire, labels(zone)) == probe.Soa("NOERROR", True, 7)
    assert probe.soa_answer(wire, labels("example.net.")) is None  # another question
    assert probe.soa_answer(query.to_wire(), labels(zone)) is None  # a query, not an answer
    for cut in range(len(wire)):  # every truncation of the bytes
        assert probe.soa_answer(wire[:cut], labels(zone)) is None
    other = dns.message.make_response(dns.message.make_query(zone, "A")).to_wire()
    assert probe.soa_answer(other, labels(zone)) is None  # an answer about A
    response.flags |= dns.flags.TC
    assert probe.soa_answer(response.to_wire(), labels(zone)) == "truncated"
    loop = bytearray(wire)
    at = wire.index(b"\x07example")  # the question's name made a pointer to itself
    loop[at : at + 2] = bytes([0xC0, at])
    assert probe.soa_answer(bytes(loop), labels(zone)) is None
