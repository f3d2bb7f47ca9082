"""Doctor's evaluation: facts in, findings out, with no I/O.

Called by `diagnose`.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.bind import probe
from reconciler.bind.catalog import CATALOG
from reconciler.doctor.catalogue import finding
from reconciler.doctor.dnssecfindings import dnssec_findings
from reconciler.doctor.facts import (
    Facts,
    TransferFacts,
    ZoneFacts,
    _authoritative,
    _delegation,
    _inside,
    _lagging,
    _primary,
    _served_serial,
)
from reconciler.doctor.mailfindings import mail_walk_findings
from reconciler.doctor.values import Finding, Options, Target, target_for
from reconciler.model.serial import distance, is_newer


def _fault(answer: probe.Answer | None, zone: str, rtype: str) -> str:
    """What is wrong with an answer for the zone's apex `rtype`; "" when it is good."""
    if answer is None:
        return "no answer"
    if answer.rcode != "NOERROR":
        return answer.rcode
    if not answer.aa:
        return "no authority"
    if rtype == "SOA" and not answer.records("answer", zone, "SOA"):
        return "no SOA in the answer"
    return ""


def _addresses(records: Iterable[probe.RR]) -> tuple[str, ...]:
    return tuple(sorted(f"{r.rtype} {r.data}" for r in records if r.rtype in ("A", "AAAA")))


def _names(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def _own_ns(facts: ZoneFacts, zone: str) -> set[str]:
    return {r.data for r in facts.ns.records("answer", zone, "NS")} if facts.ns else set()


def _delegation_findings(zone: str, facts: ZoneFacts, timeout: float) -> list[Finding]:
    if facts.where.problem:
        return [finding("parent-unknown", zone, reason=facts.where.problem)]
    if facts.where.skipped:
        return [finding(facts.where.skipped, zone, parent=facts.where.parent)]
    out: list[Finding] = []
    known = _authoritative(facts.ns)
    if not known:
        out.append(finding("own-ns-unknown", zone))
    own = _own_ns(facts, zone)
    ns = _names(own)
    for endpoint, answer in facts.parents:
        subject = f"parent {endpoint.label}"
        before = len(out)
        if answer is None:
            out.append(finding("parent-silent", zone, subject, timeout=timeout))
            continue
        listed = {r.data for r in _delegation(answer, zone)}
        if answer.rcode == "NXDOMAIN":
            out.append(finding("not-delegated-nxdomain", zone, subject, ns=ns))
            continue
        if answer.rcode != "NOERROR":
            out.append(finding("parent-error", zone, subject, rcode=answer.rcode))
            continue
        if not listed:
            other = {r.name for r in answer.authority if r.rtype == "NS"}
            code = "parent-wrong" if other else "not-delegated"
            out.append(finding(code, zone, subject, other=_names(other), ns=ns))
            continue
        for name in sorted(own - listed):
            out.append(finding("ns-missing-at-parent", zone, subject, name=name, ns=ns))
        for name in sorted(listed - own if known else ()):
            out.append(finding("ns-extra-at-parent", zone, subject, name=name, ns=ns))
        reachable = [n for n in listed if not _inside(n, zone)]
        for name in sorted(n for n in listed if _inside(n, zone)):
            glue = _addresses(r for r in answer.additional if r.name == name)
            has = facts.addresses.get(name, ())
            if glue:
                reachable.append(name)
            if not glue:
                zone_has = f" (the zone has {', '.join(has)})" if known and has else ""
                records = f" ({', '.join(has)})" if known and has else ""
                out.append(
                    finding(
                        "glue-missing", zone, subject, name=name, zone_has=zone_has, records=records
                    )
                )
            elif known and not has:
                out.append(
                    finding(
                        "ns-no-address",
                        zone,
                        subject,
                        name=name,
                        glue=f" (the parent's glue: {', '.join(glue)})",
                    )
                )
            elif known and glue != has:
                out.append(
                    finding(
                        "glue-differs",
                        zone,
                        subject,
                        name=name,
                        glue=", ".join(glue),
                        addresses=", ".join(has),
                    )
                )
        if not reachable:
            out.append(finding("unreachable", zone, subject))
        if len(out) == before:
            inside = any(_inside(n, zone) for n in listed)
            said = "; the glue matches the zone" if known else "; glue is there (not compared)"
            said = said if inside else " (outside the zone: no glue)"
            out.append(finding("delegated", zone, subject, ns=_names(listed), glue=said))
    return out


def _what(pairs: list[tuple[str, str]]) -> str:
    """("SOA", "UDP") pairs as words: "SOA and MX over UDP and TCP", "MX over TCP"."""
    rtypes = sorted({r for r, _p in pairs}, key=("SOA", "MX").index)
    protos = sorted({p for _r, p in pairs}, key=("UDP", "TCP").index)
    if len(pairs) == len(rtypes) * len(protos):
        return f"{' and '.join(rtypes)} over {' and '.join(protos)}"
    return ", ".join(f"{r} over {p}" for r, p in pairs)


def _server_findings(zone: str, facts: Facts, options: Options) -> list[Finding]:
    out: list[Finding] = []
    zone_facts = facts.zone[zone]
    primary = _primary(facts)
    expected = _served_serial(facts.server.get((zone, primary.name)), zone)
    delegated = {
        r.data for _e, answer in zone_facts.parents if answer for r in _delegation(answer, zone)
    }
    ns_names = _own_ns(zone_facts, zone) | delegated
    mapped: dict[str, list[str]] = {}
    for name in sorted(ns_names):
        target = target_for(name, facts.targets)
        if target is None:
            full = name.rstrip(".")
            short = full.split(".")[0]
            out.append(finding("ns-unmapped", zone, name, name=name, short=short, full=full))
        else:
            mapped.setdefault(target.name, []).append(name)
    recorded = options.recorded.get(zone)
    # A zone named signs inline answers with the signed serial: BIND moves it past ours.
    if (
        zone in options.signed
        and expected is not None
        and recorded is not None
        and is_newer(expected, recorded)
    ):
        recorded = expected
    if expected is not None and recorded is not None and expected != recorded:
        out.append(
            finding("recorded-differs", zone, primary.label, serial=expected, recorded=recorded)
        )
    for target in facts.targets:
        server = facts.server[(zone, target.name)]
        names = mapped.get(target.name, [])
        subject = target.label + (f" ({', '.join(names)})" if names else "")
        values = {"server": target.name, "port": target.port, "timeout": options.timeout}
        faults: dict[str, list[tuple[str, str]]] = {}
        for rtype, proto, answer in (
            ("SOA", "UDP", server.soa_udp),
            ("MX", "UDP", server.mx_udp),
            ("SOA", "TCP", server.soa_tcp),
            ("MX", "TCP", server.mx_tcp),
        ):
            fault = _fault(answer, zone, rtype)
            if fault:
                faults.setdefault(fault, []).append((rtype, proto))
        before = len(out)
        unanswered = faults.pop("no answer", [])
        if len(unanswered) == 4:
            out.append(finding("silent", zone, subject, **values))
            continue
        dead = {p for _r, p in unanswered if [q for _r, q in unanswered].count(p) == 2}
        for proto in sorted(dead, reverse=True):  # UDP, then TCP
            out.append(finding(f"silent-{proto.lower()}", zone, subject, **values))
        lost = [pair for pair in unanswered if pair[1] not in dead]
        if lost:
            out.append(finding("flaky", zone, subject, what=_what(lost), **values))
        for fault, pairs in faults.items():
            if fault == "no authority":
                out.append(finding("lame", zone, subject, what=_what(pairs), **values))
                continue
            fix = (
                f"the zone is not loaded: `rndc zonestatus {zone}` and named's log on {target.name}"
                if target.role == "primary"
                else "see transfers"
                if target.role == "secondary"
                else f"load {zone} on {target.name}, or take it out of the NS set"
            )
            out.append(
                finding("not-serving", zone, subject, what=_what(pairs), fault=fault, fix=fix)
            )
        serial = _served_serial(server, zone)
        if serial is not None and expected is not None and serial != expected:
            code = "behind" if is_newer(expected, serial) else "ahead"
            apart = distance(*((serial, expected) if code == "behind" else (expected, serial)))
            out.append(
                finding(code, zone, subject, serial=serial, expected=expected, distance=apart)
            )
        elif serial is not None and target != primary:
            mine = _mx_set(server.mx_udp or server.mx_tcp)
            theirs = _mx_set(facts.server[(zone, primary.name)].mx_udp)
            if mine is not None and theirs is not None and mine != theirs:
                out.append(
                    finding(
                        "same-serial-other-data",
                        zone,
                        subject,
                        serial=serial,
                        mine=_names(mine),
                        theirs=_names(theirs),
                    )
                )
        if len(out) == before:
            role = "primary" if target == primary else "server"
            hidden = f" (not in the NS set: a hidden {role})" if ns_names and not names else ""
            out.append(finding("serving", zone, subject, serial=serial, hidden=hidden))
    return out


def _mx_set(answer: probe.Answer | None) -> set[str] | None:
    if answer is None or not _authoritative(answer):
        return None
    return {r.data for r in answer.answer if r.rtype == "MX"}


def _mail_findings(zone: str, facts: ZoneFacts) -> list[Finding]:
    if facts.mx is None or not _authoritative(facts.mx):
        return [finding("mail-not-checked", zone)]
    records = facts.mx.records("answer", zone, "MX")
    if not records:
        return [finding("no-mx", zone)]
    out = []
    for record in sorted(records, key=lambda r: r.data):
        target = record.data.split()[1]
        subject = f"MX {record.data}"
        if target == ".":
            out.append(finding("null-mx", zone, subject))
            continue
        known = facts.mail[target]
        if known.unknown:
            out.append(finding("mx-unchecked", zone, subject, target=target, reason=known.unknown))
        elif known.missing:
            out.append(finding("mx-nxdomain", zone, subject, target=target))
        elif known.cname:
            out.append(finding("mx-cname", zone, subject, target=target, cname=known.cname))
        elif not known.addresses:
            out.append(finding("mx-no-address", zone, subject, target=target))
        else:
            addresses = ", ".join(known.addresses)
            out.append(finding("mx-ok", zone, subject, target=target, addresses=addresses))
    return out


def _exposure_findings(zone: str, facts: Facts) -> list[Finding]:
    out = []
    refused = []
    for target in facts.targets:
        state = facts.server[(zone, target.name)].axfr_open
        if state:
            key = facts.tsig_key or "KEY"
            out.append(finding("axfr-open", zone, target.label, key=key, server=target.name))
        elif state is False:
            refused.append(target.name)
    if refused and not out:
        out.append(finding("axfr-refused", zone, servers=", ".join(refused)))
    return out


def _recursion_findings(facts: Facts) -> list[Finding]:
    out = []
    refused = []
    for target in facts.targets:
        answer = facts.recursion.get(target.name)
        if answer is None:
            continue
        if answer.ra or (answer.rcode == "NOERROR" and answer.answer and not answer.aa):
            out.append(finding("recursion-open", None, target.label))
        else:
            refused.append(target.name)
    if refused:
        out.append(finding("recursion-refused", None, servers=", ".join(refused)))
    return out


def _transfer_findings(facts: Facts, options: Options) -> list[Finding]:
    """For each zone with lagging servers, the usual causes, each said once per zone: a
    cause is claimed only when a probe from here showed it, otherwise it is a question."""
    out: list[Finding] = []
    primary = _primary(facts)
    lagging: dict[str, list[Target]] = {}
    for zone, target in _lagging(facts):
        lagging.setdefault(zone, []).append(target)
    for zone, targets in lagging.items():
        known = facts.transfers.get(zone)
        primary_facts = facts.server[(zone, primary.name)]
        expected = _served_serial(primary_facts, zone)
        ours = [t for t in targets if t.role != "extra"]
        out += [finding("extra-lags", zone, t.label) for t in targets if t.role == "extra"]
        if not ours:
            continue
        names = ", ".join(t.name for t in ours)
        # TCP: when the primary does not answer over TCP from here, `servers` says so.
        if not _fault(primary_facts.soa_tcp, zone, "SOA"):
            out.append(
                finding(
                    "primary-tcp-open",
                    zone,
                    ", ".join(t.label for t in ours),
                    primary=primary.label,
                    port=primary.port,
                    servers=names,
                )
            )
        for target in ours:
            out += _lag_findings(zone, target, facts, known, expected)
        key = options.key.name if options.key else ""
        trial = known.key if known else None
        if trial is not None:
            code = {
                "accepted": "key-accepted",
                "refused": "key-refused",
                "failed": "key-untested",
                "not-tried": "key-untested",
            }[trial.outcome]
            out.append(
                finding(code, zone, primary.label, key=key, reason=trial.reason, servers=names)
            )
        elif options.key_note:
            out.append(finding("key-unread", zone, reason=options.key_note))
    return out


def _lag_findings(
    zone: str, target: Target, facts: Facts, known: TransferFacts | None, expected: int | None
) -> list[Finding]:
    """What one lagging secondary serves: no zone (the catalog?) or an older serial."""
    serial = _served_serial(facts.server[(zone, target.name)], zone)
    values = {"server": target.name, "catalog": CATALOG}
    if serial is None:
        catalog = known.catalog.get(target.name) if known else None
        main = known.catalog_primary if known else None
        if catalog is not None and main is not None and is_newer(main, catalog):
            return [
                finding(
                    "catalog-behind", zone, target.label, serial=catalog, expected=main, **values
                )
            ]
        return [finding("zone-not-yet", zone, target.label, **values)]
    if expected is not None:
        return [
            finding(
                "serial-incremented",
                zone,
                target.label,
                serial=serial,
                expected=expected,
                **values,
            )
        ]
    return []


def evaluate(facts: Facts, options: Options) -> tuple[Finding, ...]:
    """Every finding, from the facts alone (no I/O)."""
    found: list[Finding] = []
    for zone in facts.zones:
        zone_facts = facts.zone[zone]
        found += _delegation_findings(zone, zone_facts, options.timeout)
        found += _server_findings(zone, facts, options)
        found += dnssec_findings(zone, facts.dnssec.get(zone), options)
        found += _mail_findings(zone, zone_facts)
        found += mail_walk_findings(zone, facts)
        found += _exposure_findings(zone, facts)
    found += _transfer_findings(facts, options)
    found += _recursion_findings(facts)
    return tuple(found)
