"""Running the host's own tools: every command bounded in time and output, never a shell.

`run` returns what the command printed and its exit code, or raises `HostError` when it is
missing or does not finish. `which` finds a tool in the places Debian puts them (the daemon's
PATH may lack the sbin folders). Called by the readers (host/read.py), the services
(host/services.py) and the apply step (host/apply.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from reconciler.errors import HostError

TIMEOUT = 30.0
MAX_OUTPUT = 4 * 1024 * 1024  # what a tool may print before it is cut (nft -j of a big ruleset)
SBIN = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")


@dataclass(frozen=True)
class Ran:
    argv: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def reason(self) -> str:
        """One line for a message: the last line of stderr (or stdout), with the exit code."""
        lines = [line.strip() for line in (self.err or self.out).splitlines() if line.strip()]
        tail = lines[-1] if lines else "no output"
        return f"{os.path.basename(self.argv[0])} exited {self.code}: {tail}"


def which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in SBIN:
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def run(*argv: str, timeout: float = TIMEOUT, stdin: str | None = None) -> Ran:
    """Run `argv` (the first word looked up with `which`); HostError if it cannot run or
    finish in `timeout` seconds. A non-zero exit is returned, not raised."""
    program = which(argv[0]) if "/" not in argv[0] else argv[0]
    if program is None:
        raise HostError(f"{argv[0]} is not installed")
    try:
        done = subprocess.run(
            [program, *argv[1:]],
            input=stdin,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"},
        )
    except subprocess.TimeoutExpired:
        raise HostError(f"{' '.join(argv[:3])} did not finish in {timeout:g} s") from None
    except OSError as exc:
        raise HostError(f"{argv[0]} could not run: {exc.strerror}") from None
    return Ran(tuple(argv), done.returncode, done.stdout[:MAX_OUTPUT], done.stderr[:MAX_OUTPUT])


def systemd_runs() -> bool:
    """PID 1 is systemd (what `sd_booted()` checks)."""
    return os.path.isdir("/run/systemd/system")
