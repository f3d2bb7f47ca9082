"""The mail rules: the records that decide whether mail is delivered, checked like code.

SPF, DKIM, DMARC, MTA-STS and TLS-RPT live in TXT strings no zone checker reads; CAA, TLSA
and the null MX have rules of their own. One module per record family (spf, dkim, dmarc,
policy for MTA-STS and TLS-RPT, caa, tlsa, mx), each pure: the repo's valid zones in
canonical form in, `Problem`s out, each naming its rule (model/rules.py) so that a zone can
waive it. Also `long_strings`: a TXT string over 255 bytes, which BIND calls only a "syntax
error", explained. Called by check/inspect.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reconciler.check.mail import caa, dkim, dmarc, mx, policy, spf, tlsa
from reconciler.check.mail.common import Mail
from reconciler.check.rules import Zone
from reconciler.errors import Problem
from reconciler.model.zone import ZoneText

FAMILIES = (spf, dkim, dmarc, policy, caa, tlsa, mx)
MAX_STRING = 255  # bytes in one character-string (RFC 1035 3.3)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def run(zones: list[Zone]) -> list[Problem]:
    """Every mail rule on every zone (include targets are followed across them)."""
    mail = Mail(zones)
    problems: list[Problem] = []
    for family in FAMILIES:
        problems += family.check(mail)
    return problems


def _length(quoted: str) -> int:
    """Bytes of a quoted string's content, escapes (\\X, \\DDD) counted as one byte."""
    body = re.sub(r"\\[0-9]{3}|\\.", "x", quoted)
    return len(body.encode("utf-8"))


def long_strings(zone: ZoneText, problems: Sequence[Problem]) -> list[Problem]:
    """BIND's "syntax error" on a line with a quoted string over 255 bytes, said plainly.

    Returns `problems` with each such error replaced by one that says how to split it.
    """
    lines = zone.text.splitlines()
    out = []
    for found in problems:
        line = found.line
        if (
            found.message.endswith("syntax error")
            and line is not None
            and found.file.startswith(zone.path)
            and 0 < line <= len(lines)
        ):
            sizes = [_length(m) for m in _QUOTED.findall(lines[line - 1])]
            longest = max(sizes, default=0)
            if longest > MAX_STRING:
                found = Problem(
                    found.file,
                    f"a quoted string of {longest} bytes: one string holds at most "
                    f'{MAX_STRING}; split it into several in one record ("..." "..."); '
                    "SPF, DKIM and DMARC join them with nothing between, so split inside a "
                    "term or end a string with its space",
                    line,
                    found.zone,
                    found.record,
                    found.severity,
                )
        out.append(found)
    return out
