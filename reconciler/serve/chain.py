"""The daemon's look at the chain of trust of each signed zone, for /metrics and /healthz.

For every zone the deployed commit signs: on each server, the seconds until the first RRSIG
over the SOA or the DNSKEY set expires (validated with the primary's keys, doctor's
dnssecfacts), whether the parent's DS matches a KSK/CSK served (daemon.toml `[dnssec]
parents`), and the keys by state (`rndc dnssec -status`). A server whose signatures do not
validate, or a DS that matches no key, is a bogus chain: /healthz says so. Called by
serve/daemon.py after each reconcile and every recheck_interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.apply import keys
from reconciler.apply.status import Overview
from reconciler.config.host import HostConfig
from reconciler.doctor.dnssecfacts import gather_dnssec
from reconciler.doctor.dnssecfindings import ds_mismatch
from reconciler.doctor.values import Endpoint, Target
from reconciler.model.keystate import ZoneKeys


@dataclass(frozen=True)
class ZoneChain:
    """One signed zone as the servers and the parent answer it now."""

    zone: str
    expiry: dict[str, float] = field(default_factory=dict)  # server -> seconds to first expiry
    bogus: tuple[str, ...] = ()  # "ns2: example.com SOA: its RRSIG does not validate (...)"
    ds_mismatch: bool | None = None  # None: no parent said
    keys: ZoneKeys | None = None  # None: rndc could not say


def look(host: HostConfig, overview: Overview) -> tuple[ZoneChain, ...]:
    """The chain of every signed zone of `overview`; nothing is asked for unsigned zones."""
    signed = [zone.zone for zone in overview.zones if zone.signed]
    if not signed:
        return ()
    targets = [Target(s.name, s.address, s.port, s.role) for s in overview.servers]
    parents = [Endpoint(address, port) for address, port in host.ds_parents]
    states = {z.keys.zone: z.keys for z in keys.gather(host) if not z.problem}
    chains = []
    for zone in signed:
        facts = gather_dnssec(zone, targets, parents, host.query_timeout, expected=True)
        if facts is None:
            continue
        expiry: dict[str, float] = {}
        bogus: list[str] = []
        if not facts.keys:
            bogus.append(f"{zone}: the primary serves no DNSKEY")
        for server, by_type in facts.signatures.items():
            bogus += [f"{server}: {s.problem}" for s in by_type.values() if s.problem]
            ends = [s.expires for s in by_type.values() if s.expires is not None]
            if ends and not any(s.problem for s in by_type.values()):
                expiry[server] = min(ends) - facts.asked_at
        chains.append(ZoneChain(zone, expiry, tuple(bogus), ds_mismatch(facts), states.get(zone)))
    return tuple(chains)


def bogus(chains: tuple[ZoneChain, ...]) -> tuple[str, ...]:
    """What makes a chain bogus, one item each, for /healthz."""
    found = []
    for chain in chains:
        found += [f"bogus chain: {item}" for item in chain.bogus]
        if chain.ds_mismatch:
            found.append(
                f"bogus chain: {chain.zone}: the parent's DS matches no KSK or CSK the zone "
                "serves (reconciler doctor says which DS to publish)"
            )
    return tuple(found)
