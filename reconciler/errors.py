"""The error hierarchy: one root, each class's docstring its message.

Raised by the core and the edges; caught only by `cli/main.py` (which maps them to
exit codes) and, later, the daemon (which logs, backs off and retries).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class ReconcilerError(Exception):
    """dns-reconciler failed"""

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail
        super().__init__(detail or (self.__doc__ or "").strip())

    def __str__(self) -> str:
        return self.detail or (self.__doc__ or "").strip()


class ConfigError(ReconcilerError):
    """invalid configuration"""


class SourceError(ReconcilerError):
    """the repository or revision cannot be read"""


class ToolError(ReconcilerError):
    """a BIND tool is missing or failed to run"""


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in the input, with where it is."""

    file: str
    message: str
    line: int | None = None
    zone: str | None = None
    record: str | None = None
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.zone:
            parts.append(self.zone)
        if self.record:
            parts.append(self.record)
        prefix = "warning: " if self.severity == "warning" else ""
        return ": ".join(parts) + f": {prefix}{self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "zone": self.zone,
            "record": self.record,
            "severity": self.severity,
            "message": self.message,
        }


class ValidationError(ReconcilerError):
    """the input is invalid"""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or None)


class UnsafeChange(ReconcilerError):
    """the change is larger than the safety limits allow"""


class BindError(ReconcilerError):
    """BIND refused or failed"""


class TransferError(ReconcilerError):
    """the zone transfer failed"""
