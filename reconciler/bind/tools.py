"""BIND's binaries: where they are, how they run, `named-checkconf`, a zone's canonical form.

`tool` finds a binary (or says how to install it); `run_tool` runs one under
`LIMITS` (bounded.py: CPU time, memory, output, wall time) with its operands after
`--`, so that a zone named `-lead.example` is never read as an option;
`checkconf` returns named-checkconf's complaints, scrubbed of secrets;
`canonical_dump` is zone text BIND already served, as `named-checkzone -D` prints it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from reconciler import bounded
from reconciler.bind.keys import (
    scrub,
)
from reconciler.errors import BindError, ToolError
from reconciler.model.names import checked_zone_name

# What one run of named-checkzone, named-compilezone or named-checkconf may use. A zone
# of a million records takes about 7 s of CPU and 300 MB in named-checkzone, and writes
# 50 MB of canonical form; a bomb is stopped long before it takes the host down.
LIMITS = bounded.Limits(
    cpu_seconds=60,
    memory_bytes=2048 * bounded.MIB,
    output_bytes=512 * bounded.MIB,
    wall_seconds=120.0,
)


def run_tool(
    name: str,
    options: Sequence[str],
    operands: Sequence[str],
    cwd: Path | str | None = None,
    limits: bounded.Limits = LIMITS,
) -> bounded.Finished:
    """BIND's tool `name` with `options`, then `--`, then `operands`, under `limits`."""
    return bounded.run([tool(name), *options, "--", *operands], limits, cwd=cwd)


def checkconf(path: Path) -> list[str]:
    """named-checkconf's complaints about a configuration file; empty when it accepts it.

    Warnings that do not make named-checkconf fail are not complaints. Messages quoting a
    file that holds a secret are scrubbed.
    """
    path = Path(path)
    run = run_tool("named-checkconf", [], [str(path)], cwd=path.parent)
    stopped = run.stopped("named-checkconf", LIMITS)
    if stopped:
        return [f"{path}: {stopped}"]
    if run.returncode == 0:
        return []
    output = scrub((run.stdout + run.stderr).decode("utf-8", "replace"), cwd=path.parent)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines or [f"{path}: named-checkconf failed (exit {run.returncode})"]


# Only the dump: the zone came from named, which checked it when it loaded it.
_LENIENT = ["-i", "none", "-k", "ignore", "-n", "ignore", "-m", "ignore", "-M", "ignore"]


def canonical_dump(zone: str, text: str) -> tuple[str, ...]:
    """`text` (master-file records of `zone`, e.g. from AXFR) in BIND's canonical form.

    The lines `named-checkzone -D` prints, the form check/ gives every zone, so that a zone
    rebuilt from what named serves compares equal to the same zone checked from git.
    Raises BindError when named-checkzone cannot read it or is stopped by a limit.
    """
    name = checked_zone_name(zone)
    with tempfile.TemporaryDirectory(prefix="reconciler-dump-") as folder:
        source = Path(folder, "zone")
        source.write_text(text, encoding="utf-8")
        run = run_tool("named-checkzone", [*_LENIENT, "-D", "-o", "-"], [name, str(source)])
    stopped = run.stopped("named-checkzone", LIMITS)
    if stopped or run.returncode != 0:
        message = stopped or " ".join(run.stderr.decode("utf-8", "replace").split())
        raise BindError(f"{name}: named-checkzone cannot read the zone: {message}")
    return tuple(line for line in run.stdout.decode("utf-8", "replace").splitlines() if line)


def tool(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise ToolError(
            f"{name} not found: install BIND's tools (Debian: apt-get install bind9-utils)"
        )
    return found
