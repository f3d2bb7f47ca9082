"""What `host apply` would change: a diff of each managed file, and the commands. Pure.

`live_plan` compares the rendered files with the host's own (facts) and turns each drifted
item the reconciler can fix into a `Step`: a service enabled or disabled, the time zone, a key
file's owner and mode; each step carries its commands and, read from the facts, the commands
that undo it (the revert script runs those). `review_plan` compares two renderings (the base
and head commits of a pull request) for the plan comment, where no host is at hand. Items that
need a person (named's user or chroot, a reboot) are `notes`. Called by `host plan`,
`host apply` and `reconciler plan` (for a pull request touching host/).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from reconciler.config.host import HostSettings
from reconciler.config.policy import Policy
from reconciler.host.audit import wanted_openings
from reconciler.host.facts import Enablement, Facts, FileMode, Service, Unreadable
from reconciler.host.render import Managed, Rendered
from reconciler.host.services import Action, Argv, Services

NFTABLES_CONF = "nftables.conf"  # the label of /etc/nftables.conf's include line


@dataclass(frozen=True)
class FileChange:
    """One file written (or removed) by apply: its text before and after."""

    label: str  # "sshd", "nftables", ..., or "nftables.conf"
    path: Path
    before: str | None
    after: str | None
    source: str
    mode: int = 0o644

    @property
    def action(self) -> str:
        """create, remove, change, or load (the file is right, what runs is not: reload it)."""
        if self.before is None:
            return "create"
        if self.after is None:
            return "remove"
        return "load" if self.before == self.after else "change"

    def diff(self) -> list[str]:
        return list(
            difflib.unified_diff(
                (self.before or "").splitlines(),
                (self.after or "").splitlines(),
                f"{self.path} (now)" if self.before is not None else "/dev/null",
                f"{self.path} ({self.source})" if self.after is not None else "/dev/null",
                lineterm="",
            )
        )


class StepKind(Enum):
    SERVICE = "service"
    TIMEZONE = "timezone"
    OWNER = "owner"


@dataclass(frozen=True)
class Step:
    """One command-level change: what, its commands, and the commands that undo it."""

    kind: StepKind
    what: str
    commands: tuple[Argv, ...]
    undo: tuple[Argv, ...] = ()
    item: str = ""  # the audit item it brings in policy (what apply verifies afterwards)


@dataclass(frozen=True)
class HostPlan:
    label: str  # where the policy came from
    files: tuple[FileChange, ...] = ()
    steps: tuple[Step, ...] = ()
    notes: tuple[str, ...] = ()
    base: str | None = None  # review plans: the base revision

    @property
    def empty(self) -> bool:
        return not self.files and not self.steps

    def changes(self, label: str) -> bool:
        return any(f.label == label for f in self.files)

    def to_dict(self) -> dict[str, object]:
        return {
            "policy": self.label,
            "base": self.base,
            "files": [
                {
                    "path": str(f.path),
                    "managed": f.label,
                    "source": f.source,
                    "action": f.action,
                    "diff": f.diff(),
                }
                for f in self.files
            ],
            "commands": [
                {"kind": s.kind.value, "what": s.what, "run": [" ".join(c) for c in s.commands]}
                for s in self.steps
            ],
            "notes": list(self.notes),
        }


# --- live: the host as it is --------------------------------------------------------------------


def table_differs(policy: Policy, facts: Facts) -> bool:
    """The live table inet reconciler is not what the policy wants (absent after a reboot
    without nftables.service, or changed by hand), whatever the file holds."""
    live = facts.firewall
    if isinstance(live, Unreadable):
        return False
    if not policy.firewall.enabled:
        return live.present
    rejects = policy.firewall.default_incoming == "reject"
    return (
        not live.present
        or not live.hooked
        or live.policy != "drop"
        or live.rejects != rejects
        or live.openings != wanted_openings(policy)
        or bool(live.other)
    )


def include_line(settings: HostSettings) -> str:
    return f'include "{settings.nftables_file}"'


def _nftables_conf(policy: Policy, settings: HostSettings, facts: Facts) -> FileChange | None:
    """/etc/nftables.conf gains the include of the reconciler's table (for the next boot)."""
    current = facts.nftables_conf
    if not policy.firewall.enabled or isinstance(current, Unreadable):
        return None
    line = include_line(settings)
    if current is not None and line in current:
        return None
    base = current if current is not None else "#!/usr/sbin/nft -f\n"
    after = base + ("" if base.endswith("\n") else "\n")
    after += f"# dns-reconciler: the table inet reconciler (host/policy.toml)\n{line}\n"
    return FileChange(NFTABLES_CONF, settings.nftables_conf, current, after, "include line", 0o755)


def _service_steps(policy: Policy, facts: Facts, services: Services) -> list[Step]:
    steps = []
    for name in policy.boot.enabled:
        live = facts.services.get(name)
        if not isinstance(live, Service) or live.enabled is Enablement.ABSENT:
            continue  # unreadable, or not installed: a note, not a step
        if live.enabled in (Enablement.ENABLED, Enablement.OTHER) and live.running:
            continue
        undo: list[Argv] = []
        if live.enabled is Enablement.DISABLED:
            undo += services.commands(Action.DISABLE, name)
        elif not live.running:
            undo += services.commands(Action.STOP, name)
        steps.append(
            Step(
                StepKind.SERVICE,
                f"enable {name} at boot and start it",
                tuple(services.commands(Action.ENABLE, name)),
                tuple(undo),
                f"boot.{name}",
            )
        )
    for name in policy.boot.disabled:
        live = facts.services.get(name)
        if not isinstance(live, Service) or live.enabled is Enablement.ABSENT:
            continue
        if live.enabled is Enablement.DISABLED and not live.running:
            continue
        steps.append(
            Step(
                StepKind.SERVICE,
                f"disable {name} at boot and stop it",
                tuple(services.commands(Action.DISABLE, name)),
                tuple(services.commands(Action.ENABLE, name)),
                f"boot.{name}",
            )
        )
    if facts.systemd and policy.firewall.enabled:
        live = facts.services.get("nftables")
        if isinstance(live, Service) and live.enabled is Enablement.DISABLED:
            steps.append(
                Step(
                    StepKind.SERVICE,
                    "enable nftables at boot (it loads /etc/nftables.conf)",
                    (("systemctl", "enable", "nftables"),),
                    (("systemctl", "disable", "nftables"),),
                    "firewall.boot",
                )
            )
    return steps


def _timezone_step(policy: Policy, facts: Facts) -> Step | None:
    clock = facts.clock
    if isinstance(clock, Unreadable) or clock.timezone == policy.time.timezone:
        return None
    wanted, old = policy.time.timezone, clock.timezone
    if facts.systemd:
        commands: tuple[Argv, ...] = (("timedatectl", "set-timezone", wanted),)
        undo: tuple[Argv, ...] = (("timedatectl", "set-timezone", old),) if old else ()
        # The checklist: syslog and cron read the zone when they start.
        restart = ("systemctl", "try-restart", "rsyslog.service", "cron.service")
        commands += (restart,)
    else:
        commands = _zone_files(wanted)
        undo = _zone_files(old) if old else ()
    what = f"time zone {old or 'unknown'} -> {wanted}"
    return Step(StepKind.TIMEZONE, what, commands, undo, "time.timezone")


def _zone_files(zone: str) -> tuple[Argv, ...]:
    """Without systemd: /etc/localtime points at the zone, /etc/timezone names it."""
    write = 'printf "%s\\n" "$1" > /etc/timezone'
    return (
        ("ln", "-sfn", f"/usr/share/zoneinfo/{zone}", "/etc/localtime"),
        ("sh", "-c", write, "sh", zone),
    )


def _owner_steps(policy: Policy, facts: Facts) -> list[Step]:
    files = policy.files
    wanted = {
        "tsig_key": (files.key_owner, files.key_group, files.key_mode),
        "rndc_key": (files.key_owner, files.key_group, files.key_mode),
        "zone_dir": (files.zone_dir_owner, files.zone_dir_group, files.zone_dir_mode),
    }
    steps = []
    for role, (owner, group, mode) in wanted.items():
        live = facts.files.get(role)
        if not isinstance(live, FileMode) or not live.exists:
            continue
        if (live.owner, live.group, live.mode) == (owner, group, int(mode, 8)):
            continue
        steps.append(
            Step(
                StepKind.OWNER,
                f"{live.path}: {live} -> {owner}:{group} {int(mode, 8):04o}",
                (("chown", f"{owner}:{group}", live.path), ("chmod", mode, live.path)),
                (
                    ("chown", f"{live.owner}:{live.group}", live.path),
                    ("chmod", f"{live.mode:04o}", live.path),
                ),
                f"files.{role}",
            )
        )
    return steps


def _notes(policy: Policy, facts: Facts) -> list[str]:
    notes = []
    named = facts.named
    if not isinstance(named, Unreadable):
        if isinstance(named.user, str) and named.user != policy.named.user:
            notes.append(
                f"named runs as {named.user}, not {policy.named.user}: change its -u option"
                " (/etc/default/named) and restart it; apply never restarts named"
            )
        if named.chroot != policy.named.chroot:
            notes.append("named's chroot differs: apply does not move named in or out of one")
    for name in policy.boot.enabled:
        live = facts.services.get(name)
        if isinstance(live, Service) and live.enabled is Enablement.ABSENT:
            notes.append(f"{name} is not installed: install it (apply installs no package)")
    for role in ("tsig_key", "rndc_key", "zone_dir"):
        file = facts.files.get(role)
        if isinstance(file, FileMode) and not file.exists:
            notes.append(f"{file.path} is missing: apply does not make keys or the zone folder")
    return notes


def live_plan(
    policy: Policy,
    label: str,
    rendered: tuple[Rendered, ...],
    facts: Facts,
    settings: HostSettings,
    services: Services,
) -> HostPlan:
    """What apply would do to this host now."""
    files: list[FileChange] = []
    for target in rendered:
        current = facts.managed.get(target.managed.label)
        if isinstance(current, Unreadable):
            continue
        if current == target.text and not (
            target.managed is Managed.NFTABLES and table_differs(policy, facts)
        ):
            continue
        files.append(
            FileChange(
                target.managed.label, target.path, current, target.text, target.source, target.mode
            )
        )
    include = _nftables_conf(policy, settings, facts)
    if include is not None:
        files.append(include)
    steps = _service_steps(policy, facts, services)
    zone = _timezone_step(policy, facts)
    steps += [zone] if zone else []
    steps += _owner_steps(policy, facts)
    return HostPlan(label, tuple(files), tuple(steps), tuple(_notes(policy, facts)))


# --- review: two revisions of the repo ----------------------------------------------------------


def review_plan(
    base: tuple[Rendered, ...],
    head: tuple[Rendered, ...],
    base_policy: Policy,
    head_policy: Policy,
    base_label: str,
    head_label: str,
) -> HostPlan:
    """The managed files' diffs between two revisions, and the policy's command-level changes."""
    before = {r.managed: r for r in base}
    files = [
        FileChange(
            r.managed.label,
            r.path,
            before[r.managed].text if r.managed in before else None,
            r.text,
            r.source,
            r.mode,
        )
        for r in head
        if r.managed not in before or before[r.managed].text != r.text
    ]
    steps: list[Step] = []
    old, new = base_policy, head_policy
    for name in new.boot.enabled:
        if name not in old.boot.enabled:
            steps.append(Step(StepKind.SERVICE, f"enable {name} at boot and start it", ()))
    for name in new.boot.disabled:
        if name not in old.boot.disabled:
            steps.append(Step(StepKind.SERVICE, f"disable {name} at boot and stop it", ()))
    if old.time.timezone != new.time.timezone:
        steps.append(
            Step(StepKind.TIMEZONE, f"time zone {old.time.timezone} -> {new.time.timezone}", ())
        )
    if old.files != new.files:
        f = new.files
        steps.append(
            Step(
                StepKind.OWNER,
                f"key files {f.key_owner}:{f.key_group} {f.key_mode}, zone folder "
                f"{f.zone_dir_owner}:{f.zone_dir_group} {f.zone_dir_mode}",
                (),
            )
        )
    notes = []
    if old.named.user != new.named.user or old.named.chroot != new.named.chroot:
        notes.append("named's user or chroot changes: that needs a restart of named by hand")
    if old.users != new.users:
        notes.append(f"operators: {', '.join(new.users.operators) or '(any account with a key)'}")
    return HostPlan(head_label, tuple(files), tuple(steps), tuple(notes), base=base_label)
