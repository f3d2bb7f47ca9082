"""`host apply`: make the host match host/policy.toml, or leave it as it was.

In order: the plan (host/plan.py); the lock-out refusal (password logins turned off while no
operator account has a key: nothing is done); each changed file checked by its service's own
tool (host/validate.py: nothing is written when one refuses); what will change saved in a
guard folder under the state folder, with the script that puts it back (host/guard.py),
started as a detached timer first when sshd or the firewall changes; the files written
atomically; each service reloaded, never restarted (the table inet reconciler by one
`nft -f`, which replaces that table alone); the commands of the steps; the host read again
and every item the apply touched verified in policy; and, when guarded, a new SSH connection
to the management address. Anything that fails reverts all of it. The result is a
`HostOutcome` (its exit code is `host apply`'s). Called by cli/host.py and the daemon.
"""

from __future__ import annotations

import fcntl
import fnmatch
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

import structlog

from reconciler.atomic import write_atomic
from reconciler.config.host import HostConfig
from reconciler.config.policy import SSH_SERVICE, Policy
from reconciler.errors import HostError, Problem
from reconciler.host import guard
from reconciler.host.audit import Status, audit
from reconciler.host.facts import Facts, Fail2ban, Service, Unreadable
from reconciler.host.plan import NFTABLES_CONF, FileChange, HostPlan
from reconciler.host.render import Rendered
from reconciler.host.services import Action, Argv, Services
from reconciler.host.system import run
from reconciler.host.validate import validate

log = structlog.get_logger()

GUARDED = ("sshd", "nftables")  # a change to these can lock the operators out
KEEP_GUARDS = 20  # guard folders kept under the state folder (older ones are removed)
TABLE = "inet reconciler"
REPLACE = f"table {TABLE}\ndelete table {TABLE}\n"  # the table's start, whatever it held


class Result(Enum):
    UNCHANGED = "unchanged"
    APPLIED = "applied"
    INVALID = "invalid"  # a validator refused a file: nothing written
    ROLLED_BACK = "rolled back"
    REFUSED = "refused"  # it would lock the operators out: nothing done

    @property
    def exit_code(self) -> int:
        return {"unchanged": 0, "applied": 0, "invalid": 1, "rolled back": 2, "refused": 3}[
            self.value
        ]


@dataclass(frozen=True)
class HostOutcome:
    result: Result
    plan: HostPlan
    reason: str = ""
    problems: tuple[Problem, ...] = ()
    guard: Path | None = None  # the guard folder: saved files, revert.sh, its log
    confirmed_by: str | None = None  # "ADDRESS:PORT" of the SSH connection that got in

    @property
    def exit_code(self) -> int:
        return self.result.exit_code

    def to_dict(self) -> dict[str, object]:
        return {
            "result": self.result.value,
            "reason": self.reason,
            "problems": [p.as_dict() for p in self.problems],
            "guard": str(self.guard) if self.guard else None,
            "confirmed_by": self.confirmed_by,
            "plan": self.plan.to_dict(),
        }


@dataclass(frozen=True)
class Target:
    """What apply works on: the host's settings, the policy and its rendering, the services,
    the facts read before, and a way to read them again (to verify)."""

    host: HostConfig
    policy: Policy
    rendered: tuple[Rendered, ...]
    services: Services
    facts: Facts
    read_again: Callable[[], Facts]


# --- pure rules ---------------------------------------------------------------------------------


def lockout_refusal(policy: Policy, facts: Facts) -> str | None:
    """Why apply must not turn password logins off now: no operator account could log in
    with a key afterwards. None when one can (or passwords stay on)."""
    ssh = policy.ssh
    if ssh.password_authentication:
        return None
    users = facts.users
    if isinstance(users, Unreadable):
        return f"password logins would be turned off and the accounts cannot be read ({users})"
    allowed = [pattern.split("@", 1)[0] for pattern in ssh.allow_users]
    names = policy.users.operators or tuple(users.accounts)
    able = [
        account.name
        for name in names
        if (account := users.accounts.get(name)) is not None
        and account.keys > 0
        and (account.uid != 0 or ssh.permit_root_login)
        and (not allowed or any(fnmatch.fnmatchcase(name, p) for p in allowed))
    ]
    if able:
        return None
    who = ", ".join(policy.users.operators) or "any non-root account"
    return (
        "refused: the policy turns password logins off, and no operator account "
        f"({who}) has an SSH key it may log in with; add one first"
    )


def needs_guard(plan: HostPlan) -> bool:
    ssh_step = any(s.item == f"boot.{SSH_SERVICE}" for s in plan.steps)
    return ssh_step or any(f.label in GUARDED for f in plan.files)


def verified_items(plan: HostPlan) -> tuple[str, ...]:
    """The audit items (prefixes) that must be in policy after this plan is applied."""
    items = {
        "sshd": ("ssh.", "managed.sshd"),
        "nftables": ("firewall.table", "firewall.tcp", "firewall.udp", "managed.nftables"),
        NFTABLES_CONF: ("firewall.boot",),
        "fail2ban": ("managed.fail2ban",),
        "chrony": ("managed.chrony",),
        "named": ("managed.named",),
    }
    out = [prefix for f in plan.files for prefix in items.get(f.label, ())]
    out += [s.item for s in plan.steps if s.item]
    return tuple(dict.fromkeys(out))


def _running(facts: Facts, name: str) -> bool:
    live = facts.services.get(name)
    return isinstance(live, Service) and live.running


def reloads(target: Target, change: FileChange, saved_table: Path | None = None) -> list[Argv]:
    """The commands that make a service read one managed file again (never a restart).
    `saved_table`: the revert's nft file (the table as it was live)."""
    services, facts, host = target.services, target.facts, target.host
    if change.label == "sshd":
        live = services.states([SSH_SERVICE]).get(SSH_SERVICE)
        return (
            services.commands(Action.RELOAD, SSH_SERVICE)
            if isinstance(live, Service) and live.running
            else []
        )
    if change.label == "nftables":
        return [("nft", "-f", str(saved_table or change.path))]
    if change.label == "fail2ban":
        running = isinstance(facts.fail2ban, Fail2ban) and facts.fail2ban.running
        return [("fail2ban-client", "reload")] if running else []
    if change.label == "chrony":
        return [("chronyc", "reload", "sources")] if _running(facts, "chrony") else []
    if change.label == "named":
        rndc = ("rndc", "-s", host.rndc_server, "-p", str(host.rndc_port))
        return [(*rndc, "-k", str(host.rndc_key_file), "reconfig")]
    return []


# --- the steps, each raising HostError -------------------------------------------------------


def _run_all(commands: list[Argv] | tuple[Argv, ...]) -> None:
    for argv in commands:
        done = run(*argv, timeout=90.0)
        if not done.ok:
            raise HostError(f"{' '.join(argv)}: {done.reason()}")


def _save(target: Target, folder: Path, plan: HostPlan) -> guard.Revert:
    """Copies of what will change, and the revert that puts them back."""
    saved = folder / "saved"
    saved.mkdir(parents=True)
    restores, commands = [], []
    for change in plan.files:
        copy: Path | None = None
        mode = change.mode
        if change.path.exists():
            copy = saved / change.label
            shutil.copyfile(change.path, copy)
            mode = change.path.stat().st_mode & 0o7777
        restores.append(guard.Restore(change.path, copy, mode))
        table = None
        if change.label == "nftables":
            table = saved / "table.nft"
            listing = run("nft", "list", "table", "inet", "reconciler")
            # No table before: made and deleted in the same transaction, so none after.
            table.write_text(REPLACE + (listing.out if listing.ok else ""))
        commands += reloads(target, change, table)
    for step in reversed(plan.steps):
        commands += step.undo
    return guard.Revert(tuple(restores), tuple(commands))


def _write(plan: HostPlan) -> None:
    for change in plan.files:
        try:
            if change.after is None:
                change.path.unlink(missing_ok=True)
            else:
                change.path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(change.path, change.after, change.mode)
        except OSError as exc:
            raise HostError(f"{change.path}: cannot write it: {exc.strerror or exc}") from None


def _verify(target: Target, plan: HostPlan) -> None:
    facts = target.read_again()
    findings = audit(target.policy, facts, target.rendered, target.host.host).findings
    items = verified_items(plan)
    wrong = [
        f
        for f in findings
        if any(f.item.startswith(i) for i in items)
        and f.status in (Status.DRIFT, Status.UNREADABLE)
    ]
    if wrong:
        first = wrong[0]
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        raise HostError(f"verify: {first.item} found {first.found}; wanted {first.wanted}{more}")


def management_address(target: Target) -> str:
    """daemon.toml's [host] management_address, else the host's first global IPv4 address
    (what an operator connects to), else loopback."""
    chosen = target.host.host.management_address
    if chosen:
        return chosen
    done = run("ip", "-j", "-4", "addr", "show", "scope", "global")
    if done.ok:
        try:
            for link in json.loads(done.out):
                for entry in link.get("addr_info", []):
                    if entry.get("local"):
                        return str(entry["local"])
        except (ValueError, AttributeError):
            pass
    return "127.0.0.1"


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HostError(f"another host apply holds {folder / 'lock'}") from None
        yield


def _prune(guards: Path) -> None:
    folders = sorted(p for p in guards.iterdir() if p.is_dir())
    for old in folders[:-KEEP_GUARDS]:
        if (old / guard.DECIDED).exists():
            shutil.rmtree(old, ignore_errors=True)


# --- all of it --------------------------------------------------------------------------------


def apply_host(target: Target, plan: HostPlan) -> HostOutcome:
    """Apply `plan` (host/plan.py's live plan of `target`) to the host."""
    if plan.empty:
        return HostOutcome(Result.UNCHANGED, plan)
    refusal = lockout_refusal(target.policy, target.facts)
    if refusal:
        return HostOutcome(Result.REFUSED, plan, refusal)
    problems = validate(plan.files)
    if problems:
        return HostOutcome(Result.INVALID, plan, "a file was refused", tuple(problems))
    root = target.host.state_dir / "host"
    with _locked(root):
        guards = root / "guards"
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        folder = guards / stamp
        revert = _save(target, folder, plan)
        confirm_timeout = target.host.host.confirm_timeout
        guarded = needs_guard(plan)
        delay = 2 * confirm_timeout + 30
        guard.write(folder, revert, delay)
        timer = guard.arm(folder) if guarded else None
        started = time.monotonic()
        bound = log.bind(stage="host apply", guard=str(folder))
        bound.info("host apply", files=[f.label for f in plan.files], guarded=guarded)
        confirmed_by = None
        try:
            _write(plan)
            for change in plan.files:
                _run_all(reloads(target, change))
            for step in plan.steps:
                _run_all(step.commands)
            _verify(target, plan)
            if guarded:
                address, port = management_address(target), target.policy.ssh.port
                until = min(time.monotonic() + confirm_timeout, started + delay - 5)
                reason = guard.confirm(address, port, until)
                if reason is not None:
                    raise HostError(f"no new SSH connection to {address}:{port} got in ({reason})")
                confirmed_by = f"{address}:{port}"
        except HostError as exc:
            status = guard.revert_now(folder, timer)
            said = f"; the revert failed too: {guard.revert_log(folder)}" if status else ""
            bound.warning("host apply rolled back", reason=str(exc), revert_status=status)
            return HostOutcome(Result.ROLLED_BACK, plan, f"{exc}{said}", guard=folder)
        if not guard.keep(folder, timer):
            guard.revert_now(folder)  # the timer won: wait for it to finish
            reason = f"the revert timer fired ({delay:g} s) before the confirmation"
            return HostOutcome(Result.ROLLED_BACK, plan, reason, guard=folder)
        bound.info("host apply kept", confirmed_by=confirmed_by)
        _prune(guards)
        os.sync()
        return HostOutcome(Result.APPLIED, plan, guard=folder, confirmed_by=confirmed_by)
