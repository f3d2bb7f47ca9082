"""The outcome of one reconcile (apply, rollback, the daemon): a value with its exit code."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.errors import Problem
from reconciler.model.plan import Plan

EXIT = {
    "confirmed": 0,
    "unchanged": 0,
    "invalid": 1,
    "rolled-back": 2,
    "unsafe": 3,
    "refused": 3,
    "unconfirmed": 4,
}


@dataclass(frozen=True)
class Outcome:
    status: str  # a key of EXIT
    commit: str
    plan: Plan | None = None
    served: dict[str, int] = field(default_factory=dict)  # zone -> serial now on the primary
    lagging: tuple[str, ...] = ()
    reason: str | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def exit_code(self) -> int:
        return EXIT[self.status]

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "commit": self.commit,
            "served": self.served,
            "lagging": list(self.lagging),
            "reason": self.reason,
            "problems": [p.as_dict() for p in self.problems],
            "plan": self.plan.to_dict() if self.plan else None,
        }
