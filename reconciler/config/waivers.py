"""reconciler.toml's `[waive."ZONE"]` tables: rules a zone waives, each with a reason.

    [waive."example.com"]
    spf-lookups = "our provider flattens the include at send time"

A waived rule's problems in that zone are reported as waived (with the reason) instead of
failing `check` or warning (check/inspect.py). Every waiver names a rule of model/rules.py
and gives a reason that is not empty; a zone name with dots must be quoted. Pure; called by
config/repo.py, which reports the problems with the other tables'.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from reconciler.config.tomlfile import key_line, table_line
from reconciler.errors import ConfigError, Problem
from reconciler.model.names import checked_zone_name
from reconciler.model.rules import Rule

TABLE = "waive"


@dataclass(frozen=True)
class Waiver:
    zone: str  # without the trailing dot, lower case
    rule: Rule
    reason: str
    line: int | None  # in reconciler.toml, for a waiver that waives nothing


def parse_waivers(text: str, file: str, raw: Any) -> tuple[tuple[Waiver, ...], list[Problem]]:
    """The waivers of `[waive]` (`raw`: its parsed value) and what is wrong with them."""
    example = f'[{TABLE}."example.com"] with lines rule-name = "the reason"'
    if not isinstance(raw, dict):
        return (), [Problem(file, f"[{TABLE}] must be tables: {example}", table_line(text, TABLE))]
    waivers: list[Waiver] = []
    problems: list[Problem] = []
    for zone, rules in raw.items():
        where = f'[{TABLE}."{zone}"]'
        if not isinstance(rules, dict):
            line = key_line(text, TABLE, zone)
            problems.append(Problem(file, f"{TABLE}.{zone} must be a table: {example}", line))
            continue
        try:
            name = checked_zone_name(zone).lower()
        except ConfigError:
            problems.append(
                Problem(file, f"{where}: invalid zone name {zone!r}", table_line(text, TABLE))
            )
            continue
        for rule, reason in rules.items():
            line = key_line(text, f"{TABLE}.{zone}", rule)
            if isinstance(reason, dict):
                dotted = f"{zone}.{rule}"
                problems.append(
                    Problem(
                        file,
                        f"[{TABLE}.{dotted}] reads as zone {zone!r}: quote a zone name with dots: "
                        f'[{TABLE}."{dotted}"]',
                        line or table_line(text, f"{TABLE}.{dotted}"),
                    )
                )
                continue
            if rule not in Rule.__members__.values():
                close = difflib.get_close_matches(rule, [str(r) for r in Rule], n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                problems.append(
                    Problem(
                        file,
                        f"{where}: unknown rule '{rule}'{hint}; the rules are listed in the "
                        'README under "What check checks"',
                        line,
                    )
                )
                continue
            if not isinstance(reason, str) or not reason.strip():
                problems.append(
                    Problem(
                        file,
                        f'{where}: {rule} needs a reason: {rule} = "why it does not apply here"',
                        line,
                    )
                )
                continue
            waivers.append(Waiver(name, Rule(rule), reason.strip(), line))
    return tuple(waivers), problems
