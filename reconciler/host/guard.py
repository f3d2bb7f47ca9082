"""The lock-out guard of `host apply`: a revert that happens unless a new SSH connection gets in.

Before `host apply` writes anything, it saves what it will change (the files, the live table
`inet reconciler`) in a guard folder and writes `revert.sh` there: a plain shell script that
puts each file back, reloads the table and the services, and runs the undo commands of the
steps. When the change can lock the operators out (sshd or the firewall), `arm` starts that
script as a timer in its own session, detached, *before* the change, as iptables-apply does:
if the reconciler is killed (even `kill -9`) between the write and the confirmation, the
timer still reverts. `confirm` opens a NEW SSH connection to the management address and
port and waits for sshd's banner and key exchange; only then is the change kept.

Who decides is settled by one `mkdir` of `decided/` in the guard folder: the reconciler when
it keeps the change (`keep`) or reverts at once (`revert_now`), or the timer when it fires
first. Whoever loses leaves the other's decision alone. Called by host/apply.py.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import HostError
from reconciler.host.services import Argv

SCRIPT = "revert.sh"
DECIDED = "decided"  # made by whoever decides: the reconciler or the timer
DONE = "done"  # the revert's exit status, written when it finished
KEPT = "kept"  # the reconciler confirmed the change
BANNER_TIMEOUT = 5.0  # seconds one SSH connection may take to show its banner and KEXINIT


@dataclass(frozen=True)
class Restore:
    """One file put back: its saved copy (None: it did not exist; it is removed)."""

    path: Path
    saved: Path | None
    mode: int = 0o644


@dataclass(frozen=True)
class Revert:
    """Everything the revert does, in order: files back, then commands (reloads, undos)."""

    restores: tuple[Restore, ...]
    commands: tuple[Argv, ...]


def script(folder: Path, revert: Revert, delay: float) -> str:
    """The text of revert.sh. `sh revert.sh timer` waits `delay` seconds first; `sh revert.sh
    now` does not. Either runs only if it is the one that makes decided/."""
    q = shlex.quote
    lines = [
        "#!/bin/sh",
        "# dns-reconciler `host apply`: puts back what one apply changed, unless the apply",
        "# confirmed it (then decided/ exists and this script does nothing).",
        f"dir={q(str(folder))}",
        f'[ "$1" = timer ] && sleep {max(1, round(delay))}',
        f'mkdir "$dir/{DECIDED}" 2>/dev/null || exit 0',
        'echo "$1" > "$dir/decided/by"',
        'exec > "$dir/revert.log" 2>&1',
        "status=0",
    ]
    for item in revert.restores:
        path = q(str(item.path))
        if item.saved is None:
            lines.append(f"rm -f {path} || status=1")
            continue
        temp = q(f"{item.path}.reconciler-revert")
        lines.append(
            f"cp {q(str(item.saved))} {temp} && chmod {item.mode:o} {temp} && mv -f {temp} {path}"
            " || status=1"
        )
    for argv in revert.commands:
        lines.append(f"{shlex.join(argv)} || status=1")
    lines += [f'echo "$status" > "$dir/{DONE}"', 'exit "$status"', ""]
    return "\n".join(lines)


def write(folder: Path, revert: Revert, delay: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SCRIPT
    path.write_text(script(folder, revert, delay), encoding="utf-8")
    path.chmod(0o700)
    return path


def arm(folder: Path) -> int:
    """Start the timer: revert.sh in a session of its own, no terminal, no pipes to us, so it
    outlives the reconciler whatever kills it. Returns its pid."""
    process = subprocess.Popen(
        ["/bin/sh", str(folder / SCRIPT), "timer"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd="/",
    )
    (folder / "timer.pid").write_text(f"{process.pid}\n", encoding="utf-8")
    return process.pid


def _claim(folder: Path) -> bool:
    try:
        os.mkdir(folder / DECIDED)
    except FileExistsError:
        return False
    return True


def _stop(timer: int | None) -> None:
    if timer is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(timer, signal.SIGTERM)  # its own session: the shell and its sleep


def keep(folder: Path, timer: int | None) -> bool:
    """Keep the change: True if the reconciler decided first (the timer is then stopped);
    False when the timer fired already (it reverts, or has reverted)."""
    if not _claim(folder):
        return False
    (folder / DECIDED / "by").write_text("confirmed\n", encoding="utf-8")
    (folder / KEPT).write_text("confirmed\n", encoding="utf-8")
    _stop(timer)
    return True


def revert_now(folder: Path, timer: int | None = None, timeout: float = 300.0) -> int:
    """Revert at once (or, when the timer fired first, wait for it); the revert's status."""
    done = folder / DONE
    ran = subprocess.run(
        ["/bin/sh", str(folder / SCRIPT), "now"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if decided_by(folder) == "now":
        _stop(timer)  # reverted here: the timer has nothing left to do
    end = time.monotonic() + timeout
    while not done.exists():  # the timer is reverting: its status is the one
        if time.monotonic() > end:
            raise HostError(f"the revert in {folder} did not finish in {timeout:g} s")
        time.sleep(0.2)
    text = done.read_text(encoding="utf-8").strip()
    return int(text) if text.isdigit() else ran.returncode


def revert_log(folder: Path) -> str:
    """The last lines the revert printed (what failed, if anything)."""
    log = folder / "revert.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return "; ".join(lines[-3:])


def decided_by(folder: Path) -> str | None:
    by = folder / DECIDED / "by"
    return by.read_text(encoding="utf-8").strip() if by.exists() else None


def ssh_answers(address: str, port: int, timeout: float = BANNER_TIMEOUT) -> str | None:
    """A new SSH connection: None when sshd sent its banner and began the key exchange
    (SSH_MSG_KEXINIT) on it; else why not, in a few words."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(b"SSH-2.0-dns-reconciler-guard\r\n")
            data = b""
            while b"\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return "closed before the banner"
                data += chunk
                if len(data) > 8192:
                    return "no SSH banner"
            banner, _, rest = data.partition(b"\n")
            if not banner.startswith(b"SSH-2.0-"):
                return f"not an SSH server: {banner[:40]!r}"
            while len(rest) < 6:
                chunk = conn.recv(4096)
                if not chunk:
                    return "closed before the key exchange"
                rest += chunk
            if rest[5] != 20:  # the first packet's message type: SSH_MSG_KEXINIT
                return f"unexpected first packet (type {rest[5]})"
    except TimeoutError:
        return f"no answer in {timeout:g} s"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def confirm(address: str, port: int, until: float) -> str | None:
    """Try new SSH connections until one gets in or the monotonic time `until`; None when
    one did, else the last reason."""
    reason = "no attempt"
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return reason
        said = ssh_answers(address, port, timeout=min(BANNER_TIMEOUT, max(left, 0.5)))
        if said is None:
            return None
        reason = said
        time.sleep(min(1.0, max(until - time.monotonic(), 0)))
