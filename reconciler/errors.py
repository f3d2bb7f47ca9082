"""The error hierarchy: one root, each class's docstring its message.

Below the root, two kinds (as kopf has them): a `TemporaryError` may succeed when
tried again (named or rndc not answering, a transfer failing), a `PermanentError`
fails the same way until the commit or the host's configuration changes (a
missing key file, invalid input, a BIND tool that is not installed). The daemon
retries by this type (serve/decide.py); `cli/main.py` maps them to exit codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]  # a warning is shown but fails nothing


class ReconcilerError(Exception):
    """dns-reconciler failed"""

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail
        super().__init__(detail or (self.__doc__ or "").strip())

    def __str__(self) -> str:
        return self.detail or (self.__doc__ or "").strip()


class TemporaryError(ReconcilerError):
    """a server or tool did not answer; trying again may succeed"""


class PermanentError(ReconcilerError):
    """this fails the same way until the commit or the host's configuration changes"""


class ConfigError(PermanentError):
    """invalid configuration"""


class SourceError(TemporaryError):
    """the repository or revision cannot be read"""


class ToolError(PermanentError):
    """a BIND tool is missing or failed to run"""


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in the input, with where it is."""

    file: str
    message: str
    line: int | None = None
    zone: str | None = None
    record: str | None = None
    severity: Severity = "error"
    rule: str | None = None  # the named rule that found it (model/rules.py): a zone may waive it

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.zone:
            parts.append(self.zone)
        if self.record:
            parts.append(self.record)
        prefix = "warning: " if self.severity == "warning" else ""
        named = f" [{self.rule}]" if self.rule else ""
        return ": ".join(parts) + f": {prefix}{self.message}{named}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "zone": self.zone,
            "record": self.record,
            "severity": self.severity,
            "message": self.message,
            "rule": self.rule,
        }


class ValidationError(PermanentError):
    """the input is invalid"""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or None)


class BindError(TemporaryError):
    """BIND refused or failed"""


class TransferError(TemporaryError):
    """the zone transfer failed"""


class TransferRefused(TransferError):
    """the server answered and refused the transfer (REFUSED, NOTAUTH, a TSIG error)"""


class HostError(ReconcilerError):
    """the host could not be read or changed"""
