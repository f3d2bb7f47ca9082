"""BIND's binaries: where they are, and `named-checkconf`.

`tool` finds a binary (or says how to install it); `checkconf` returns
named-checkconf's complaints, scrubbed of secrets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from reconciler.bind.keys import (
    scrub,
)
from reconciler.errors import ToolError

CHECKCONF_TIMEOUT = 60.0


def checkconf(path: Path) -> list[str]:
    """named-checkconf's complaints about a configuration file; empty when it accepts it.

    Warnings that do not make named-checkconf fail are not complaints. Messages quoting a
    file that holds a secret are scrubbed.
    """
    path = Path(path)
    try:
        run = subprocess.run(
            [tool("named-checkconf"), str(path)],
            cwd=path.parent,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=CHECKCONF_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return [f"{path}: named-checkconf did not finish in {CHECKCONF_TIMEOUT:.0f} s"]
    except OSError as exc:
        raise ToolError(f"named-checkconf could not run: {exc.strerror}") from None
    if run.returncode == 0:
        return []
    output = scrub(run.stdout + run.stderr, cwd=path.parent)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines or [f"{path}: named-checkconf failed (exit {run.returncode})"]


def tool(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise ToolError(
            f"{name} not found: install BIND's tools (Debian: apt-get install bind9-utils)"
        )
    return found
