"""MTA-STS (RFC 8461) and SMTP TLS reporting (RFC 8460) records.

`_mta-sts.DOMAIN` holds one TXT record `v=STSv1; id=ID` (ID 1-32 letters and digits, changed
with every policy change); senders fetch the policy from the host `mta-sts.DOMAIN`, so that
name must exist. `_smtp._tls.DOMAIN` holds one `v=TLSRPTv1; rua=URI[,URI]` record, each URI
`mailto:` or `https:`. Pure.
"""

from __future__ import annotations

import re

from reconciler.check.mail.common import Mail, in_file_order, problem, quote, tag_list
from reconciler.check.rules import Zone
from reconciler.errors import Problem
from reconciler.model.mail import MTA_STS_HOST, MTA_STS_LABEL, TLS_RPT_LABELS, labels, txt_text
from reconciler.model.rules import Rule
from reconciler.model.zone import Record

_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_RUA = re.compile(r"^(?:mailto:[^@\s,]+@[A-Za-z0-9.-]+|https://[A-Za-z0-9.-]+(?::\d+)?(?:/\S*)?)$")


def _records(
    zone: Zone, rule: Rule, owner: str, records: list[Record], version: str
) -> tuple[list[tuple[Record, dict[str, str]]], list[Problem]]:
    """The records of `version` at `owner`, parsed; problems with the RRset and each record."""
    problems: list[Problem] = []
    found: list[tuple[Record, dict[str, str]]] = []
    for record in in_file_order(zone, records) if len(records) > 1 else records:
        text = txt_text(record.rdata)
        tags, wrong = tag_list(text)
        if not text.startswith(f"v={version}"):
            problems.append(
                problem(
                    zone,
                    rule,
                    f"{quote(text, 40)} does not start with v={version}: senders ignore it",
                    record,
                )
            )
        elif wrong or tags[0] != ("v", version):
            problems.append(problem(zone, rule, f"not a {version} tag list: {wrong}", record))
        else:
            found.append((record, dict(tags)))
    for extra, _tags in found[1:]:
        problems.append(
            problem(
                zone,
                rule,
                f"{len(found)} v={version} records at {owner}: senders use none of them; keep one",
                extra,
            )
        )
    return found, problems


def check(mail: Mail) -> list[Problem]:
    problems: list[Problem] = []
    for zone in mail.zones:
        for owner, records in mail.of(zone, "TXT"):
            parts = labels(owner)
            if parts[:1] == [MTA_STS_LABEL]:
                problems += _mta_sts(mail, zone, owner, records)
            elif tuple(parts[:2]) == TLS_RPT_LABELS:
                problems += _tls_rpt(zone, owner, records)
    return problems


def _mta_sts(mail: Mail, zone: Zone, owner: str, records: list[Record]) -> list[Problem]:
    found, problems = _records(zone, Rule.MTA_STS, owner, records, "STSv1")
    for record, tags in found:
        ident = tags.get("id")
        if ident is None or not _ID.match(ident):
            problems.append(
                problem(
                    zone,
                    Rule.MTA_STS,
                    f"MTA-STS id={ident or ''} must be 1-32 letters and digits (change it with "
                    "every policy change, e.g. 20261125T1200)"
                    if ident is not None
                    else "MTA-STS has no id= (1-32 letters and digits, new with every policy)",
                    record,
                )
            )
    host = f"{MTA_STS_HOST}." + owner.split(".", 1)[1]
    if found and mail.zone_of(host) is not None and host not in mail.names:
        problems.append(
            problem(
                zone,
                Rule.MTA_STS_HOST,
                f"MTA-STS is announced but {host} has no A, AAAA or CNAME record: senders "
                f"fetch the policy from https://{host.rstrip('.')}/.well-known/mta-sts.txt",
                found[0][0],
                "warning",
            )
        )
    return problems


def _tls_rpt(zone: Zone, owner: str, records: list[Record]) -> list[Problem]:
    found, problems = _records(zone, Rule.TLS_RPT, owner, records, "TLSRPTv1")
    for record, tags in found:
        rua = tags.get("rua")
        if rua is None:
            problems.append(
                problem(zone, Rule.TLS_RPT, "TLS-RPT has no rua= (where reports go)", record)
            )
            continue
        bad = [u.strip() for u in rua.split(",") if not _RUA.match(u.strip())]
        if bad:
            problems.append(
                problem(
                    zone,
                    Rule.TLS_RPT,
                    f"TLS-RPT rua: {', '.join(quote(u, 40) for u in bad)} is not a mailto: or "
                    "https: URI",
                    record,
                )
            )
    return problems
