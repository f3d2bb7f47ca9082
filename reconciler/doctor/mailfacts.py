"""Doctor's mail walk, the network part: reverse DNS of the MX hosts, SPF and DMARC.

For each address of each MX target, the PTR records of its reverse name and, for a PTR name
other than the target, that name's addresses (forward-confirmed reverse DNS); the zone's SPF
record and the records of every `include:`/`redirect=` target it reaches (at most
`MAX_SPF_NAMES` names: past the limit of 10 lookups there is nothing more to learn); the
DMARC record. A name is asked where it can be answered: the primary for names in the repo's
zones; for a reverse name, else a configured server that serves its reverse zone; else the
resolver (`--resolver`, or the system's when no `--parent` is given); when none can, the fact
says why. Every query
is bounded by the timeout. Called by facts.gather.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.resolver
import dns.reversename

from reconciler.bind import probe
from reconciler.check.mail.spf import parse as parse_spf
from reconciler.doctor.values import Options, Target
from reconciler.model.mail import DMARC_LABEL, is_spf, labels, txt_text

MAX_SPF_NAMES = 25  # include/redirect targets asked at most, per zone


@dataclass(frozen=True)
class Lookup:
    """The records of one name and type, where they came from; or why they are not known."""

    data: tuple[str, ...] = ()  # presentation form, e.g. "mail.example.com." or '"v=spf1 -all"'
    source: str = ""  # "the primary ns1", "ns2", "the resolver"
    unknown: str = ""  # not asked or not answered: why ("" when known)
    missing: bool = False  # the name does not exist (NXDOMAIN)


@dataclass(frozen=True)
class Reverse:
    """The reverse DNS of one address of an MX target."""

    target: str  # the MX host
    address: str
    ptr: Lookup
    forward: dict[str, Lookup] = field(default_factory=dict)  # other PTR name -> its addresses


@dataclass(frozen=True)
class MailWalk:
    """What the mail walk learnt about one zone."""

    reverse: tuple[Reverse, ...] = ()
    spf: Lookup = Lookup()  # TXT at the zone's apex
    spf_targets: dict[str, Lookup] = field(default_factory=dict)  # include/redirect -> TXT
    dmarc: Lookup = Lookup()  # TXT at _dmarc.ZONE


def _inside(name: str, zones: Collection[str]) -> bool:
    parts = labels(name)
    return any(".".join(parts[i:]) in zones for i in range(len(parts)))


def _reverse_zone(zone: str) -> bool:
    """A zone below in-addr.arpa. or ip6.arpa. (a network's reverse zone, not those two)."""
    parts = labels(zone)
    return len(parts) > 2 and parts[-2:] in (["in-addr", "arpa"], ["ip6", "arpa"])


def _automatic(soa: str) -> bool:
    """BIND's automatic empty zones (RFC 6303: private and test networks, served when
    recursion is on) have serial 0 and no contact ("."): they speak for no one."""
    fields = soa.split()
    return len(fields) > 2 and fields[1] == "." and fields[2] == "0"


class Asker:
    """Asks a name where it can be answered (see the module's docstring)."""

    def __init__(
        self, repo_zones: Collection[str], targets: Sequence[Target], options: Options
    ) -> None:
        self.repo_zones = {z.lower().rstrip(".") for z in repo_zones}
        self.targets = targets
        self.options = options

    def ask(self, name: str, rtype: str) -> Lookup:
        if _inside(name, self.repo_zones):
            return self._server(self.targets[0], name, rtype, "the primary ") or Lookup(
                unknown=f"the primary does not answer {rtype} for {name} with authority"
            )
        if rtype == "PTR":
            for target in self.targets:
                found = self._server(target, name, rtype, "")
                if found is not None:
                    return found
        return self._resolver(name, rtype)

    def _server(self, target: Target, name: str, rtype: str, role: str) -> Lookup | None:
        """The server's answer when it speaks for the name's zone: with authority and, for a
        reverse name without a PTR, from a reverse zone (not a root or `arpa` zone it also
        serves, nor one of BIND's automatic empty zones)."""
        answer = probe.query(target.address, target.port, name, rtype, self.options.timeout)
        if answer is None or not answer.aa or answer.rcode not in ("NOERROR", "NXDOMAIN"):
            return None
        data = tuple(r.data for r in answer.records("answer", name, rtype))
        if not data and rtype == "PTR" and not role:
            soa = [r for r in answer.authority if r.rtype == "SOA"]
            if not any(_reverse_zone(r.name) and not _automatic(r.data) for r in soa):
                return None
        return Lookup(data, f"{role}{target.name}", missing=answer.rcode == "NXDOMAIN")

    def _resolver(self, name: str, rtype: str) -> Lookup:
        resolver = self.options.resolver
        if resolver is None:
            where = (
                "its reverse zone is neither in the repo nor on the configured servers"
                if rtype == "PTR"
                else "outside the repo's zones"
            )
            return Lookup(
                unknown=f"{where}, and no resolver is asked (with --parent, only --resolver "
                "ADDR is)"
            )
        try:
            answer = resolver.resolve(name, rtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return Lookup(source="the resolver", missing=True)
        except dns.exception.DNSException as exc:
            return Lookup(unknown=f"the resolver did not say ({exc})")
        data = tuple(r.to_text() for r in answer.rrset or ())
        return Lookup(data, "the resolver")


def _reverse(asker: Asker, target: str, address: str) -> Reverse:
    name = dns.reversename.from_address(address).to_text()
    ptr = asker.ask(name, "PTR")
    forward: dict[str, Lookup] = {}
    for other in (n.lower() for n in ptr.data):
        if other != target.lower() and other not in forward:
            rtype = "AAAA" if ipaddress.ip_address(address).version == 6 else "A"
            forward[other] = asker.ask(other, rtype)
    return Reverse(target, address, ptr, forward)


def _spf_texts(lookup: Lookup) -> list[str]:
    return [t for t in (txt_text(d) for d in lookup.data) if is_spf(t)]


def gather_mail(
    zone: str,
    mail_targets: dict[str, tuple[str, ...]],
    repo_zones: Collection[str],
    targets: Sequence[Target],
    options: Options,
) -> MailWalk:
    """The mail walk of `zone`; `mail_targets`: MX target -> its addresses ("A 192.0.2.25")."""
    asker = Asker(repo_zones, targets, options)
    reverse = []
    for target, addresses in sorted(mail_targets.items()):
        for address in addresses:
            reverse.append(_reverse(asker, target, address.split()[1]))
    apex = zone.rstrip(".") + "."
    spf = asker.ask(apex, "TXT")
    seen: dict[str, Lookup] = {}
    queue = _spf_texts(spf)[:1]
    while queue and len(seen) < MAX_SPF_NAMES:
        for term in parse_spf(queue.pop(0)).terms:
            name = term.target
            if name is None or name in seen or name == apex or len(seen) >= MAX_SPF_NAMES:
                continue
            seen[name] = asker.ask(name, "TXT")
            queue += _spf_texts(seen[name])[:1]
    dmarc = asker.ask(f"{DMARC_LABEL}.{apex}", "TXT")
    return MailWalk(tuple(reverse), spf, seen, dmarc)
