"""Asking nameservers: SOA serials, NOTIFY and AXFR over the network, with dnspython.

`soa_serial` is the proof of what a server serves (rndc's exit status is not);
`wait_for_serial` polls a server until it serves a serial (or a newer one) or the deadline
passes; `notify` sends a NOTIFY; `axfr` fetches a whole zone, TSIG-signed, as canonical lines;
`query` returns a whole answer (rcode, AA and RA flags, the three sections) as an `Answer`
value and `axfr_open` tells whether a server hands a zone out to anyone (both for `doctor`).
`soa_many` asks many (server, zone) SOA questions at once, over one non-blocking UDP socket
per server (a survey of 1,000 zones is one batch, not 1,000 sockets and threads), and
`wait_for_serials` polls many of them together until each serves its serial, polling
often at first and less as the wait goes on.
Every query has a bounded timeout: a dead or silent server is an answer (None or an error),
never a hang. Called by `apply/` (confirm, status), `doctor` and `devtools/sandbox.py`.
"""

from __future__ import annotations

import random
import selectors
import socket
import struct
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

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
    "Ask",
    "Soa",
    "axfr",
    "axfr_open",
    "notify",
    "query",
    "soa_answer",
    "soa_many",
    "soa_serial",
    "wait_for_serial",
    "wait_for_serials",
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
    answer = _exchange(_soa_query(name), address, port, timeout, tcp)
    return _soa(answer, name).served if answer is not None else None


def _soa_query(name: dns.name.Name) -> dns.message.Message:
    """The SOA question for `name`, recursion not desired."""
    query = dns.message.make_query(name, dns.rdatatype.SOA)
    query.flags &= ~dns.flags.RD
    return query


def wait_for_serial(
    address: str,
    port: int,
    zone: str,
    serial: int,
    deadline: float,
    halfway: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int | None:
    """Poll until the server serves `serial` or a newer one (RFC 1982), or `deadline` passes:
    `wait_for_serials` for one question.

    `deadline` is a duration in seconds from the call. `halfway()` is called once, when half
    of it has passed without success (to send NOTIFY again, say). Returns the last serial
    seen (the wanted one or newer on success; an older one, or None when the server never
    answered, on timeout): the caller decides what that means.
    """
    nudge = (lambda _: halfway()) if halfway is not None else None
    wanted = {zone: (Ask(address, port, zone), serial)}
    return wait_for_serials(wanted, deadline, nudge, clock=clock, sleep=sleep)[zone]


# --- many SOA questions at once ---------------------------------------------------------------

_WINDOW = 64  # questions in flight per server: named's socket buffer is not flooded
FIRST_POLL = 0.01  # the first pause between polls of a confirmation (seconds)...
LAST_POLL = 0.1  # ...growing by half each time up to this


def next_pause(pause: float, took: float = 0.0) -> float:
    """The pause after one of `pause`, when the round of questions itself took `took`
    seconds: longer by half each time up to `LAST_POLL` (a transfer takes a few tenths of
    a second), and never shorter than the round (polling 1,000 zones takes at most half
    the time)."""
    return max(min(pause * 1.5, LAST_POLL), took)


@dataclass(frozen=True)
class Ask:
    """One SOA question: `zone` at `address#port`."""

    address: str
    port: int
    zone: str


@dataclass(frozen=True)
class Soa:
    """A server's answer to a SOA question, as far as the reconciler reads it."""

    rcode: str  # "NOERROR", "SERVFAIL", "REFUSED", ...
    aa: bool  # authoritative answer
    serial: int | None  # the zone's SOA serial in the answer section; None: no SOA there

    @property
    def served(self) -> int | None:
        """The serial the server serves with authority (what `soa_serial` returns), else None."""
        return self.serial if self.rcode == "NOERROR" and self.aa else None


@dataclass
class _Flight:
    index: int
    sent: float
    tries: int


class _Batch:
    """The questions to one server over one connected, non-blocking UDP socket (a stopped
    server's ICMP "port unreachable" is heard at once, as in `_exchange`)."""

    def __init__(self, address: str, port: int, indices: list[int]) -> None:
        self.address, self.port = address, port
        self.queue: list[tuple[int, int]] = [(i, 0) for i in reversed(indices)]  # (index, tries)
        self.flying: dict[int, _Flight] = {}
        self.heard = False  # the server answered something
        self.done = False
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        try:
            self.sock.connect((address, port))
        except OSError:
            self.finish()

    def finish(self) -> None:
        """No more questions to this server: those left have no answer (None)."""
        self.done = True
        self.queue.clear()
        self.flying.clear()  # the socket is closed by `soa_many`, after the selector lets go

    def send(self, now: float, wires: list[bytes], timeout: float, tries: int) -> None:
        """Give up on or ask again the questions that waited `timeout`; fill the window."""
        for ident, flight in list(self.flying.items()):
            if now - flight.sent < timeout:
                continue
            del self.flying[ident]
            if flight.tries < tries:
                self.queue.append((flight.index, flight.tries))
            elif not self.heard:
                return self.finish()  # silent for a whole question: the server is down
        while self.queue and len(self.flying) < _WINDOW:
            index, tried = self.queue.pop()
            ident = random.randrange(0x10000)
            while ident in self.flying:
                ident = random.randrange(0x10000)
            try:
                self.sock.send(ident.to_bytes(2, "big") + wires[index][2:])
            except BlockingIOError:
                self.queue.append((index, tried))
                break
            except OSError:  # the server's port is closed (an ICMP error came back)
                return self.finish()
            self.flying[ident] = _Flight(index, now, tried + 1)
        if not self.queue and not self.flying:
            self.finish()

    def next_due(self) -> float:
        return min((f.sent for f in self.flying.values()), default=0.0)

    def receive(
        self, labels: list[tuple[bytes, ...]], answers: list[Soa | None], truncated: list[int]
    ) -> None:
        while not self.done:
            try:
                wire = self.sock.recv(65535)
            except BlockingIOError:
                return
            except OSError:  # ICMP "port unreachable": nobody listens there
                return self.finish()
            flight = self.flying.get(int.from_bytes(wire[:2], "big"))
            if flight is None:
                continue
            answer = soa_answer(wire, labels[flight.index])
            if answer is None:
                continue  # not an answer to that question
            del self.flying[int.from_bytes(wire[:2], "big")]
            self.heard = True
            if answer == "truncated":
                truncated.append(flight.index)
            else:
                answers[flight.index] = answer
            if not self.queue and not self.flying:
                self.finish()


_QR, _AA, _TC = 0x8000, 0x0400, 0x0200
_SOA, _IN = 6, 1


class _Malformed(Exception):
    """A message that cannot be read (never leaves this module)."""


def _read_name(wire: bytes, at: int) -> tuple[tuple[bytes, ...], int]:
    """The name at offset `at` (its labels in lower case, the root's empty one last, as
    `dns.name.Name.labels`) and the offset of what follows it; compression pointers are
    followed (at most 64: a loop is malformed)."""
    labels: list[bytes] = []
    end: int | None = None
    for _ in range(255):
        if at >= len(wire):
            raise _Malformed
        length = wire[at]
        if length & 0xC0 == 0xC0:
            if at + 1 >= len(wire):
                raise _Malformed
            end = at + 2 if end is None else end
            at = ((length & 0x3F) << 8) | wire[at + 1]
            continue
        if length & 0xC0:
            raise _Malformed  # an extended label type: not in answers to an SOA query
        at += 1
        if length == 0:
            labels.append(b"")
            return tuple(labels), at if end is None else end
        if at + length > len(wire):
            raise _Malformed
        labels.append(wire[at : at + length].lower())
        at += length
    raise _Malformed


def soa_answer(wire: bytes, zone: tuple[bytes, ...]) -> Soa | Literal["truncated"] | None:
    """A server's answer to an SOA query for the name of labels `zone` (lower case, as
    `dns.name.Name.labels`), read off the wire: rcode, AA and the zone's SOA serial in the
    answer section; "truncated" when TC is set; None when `wire` is not a readable answer
    to that question. Only the header, the question and the answer section are read (the
    authority and additional sections are skipped): dnspython's `from_wire` of each answer
    was most of a 1,000-zone survey's time."""
    try:
        if len(wire) < 12:
            return None
        flags, questions, records = struct.unpack_from("!HHH", wire, 2)
        if not flags & _QR or questions != 1:
            return None
        name, at = _read_name(wire, 12)
        rtype, rclass = struct.unpack_from("!HH", wire, at)
        if name != zone or rtype != _SOA or rclass != _IN:
            return None
        if flags & _TC:
            return "truncated"
        at += 4
        serial = None
        for _ in range(records):
            owner, at = _read_name(wire, at)
            rtype, rclass, _ttl, size = struct.unpack_from("!HHIH", wire, at)
            at += 10
            if at + size > len(wire):
                raise _Malformed
            if owner == zone and rtype == _SOA and rclass == _IN:
                _, after = _read_name(wire, at)  # MNAME
                _, after = _read_name(wire, after)  # RNAME
                if after + 4 > at + size:
                    raise _Malformed
                serial = struct.unpack_from("!I", wire, after)[0]
                break
            at += size
    except (_Malformed, struct.error):
        return None
    return Soa(dns.rcode.to_text(flags & 0xF), bool(flags & _AA), serial)


def _soa(message: dns.message.Message, name: dns.name.Name) -> Soa:
    """The `Soa` of an answer dnspython read (over TCP, after a truncated one)."""
    serial = None
    for rrset in message.answer:
        if rrset.name == name and rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            serial = int(rrset[0].serial)
            break
    return Soa(dns.rcode.to_text(message.rcode()), bool(message.flags & dns.flags.AA), serial)


def soa_many(asks: Sequence[Ask], timeout: float = 1.0, tries: int = 1) -> list[Soa | None]:
    """The answer to each SOA question of `asks`, in order; None where none came.

    All at once: one non-blocking UDP socket per server, at most `_WINDOW` questions in
    flight on each. A question unanswered after `timeout` seconds is asked again, up to
    `tries` times in all; a server that answers nothing for that long, or whose port is
    closed, is a None for every question left to it (a dead server is an answer, never a
    hang). A truncated answer is asked again over TCP.
    """
    names = [_name(ask.zone) for ask in asks]
    labels = [tuple(label.lower() for label in name.labels) for name in names]
    # The query's wire form made directly (id 0, no flags, one question: NAME SOA IN);
    # the id is set per question when it is sent.
    head = struct.pack("!HHHHHH", 0, 0, 1, 0, 0, 0)
    wires = [head + name.to_digestable() + struct.pack("!HH", _SOA, _IN) for name in names]
    answers: list[Soa | None] = [None] * len(asks)
    truncated: list[int] = []
    by_server: dict[tuple[str, int], list[int]] = {}
    for index, ask in enumerate(asks):
        by_server.setdefault((ask.address, ask.port), []).append(index)
    batches = [_Batch(address, port, indices) for (address, port), indices in by_server.items()]
    try:
        with selectors.DefaultSelector() as selector:
            for batch in batches:
                if not batch.done:
                    selector.register(batch.sock, selectors.EVENT_READ, batch)
            while True:
                now = time.monotonic()
                for batch in batches:
                    if not batch.done:
                        batch.send(now, wires, timeout, tries)
                live = [b for b in batches if not b.done]
                if not live:
                    break
                due = min(b.next_due() for b in live) + timeout
                for key, _ in selector.select(timeout=max(due - time.monotonic(), 0.0)):
                    batch = key.data
                    batch.receive(labels, answers, truncated)
                    if batch.done:
                        selector.unregister(key.fileobj)
    finally:
        for batch in batches:
            batch.sock.close()
    for index in truncated:
        ask = asks[index]
        answer = _exchange(_soa_query(names[index]), ask.address, ask.port, timeout, tcp=True)
        answers[index] = _soa(answer, names[index]) if answer is not None else None
    return answers


K = TypeVar("K", bound=Hashable)


def wait_for_serials(
    wanted: Mapping[K, tuple[Ask, int]],
    deadline: float,
    halfway: Callable[[set[K]], object] | None = None,
    accept: Callable[[K, int], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[K, int | None]:
    """Poll every question of `wanted` (key -> (question, serial)) together until each
    server serves its serial or a newer one (RFC 1982), or `deadline` seconds pass.

    The polls start `FIRST_POLL` apart and space out to `LAST_POLL` (`next_pause`): a
    quick transfer is seen at once, a slow one is not asked a thousand times.
    `halfway(keys)` is called once, with the keys still waiting, when half the deadline
    has passed. `accept(key, serial)`, when given, must also hold for a key that serves
    its serial (a signature that validates, say); while it does not, the key is asked
    again. Returns, per key, the last serial seen (the wanted one or newer on success;
    older, or None, on timeout).
    """
    start = clock()
    end = start + max(deadline, 0.0)
    middle = start + max(deadline, 0.0) / 2
    last: dict[K, int | None] = dict.fromkeys(wanted)
    pending = list(wanted)
    nudged = halfway is None
    pause = FIRST_POLL
    while pending:
        began = clock()
        timeout = min(_MAX_QUERY_TIMEOUT, max(end - began, 0.05))
        answers = soa_many([wanted[key][0] for key in pending], timeout=timeout)
        waiting = []
        for key, answer in zip(pending, answers, strict=True):
            seen = answer.served if answer is not None else None
            serial = wanted[key][1]
            if seen is not None:
                last[key] = seen
                reached = seen == serial or is_newer(seen, serial)
                if reached and (accept is None or accept(key, seen)):
                    continue
            waiting.append(key)
        pending = waiting
        now = clock()
        if not pending or now >= end:
            break
        if not nudged and now >= middle:
            nudged = True
            assert halfway is not None
            halfway(set(pending))
            now = clock()
        sleep(max(min(pause, end - now), 0.0))
        pause = next_pause(pause, now - began)
    return last


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
