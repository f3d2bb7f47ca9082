"""The outcome of one reconcile (apply, rollback, the daemon): a `Status` and what came with it.

`Status` is the one place that says, for each way a reconcile can end, its exit
code, whether it is permanent (the commit is not tried again until a new one
arrives), whether it counts as healthy, and its headline. The CLI, the daemon,
the metrics and the reports read these; none keeps a table of its own. `Note`
is the git note each reconcile leaves on its commit (`git log
--notes=reconciler`), written and read back here only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from reconciler.errors import Problem
from reconciler.model.plan import Plan
from reconciler.model.serial import is_serial


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

    @property
    def applied(self) -> bool:
        """The primary took the commit (it is the last applied one), confirmed or not."""
        return self.healthy or self is Status.UNCONFIRMED

    @classmethod
    def of(cls, word: str) -> Status:
        """The status called `word` (what logs, notes and JSON say); ValueError for others."""
        for status in cls:
            if status.value == word:
                return status
        raise ValueError(f"{word!r} is not a status")


@dataclass(frozen=True)
class Outcome:
    status: Status
    commit: str
    plan: Plan | None = None
    served: dict[str, int] = field(default_factory=dict)  # zone -> serial now on the primary
    lagging: tuple[str, ...] = ()
    reason: str | None = None
    problems: tuple[Problem, ...] = ()
    signed: dict[str, int] = field(default_factory=dict)  # zone -> signed serial (inline)

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "commit": self.commit,
            "served": self.served,
            "signed": self.signed,
            "lagging": list(self.lagging),
            "reason": self.reason,
            "problems": [p.as_dict() for p in self.problems],
            "plan": self.plan.to_dict() if self.plan else None,
        }


_NOTE_HEAD = re.compile(r"^reconciler: (?P<status>[a-z -]+) at (?P<at>\S+)$")
_SERVED = re.compile(r"^(?P<what>served|signed): (?P<zone>\S+) serial (?P<serial>\d{1,10})$")


@dataclass(frozen=True)
class Note:
    """The git note on a reconciled commit: how it ended, when, and the serials it served."""

    status: Status
    at: datetime
    reason: str | None = None
    served: dict[str, int] = field(default_factory=dict)  # the zones it wrote, not every zone
    lagging: tuple[str, ...] = ()
    signed: dict[str, int] = field(default_factory=dict)  # zone -> the signed zone's serial

    def text(self) -> str:
        lines = [f"reconciler: {self.status.value} at {self.at.isoformat(timespec='seconds')}"]
        if self.reason:
            lines.append(f"reason: {self.reason}")
        lines += [f"served: {zone} serial {serial}" for zone, serial in sorted(self.served.items())]
        lines += [f"signed: {zone} serial {serial}" for zone, serial in sorted(self.signed.items())]
        lines += [f"lagging: {item}" for item in self.lagging]
        return "\n".join(lines)

    @classmethod
    def parse(cls, text: str) -> Note | None:
        """The note in `text`; None when it is not one the reconciler wrote."""
        lines = text.strip().splitlines()
        head = _NOTE_HEAD.match(lines[0]) if lines else None
        if head is None:
            return None
        try:
            status = Status.of(head["status"].replace("rolled back", "rolled-back"))
            at = datetime.fromisoformat(head["at"])
        except ValueError:
            return None
        if at.tzinfo is None:
            return None
        reason, lagging = None, []
        served: dict[str, int] = {}
        signed: dict[str, int] = {}
        for line in lines[1:]:
            found = _SERVED.match(line)
            if found and is_serial(int(found["serial"])):
                into = served if found["what"] == "served" else signed
                into[found["zone"]] = int(found["serial"])
            elif line.startswith("reason: "):
                reason = line.removeprefix("reason: ")
            elif line.startswith("lagging: "):
                lagging.append(line.removeprefix("lagging: "))
        return cls(status, at, reason, served, tuple(lagging), signed)
