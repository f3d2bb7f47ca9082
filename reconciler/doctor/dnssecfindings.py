"""Doctor's DNSSEC walk, the pure part: the chain of trust of one zone, judged.

The parent's DS must match a KSK or CSK the zone serves (else validating resolvers find the
zone bogus); a signed zone without a DS at its parent is an island (the DS to hand to the
registrar is said); every server's RRSIGs must validate and not expire within the
thresholds (Options: a warning at 7 days, a problem at 2); a name that does not exist must
be denied with NSEC or NSEC3; when a DS change is due, CDS/CDNSKEY say whether the zone
offers the new one. No I/O: called by findings.evaluate with dnssecfacts' facts.
"""

from __future__ import annotations

from reconciler.doctor.catalogue import finding
from reconciler.doctor.dnssecfacts import DnssecFacts, ZoneKey
from reconciler.doctor.values import Finding, Options

DAY = 86400.0


def _ds_key(ds: str) -> tuple[int, int, str]:
    """(key tag, algorithm, digest) of a DS record's data: `12345 13 2 ABCD...`."""
    fields = ds.split()
    return int(fields[0]), int(fields[1]), "".join(fields[3:]).upper()


def _matches(ds: str, key: ZoneKey) -> bool:
    mine = key.ds.split(" DS ", 1)[1]
    tag, algorithm, digest = _ds_key(ds)
    return (tag, algorithm) == (key.tag, key.algorithm) and digest == _ds_key(mine)[2]


def _role(key: ZoneKey, keys: tuple[ZoneKey, ...]) -> str:
    return "CSK" if not any(not k.signs_keys for k in keys) else "KSK"


def _chain(zone: str, facts: DnssecFacts) -> tuple[list[Finding], bool]:
    """Findings about the parent's DS, and whether a DS change is due."""
    sep = [k for k in facts.keys if k.signs_keys]
    want = "; ".join(k.ds for k in sep)
    tag = sep[0].tag if sep else 0
    found: list[Finding] = []
    due = False
    if not facts.keys:
        published = [ds for _, answer in facts.parent_ds for ds in answer or ()]
        if published:
            found.append(finding("dnssec-unsigned-ds", zone, ds=published[0]))
        else:
            found.append(finding("dnssec-not-signed", zone))
        return found, bool(published)
    if not facts.parent_ds:
        found.append(finding("dnssec-ds-not-asked", zone, want=want))
    for endpoint, held in facts.parent_ds:
        where = f"parent {endpoint.label}"
        if held is None:
            found.append(finding("dnssec-ds-silent", zone, where, want=want))
        elif not held:
            due = True
            found.append(finding("dnssec-ds-missing", zone, where, want=want, tag=tag))
        else:
            good = [ds for ds in held if any(_matches(ds, k) for k in sep)]
            for ds in sorted(set(held) - set(good)):
                due = True
                found.append(finding("dnssec-ds-wrong", zone, where, ds=ds, want=want, tag=tag))
            for ds in good:
                key = next(k for k in sep if _matches(ds, k))
                found.append(
                    finding("dnssec-ds-ok", zone, where, tag=key.tag, role=_role(key, facts.keys))
                )
    return found, due


def _signatures(zone: str, facts: DnssecFacts, options: Options) -> list[Finding]:
    found = []
    for server, by_type in facts.signatures.items():
        bad = [(rtype, s.problem) for rtype, s in by_type.items() if s.problem]
        for rtype, problem in bad:
            found.append(finding("dnssec-bogus", zone, server, rtype=rtype, problem=problem))
        expiries = [(s.expires, rtype) for rtype, s in by_type.items() if s.expires is not None]
        if bad or not expiries:
            continue
        expires, rtype = min(expiries)
        left = expires - facts.asked_at
        days = f"{left / DAY:.1f}"
        types = " and ".join(by_type)
        if left <= options.expiry_problem:
            code = "dnssec-expiry-problem"
        elif left <= options.expiry_warning:
            code = "dnssec-expiry-warning"
        else:
            code = "dnssec-valid"
        found.append(
            finding(code, zone, server, types=types, rtype=rtype, days=days, limit=_limit(options))
        )
    return found


def _limit(options: Options) -> str:
    return f"{options.expiry_warning / DAY:g} d (warning), {options.expiry_problem / DAY:g} d"


def _denial(zone: str, facts: DnssecFacts) -> list[Finding]:
    found = []
    for server, denial in facts.denial.items():
        if denial.rcode is None:
            continue  # the servers check says a server does not answer
        if denial.kinds and denial.signed:
            found.append(finding("dnssec-denial", zone, server, kinds="/".join(denial.kinds)))
        else:
            found.append(finding("dnssec-denial-missing", zone, server, rcode=denial.rcode))
    return found


def _cds(zone: str, facts: DnssecFacts, due: bool) -> list[Finding]:
    if not due:
        return []
    if facts.cds or facts.cdnskey:
        return [finding("dnssec-cds", zone, cds="; ".join(facts.cds) or "(CDNSKEY only)")]
    return [finding("dnssec-cds-missing", zone)]


def dnssec_findings(zone: str, facts: DnssecFacts | None, options: Options) -> list[Finding]:
    """Every DNSSEC finding of one zone (none for an unsigned zone without a DS)."""
    if facts is None:
        return []
    found, due = _chain(zone, facts)
    if not facts.keys:
        return found
    found += _signatures(zone, facts, options)
    found += _denial(zone, facts)
    found += _cds(zone, facts, due)
    return found


def ds_mismatch(facts: DnssecFacts) -> bool | None:
    """True when a parent serves a DS that matches no KSK/CSK the zone serves (the zone is
    bogus to validators), False when every DS a parent serves matches one, None when no
    parent said (none given, none answered, or none holds a DS)."""
    sep = [k for k in facts.keys if k.signs_keys]
    verdict: bool | None = None
    for _endpoint, held in facts.parent_ds:
        for ds in held or ():
            if not any(_matches(ds, key) for key in sep):
                return True
            verdict = False
    return verdict
