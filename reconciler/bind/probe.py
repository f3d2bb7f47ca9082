"""Asking nameservers: SOA serials, NOTIFY and AXFR over the network, with dnspython.

`soa_serial` is the proof of what a server serves (rndc's exit status is not);
`wait_for_serial` polls a server until it serves a serial (or a newer one) or the deadline
passes; `notify` sends a NOTIFY; `axfr` fetches a whole zone, TSIG-signed, as canonical lines;
`query` returns a whole answer (rcode, AA and RA flags, the three sections) as an `Answer`
value and `axfr_open` tells whether a server hands a zone out to anyone (both for `doctor`).
Every query has a bounded timeout: a dead or silent server is an answer (None or an error),
never a hang. Called by `apply/` (confirm, status), `doctor` and `devtools/sandbox.py`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.xfr
import dns.zone

from reconciler.bind.keys import Key
from reconciler.errors import ConfigError, TransferError, TransferRefused
from reconciler.model.serial import is_newer

__all__ = [
    "RR",
    "Answer",
    "axfr",
    "axfr_open",
    "notify",
    "query",
    "soa_serial",
    "wait_for_serial",
]

_MAX_QUERY_TIMEOUT = 1.0


def _name(zone: str) -> dns.name.Name:
    try:
        return dns.name.from_text(zone)
    except dns.exception.DNSException as exc:
        raise ConfigError(f"invalid zone name {zone!r}: {exc}") from None


def _exchange(
    query: dns.message.Message, address: str, port: int, timeout: float, tcp: bool
) -> dns.message.Message | None:
    """One query and its answer; None on timeout, network error or a malformed answer."""
    try:
        if tcp:
            return dns.query.tcp(query, address, port=port, timeout=timeout)
        # A connected socket hears the ICMP "port unreachable" of a stopped server at once
        # instead of waiting for the timeout.
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.connect((address, port))
            answer = dns.query.udp(query, address, port=port, timeout=timeout, sock=sock)
        if answer.flags & dns.flags.TC:
            return dns.query.tcp(query, address, port=port, timeout=timeout)
        return answer
    except (dns.exception.DNSException, OSError, EOFError, ValueError):
        return None


def soa_serial(
    address: str, port: int, zone: str, timeout: float = 1.0, tcp: bool = False
) -> int | None:
    """The SOA serial `address#port` serves for `zone` with authority; None otherwise.

    None when there is no answer in `timeout` seconds, when the answer is not NOERROR (REFUSED,
    SERVFAIL: the zone is not loaded) or not authoritative (AA clear), or has no SOA for the
    zone in the answer section.
    """
    name = _name(zone)
    query = dns.message.make_query(name, dns.rdatatype.SOA)
    query.flags &= ~dns.flags.RD
    answer = _exchange(query, address, port, timeout, tcp)
    if answer is None or answer.rcode() != dns.rcode.NOERROR:
        return None
    if not answer.flags & dns.flags.AA:
        return None
    for rrset in answer.answer:
        if rrset.name == name and rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return int(rrset[0].serial)
    return None


def wait_for_serial(
    address: str,
    port: int,
    zone: str,
    serial: int,
    deadline: float,
    poll: float = 0.1,
    halfway: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int | None:
    """Poll until the server serves `serial` or a newer one (RFC 1982), or `deadline` passes.

    `deadline` is a duration in seconds from the call. `halfway()` is called once, when half
    of it has passed without success (to send NOTIFY again, say). Returns the last serial
    seen (the wanted one or newer on success; an older one, or None when the server never
    answered, on timeout): the caller decides what that means.
    """
    start = clock()
    end = start + max(deadline, 0.0)
    middle = start + max(deadline, 0.0) / 2
    nudged = halfway is None
    last: int | None = None
    while True:
        remaining = end - clock()
        timeout = min(_MAX_QUERY_TIMEOUT, max(remaining, 0.05))
        seen = soa_serial(address, port, zone, timeout=timeout)
        if seen is not None:
            last = seen
            if seen == serial or is_newer(seen, serial):
                return seen
        now = clock()
        if now >= end:
            return last
        if not nudged and now >= middle:
            nudged = True
            assert halfway is not None
            halfway()
            now = clock()
        sleep(max(min(poll, end - now), 0.0))


def notify(
    address: str, port: int, zone: str, key: Key | None = None, timeout: float = 1.0
) -> bool:
    """Send a NOTIFY for `zone` to `address#port` (TSIG-signed with `key`); True if acknowledged.

    A secondary accepts NOTIFY only from its primaries (or `allow-notify`); the primary's own
    `rndc notify` (see `bind.Rndc.notify`) is the usual way. False on no answer or a refusal.
    """
    name = _name(zone)
    message = dns.message.make_query(name, dns.rdatatype.SOA)
    message.flags = dns.flags.AA  # the opcode lives in the flags word: set it after
    message.set_opcode(dns.opcode.NOTIFY)
    if key is not None:
        message.use_tsig(_keyring(key), keyname=key.name, algorithm=key.algorithm)
    answer = _exchange(message, address, port, timeout, tcp=False)
    return (
        answer is not None
        and answer.opcode() == dns.opcode.NOTIFY
        and answer.rcode() == dns.rcode.NOERROR
    )


def _keyring(key: Key) -> dict[dns.name.Name, dns.tsig.Key]:
    name = dns.name.from_text(key.name)
    return {name: dns.tsig.Key(name, key.secret, key.algorithm)}


def axfr(
    address: str, port: int, zone: str, key: Key | None = None, timeout: float = 5.0
) -> list[str]:
    """The zone by AXFR (TSIG-signed when `key` is given), as sorted canonical lines.

    One record per line, `owner ttl IN TYPE rdata`, names absolute and owners lower-cased,
    the form `zones.CanonicalZone` holds. `timeout` bounds the whole transfer. Raises
    TransferRefused when the server answers with a refusal (REFUSED, NOTAUTH, a TSIG error),
    TransferError on a timeout or no connection: only a refusal says anything about the key.
    """
    name = _name(zone)
    where = f"AXFR of {name.to_text(omit_final_dot=True)} from {address} port {port}"
    try:
        records = dns.zone.Zone(name, relativize=False)
        if key is not None:
            query, _ = dns.xfr.make_query(
                records,
                serial=None,
                keyring=_keyring(key),
                keyname=dns.name.from_text(key.name),
                keyalgorithm=key.algorithm,
            )
        else:
            query, _ = dns.xfr.make_query(records, serial=None)
        dns.query.inbound_xfr(address, records, query, port=port, timeout=timeout, lifetime=timeout)
    except dns.xfr.TransferError as exc:
        raise TransferRefused(f"{where}: {dns.rcode.to_text(exc.rcode)}") from None
    except dns.tsig.PeerError as exc:
        raise TransferRefused(f"{where}: TSIG refused by the server ({exc})") from None
    except dns.tsig.BadSignature:
        raise TransferRefused(f"{where}: the answer's TSIG signature does not verify") from None
    except dns.exception.Timeout:
        raise TransferError(f"{where}: no complete answer in {timeout:g} s") from None
    except (OSError, EOFError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "connection closed"
        raise TransferError(f"{where}: {reason}") from None
    except dns.exception.DNSException as exc:
        raise TransferError(f"{where}: {type(exc).__name__}: {exc}") from None
    lines = []
    for owner, ttl, rdata in records.iterate_rdatas():
        rtype = dns.rdatatype.to_text(rdata.rdtype)
        text = rdata.to_text(origin=None, relativize=False)
        lines.append(f"{owner.canonicalize().to_text()} {ttl} IN {rtype} {text}")
    return sorted(lines)


# --- whole answers, for `doctor` ------------------------------------------------------------


@dataclass(frozen=True)
class RR:
    """One record of an answer: owner (absolute, lower case), type, TTL and data as text."""

    name: str
    rtype: str
    ttl: int
    data: str


@dataclass(frozen=True)
class Answer:
    """A server's answer, as values: rcode, the flags doctor cares about, and the sections."""

    rcode: str  # "NOERROR", "NXDOMAIN", "REFUSED", ...
    aa: bool  # authoritative answer
    ra: bool  # recursion available (to the asker)
    answer: tuple[RR, ...] = ()
    authority: tuple[RR, ...] = ()
    additional: tuple[RR, ...] = ()

    def records(self, section: str, name: str, rtype: str) -> tuple[RR, ...]:
        """The records of `section` ("answer", "authority", "additional") at `name` of `rtype`."""
        wanted = name.lower().rstrip(".") + "."
        found: tuple[RR, ...] = getattr(self, section)
        return tuple(r for r in found if r.name == wanted and r.rtype == rtype)


def _records(rrsets: list[dns.rrset.RRset]) -> tuple[RR, ...]:
    return tuple(
        RR(
            rrset.name.canonicalize().to_text(),
            dns.rdatatype.to_text(rrset.rdtype),
            rrset.ttl,
            rdata.to_text(origin=None, relativize=False),
        )
        for rrset in rrsets
        for rdata in rrset
    )


def query(
    address: str,
    port: int,
    name: str,
    rtype: str,
    timeout: float = 1.0,
    tcp: bool = False,
    recursion: bool = False,
) -> Answer | None:
    """Ask `address#port` for `name`/`rtype` (RD set only with `recursion`); None: no answer.

    Over UDP a truncated answer is asked again over TCP. None on a timeout, a network error
    or a malformed answer: a dead server is an answer, never a hang.
    """
    message = dns.message.make_query(_name(name), dns.rdatatype.from_text(rtype))
    if not recursion:
        message.flags &= ~dns.flags.RD
    answer = _exchange(message, address, port, timeout, tcp)
    if answer is None:
        return None
    return Answer(
        rcode=dns.rcode.to_text(answer.rcode()),
        aa=bool(answer.flags & dns.flags.AA),
        ra=bool(answer.flags & dns.flags.RA),
        answer=_records(answer.answer),
        authority=_records(answer.authority),
        additional=_records(answer.additional),
    )


def axfr_open(address: str, port: int, zone: str, timeout: float = 1.0) -> bool | None:
    """Whether `address#port` starts an AXFR of `zone` for an unsigned request from here.

    Reads only the first message of the transfer (bounded by `timeout`): True when it holds
    the zone's SOA, False on a refusal (any other rcode, or no SOA), None on no answer.
    """
    name = _name(zone)
    message = dns.message.make_query(name, dns.rdatatype.AXFR)
    message.flags &= ~dns.flags.RD
    try:
        answer = dns.query.tcp(message, address, port=port, timeout=timeout)
    except (dns.exception.DNSException, OSError, EOFError, ValueError):
        return None
    if answer.rcode() != dns.rcode.NOERROR:
        return False
    return any(r.name == name and r.rdtype == dns.rdatatype.SOA for r in answer.answer)
