"""CAA (RFC 8659): which certificate authorities may issue for a name.

Tags: `issue`, `issuewild`, `iodef` (RFC 8659), `contactemail`, `contactphone` (CA/Browser
Forum), `issuemail` (RFC 9495), `issuevmc`. An unknown tag with the critical flag (128) stops
every CA from issuing (an error); without it, it is ignored (a typo, usually: a warning).
`issue`/`issuewild` values are a CA's domain name (or nothing, for "no CA") with
`; key=value` parameters; `iodef` is a `mailto:`, `http:` or `https:` URL. Pure.
"""

from __future__ import annotations

import re

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CAA

from reconciler.check.mail.common import Mail, problem, quote
from reconciler.errors import Problem, Severity
from reconciler.model.rules import Rule

KNOWN = ("issue", "issuewild", "iodef", "contactemail", "contactphone", "issuemail", "issuevmc")
ISSUING = ("issue", "issuewild", "issuemail", "issuevmc")
CRITICAL = 128
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ISSUER = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_PARAMETER = re.compile(r"^[A-Za-z0-9]+=[\x21-\x3a\x3c-\x7e]*$")
_IODEF = re.compile(
    r"^(?:mailto:[^@\s]+@[A-Za-z0-9.-]+|https?://[A-Za-z0-9.-]+(?::\d+)?(?:/\S*)?)$"
)


def value_problem(tag: str, value: str) -> tuple[str, Severity]:
    """What is wrong with the value of a known tag ("" when nothing), and how bad it is."""
    if tag in ISSUING:
        issuer, _, rest = value.partition(";")
        issuer = issuer.strip()
        if issuer and not _ISSUER.match(issuer):
            return f"{tag} {quote(value, 50)}: {quote(issuer)} is not a CA's domain name", "error"
        parameters = [p.strip() for p in rest.split(";") if p.strip()]
        bad = [p for p in parameters if not _PARAMETER.match(p)]
        if bad:
            return (
                f"{tag} {quote(value, 50)}: {quote(bad[0])} is not a key=value parameter",
                "error",
            )
        if issuer and "." not in issuer:
            return f"{tag} {quote(issuer)} is not a CA's domain (e.g. letsencrypt.org)", "warning"
        return "", "error"
    if tag == "iodef" and not _IODEF.match(value):
        return f"iodef {quote(value, 50)} is not a mailto:, http: or https: URL", "error"
    return "", "error"


def check(mail: Mail) -> list[Problem]:
    problems: list[Problem] = []
    for zone in mail.zones:
        for _owner, records in mail.of(zone, "CAA"):
            for record in records:
                try:
                    parsed = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.CAA, record.rdata)
                except (dns.exception.DNSException, ValueError):
                    continue  # BIND loaded it; dnspython's reading is stricter: not ours to say
                assert isinstance(parsed, dns.rdtypes.ANY.CAA.CAA)
                tag = parsed.tag.decode("ascii", errors="replace")
                value = parsed.value.decode("utf-8", errors="replace")
                if tag.lower() not in KNOWN:
                    critical = bool(parsed.flags & CRITICAL)
                    problems.append(
                        problem(
                            zone,
                            Rule.CAA_TAG,
                            f"CAA tag {quote(tag)} is unknown"
                            + (
                                " and flagged critical (128): no CA will issue a certificate"
                                if critical
                                else ": CAs ignore it"
                            )
                            + f" (known: {', '.join(KNOWN)})",
                            record,
                            "error" if critical else "warning",
                        )
                    )
                    continue
                wrong, severity = value_problem(tag.lower(), value)
                if wrong:
                    problems.append(problem(zone, Rule.CAA_VALUE, f"CAA {wrong}", record, severity))
    return problems
