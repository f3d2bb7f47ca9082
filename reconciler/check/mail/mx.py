"""The null MX (RFC 7505): `MX 0 .` says a domain receives no mail, and stands alone.

A null MX beside other MX records makes senders' behaviour undefined (some bounce, some
deliver); a "." target with a preference other than 0 is not a null MX. Pure.
"""

from __future__ import annotations

from reconciler.check.mail.common import Mail, problem
from reconciler.errors import Problem
from reconciler.model.rules import Rule


def check(mail: Mail) -> list[Problem]:
    problems: list[Problem] = []
    for zone in mail.zones:
        for owner, records in mail.of(zone, "MX"):
            null = [r for r in records if r.rdata.split()[1:] == ["."]]
            for record in null:
                preference = record.rdata.split()[0]
                if len(records) > 1:
                    problems.append(
                        problem(
                            zone,
                            Rule.NULL_MX,
                            f"the null MX ({record.rdata}) says {owner} receives no mail, "
                            f"but it has {len(records) - 1} other MX record(s): keep the null "
                            "MX alone, or remove it",
                            record,
                        )
                    )
                elif preference != "0":
                    problems.append(
                        problem(
                            zone,
                            Rule.NULL_MX,
                            f"MX {record.rdata}: a null MX has preference 0 (`MX 0 .`, RFC 7505)",
                            record,
                        )
                    )
    return problems
