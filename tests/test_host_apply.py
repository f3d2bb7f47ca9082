"""`host apply`'s own parts: the lock-out refusal, what it verifies, and the revert guard run
as real processes on real files (sshd, nft and fail2ban themselves: integration/test_host.py)."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from reconciler.config.policy import parse_policy
from reconciler.host import guard
from reconciler.host.apply import lockout_refusal, needs_guard, verified_items
from reconciler.host.facts import Account, Facts, Password, Unreadable, Users
from reconciler.host.plan import FileChange, HostPlan, Step, StepKind
from reconciler.host.system import Ran
from reconciler.host.validate import _problem
from tests.test_host_audit import clean_facts

KEYED = Account("admin", 1000, "/bin/bash", 1, Password.LOCKED)
KEYLESS = Account("admin", 1000, "/bin/bash", 0, Password.SET)
ROOT = Account("root", 0, "/bin/bash", 2, Password.LOCKED)


def facts_with(*accounts: Account) -> Facts:
    return dataclasses.replace(clean_facts(), users=Users({a.name: a for a in accounts}))


# --- the lock-out refusal ---------------------------------------------------------------------


def test_passwords_off_needs_an_operator_with_a_key() -> None:
    policy = parse_policy("")  # password_authentication = false
    assert lockout_refusal(policy, facts_with(ROOT, KEYED)) is None
    refusal = lockout_refusal(policy, facts_with(ROOT, KEYLESS))
    assert refusal is not None and "no operator account" in refusal


def test_root_with_a_key_is_no_operator_while_root_logins_are_off() -> None:
    assert lockout_refusal(parse_policy(""), facts_with(ROOT)) is not None
    allowed = parse_policy("[ssh]\npermit_root_login = true\n")
    assert lockout_refusal(allowed, facts_with(ROOT)) is None


def test_the_named_operators_and_allow_users_decide() -> None:
    named = parse_policy('[users]\noperators = ["alice"]\n')
    refusal = lockout_refusal(named, facts_with(KEYED))  # admin has a key, alice is missing
    assert refusal is not None and "(alice)" in refusal
    other = parse_policy('[ssh]\nallow_users = ["deploy"]\n')
    assert lockout_refusal(other, facts_with(KEYED)) is not None
    pattern = parse_policy('[ssh]\nallow_users = ["adm*@192.0.2.*"]\n')
    assert lockout_refusal(pattern, facts_with(KEYED)) is None


def test_unreadable_accounts_refuse_and_passwords_on_need_nothing() -> None:
    facts = dataclasses.replace(clean_facts(), users=Unreadable("/etc/shadow", "denied"))
    refusal = lockout_refusal(parse_policy(""), facts)
    assert refusal is not None and "cannot be read" in refusal
    on = parse_policy("[ssh]\npassword_authentication = true\n")
    assert lockout_refusal(on, facts) is None


# --- what is guarded and verified -------------------------------------------------------------


def change(label: str) -> FileChange:
    return FileChange(label, Path(f"/etc/{label}"), "old\n", "new\n", "package")


def test_sshd_and_the_firewall_are_guarded_fail2ban_alone_is_not() -> None:
    assert needs_guard(HostPlan("x", (change("sshd"),)))
    assert needs_guard(HostPlan("x", (change("nftables"),)))
    assert not needs_guard(HostPlan("x", (change("fail2ban"), change("named"))))
    start_ssh = Step(StepKind.SERVICE, "enable ssh", (("true",),), (), "boot.ssh")
    assert needs_guard(HostPlan("x", (), (start_ssh,)))


def test_verify_covers_each_changed_file_and_step() -> None:
    zone = Step(StepKind.TIMEZONE, "tz", (("true",),), (), "time.timezone")
    items = verified_items(HostPlan("x", (change("sshd"), change("nftables")), (zone,)))
    assert items == (
        "ssh.",
        "managed.sshd",
        "firewall.table",
        "firewall.tcp",
        "firewall.udp",
        "managed.nftables",
        "time.timezone",
    )


# --- the guard: real processes, real files ----------------------------------------------------


def revert_of(tmp_path: Path, marker: Path) -> guard.Revert:
    """sshd_config changed (its old text saved), a new file created; the reload leaves a mark."""
    saved = tmp_path / "saved-sshd"
    saved.write_text("Port 22\n")
    (tmp_path / "sshd_config").write_text("Port 2222\n")
    (tmp_path / "new.conf").write_text("made by the apply\n")
    return guard.Revert(
        (
            guard.Restore(tmp_path / "sshd_config", saved, 0o600),
            guard.Restore(tmp_path / "new.conf", None),
        ),
        (("sh", "-c", 'echo reloaded >> "$1"', "sh", str(marker)),),
    )


def reverted(tmp_path: Path, marker: Path) -> bool:
    config = tmp_path / "sshd_config"
    return (
        config.read_text() == "Port 22\n"
        and (config.stat().st_mode & 0o777) == 0o600
        and not (tmp_path / "new.conf").exists()
        and marker.read_text() == "reloaded\n"
    )


def wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.1)


def test_revert_now_puts_files_back_and_runs_the_reloads(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    folder = tmp_path / "guard"
    guard.write(folder, revert_of(tmp_path, marker), delay=600)
    assert guard.revert_now(folder) == 0
    assert reverted(tmp_path, marker)
    assert guard.decided_by(folder) == "now"
    assert guard.revert_now(folder) == 0 and marker.read_text() == "reloaded\n"  # once only


def test_a_failing_revert_command_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "guard"
    broken = guard.Revert((), (("sh", "-c", "echo cannot reload >&2; exit 3"),))
    guard.write(folder, broken, delay=600)
    assert guard.revert_now(folder) == 1
    assert "cannot reload" in guard.revert_log(folder)


def test_the_timer_reverts_after_the_reconciler_is_killed(tmp_path: Path) -> None:
    """A process arms the guard and is killed with SIGKILL before it confirms: the detached
    timer still puts everything back."""
    marker = tmp_path / "marker"
    folder = tmp_path / "guard"
    guard.write(folder, revert_of(tmp_path, marker), delay=1)
    armed = tmp_path / "armed"
    code = (
        "import pathlib, sys, time\n"
        "from reconciler.host import guard\n"
        f"guard.arm(pathlib.Path({str(folder)!r}))\n"
        f"pathlib.Path({str(armed)!r}).touch()\n"
        "time.sleep(600)\n"
    )
    reconciler = subprocess.Popen([sys.executable, "-c", code])
    wait_for(armed)
    os.kill(reconciler.pid, signal.SIGKILL)
    assert reconciler.wait() == -signal.SIGKILL
    wait_for(folder / guard.DONE)
    assert reverted(tmp_path, marker)
    assert guard.decided_by(folder) == "timer"


def test_a_confirmed_change_is_kept_and_the_timer_stopped(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    folder = tmp_path / "guard"
    guard.write(folder, revert_of(tmp_path, marker), delay=2)
    timer = guard.arm(folder)
    assert guard.keep(folder, timer)
    time.sleep(3)  # past the timer's delay: had it lived, it would have reverted by now
    assert (tmp_path / "sshd_config").read_text() == "Port 2222\n" and not marker.exists()
    assert guard.decided_by(folder) == "confirmed"


def test_a_confirmation_after_the_timer_fired_loses(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    folder = tmp_path / "guard"
    guard.write(folder, revert_of(tmp_path, marker), delay=1)
    guard.arm(folder)
    wait_for(folder / guard.DONE)
    assert not guard.keep(folder, None)
    assert reverted(tmp_path, marker)


# --- the confirmation's SSH connection --------------------------------------------------------


def test_a_closed_port_or_a_non_ssh_server_is_no_confirmation() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    reason = guard.ssh_answers("127.0.0.1", port, timeout=2)
    assert reason is not None and "refused" in reason.lower()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"220 mail.example ESMTP\r\n")
                conn.recv(100)

        threading.Thread(target=answer, daemon=True).start()
        reason = guard.ssh_answers("127.0.0.1", server.getsockname()[1], timeout=5)
    assert reason is not None and "not an SSH server" in reason
    until = time.monotonic() + 1.5
    assert guard.confirm("127.0.0.1", port, until) is not None


# --- a validator's refusal, as one line -------------------------------------------------------


def test_a_refusal_names_the_file_its_template_and_the_tools_line(tmp_path: Path) -> None:
    temp = tmp_path / "sshd_config"
    sshd = FileChange("sshd", Path("/etc/ssh/sshd_config"), "", "x", "host/sshd_config.j2")
    said = f"{temp}: line 12: Bad configuration option: MaxAuthTrys\n{temp}: terminating"
    problem = _problem(sshd, Ran(("sshd", "-t"), 255, "", said), temp)
    assert str(problem) == (
        "/etc/ssh/sshd_config (rendered from host/sshd_config.j2):12: "
        "sshd refuses it: Bad configuration option: MaxAuthTrys"
    )
    temp = tmp_path / "reconciler.nft"
    nft = FileChange("nftables", Path("/etc/nftables.d/reconciler.nft"), "", "x", "package:x")
    said = f"{temp}:14:3-8: Error: syntax error, unexpected junk\n\t\tjunk\n\t\t^^^^^^"
    problem = _problem(nft, Ran(("nft", "-c"), 1, "", said), temp)
    assert problem.line == 14
    assert problem.message == "nft refuses it: Error: syntax error, unexpected junk"
    f2b = FileChange("fail2ban", Path("/etc/fail2ban/jail.d/r.local"), "", "x", "package:x")
    said = (
        "2026-12-01 21:16:37,653 fail2ban.configreader   [171]: WARNING 'allowipv6' not defined\n"
        "2026-12-01 21:16:37,669 fail2ban                [171]: ERROR   Failed during "
        "configuration: Have not found any log file for sshd jail"
    )
    problem = _problem(f2b, Ran(("fail2ban-client", "-t"), 255, "", said), temp)
    assert problem.line is None
    assert problem.message == (
        "fail2ban-client refuses it: ERROR   Failed during configuration: "
        "Have not found any log file for sshd jail"
    )
