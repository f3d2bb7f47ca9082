"""Waivers: the problems of a rule a zone waives in reconciler.toml are set aside, with the
reason, and a waiver that waives nothing is itself warned (so waivers do not outlive their
cause). Pure; called by check/inspect.py.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from reconciler.config.repo import CONFIG_FILE
from reconciler.config.waivers import TABLE, Waiver
from reconciler.errors import Problem


@dataclass(frozen=True)
class Waived:
    """A problem a waiver set aside, and the waiver's reason."""

    problem: Problem
    reason: str

    def __str__(self) -> str:
        return f"{self.problem} (waived: {self.reason})"

    def as_dict(self) -> dict[str, object]:
        return {**self.problem.as_dict(), "reason": self.reason}


def apply_waivers(
    problems: Sequence[Problem],
    waivers: Sequence[Waiver],
    zones: Collection[str],
    checked: Collection[str],
) -> tuple[list[Problem], list[Waived]]:
    """`problems` without the waived ones, and those; plus warnings for waivers of zones not in
    the repo (`zones`) or that set nothing aside in a zone whose rules ran (`checked`)."""
    index = {(w.zone, str(w.rule)): w for w in waivers}
    kept: list[Problem] = []
    waived: list[Waived] = []
    used: set[tuple[str, str]] = set()
    for problem in problems:
        key = (problem.zone or "", problem.rule or "")
        waiver = index.get(key) if problem.rule else None
        if waiver is None:
            kept.append(problem)
            continue
        used.add(key)
        waived.append(Waived(problem, waiver.reason))
    for waiver in waivers:
        where = f'[{TABLE}."{waiver.zone}"] {waiver.rule}'
        if waiver.zone not in zones:
            kept.append(
                Problem(
                    CONFIG_FILE,
                    f"{where}: there is no zone {waiver.zone} in the repo: remove the waiver",
                    waiver.line,
                    severity="warning",
                )
            )
        elif waiver.zone in checked and (waiver.zone, str(waiver.rule)) not in used:
            kept.append(
                Problem(
                    CONFIG_FILE,
                    f"{where}: waives nothing ({waiver.zone} passes the rule): remove the waiver",
                    waiver.line,
                    severity="warning",
                )
            )
    return kept, waived
