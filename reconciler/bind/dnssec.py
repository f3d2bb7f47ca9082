"""DNSSEC as a server answers it: DNSKEYs, RRSIGs validated with dnspython's dns.dnssec.

`zone_keys` asks a server for a zone's DNSKEY set; `signature` asks for an RRset with
the DO bit and validates its RRSIGs against given keys (the zone's own, as the primary
serves them); `inline_serials` reads `rndc zonestatus` of a zone named signs inline
(the unsigned serial it loaded, the signed serial it serves); `parent_ds` asks the
parent's servers whether they hold a DS for a zone. Every query is bounded by
a timeout; a server that does not answer is an answer. Called by apply/ (confirming a
signed zone) and the tests.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from reconciler.bind import probe

_SERIAL = re.compile(r"^serial: (\d+)$", re.MULTILINE)
_SIGNED = re.compile(r"^signed serial: (\d+)$", re.MULTILINE)


# What BIND adds when it signs a zone inline: none of it is in the file the reconciler wrote.
SIGNING_TYPES = frozenset(
    {"RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "CDS", "CDNSKEY", "TYPE65534"}
)


def unsigned(lines: Iterable[str]) -> list[str]:
    """Master-file lines (`owner ttl IN TYPE rdata`) of a zone without what signing added,
    when it is signed (has RRSIGs); as they are otherwise."""
    records = list(lines)
    types = [(line.split(None, 4)[3:4] or [""])[0] for line in records]
    if "RRSIG" not in types:
        return records
    return [line for line, rtype in zip(records, types, strict=True) if rtype not in SIGNING_TYPES]


def inline_serials(zonestatus: str) -> tuple[int, int] | None:
    """(unsigned, signed) serials from `rndc zonestatus` of an inline-signed zone; else None."""
    if "inline signing: yes" not in zonestatus:
        return None
    unsigned, signed = _SERIAL.search(zonestatus), _SIGNED.search(zonestatus)
    if unsigned is None or signed is None:
        return None
    return int(unsigned.group(1)), int(signed.group(1))


def ask(
    address: str, port: int, name: str, rtype: str, timeout: float
) -> dns.message.Message | None:
    """`name`/`rtype` with the DO bit, over TCP (DNSKEY sets are large); None: no answer."""
    query = dns.message.make_query(
        dns.name.from_text(name), dns.rdatatype.from_text(rtype), want_dnssec=True
    )
    query.flags &= ~dns.flags.RD
    try:
        return dns.query.tcp(query, address, port=port, timeout=timeout)
    except (dns.exception.DNSException, OSError, EOFError, ValueError):
        return None


def zone_keys(address: str, port: int, zone: str, timeout: float) -> dns.rrset.RRset | None:
    """The zone's DNSKEY set as `address#port` serves it; None when it serves none."""
    answer = ask(address, port, zone, "DNSKEY", timeout)
    if answer is None or answer.rcode() != dns.rcode.NOERROR:
        return None
    name = dns.name.from_text(zone)
    try:
        return answer.find_rrset(answer.answer, name, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    except KeyError:
        return None


@dataclass(frozen=True)
class Signature:
    """What a server's RRSIGs over one RRset came to."""

    problem: str | None  # None: at least one RRSIG validates with the zone's keys
    expires: int | None = None  # the latest expiration of a validating RRSIG (epoch seconds)


def signature(
    address: str,
    port: int,
    zone: str,
    name: str,
    rtype: str,
    keys: dns.rrset.RRset,
    timeout: float,
    now: float | None = None,
) -> Signature:
    """Ask `address#port` for `name`/`rtype` and validate its RRSIGs with `keys`."""
    owner, kind = dns.name.from_text(name), dns.rdatatype.from_text(rtype)
    answer = ask(address, port, name, rtype, timeout)
    if answer is None:
        return Signature(f"no answer for {name} {rtype} within {timeout:g} s")
    try:
        rrset = answer.find_rrset(answer.answer, owner, dns.rdataclass.IN, kind)
    except KeyError:
        return Signature(f"{name} {rtype}: not served ({dns.rcode.to_text(answer.rcode())})")
    try:
        sigs = answer.find_rrset(
            answer.answer, owner, dns.rdataclass.IN, dns.rdatatype.RRSIG, covers=kind
        )
    except KeyError:
        return Signature(f"{name} {rtype}: served without an RRSIG")
    zone_name = dns.name.from_text(zone)
    moment = time.time() if now is None else now
    try:
        dns.dnssec.validate(rrset, sigs, {zone_name: keys}, now=moment)
    except dns.exception.ValidationFailure as exc:
        return Signature(f"{name} {rtype}: its RRSIG does not validate ({exc})")
    good = [sig.expiration for sig in sigs if sig.inception <= moment <= sig.expiration]
    return Signature(None, max(good) if good else None)


def parents_ds(
    parents: Sequence[tuple[str, int]], zones: Iterable[str], timeout: float
) -> dict[str, bool | None]:
    """`parent_ds` of each zone (None for all when no parent server is given)."""
    return {zone: parent_ds(parents, zone, timeout) if parents else None for zone in zones}


def parent_ds(parents: Sequence[tuple[str, int]], zone: str, timeout: float) -> bool | None:
    """Whether the parent's servers hold a DS for `zone`: True as soon as one answers with
    one, False when one says with authority that there is none; None when none answers so
    (not reachable, or not the parent: the DS could not be checked)."""
    held: bool | None = None
    for address, port in parents:
        answer = probe.query(address, port, zone, "DS", timeout=timeout)
        if answer is None or not answer.aa or answer.rcode not in ("NOERROR", "NXDOMAIN"):
            continue
        if answer.records("answer", zone, "DS"):
            return True
        held = False
    return held
