"""Doctor's facts: what the servers said, asked in parallel with bounded timeouts.

The only part of doctor that touches the network (through bind/probe.py).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal

import dns.exception
import dns.name
import dns.resolver

from reconciler.bind import probe
from reconciler.bind.catalog import CATALOG
from reconciler.doctor.dnssecfacts import DnssecFacts, gather_dnssec
from reconciler.doctor.mailfacts import MailWalk, gather_mail
from reconciler.doctor.values import _MAX_WORKERS, RECURSION_PROBE, Endpoint, Options, Target
from reconciler.errors import ReconcilerError, TransferError, TransferRefused
from reconciler.model.serial import is_newer

# --- facts: what the servers said --------------------------------------------------------------


@dataclass(frozen=True)
class ServerFacts:
    """One server's answers for one zone."""

    soa_udp: probe.Answer | None
    soa_tcp: probe.Answer | None
    mx_udp: probe.Answer | None
    mx_tcp: probe.Answer | None
    axfr_open: bool | None


@dataclass(frozen=True)
class MailTarget:
    """What is known of an MX target: its CNAME, addresses, or why it is unknown."""

    cname: str = ""
    addresses: tuple[str, ...] = ()  # "A 192.0.2.25", "AAAA 2001:db8::25"
    missing: bool = False  # NXDOMAIN
    unknown: str = ""  # not checked: why


@dataclass(frozen=True)
class Parents:
    """Where a zone's delegation is asked, or why it is not."""

    endpoints: tuple[Endpoint, ...] = ()
    skipped: str = ""  # a finding code: "parent-in-repo" or "parent-not-asked"
    parent: str = ""  # the parent zone, when known
    problem: str = ""  # why the resolver found no parent server


@dataclass(frozen=True)
class ZoneFacts:
    """The primary's view of a zone and the parent servers' delegation of it."""

    ns: probe.Answer | None
    mx: probe.Answer | None
    addresses: Mapping[str, tuple[str, ...]]  # in-zone NS name -> "A x" / "AAAA y" on primary
    mail: Mapping[str, MailTarget]  # MX target -> what is known
    where: Parents  # where the delegation was asked, or why not
    parents: tuple[tuple[Endpoint, probe.Answer | None], ...]  # each parent server's answer


KeyOutcome = Literal["accepted", "refused", "failed", "not-tried"]


@dataclass(frozen=True)
class KeyTrial:
    """A transfer of the zone signed with the transfer key, asked of the primary from here.

    "refused" only when the primary answered with a refusal (REFUSED, NOTAUTH, a TSIG
    error): a transfer that got no answer says nothing about the key ("failed"), and none
    is asked when the primary does not answer over TCP from here ("not-tried").
    """

    outcome: KeyOutcome
    reason: str = ""  # the refusal, the failure, or why it was not tried


@dataclass(frozen=True)
class TransferFacts:
    """For a zone with a lagging secondary: what the usual causes look like from here."""

    catalog_primary: int | None
    catalog: Mapping[str, int | None]  # secondary name -> its catalog serial
    key: KeyTrial | None  # None: no key to try


@dataclass(frozen=True)
class Facts:
    """Everything the servers said; `evaluate` needs nothing else."""

    zones: tuple[str, ...]
    targets: tuple[Target, ...]
    zone: Mapping[str, ZoneFacts]
    server: Mapping[tuple[str, str], ServerFacts]  # (zone, target name)
    recursion: Mapping[str, probe.Answer | None]  # target name -> its answer to RD ./NS
    transfers: Mapping[str, TransferFacts] = field(default_factory=dict)
    tsig_key: str = ""  # the transfer key's name in reconciler.toml, for the advice
    mail: Mapping[str, MailWalk] = field(default_factory=dict)  # the mail walk, per zone
    dnssec: Mapping[str, DnssecFacts | None] = field(default_factory=dict)  # None: unsigned


def _server_facts(target: Target, zone: str, timeout: float) -> ServerFacts:
    def ask(rtype: str, tcp: bool) -> probe.Answer | None:
        return probe.query(target.address, target.port, zone, rtype, timeout, tcp=tcp)

    return ServerFacts(
        ask("SOA", False),
        ask("SOA", True),
        ask("MX", False),
        ask("MX", True),
        probe.axfr_open(target.address, target.port, zone, timeout),
    )


def _inside(name: str, zone: str) -> bool:
    return dns.name.from_text(name).is_subdomain(dns.name.from_text(zone))


def _enclosing(name: str, zones: Collection[str]) -> str | None:
    """The deepest zone of `zones` that holds `name` (itself included)."""
    best = None
    for zone in zones:
        if _inside(name, zone) and (best is None or len(zone) > len(best)):
            best = zone
    return best


def find_parent_servers(
    zone: str, resolver: dns.resolver.Resolver
) -> tuple[str, tuple[Endpoint, ...]]:
    """The zone's parent zone and the addresses of its nameservers, through `resolver`.

    Raises ReconcilerError (one line) when the resolver cannot say.
    """
    try:
        parent = dns.resolver.zone_for_name(
            dns.name.from_text(zone).parent(), resolver=resolver, lifetime=resolver.lifetime
        )
        names = sorted(r.target.to_text() for r in resolver.resolve(parent, "NS"))
    except dns.exception.DNSException as exc:
        raise ReconcilerError(
            f"the resolver cannot find the parent zone's servers: {exc}"
        ) from None
    found: list[Endpoint] = []
    for name in names:
        for rtype in ("A", "AAAA"):
            try:
                answer = resolver.resolve(name, rtype, raise_on_no_answer=False)
            except dns.exception.DNSException:
                continue
            found += [Endpoint(r.address, 53, name) for r in answer.rrset or ()]
            if answer.rrset:
                break
    if not found:
        raise ReconcilerError(f"no address found for the servers of {parent} ({', '.join(names)})")
    return parent.to_text(), tuple(found)


def _mail_target(
    target: str,
    repo_zones: Collection[str],
    primary: Target,
    resolver: dns.resolver.Resolver | None,
    timeout: float,
) -> MailTarget:
    if _enclosing(target, repo_zones) is not None:
        addresses: list[str] = []
        for rtype in ("A", "AAAA"):
            answer = probe.query(primary.address, primary.port, target, rtype, timeout)
            if answer is None or not answer.aa:
                return MailTarget(
                    unknown=f"the primary does not answer {rtype} for it with authority"
                )
            if answer.rcode == "NXDOMAIN":
                return MailTarget(missing=True)
            cname = answer.records("answer", target, "CNAME")
            if cname:
                return MailTarget(cname=cname[0].data)
            addresses += [f"{r.rtype} {r.data}" for r in answer.records("answer", target, rtype)]
        return MailTarget(addresses=tuple(addresses))
    if resolver is None:
        return MailTarget(
            unknown="outside this repo's zones, and no resolver is used with --parent"
        )
    addresses = []
    for rtype in ("A", "AAAA"):
        try:
            result = resolver.resolve(target, rtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return MailTarget(missing=True)
        except dns.exception.DNSException as exc:
            return MailTarget(unknown=f"the resolver did not say: {exc}")
        if result.canonical_name != dns.name.from_text(target):
            return MailTarget(cname=result.canonical_name.to_text())
        addresses += [f"{rtype} {r.to_text()}" for r in result.rrset or ()]
    return MailTarget(addresses=tuple(addresses))


def _zone_facts(
    zone: str, repo_zones: Collection[str], primary: Target, options: Options
) -> ZoneFacts:
    timeout = options.timeout

    def ask(name: str, rtype: str) -> probe.Answer | None:
        return probe.query(primary.address, primary.port, name, rtype, timeout)

    ns = ask(zone, "NS")
    mx = ask(zone, "MX")
    where = _parents(zone, repo_zones, options)
    parents = tuple(
        (p, probe.query(p.address, p.port, zone, "NS", timeout)) for p in where.endpoints
    )
    names = {r.data for r in ns.records("answer", zone, "NS")} if ns else set()
    for _endpoint, answer in parents:
        if answer is not None:
            names |= {r.data for r in _delegation(answer, zone)}
    addresses: dict[str, tuple[str, ...]] = {}
    for name in sorted(n for n in names if _inside(n, zone)):
        found: list[str] = []
        for rtype in ("A", "AAAA"):
            answer = ask(name, rtype)
            if answer is not None:
                found += [f"{rtype} {r.data}" for r in answer.records("answer", name, rtype)]
        addresses[name] = tuple(sorted(found))
    mail: dict[str, MailTarget] = {}
    for record in mx.records("answer", zone, "MX") if mx else ():
        target = record.data.split()[1]
        if target != "." and target not in mail:
            mail[target] = _mail_target(target, repo_zones, primary, options.resolver, timeout)
    return ZoneFacts(ns, mx, addresses, mail, where, parents)


def _delegation(answer: probe.Answer, zone: str) -> tuple[probe.RR, ...]:
    """The zone's NS records in a parent's answer: the referral, or an answer with authority."""
    return answer.records("authority", zone, "NS") or answer.records("answer", zone, "NS")


def _parents(zone: str, repo_zones: Collection[str], options: Options) -> Parents:
    """Where to ask for the zone's delegation: nowhere when the parent zone is in the repo
    (`check` compares both), the --parent servers, or those the resolver finds."""
    above = _enclosing(dns.name.from_text(zone).parent().to_text(), repo_zones)
    if above is not None:
        return Parents(skipped="parent-in-repo", parent=above)
    if options.parents:
        return Parents(options.parents)
    if options.resolver is None:
        return Parents(skipped="parent-not-asked")
    try:
        parent, endpoints = find_parent_servers(zone, options.resolver)
    except ReconcilerError as exc:
        return Parents(problem=str(exc))
    return Parents(endpoints, parent=parent)


def gather(
    zones: Sequence[str],
    repo_zones: Collection[str],
    targets: Sequence[Target],
    options: Options,
    tsig_key: str = "",
) -> Facts:
    """Ask every server and parent server what doctor needs, in parallel."""
    primary = targets[0]  # targets_of puts the primary first
    workers = max(1, min(_MAX_WORKERS, len(zones) * (len(targets) + 1) + len(targets)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        zone_jobs = {z: pool.submit(_zone_facts, z, repo_zones, primary, options) for z in zones}
        server_jobs = {
            (z, t.name): pool.submit(_server_facts, t, z, options.timeout)
            for z in zones
            for t in targets
        }
        recursion_jobs = {t.name: pool.submit(_recursion, t, options.timeout) for t in targets}
        facts = Facts(
            zones=tuple(zones),
            targets=tuple(targets),
            zone={z: job.result() for z, job in zone_jobs.items()},
            server={k: job.result() for k, job in server_jobs.items()},
            recursion={k: job.result() for k, job in recursion_jobs.items()},
            tsig_key=tsig_key,
        )
        lagging = sorted({zone for zone, _target in _lagging(facts)})
        transfer_jobs = {z: pool.submit(_transfer_facts, facts, z, options) for z in lagging}
        mail_jobs = {
            z: pool.submit(
                gather_mail,
                z,
                {t: m.addresses for t, m in facts.zone[z].mail.items()},
                repo_zones,
                targets,
                options,
            )
            for z in zones
            if _authoritative(facts.zone[z].mx)
        }
        dnssec_jobs = {
            z: pool.submit(
                gather_dnssec,
                z,
                targets,
                facts.zone[z].where.endpoints,
                options.timeout,
                z in options.signed,
            )
            for z in zones
        }
        return replace(
            facts,
            transfers={z: job.result() for z, job in transfer_jobs.items()},
            mail={z: job.result() for z, job in mail_jobs.items()},
            dnssec={z: job.result() for z, job in dnssec_jobs.items()},
        )


def _recursion(target: Target, timeout: float) -> probe.Answer | None:
    """The server's answer to a recursive query for a name outside its zones."""
    return probe.query(target.address, target.port, RECURSION_PROBE, "NS", timeout, recursion=True)


def _transfer_facts(facts: Facts, zone: str, options: Options) -> TransferFacts:
    primary = _primary(facts)
    timeout = options.timeout

    def catalog(target: Target) -> int | None:
        return probe.soa_serial(target.address, target.port, CATALOG, timeout=timeout)

    secondaries = [t for t in facts.targets if t.role == "secondary"]
    return TransferFacts(
        catalog(primary), {t.name: catalog(t) for t in secondaries}, _try_key(facts, zone, options)
    )


def _try_key(facts: Facts, zone: str, options: Options) -> KeyTrial | None:
    if options.key is None:
        return None
    primary = _primary(facts)
    if not _authoritative(facts.server[(zone, primary.name)].soa_tcp):
        return KeyTrial("not-tried", "no transfer was asked (see the primary under servers)")
    try:
        probe.axfr(primary.address, primary.port, zone, options.key, timeout=5 * options.timeout)
    except TransferRefused as exc:
        return KeyTrial("refused", str(exc))
    except TransferError as exc:
        return KeyTrial("failed", str(exc))
    return KeyTrial("accepted")


def _serial(answer: probe.Answer | None, zone: str) -> int | None:
    if not _authoritative(answer):
        return None
    assert answer is not None
    soa = answer.records("answer", zone, "SOA")
    return int(soa[0].data.split()[2]) if soa else None


def _served_serial(facts: ServerFacts | None, zone: str) -> int | None:
    if facts is None:
        return None
    serial = _serial(facts.soa_udp, zone)
    return serial if serial is not None else _serial(facts.soa_tcp, zone)


def _authoritative(answer: probe.Answer | None) -> bool:
    return answer is not None and answer.rcode == "NOERROR" and answer.aa


def _primary(facts: Facts) -> Target:
    return next(t for t in facts.targets if t.role == "primary")


def _lagging(facts: Facts) -> list[tuple[str, Target]]:
    """(zone, server) pairs where a server answers but lacks the zone or the primary's serial."""
    found = []
    primary = _primary(facts)
    for zone in facts.zones:
        expected = _served_serial(facts.server.get((zone, primary.name)), zone)
        for target in facts.targets:
            server = facts.server[(zone, target.name)]
            if target == primary or (server.soa_udp is None and server.soa_tcp is None):
                continue  # not answering at all is reported as such
            serial = _served_serial(server, zone)
            if serial is None or (expected is not None and is_newer(expected, serial)):
                found.append((zone, target))
    return found
