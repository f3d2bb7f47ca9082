"""The audit: host/policy.toml against the live host's facts, one finding per item. Pure.

Each finding names an item (`ssh.permit_root_login`, `firewall.tcp`, `boot.fail2ban`,
`files.rndc_key`, `managed.sshd` ...), whether it is in policy, drifted, could not be read,
or does not apply here, and the value found beside the value wanted, as InSpec or ssh-audit
show them. `Audit.exit_code` is what `host audit` exits with: 0 in policy, 1 drift, 2 when
something could not be read (an incomplete audit vouches for nothing, so 2 wins over 1).
Called by `host audit`, `host apply` (to verify what it changed) and the daemon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import TypeVar

from reconciler.config.host import HostSettings
from reconciler.config.policy import Policy
from reconciler.host.facts import (
    Clock,
    Enablement,
    Facts,
    Fail2ban,
    FileMode,
    Firewall,
    Kernel,
    Named,
    Opening,
    Password,
    Reading,
    Service,
    Sshd,
    Sync,
    Unreadable,
    Users,
)
from reconciler.host.render import Rendered

T = TypeVar("T")

EXIT_IN_POLICY, EXIT_DRIFT, EXIT_UNREADABLE = 0, 1, 2


class Status(Enum):
    IN_POLICY = "in-policy"
    DRIFT = "drift"
    UNREADABLE = "unreadable"
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Finding:
    item: str
    status: Status
    found: str
    wanted: str

    def to_dict(self) -> dict[str, str]:
        return {
            "item": self.item,
            "status": self.status.value,
            "found": self.found,
            "wanted": self.wanted,
        }


@dataclass(frozen=True)
class Audit:
    findings: tuple[Finding, ...]

    def of(self, status: Status) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status is status)

    @property
    def exit_code(self) -> int:
        if self.of(Status.UNREADABLE):
            return EXIT_UNREADABLE
        return EXIT_DRIFT if self.of(Status.DRIFT) else EXIT_IN_POLICY

    @property
    def reboot_required(self) -> bool:
        return any(f.item.startswith("reboot.") and f.status is Status.DRIFT for f in self.findings)

    def to_dict(self) -> dict[str, object]:
        return {
            "in_policy": self.exit_code == EXIT_IN_POLICY,
            "drift": len(self.of(Status.DRIFT)),
            "unreadable": len(self.of(Status.UNREADABLE)),
            "findings": [f.to_dict() for f in self.findings],
        }


def _check(item: str, found: object, wanted: object, ok: bool | None = None) -> Finding:
    same = (found == wanted) if ok is None else ok
    return Finding(item, Status.IN_POLICY if same else Status.DRIFT, str(found), str(wanted))


def _each(
    item: str, reading: Reading[T], judge: Callable[[T], Iterator[Finding]]
) -> Iterator[Finding]:
    """The findings `judge` makes of a fact, or one `unreadable` finding for the item."""
    if isinstance(reading, Unreadable):
        yield Finding(item, Status.UNREADABLE, str(reading), "readable")
        return
    yield from judge(reading)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


# --- per part ---------------------------------------------------------------------------------


def _ssh(policy: Policy) -> Callable[[Sshd], Iterator[Finding]]:
    ssh = policy.ssh

    def judge(sshd: Sshd) -> Iterator[Finding]:
        yield _check("ssh.port", sshd.get("port"), str(ssh.port))
        root = sshd.get("permitrootlogin")
        yield _check("ssh.permit_root_login", root, _yes(ssh.permit_root_login))
        found = (
            f"passwordauthentication {sshd.get('passwordauthentication')}, "
            f"kbdinteractiveauthentication {sshd.get('kbdinteractiveauthentication')}"
        )
        if ssh.password_authentication:
            yield _check(
                "ssh.password_authentication",
                found,
                "passwordauthentication yes",
                sshd.get("passwordauthentication") == "yes",
            )
        else:
            wanted = "passwordauthentication no, kbdinteractiveauthentication no"
            yield _check("ssh.password_authentication", found, wanted)
        yield _check("ssh.permit_empty_passwords", sshd.get("permitemptypasswords"), "no")
        yield _check(
            "ssh.pubkey_authentication",
            sshd.get("pubkeyauthentication"),
            _yes(ssh.pubkey_authentication),
        )
        yield _check("ssh.max_auth_tries", sshd.get("maxauthtries"), str(ssh.max_auth_tries))
        allowed = " ".join(sorted(" ".join(sshd.all("allowusers")).split())) or "(anyone)"
        yield _check("ssh.allow_users", allowed, " ".join(sorted(ssh.allow_users)) or "(anyone)")

    return judge


def wanted_openings(policy: Policy) -> frozenset[Opening]:
    out = set()
    for proto, rules in (("tcp", policy.firewall.allow_tcp), ("udp", policy.firewall.allow_udp)):
        for rule in rules:
            for source in rule.sources or (None,):
                out.add(Opening(proto, rule.port, source))
    return frozenset(out)


def _listing(openings: frozenset[Opening], proto: str) -> str:
    chosen = sorted(
        (o for o in openings if o.proto == proto), key=lambda o: (o.port, o.source or "")
    )
    return (
        ", ".join(str(o).removesuffix(f"/{proto}").replace(f"/{proto} ", " ") for o in chosen)
        or "none"
    )


def _firewall(policy: Policy) -> Callable[[Firewall], Iterator[Finding]]:
    wall = policy.firewall

    def judge(live: Firewall) -> Iterator[Finding]:
        if not wall.enabled:
            yield _check("firewall.table", "present" if live.present else "absent", "absent")
            return
        if not live.present or not live.hooked:
            found = "missing" if not live.present else "no chain on the input hook"
            yield _check("firewall.table", f"table inet reconciler {found}", "present", False)
            return
        closing = "drop"
        if wall.default_incoming == "reject":
            closing = "drop, rejecting the rest"
        found = f"policy {live.policy}" + (", rejecting the rest" if live.rejects else "")
        wanted = f"policy {closing}"
        yield _check(
            "firewall.table",
            found,
            wanted,
            live.policy == "drop" and live.rejects == (wall.default_incoming == "reject"),
        )
        wanted_set = wanted_openings(policy)
        for proto in ("tcp", "udp"):
            yield _check(
                f"firewall.{proto}",
                _listing(live.openings, proto),
                _listing(wanted_set, proto),
                {o for o in live.openings if o.proto == proto}
                == {o for o in wanted_set if o.proto == proto},
            )
        if live.other:
            yield _check(
                "firewall.other", f"{len(live.other)} other accept rule(s): {live.other[0]}", "none"
            )

    return judge


def _fail2ban(policy: Policy) -> Callable[[Fail2ban], Iterator[Finding]]:
    wanted = policy.fail2ban

    def judge(live: Fail2ban) -> Iterator[Finding]:
        if not wanted.enabled:
            return
        yield _check(
            "fail2ban.running",
            "running" if live.running else live.detail or "not running",
            "running",
        )
        if not live.running:
            return
        for name in wanted.jails:
            jail = live.jails.get(name)
            target = f"active, bantime {wanted.bantime}, maxretry {wanted.maxretry}"
            if jail is None:
                yield _check(f"fail2ban.{name}", "not active", target, False)
                continue
            yield _check(
                f"fail2ban.{name}",
                f"active, bantime {jail.bantime}, maxretry {jail.maxretry}",
                target,
            )

    return judge


def _clock(policy: Policy) -> Callable[[Clock], Iterator[Finding]]:
    time = policy.time

    def judge(live: Clock) -> Iterator[Finding]:
        yield _check("time.timezone", live.timezone or "unknown", time.timezone)
        if not time.must_be_synchronised:
            return
        if live.synchronised is None:
            reason = f"{live.source}: nothing says whether the clock is synchronised"
            yield Finding("time.synchronised", Status.UNREADABLE, reason, Sync.YES.value)
            return
        yield _check("time.synchronised", live.synchronised.value, Sync.YES.value)

    return judge


def _one_service(item: str, enabled: bool, live: Service) -> Iterator[Finding]:
    yield _service(item, live, enabled)


def _service(item: str, live: Service, enabled: bool) -> Finding:
    if enabled:
        ok = live.enabled in (Enablement.ENABLED, Enablement.OTHER) and live.running
        return _check(item, live, "enabled, running", ok)
    ok = live.enabled is Enablement.ABSENT or (
        live.enabled is Enablement.DISABLED and not live.running
    )
    return _check(item, live, "disabled, not running", ok)


def _named(policy: Policy) -> Callable[[Named], Iterator[Finding]]:
    named = policy.named

    def judge(live: Named) -> Iterator[Finding]:
        yield _check(
            "named.version_hidden",
            "hidden" if live.version_hidden else "shown",
            "hidden" if named.version_hidden else "shown",
            live.version_hidden or not named.version_hidden,
        )
        yield _check("named.recursion", _yes(live.recursion), _yes(named.recursion))
        if named.allow_transfer_tsig_only:
            allowed = "allow-transfer { " + "; ".join(live.allow_transfer) + "; }"
            found = allowed + (
                f"; zones open: {', '.join(live.zones_open)}" if live.zones_open else ""
            )
            ok = all(e == "none" or e.startswith("key ") for e in live.allow_transfer)
            yield _check(
                "named.allow_transfer",
                found,
                "TSIG-signed transfers only",
                ok and not live.zones_open,
            )
        if isinstance(live.user, Unreadable):
            yield Finding("named.user", Status.UNREADABLE, str(live.user), named.user)
        else:
            yield _check("named.user", live.user or "named is not running", named.user)
        yield _check("named.chroot", _yes(live.chroot), _yes(named.chroot))

    return judge


def _file(item: str, owner: str, group: str, mode: str) -> Callable[[FileMode], Iterator[Finding]]:
    def judge(live: FileMode) -> Iterator[Finding]:
        wanted = f"{owner}:{group} {int(mode, 8):04o}"
        yield _check(
            item,
            f"{live} ({live.path})" if live.exists else f"missing ({live.path})",
            f"{wanted}",
            str(live) == wanted,
        )

    return judge


def _users(policy: Policy) -> Callable[[Users], Iterator[Finding]]:
    def judge(live: Users) -> Iterator[Finding]:
        empty = sorted(a.name for a in live.accounts.values() if a.password is Password.EMPTY)
        yield _check("users.empty_passwords", ", ".join(empty) or "none", "none")
        for name in policy.users.operators:
            account = live.accounts.get(name)
            if account is None:
                yield _check(
                    f"users.{name}",
                    "missing (or no login shell)",
                    "an account with an SSH key",
                    False,
                )
                continue
            yield _check(
                f"users.{name}",
                f"{account.keys} SSH key(s)",
                "at least 1 SSH key",
                account.keys > 0,
            )
        if not policy.users.operators:
            keyed = sorted(a.name for a in live.accounts.values() if a.uid != 0 and a.keys > 0)
            yield _check(
                "users.operator",
                ", ".join(keyed) or "no non-root account with an SSH key",
                "a non-root account with an SSH key",
                bool(keyed),
            )

    return judge


def _kernel(live: Kernel) -> Iterator[Finding]:
    found = "required" + (f" by {', '.join(live.reboot_packages)}" if live.reboot_packages else "")
    yield _check("reboot.pending", found if live.reboot_required else "no", "no")
    if not live.installed:
        yield Finding(
            "reboot.kernel",
            Status.NOT_APPLICABLE,
            f"{live.running} running; no kernel image in /boot (a container)",
            "the newest installed kernel",
        )
        return
    newest = live.installed[-1]
    yield _check(
        "reboot.kernel", f"{live.running} running", f"{newest} running", live.running == newest
    )


def _managed(files: tuple[Rendered, ...], facts: Facts) -> Iterator[Finding]:
    for rendered in files:
        item = f"managed.{rendered.managed.label}"
        live = facts.managed.get(rendered.managed.label)
        if isinstance(live, Unreadable):
            yield Finding(item, Status.UNREADABLE, str(live), "readable")
            continue
        wanted = "absent" if rendered.text is None else f"as rendered from {rendered.source}"
        if live == rendered.text:
            yield Finding(item, Status.IN_POLICY, wanted, wanted)
        else:
            found = (
                "missing" if live is None else ("present" if rendered.text is None else "edited")
            )
            yield Finding(item, Status.DRIFT, f"{found} ({rendered.path})", wanted)


def _boot_firewall(policy: Policy, settings: HostSettings, facts: Facts) -> Iterator[Finding]:
    """The reconciler's table comes back at boot: nftables.conf includes its file."""
    if not policy.firewall.enabled:
        return
    line = f'include "{settings.nftables_file}"'
    conf = facts.nftables_conf

    def judge(text: str | None) -> Iterator[Finding]:
        found = (
            "includes it" if text and line in text else f"does not include {settings.nftables_file}"
        )
        service = facts.services.get("nftables")
        if isinstance(service, Service) and facts.systemd:
            found += f"; nftables.service {service}"
            ok = line in (text or "") and service.enabled is Enablement.ENABLED
        else:
            ok = line in (text or "")
        yield _check(
            "firewall.boot",
            f"{settings.nftables_conf} {found}",
            f"{line} in {settings.nftables_conf}",
            ok,
        )

    if conf is not None:
        yield from _each("firewall.boot", conf, judge)


# --- all of it --------------------------------------------------------------------------------


def audit(
    policy: Policy, facts: Facts, files: tuple[Rendered, ...], settings: HostSettings
) -> Audit:
    """Every item of the policy against the facts, in a stable order."""
    findings: list[Finding] = []
    findings += _each("ssh", facts.sshd, _ssh(policy))
    findings += _each("firewall", facts.firewall, _firewall(policy))
    findings += _boot_firewall(policy, settings, facts)
    findings += _each("fail2ban", facts.fail2ban, _fail2ban(policy))
    findings += _each("time", facts.clock, _clock(policy))
    for names, enabled in ((policy.boot.enabled, True), (policy.boot.disabled, False)):
        for name in names:
            reading = facts.services.get(name, Unreadable(name, "not asked"))
            findings += _each(
                f"boot.{name}",
                reading,
                partial(_one_service, f"boot.{name}", enabled),
            )
    findings += _each("named", facts.named, _named(policy))
    wanted = policy.files
    for role in ("tsig_key", "rndc_key"):
        file = facts.files.get(role, Unreadable(role, "not asked"))
        findings += _each(
            f"files.{role}",
            file,
            _file(f"files.{role}", wanted.key_owner, wanted.key_group, wanted.key_mode),
        )
    zone_dir = facts.files.get("zone_dir", Unreadable("zone_dir", "not asked"))
    findings += _each(
        "files.zone_dir",
        zone_dir,
        _file("files.zone_dir", wanted.zone_dir_owner, wanted.zone_dir_group, wanted.zone_dir_mode),
    )
    findings += _each("users", facts.users, _users(policy))
    findings += _each("reboot", facts.kernel, _kernel)
    findings += _managed(files, facts)
    return Audit(tuple(findings))
