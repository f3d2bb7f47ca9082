"""Doctor's DNSSEC walk, the network part: the chain of trust of each signed zone.

For a zone the primary serves a DNSKEY set for: the keys (the KSKs and CSKs, flag 257,
with the DS record each makes, SHA-256), the DS set of each parent server asked for the
delegation, the CDS and CDNSKEY sets the primary publishes, and on every server the RRSIGs
over the SOA and the DNSKEY set validated with the primary's keys (dnspython's dns.dnssec)
with their expiry, and the denial of existence for a name that does not exist (NSEC or
NSEC3 in the answer's authority). Every query is bounded by the timeout. Called by
facts.gather.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import dns.dnssec
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from reconciler.bind.dnssec import Signature, ask, signature, zone_keys
from reconciler.doctor.values import Endpoint, Target

NX_LABEL = "reconciler-doctor-nx"  # asked under the zone: a name that should not exist
SIGNED_TYPES = ("SOA", "DNSKEY")  # whose RRSIGs are validated on every server


@dataclass(frozen=True)
class ZoneKey:
    """A key of the zone's DNSKEY set."""

    tag: int
    algorithm: int
    flags: int
    ds: str  # the DS record this key makes (SHA-256), in presentation form

    @property
    def signs_keys(self) -> bool:
        """A KSK or a CSK: the key a parent's DS points at (SEP flag)."""
        return bool(self.flags & 1)


@dataclass(frozen=True)
class Denial:
    """What a server says of a name that does not exist."""

    rcode: str | None  # None: no answer
    kinds: tuple[str, ...] = ()  # "NSEC", "NSEC3" in the authority section
    signed: bool = False  # those records carry RRSIGs


@dataclass(frozen=True)
class DnssecFacts:
    """What the servers and parents said about one signed zone."""

    keys: tuple[ZoneKey, ...]  # empty: the primary serves no DNSKEY
    asked_at: float  # when (epoch seconds): signatures expire relative to it
    parent_ds: tuple[tuple[Endpoint, tuple[str, ...] | None], ...]  # None: no answer
    cds: tuple[str, ...] = ()
    cdnskey: tuple[str, ...] = ()
    signatures: dict[str, dict[str, Signature]] = field(default_factory=dict)  # server->type
    denial: dict[str, Denial] = field(default_factory=dict)  # server -> its denial


def _rdatas(address: str, port: int, name: str, rtype: str, timeout: float) -> tuple[str, ...]:
    answer = ask(address, port, name, rtype, timeout)
    if answer is None:
        return ()
    try:
        rrset = answer.find_rrset(
            answer.answer,
            dns.name.from_text(name),
            dns.rdataclass.IN,
            dns.rdatatype.from_text(rtype),
        )
    except KeyError:
        return ()
    return tuple(sorted(r.to_text() for r in rrset))


def _parent_ds(endpoint: Endpoint, zone: str, timeout: float) -> tuple[str, ...] | None:
    answer = ask(endpoint.address, endpoint.port, zone, "DS", timeout)
    if answer is None:
        return None
    try:
        rrset = answer.find_rrset(
            answer.answer, dns.name.from_text(zone), dns.rdataclass.IN, dns.rdatatype.DS
        )
    except KeyError:
        return ()
    return tuple(sorted(r.to_text() for r in rrset))


def _keys(zone: str, rrset: dns.rrset.RRset) -> tuple[ZoneKey, ...]:
    name = dns.name.from_text(zone)
    found = []
    for key in rrset:
        ds = dns.dnssec.make_ds(name, key, "SHA256")
        record = f"{name.to_text()} IN DS {ds.to_text()}"
        found.append(ZoneKey(dns.dnssec.key_id(key), int(key.algorithm), key.flags, record))
    return tuple(sorted(found, key=lambda k: (k.tag, k.algorithm)))


def _denial(target: Target, zone: str, timeout: float) -> Denial:
    answer = ask(target.address, target.port, f"{NX_LABEL}.{zone}", "A", timeout)
    if answer is None:
        return Denial(None)
    kinds = sorted(
        {
            dns.rdatatype.to_text(r.rdtype)
            for r in answer.authority
            if r.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)
        }
    )
    signed = any(
        r.rdtype == dns.rdatatype.RRSIG and r.covers in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)
        for r in answer.authority
    )
    return Denial(dns.rcode.to_text(answer.rcode()), tuple(kinds), signed)


def gather_dnssec(
    zone: str,
    targets: Sequence[Target],
    parents: Sequence[Endpoint],
    timeout: float,
    expected: bool,
) -> DnssecFacts | None:
    """The zone's chain-of-trust facts. None when the primary serves no DNSKEY, the repo
    does not sign the zone (`expected`) and no parent holds a DS: an unsigned zone."""
    primary = targets[0]
    at = time.time()
    rrset = zone_keys(primary.address, primary.port, zone, timeout)
    parent_ds = tuple((p, _parent_ds(p, zone, timeout)) for p in parents)
    if rrset is None:
        if expected or any(ds for _, ds in parent_ds):
            return DnssecFacts((), at, parent_ds)
        return None
    signatures = {
        t.name: {
            rtype: signature(t.address, t.port, zone, zone, rtype, rrset, timeout)
            for rtype in SIGNED_TYPES
        }
        for t in targets
    }
    return DnssecFacts(
        keys=_keys(zone, rrset),
        asked_at=at,
        parent_ds=parent_ds,
        cds=_rdatas(primary.address, primary.port, zone, "CDS", timeout),
        cdnskey=_rdatas(primary.address, primary.port, zone, "CDNSKEY", timeout),
        signatures=signatures,
        denial={t.name: _denial(t, zone, timeout) for t in targets},
    )
