"""Each managed file checked by its own service's tool before `host apply` writes it.

The candidate text goes to a temporary file and is read by: `sshd -t -f` (sshd_config),
`nft -c -f` (the table inet reconciler: parsed and checked against the kernel, nothing
loaded), `named-checkconf` (the options include, inside an `options { }` of a scratch
named.conf), and `fail2ban-client -c DIR -t` on a copy of /etc/fail2ban holding the candidate
(fail2ban reads a whole folder). A refusal is a `Problem` naming the file, where it was
rendered from, and the tool's own line and message. Called by host/apply.py.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from reconciler.errors import HostError, Problem
from reconciler.host.plan import FileChange
from reconciler.host.system import Ran, run

FAIL2BAN_DIR = Path("/etc/fail2ban")
TIMEOUT = 60.0
PRIVSEP = Path("/run/sshd")
LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d [\d:,.]+ \S+\s+\[\d+\]:\s+")


def _problem(change: FileChange, done: Ran, temp: Path) -> Problem:
    """The tool's first complaint, with the line it names in the rendered file."""
    said = [line.strip() for line in (done.err + "\n" + done.out).splitlines() if line.strip()]
    said = [LOG_PREFIX.sub("", line) for line in said]  # fail2ban's time and logger name
    errors = [line for line in said if "error" in line.lower()]
    wanted = [line for line in said if str(temp) in line] or errors or said or [done.reason()]
    first = wanted[0]
    # sshd: "FILE: line 12: ...", "FILE line 12: ..."; nft: "FILE:12:5-9: Error: ..."
    line = re.search(rf"{re.escape(str(temp))}:?(?:\s+line\s+|:)(\d+)[:\d-]*\s*", first)
    message = first[line.end() :] if line else first.replace(str(temp), str(change.path))
    where = f"{change.path} (rendered from {change.source})"
    number = int(line.group(1)) if line else None
    return Problem(where, f"{done.argv[0]} refuses it: {message}", number)


def _sshd(temp: Path) -> Ran:
    # sshd -t wants its privilege separation folder, which its init script or unit makes
    # when it starts: made here too, so a host whose sshd is not running yet can be checked.
    PRIVSEP.mkdir(mode=0o755, exist_ok=True)
    return run("sshd", "-t", "-f", str(temp), timeout=TIMEOUT)


def _nft(temp: Path) -> Ran:
    return run("nft", "-c", "-f", str(temp), timeout=TIMEOUT)


def _named(temp: Path) -> Ran:
    conf = temp.with_name("named.conf")
    conf.write_text(f'options {{\n\tdirectory "{temp.parent}";\n\tinclude "{temp}";\n}};\n')
    return run("named-checkconf", str(conf), timeout=TIMEOUT)


def _fail2ban_in(live: Path) -> Callable[[Path], Ran]:
    def check(temp: Path) -> Ran:
        copy = temp.parent / "fail2ban"
        if FAIL2BAN_DIR.is_dir():
            shutil.copytree(FAIL2BAN_DIR, copy, symlinks=True)
        target = copy / live.relative_to(FAIL2BAN_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(temp, target)
        return run("fail2ban-client", "-c", str(copy), "-t", timeout=TIMEOUT)

    return check


def validator(change: FileChange) -> Callable[[Path], Ran] | None:
    """The check for one managed file, or None when its service has none to offer."""
    if change.label == "sshd":
        return _sshd
    if change.label == "nftables":
        return _nft
    if change.label == "named":
        return _named
    if change.label == "fail2ban" and change.path.is_relative_to(FAIL2BAN_DIR):
        return _fail2ban_in(change.path)
    return None


def validate(changes: tuple[FileChange, ...]) -> list[Problem]:
    """Every refusal of every changed file (a removed file needs no check)."""
    problems = []
    for change in changes:
        check = validator(change)
        if check is None or change.after is None:
            continue
        with tempfile.TemporaryDirectory(prefix="reconciler-host-") as folder:
            temp = Path(folder) / change.path.name
            temp.write_text(change.after, encoding="utf-8")
            try:
                done = check(temp)
            except HostError as exc:
                problems.append(Problem(str(change.path), f"cannot be checked: {exc}"))
                continue
            if not done.ok:
                problems.append(_problem(change, done, temp))
    return problems
