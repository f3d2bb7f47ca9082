"""The outcome of one reconcile (apply, rollback, the daemon): a `Status` and what came with it.

`Status` is the one place that says, for each way a reconcile can end, its exit
code, whether it is permanent (the commit is not tried again until a new one
arrives), whether it counts as healthy, and its headline. The CLI, the daemon,
the metrics and the reports read these; none keeps a table of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.errors import Problem
from reconciler.model.plan import Plan


class Status(StrEnum):
    """How a reconcile ended. The value is the word in logs, notes, JSON and metrics."""

    exit_code: int
    permanent: bool  # refused for what the commit is: not tried again until a new commit
    healthy: bool  # the servers serve what the branch says
    _headline: str  # "{commit}" is the commit's short id

    def __new__(
        cls, value: str, exit_code: int, permanent: bool, healthy: bool, headline: str
    ) -> Status:
        member = str.__new__(cls, value)
        member._value_ = value
        member.exit_code = exit_code
        member.permanent = permanent
        member.healthy = healthy
        member._headline = headline
        return member

    CONFIRMED = (
        "confirmed",
        0,
        False,
        True,
        "confirmed: {commit} served by the primary and every secondary",
    )
    UNCHANGED = ("unchanged", 0, False, True, "unchanged: {commit} changes no zone's content")
    INVALID = ("invalid", 1, True, False, "invalid: {commit} refused, nothing written")
    ROLLED_BACK = ("rolled-back", 2, True, False, "rolled back: {commit}")
    UNSAFE = ("unsafe", 3, True, False, "refused as unsafe: {commit}")
    REFUSED = ("refused", 3, True, False, "refused: {commit}")
    UNCONFIRMED = ("unconfirmed", 4, False, False, "applied but not confirmed: {commit}")

    def headline(self, commit: str) -> str:
        return self._headline.format(commit=commit[:12])


@dataclass(frozen=True)
class Outcome:
    status: Status
    commit: str
    plan: Plan | None = None
    served: dict[str, int] = field(default_factory=dict)  # zone -> serial now on the primary
    lagging: tuple[str, ...] = ()
    reason: str | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "commit": self.commit,
            "served": self.served,
            "lagging": list(self.lagging),
            "reason": self.reason,
            "problems": [p.as_dict() for p in self.problems],
            "plan": self.plan.to_dict() if self.plan else None,
        }
