"""Child processes bounded in CPU time, memory, output and wall time.

What a push can make the host do must be bounded: BIND's tools (check/checkzone.py,
bind/tools.py) and the template renderer (check/render.py) run as children under
`resource` limits that the kernel enforces: RLIMIT_CPU (SIGXCPU), RLIMIT_AS (the
allocation fails), RLIMIT_FSIZE on the files their output goes to (SIGXFSZ, or a
failed write: an output file that reached the limit was cut), no core files; and
they are killed after a wall-clock timeout. The limits are set by util-linux's
`prlimit` exec'ing the program (a fork of a large Python for a `preexec_fn` costs
about 9 ms of CPU a run, prlimit 1.5 ms); without prlimit, by a `preexec_fn` that
only calls setrlimit. Input and output go through temporary files, never pipes, so
a child that writes without end cannot block or flood the parent, and the parent
waits outside the GIL (the daemon's HTTP thread keeps answering).
`Finished.stopped_by` says which limit stopped the child.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from reconciler.errors import ToolError

MIB = 1024 * 1024


class Limit(enum.Enum):
    """A limit a child can hit; the value is how a message names it."""

    CPU = "CPU time"
    MEMORY = "memory"
    OUTPUT = "output"
    TIME = "time"


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int  # RLIMIT_CPU: SIGXCPU at this many seconds of CPU time
    memory_bytes: int  # RLIMIT_AS: allocations beyond this address space fail
    output_bytes: int  # RLIMIT_FSIZE: stdout and stderr each, at most this much
    wall_seconds: float  # killed after this long, whatever it is doing

    def describe(self, limit: Limit) -> str:
        """`the memory limit of 1024 MiB`: what a message says about a limit hit."""
        amount = {
            Limit.CPU: f"{self.cpu_seconds} s",
            Limit.MEMORY: f"{self.memory_bytes // MIB} MiB",
            Limit.OUTPUT: f"{self.output_bytes // MIB} MiB",
            Limit.TIME: f"{self.wall_seconds:g} s",
        }[limit]
        return f"the {limit.value} limit of {amount}"


@dataclass(frozen=True)
class Finished:
    returncode: int  # negative: the signal that ended it
    stdout: bytes
    stderr: bytes
    stopped_by: Limit | None  # the limit that stopped it, if one did

    def stopped(self, what: str, limits: Limits) -> str | None:
        """`named-checkzone was stopped by the memory limit of 2048 MiB`, or None."""
        if self.stopped_by is None:
            return None
        return f"{what} was stopped by {limits.describe(self.stopped_by)}"


# BIND's tools abort on a failed allocation (mem.c INSIST), Python raises MemoryError.
_MEMORY_WORDS = (b"mem.c:", b"out of memory", b"MemoryError", b"Cannot allocate memory")


def run(
    argv: Sequence[str],
    limits: Limits,
    *,
    cwd: Path | str | None = None,
    stdin: bytes = b"",
    env: Mapping[str, str] | None = None,
) -> Finished:
    """Run `argv` to its end or its limits; raise ToolError only when it cannot start."""
    wrapper = _prlimit()
    command = [*wrapper, *_prlimit_options(limits), "--", *argv] if wrapper else list(argv)
    with contextlib.ExitStack() as files:
        out = files.enter_context(tempfile.TemporaryFile(prefix="reconciler-out-"))
        err = files.enter_context(tempfile.TemporaryFile(prefix="reconciler-err-"))
        given: IO[bytes] | int = subprocess.DEVNULL
        if stdin:
            given = files.enter_context(tempfile.TemporaryFile(prefix="reconciler-in-"))
            given.write(stdin)
            given.seek(0)
        try:
            child = subprocess.Popen(
                command,
                cwd=cwd,
                stdin=given,
                stdout=out,
                stderr=err,
                env=None if env is None else dict(env),
                preexec_fn=None if wrapper else _limiter(limits),
            )
        except OSError as exc:
            raise ToolError(f"{command[0]} could not run: {exc.strerror}") from None
        try:
            code, cpu, timed_out = _wait(child, limits.wall_seconds)
        except BaseException:  # interrupted (Ctrl-C): the child does not outlive us
            child.kill()
            child.wait()
            raise
        full = any(os.fstat(f.fileno()).st_size >= limits.output_bytes for f in (out, err))
        stdout = _read(out, limits.output_bytes)
        stderr = _read(err, limits.output_bytes)
    if wrapper and code in (126, 127) and stderr.startswith(b"prlimit: "):
        reason = stderr.decode("utf-8", "replace").strip().splitlines()[0]
        raise ToolError(f"{argv[0]} could not run: {reason}")
    stopped = Limit.OUTPUT if full else _stopped_by(code, cpu, stderr, timed_out, limits)
    return Finished(code, stdout, stderr, stopped)


@functools.cache
def _prlimit() -> tuple[str, ...]:
    found = shutil.which("prlimit") or next(
        (p for p in ("/usr/bin/prlimit", "/bin/prlimit") if os.access(p, os.X_OK)), None
    )
    return (found,) if found else ()


def _prlimit_options(limits: Limits) -> list[str]:
    """The same limits as _limiter, as prlimit's options (soft:hard)."""
    return [
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
        f"--as={limits.memory_bytes}",
        f"--fsize={limits.output_bytes}",
        "--core=0",
    ]


def _wait(child: subprocess.Popen[bytes], wall: float) -> tuple[int, float, bool]:
    """(exit code, CPU seconds it used, whether it was killed for time), outside the GIL.

    The timer kills only a child not yet reaped: the exit is seen first without reaping
    (WNOWAIT), so the pid cannot have been reused by the time the timer could fire.
    """
    lock = threading.Lock()
    state = {"exited": False, "killed": False}

    def kill() -> None:
        with lock:
            if not state["exited"]:
                state["killed"] = True
                os.kill(child.pid, signal.SIGKILL)

    timer = threading.Timer(wall, kill)
    timer.daemon = True
    timer.start()
    try:
        while True:
            try:
                os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
                break
            except InterruptedError:
                continue
        with lock:
            state["exited"] = True
    finally:
        timer.cancel()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, usage.ru_utime + usage.ru_stime, state["killed"]


def _limiter(limits: Limits):  # type: ignore[no-untyped-def]
    """What the child runs between fork and exec: only setrlimit, nothing that locks."""
    cpu = (limits.cpu_seconds, limits.cpu_seconds + 1)  # SIGXCPU, then SIGKILL a second on
    memory = (limits.memory_bytes, limits.memory_bytes)
    output = (limits.output_bytes, limits.output_bytes)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, cpu)
        resource.setrlimit(resource.RLIMIT_AS, memory)
        resource.setrlimit(resource.RLIMIT_FSIZE, output)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return limit


def _read(handle: IO[bytes], most: int) -> bytes:
    handle.seek(0)
    return handle.read(most)


def _stopped_by(
    code: int, cpu: float, stderr: bytes, timed_out: bool, limits: Limits
) -> Limit | None:
    if timed_out:
        return Limit.TIME
    if code == -signal.SIGXFSZ:
        return Limit.OUTPUT
    if code == -signal.SIGXCPU or (code == -signal.SIGKILL and cpu >= limits.cpu_seconds):
        return Limit.CPU
    if code == -signal.SIGKILL:  # not ours, not the CPU limit: the kernel's OOM killer
        return Limit.MEMORY
    if code != 0 and any(word in stderr for word in _MEMORY_WORDS):
        return Limit.MEMORY
    return None
