"""The readers: the live host, read with its own tools into a `Facts` value.

The edge of the host half. sshd's effective configuration from `sshd -T` (so drop-ins count),
the ruleset from `nft -j list ruleset`, fail2ban from `fail2ban-client`, the clock from
`timedatectl show` where systemd runs (else /etc/timezone, /etc/localtime and `chronyc`),
services from host/services.py, named's effective options from `named-checkconf -px` (secrets
shown as `?`), owners and modes by stat, accounts from /etc/passwd, /etc/shadow and their
authorized_keys, the kernel from uname, /boot and /run/reboot-required. What cannot be read
becomes an `Unreadable` with the reason; nothing here raises for one bad reader. Parsing is in
host/parse.py. Called by host/audit.py's callers: `host audit`, `host apply`, the daemon.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from reconciler.config.host import HostConfig
from reconciler.config.policy import Policy
from reconciler.errors import HostError
from reconciler.host import parse
from reconciler.host.facts import (
    Account,
    Clock,
    Facts,
    Fail2ban,
    FileMode,
    Firewall,
    Jail,
    Kernel,
    Named,
    Password,
    Reading,
    Sshd,
    Sync,
    Unreadable,
    Users,
)
from reconciler.host.render import Rendered
from reconciler.host.services import Services
from reconciler.host.system import run, which

T = TypeVar("T")
NFTABLES_SERVICE = "nftables"  # loads /etc/nftables.conf at boot (systemd hosts)
MAX_FILE = 1024 * 1024  # a managed file or authorized_keys larger than this is not read


def _reading(source: str, read: Callable[[], T]) -> Reading[T]:
    """`read()`, or an Unreadable naming `source` when it fails in an expected way."""
    try:
        return read()
    except HostError as exc:
        return Unreadable(source, str(exc))
    except (OSError, ValueError, KeyError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Unreadable(source, reason)


def _ok(*argv: str) -> str:
    done = run(*argv)
    if not done.ok:
        raise HostError(done.reason())
    return done.out


def read_text(path: Path, limit: int = MAX_FILE) -> str | None:
    """A file's text (None when it does not exist); ValueError when over `limit` bytes."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        return None
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return data.decode("utf-8", errors="replace")


# --- one reader per part ----------------------------------------------------------------------


def sshd(config: Path) -> Sshd:
    return parse.sshd_options(_ok("sshd", "-T", "-f", str(config)))


def firewall() -> Firewall:
    return parse.firewall(_ok("nft", "-j", "list", "ruleset"))


def fail2ban(jails: tuple[str, ...]) -> Fail2ban:
    if which("fail2ban-client") is None:
        return Fail2ban(running=False, detail="not installed")
    status = run("fail2ban-client", "status")
    if not status.ok:
        said = status.err + status.out
        detail = "not running" if "Is fail2ban running?" in said else status.reason()
        return Fail2ban(running=False, detail=detail)
    active = parse.fail2ban_jails(status.out)
    found = {}
    for name in active:
        if name not in jails:
            found[name] = Jail(name, None, None)
            continue
        banned = parse.fail2ban_banned(_ok("fail2ban-client", "status", name))
        bantime = parse.integer(_ok("fail2ban-client", "get", name, "bantime"))
        maxretry = parse.integer(_ok("fail2ban-client", "get", name, "maxretry"))
        found[name] = Jail(name, bantime, maxretry, banned)
    return Fail2ban(running=True, jails=found)


def clock(systemd: bool, time_service: str) -> Clock:
    if systemd:
        values = parse.key_values(_ok("timedatectl", "show"))
        return Clock(
            values.get("Timezone") or None,
            parse.synchronised(values.get("NTPSynchronized", "no")),
            "timedatectl",
        )
    zone = read_text(Path("/etc/timezone"))
    if zone is None and Path("/etc/localtime").is_symlink():
        target = os.readlink("/etc/localtime")
        zone = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else None
    synced: Sync | None = None
    source = "/etc/timezone"
    if time_service == "chrony" and which("chronyc"):
        tracking = run("chronyc", "-n", "tracking", timeout=10.0)
        synced = parse.chrony_tracking(tracking.out) if tracking.ok else Sync.NO
        source += ", chronyc tracking"
    return Clock(zone.strip() if zone else None, synced, source)


def named(config: Path | None) -> Named:
    path = config or Path("/etc/bind/named.conf")
    options = parse.named_options(_ok("named-checkconf", "-px", str(path)))
    user: Reading[str | None] = None
    chroot = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "named":
                continue
            status = (entry / "status").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.MULTILINE)
        if uid:
            user = _user_name(int(uid.group(2)))
        chroot = b"-t" in argv
        break
    return Named(
        options.version_hidden,
        options.recursion,
        options.allow_transfer,
        options.zones_open,
        user,
        chroot,
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def file_mode(path: Path) -> FileMode:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return FileMode(str(path), exists=False)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return FileMode(str(path), True, _user_name(info.st_uid), group, stat.S_IMODE(info.st_mode))


def users(key_files: tuple[str, ...]) -> Users:
    entries = parse.passwd(read_text(Path("/etc/passwd")) or "")
    shadow_text = read_text(Path("/etc/shadow"))
    if shadow_text is None:
        raise ValueError("/etc/shadow is missing")
    passwords = parse.shadow(shadow_text)
    accounts = {}
    for entry in entries:
        keys = 0
        for pattern in key_files:
            path = pattern.replace("%h", entry.home).replace("%u", entry.name).replace("%%", "%")
            full = Path(path if path.startswith("/") else os.path.join(entry.home, path))
            try:
                text = read_text(full, limit=256 * 1024)
            except (OSError, ValueError):
                text = None
            keys += parse.authorized_keys(text or "")
        accounts[entry.name] = Account(
            entry.name, entry.uid, entry.shell, keys, passwords.get(entry.name, Password.LOCKED)
        )
    return Users(accounts)


def kernel() -> Kernel:
    installed = sorted(
        (p.name.removeprefix("vmlinuz-") for p in Path("/boot").glob("vmlinuz-*")),
        key=_version_key,
    )
    packages = read_text(Path("/run/reboot-required.pkgs")) or ""
    return Kernel(
        running=os.uname().release,
        installed=tuple(installed),
        reboot_required=Path("/run/reboot-required").exists(),
        reboot_packages=tuple(sorted(set(packages.split()))),
    )


def _version_key(version: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", version)]


# --- all of it --------------------------------------------------------------------------------


def key_files(sshd_facts: Reading[Sshd]) -> tuple[str, ...]:
    """Where sshd looks for authorized keys (its AuthorizedKeysFile)."""
    default = (".ssh/authorized_keys", ".ssh/authorized_keys2")
    if isinstance(sshd_facts, Unreadable):
        return default
    values = " ".join(sshd_facts.all("authorizedkeysfile")).split()
    return tuple(v for v in values if v != "none") or default


def read_managed(files: tuple[Rendered, ...]) -> dict[str, Reading[str | None]]:
    return {r.managed.label: _reading(str(r.path), partial(read_text, r.path)) for r in files}


def gather(
    host: HostConfig, policy: Policy, services: Services, files: tuple[Rendered, ...]
) -> Facts:
    """Everything the audit compares, read from the live host now."""
    settings = host.host
    systemd = services.kind == "systemd"
    names = list(dict.fromkeys([*policy.boot.enabled, *policy.boot.disabled]))
    if systemd and policy.firewall.enabled:
        names.append(NFTABLES_SERVICE)
    sshd_facts = _reading("sshd -T", lambda: sshd(settings.sshd_config))
    return Facts(
        sshd=sshd_facts,
        firewall=_reading("nft -j list ruleset", firewall),
        fail2ban=_reading("fail2ban-client", lambda: fail2ban(policy.fail2ban.jails)),
        clock=_reading(
            "timedatectl show" if systemd else "/etc/timezone",
            lambda: clock(systemd, policy.time.service),
        ),
        services=services.states(names),
        named=_reading("named-checkconf -px", lambda: named(host.named_conf)),
        files={
            "tsig_key": _reading(
                str(host.transfer_key_file), lambda: file_mode(host.transfer_key_file)
            ),
            "rndc_key": _reading(str(host.rndc_key_file), lambda: file_mode(host.rndc_key_file)),
            "zone_dir": _reading(str(host.zone_dir), lambda: file_mode(host.zone_dir)),
        },
        users=_reading("/etc/passwd, /etc/shadow", lambda: users(key_files(sshd_facts))),
        kernel=_reading("uname, /boot, /run/reboot-required", kernel),
        managed=read_managed(files),
        nftables_conf=_reading(
            str(settings.nftables_conf), lambda: read_text(settings.nftables_conf)
        ),
        systemd=systemd,
    )
