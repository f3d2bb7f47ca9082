"""DMARC (RFC 7489): `_dmarc.DOMAIN` TXT, and a domain that receives mail has one.

One record, `v=DMARC1` first, `p=` none, quarantine or reject (`sp=` the same), `pct` 0-100,
`adkim`/`aspf` r or s, `fo` of 0, 1, d, s, `rf` afrf, `ri` seconds, `rua`/`ruf` lists of
`mailto:` URIs (with an optional `!size`); tags RFC 7489 does not define are ignored by
receivers, so they are warned (a typo of a real one, usually). A zone whose apex has MX
records and neither it nor a zone above it in the repo has a DMARC record is warned. Pure.
"""

from __future__ import annotations

import re

from reconciler.check.mail.common import Mail, in_file_order, problem, quote, tag_list
from reconciler.check.rules import Zone
from reconciler.errors import Problem
from reconciler.model.mail import DMARC_LABEL, labels, mx_hosts, txt_text
from reconciler.model.rules import Rule
from reconciler.model.zone import Record

VERSION = "DMARC1"
POLICIES = ("none", "quarantine", "reject")
KNOWN = ("v", "p", "sp", "pct", "rua", "ruf", "adkim", "aspf", "fo", "rf", "ri")
_MAILTO = re.compile(r"^mailto:[^@\s,!]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+(?:![0-9]+[kmgt]?)?$", re.I)


def parse(text: str) -> tuple[dict[str, str], list[tuple[Rule, str]]]:
    """A DMARC record's tags (names lower case) and what is wrong: (rule, message) pairs."""
    tags, wrong = tag_list(text)
    if wrong:
        return {}, [(Rule.DMARC_SYNTAX, f"DMARC is not a tag list: {wrong}")]
    values = {name.lower(): value for name, value in tags}
    if not tags or tags[0][0] != "v" or values.get("v") != VERSION:
        return values, [
            (Rule.DMARC_SYNTAX, f"DMARC must start with v={VERSION} (receivers ignore it)")
        ]
    found: list[tuple[Rule, str]] = []
    if "p" not in values:
        found.append((Rule.DMARC_POLICY, "DMARC has no p= (none, quarantine or reject)"))
    for tag in ("p", "sp"):
        if tag in values and values[tag].lower() not in POLICIES:
            found.append(
                (
                    Rule.DMARC_POLICY,
                    f"DMARC {tag}={values[tag]} is not one of {', '.join(POLICIES)}"
                    + (" (receivers ignore the record)" if tag == "p" else ""),
                )
            )
    pct = values.get("pct")
    if pct is not None and not (pct.isdigit() and 0 <= int(pct) <= 100):
        found.append((Rule.DMARC_SYNTAX, f"DMARC pct={pct} is not a whole number 0-100"))
    for tag in ("adkim", "aspf"):
        if tag in values and values[tag].lower() not in ("r", "s"):
            found.append((Rule.DMARC_SYNTAX, f"DMARC {tag}={values[tag]} is not r or s"))
    fo = values.get("fo")
    if fo is not None and not all(part.strip() in ("0", "1", "d", "s") for part in fo.split(":")):
        found.append((Rule.DMARC_SYNTAX, f"DMARC fo={fo} is not a ':' list of 0, 1, d, s"))
    rf = values.get("rf")
    if rf is not None and not all(part.strip().lower() == "afrf" for part in rf.split(":")):
        found.append((Rule.DMARC_SYNTAX, f"DMARC rf={rf} is not afrf"))
    ri = values.get("ri")
    if ri is not None and not ri.isdigit():
        found.append((Rule.DMARC_SYNTAX, f"DMARC ri={ri} is not a number of seconds"))
    for tag in ("rua", "ruf"):
        if tag in values:
            bad = [u.strip() for u in values[tag].split(",") if not _MAILTO.match(u.strip())]
            if bad:
                found.append(
                    (
                        Rule.DMARC_URI,
                        f"DMARC {tag}: {', '.join(quote(u, 40) for u in bad)} is not a "
                        "mailto: URI (mailto:reports@example.com)",
                    )
                )
    for name, _value in tags:
        if name.lower() not in KNOWN:
            found.append(
                (
                    Rule.DMARC_UNKNOWN_TAG,
                    f"DMARC tag {name}= is not one RFC 7489 defines: receivers ignore it "
                    f"(known: {', '.join(KNOWN)})",
                )
            )
    return values, found


def is_dmarc(text: str) -> bool:
    return text.startswith(f"v={VERSION}")


def check(mail: Mail) -> list[Problem]:
    problems: list[Problem] = []
    has_dmarc: set[str] = set()  # domains (absolute) with a DMARC record
    for zone in mail.zones:
        for owner, records in mail.of(zone, "TXT"):
            if labels(owner)[:1] != [DMARC_LABEL]:
                continue
            domain = owner.split(".", 1)[1]
            ordered = in_file_order(zone, records) if len(records) > 1 else records
            texts = [(record, txt_text(record.rdata)) for record in ordered]
            dmarc = [(r, t) for r, t in texts if is_dmarc(t)]
            if dmarc:
                has_dmarc.add(domain)
            for extra, _text in dmarc[1:]:
                problems.append(
                    problem(
                        zone,
                        Rule.DMARC_MULTIPLE,
                        f"{len(dmarc)} DMARC records at {owner}: receivers apply no policy; "
                        "keep one",
                        extra,
                    )
                )
            for record, text in texts:
                problems += _one(zone, record, text)
    for zone in mail.zones:
        problems += _missing(mail, zone, has_dmarc)
    return problems


def _one(zone: Zone, record: Record, text: str) -> list[Problem]:
    _values, found = parse(text)
    return [
        problem(zone, rule, message, record, "warning")
        if rule == Rule.DMARC_UNKNOWN_TAG
        else problem(zone, rule, message, record)
        for rule, message in found
    ]


def _missing(mail: Mail, zone: Zone, has_dmarc: set[str]) -> list[Problem]:
    """The apex has MX records (not only the null MX) and no DMARC record applies to it."""
    mx = mail.records[zone.origin]["MX"].get(zone.origin, [])
    if not mx_hosts(r.rdata for r in mx):
        return []
    parts = labels(zone.origin)
    above = {".".join(parts[i:]) + "." for i in range(len(parts))}
    if above & has_dmarc:
        return []
    return [
        problem(
            zone,
            Rule.DMARC_MISSING,
            f"{zone.text.name} receives mail (MX) but has no DMARC record: receivers cannot "
            f"tell forged mail from {zone.text.name}'s own; add e.g. "
            f'`_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{zone.text.name}"`',
            mx[0],
            "warning",
        )
    ]
