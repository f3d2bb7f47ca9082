"""Doctor's mail walk, the findings: facts in, findings out, with no I/O.

Per address of each MX target: a PTR that names the target (forward-confirmed reverse DNS,
which large receivers require), or what is wrong; the zone's SPF record within the budget of
10 DNS lookups (counted through the include/redirect targets the walk could ask, with the
rules of check/mail/spf.py); its DMARC record (check/mail/dmarc.py); and the same MX set with
authority from every server. Called by findings.evaluate.
"""

from __future__ import annotations

from reconciler.bind import probe
from reconciler.check.mail import dmarc as dmarc_rules
from reconciler.check.mail.spf import MAX_LOOKUPS, count_lookups
from reconciler.check.mail.spf import parse as parse_spf
from reconciler.doctor.catalogue import finding
from reconciler.doctor.facts import Facts, _authoritative
from reconciler.doctor.mailfacts import Lookup, MailWalk, Reverse
from reconciler.doctor.values import Finding
from reconciler.model.mail import is_spf, mx_hosts, txt_text


def _names(names: set[str] | tuple[str, ...]) -> str:
    return ", ".join(sorted(names)) or "none"


def _texts(lookup: Lookup) -> list[str]:
    return [txt_text(d) for d in lookup.data]


def _reverse(zone: str, found: Reverse) -> list[Finding]:
    subject = f"{found.address} ({found.target})"
    ptr = found.ptr
    name = found.address
    values = {"address": found.address, "target": found.target, "source": ptr.source}
    if ptr.unknown:
        return [finding("ptr-unchecked", zone, subject, reason=ptr.unknown)]
    if not ptr.data:
        return [finding("ptr-missing", zone, subject, **values)]
    names = {n.lower() for n in ptr.data}
    if found.target.lower() in names:
        return [finding("ptr-ok", zone, subject, **values)]
    for other, forward in sorted(found.forward.items()):
        addresses = {d.lower() for d in forward.data}
        if name.lower() in addresses:
            return [finding("ptr-other-confirmed", zone, subject, name=other, **values)]
    why = "; ".join(
        f"{other} has {_names(f.data)}"
        if not f.unknown
        else f"{other}'s addresses are unknown ({f.unknown})"
        for other, f in sorted(found.forward.items())
    )
    return [finding("ptr-other", zone, subject, names=_names(names), why=why, **values)]


def _spf(zone: str, walk: MailWalk, receives: bool) -> list[Finding]:
    if walk.spf.unknown:
        return [finding("spf-unchecked", zone, reason=walk.spf.unknown)]
    records = [t for t in _texts(walk.spf) if is_spf(t)]
    if not records:
        return [finding("spf-none", zone)] if receives else []
    if len(records) > 1:
        return [finding("spf-several", zone, count=len(records))]
    spf = parse_spf(records[0])
    if spf.errors:
        return [finding("spf-invalid", zone, errors="; ".join(spf.errors))]

    def resolve(name: str) -> list[str] | None:
        known = walk.spf_targets.get(name)
        if known is None or known.unknown:
            return None
        return [t for t in _texts(known) if t[:6].lower() == "v=spf1"]

    count = count_lookups(spf, resolve, (zone.rstrip(".") + ".",))
    out = [finding("spf-include-broken", zone, fault=fault) for fault in count.faults]
    parts = ", ".join(count.parts) or "none"
    if count.total > MAX_LOOKUPS:
        out.append(finding("spf-over", zone, total=count.total, parts=parts))
    else:
        out.append(finding("spf-ok", zone, total=count.total, parts=parts))
    if count.outside:
        known = [walk.spf_targets[n].unknown for n in count.outside if n in walk.spf_targets]
        reasons = list(dict.fromkeys(known)) or ["past the names the walk asks"]
        out.append(
            finding(
                "spf-unresolved", zone, names=", ".join(count.outside), reason="; ".join(reasons)
            )
        )
    return out


def _dmarc(zone: str, walk: MailWalk, receives: bool) -> list[Finding]:
    if walk.dmarc.unknown:
        return [finding("dmarc-unchecked", zone, reason=walk.dmarc.unknown)]
    records = [t for t in _texts(walk.dmarc) if dmarc_rules.is_dmarc(t)]
    if not records:
        return [finding("dmarc-none", zone)] if receives else []
    if len(records) > 1:
        return [finding("dmarc-several", zone, count=len(records))]
    values, wrong = dmarc_rules.parse(records[0])
    errors = [message for rule, message in wrong if rule != "dmarc-unknown-tag"]
    if errors:
        return [finding("dmarc-invalid", zone, errors="; ".join(errors))]
    return [finding("dmarc-ok", zone, policy=values.get("p", ""))]


def _mx_set(answer: probe.Answer | None) -> frozenset[str] | None:
    if answer is None or not _authoritative(answer):
        return None
    return frozenset(r.data for r in answer.answer if r.rtype == "MX")


def _same_mx(zone: str, facts: Facts) -> list[Finding]:
    """Every server that answers MX with authority gives the primary's MX set."""
    primary = facts.targets[0]
    server = facts.server.get((zone, primary.name))
    theirs = _mx_set(server.mx_udp or server.mx_tcp) if server else None
    if theirs is None:
        return []
    out = []
    same = [primary.name]
    for target in facts.targets[1:]:
        other = facts.server.get((zone, target.name))
        mine = _mx_set(other.mx_udp or other.mx_tcp) if other else None
        if mine is None:
            continue
        if mine == theirs:
            same.append(target.name)
        else:
            out.append(
                finding(
                    "mx-differs",
                    zone,
                    target.label,
                    mine=_names(set(mine)),
                    theirs=_names(set(theirs)),
                    server=target.name,
                )
            )
    if len(same) > 1:
        out.append(finding("mx-same", zone, servers=", ".join(same)))
    return out


def mail_walk_findings(zone: str, facts: Facts) -> list[Finding]:
    """The mail walk's findings for `zone` (none when the primary gave no MX with authority:
    the mail check says so)."""
    zone_facts = facts.zone[zone]
    walk = facts.mail.get(zone)
    if walk is None or zone_facts.mx is None or not _authoritative(zone_facts.mx):
        return []
    mx = zone_facts.mx.records("answer", zone, "MX")
    receives = bool(mx_hosts(r.data for r in mx))
    out: list[Finding] = []
    for found in walk.reverse:
        out += _reverse(zone, found)
    out += _spf(zone, walk, receives)
    out += _dmarc(zone, walk, receives)
    return out + _same_mx(zone, facts)
