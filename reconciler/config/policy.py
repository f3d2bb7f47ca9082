"""The host hardening policy: `host/policy.toml` in the zone repo, parsed into a frozen model.

The zone repository holds, next to the zones, a policy for the host the primary nameserver
runs on: SSH settings, the firewall, fail2ban, time and its synchronisation, the operator
accounts, which services run at boot, the owners and modes of the key files, and how `named`
runs. This module turns the TOML text of that file into a `Policy` value.

It is pure: `parse_policy` takes text (the caller reads the file, from a checkout or a git
revision) and either returns a `Policy` or raises `ValidationError` carrying every problem found
at once -- TOML syntax, unknown tables and keys, wrong types, values out of range or unsafe in a
generated file (config/policyvalues.py), and settings that contradict each other (the SSH port
closed by the firewall, DNS port 53 not open on a nameserver, no way left to log in over SSH,
sshd or the time service both required and disabled at boot). Every table and key is optional;
what is missing takes the default shown on the dataclasses below.

Callers: `reconciler check` validates `host/policy.toml` with it; `host audit`, `host plan` and
`host apply` (reconciler/host/) compare the running host with the model and make it match.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from typing import Any

from reconciler.config.policyvalues import Field as _Field
from reconciler.config.policyvalues import PortRule, check_value, type_name
from reconciler.config.tomlfile import key_line, syntax_problem, table_line
from reconciler.errors import Problem, ValidationError

DEFAULT_FILE = "host/policy.toml"

DNS_PORT = 53
SSH_SERVICE = "ssh"  # Debian's name for sshd's service (ssh.service, /etc/init.d/ssh)


@dataclass(frozen=True)
class SSHPolicy:
    """[ssh]: how sshd is configured."""

    port: int = 22
    permit_root_login: bool = False
    password_authentication: bool = False
    pubkey_authentication: bool = True
    allow_users: tuple[str, ...] = ()
    max_auth_tries: int = 3


@dataclass(frozen=True)
class FirewallPolicy:
    """[firewall]: the host firewall's incoming rules (the nftables table `inet reconciler`)."""

    enabled: bool = True
    allow_tcp: tuple[PortRule, ...] = (PortRule(22), PortRule(53))
    allow_udp: tuple[PortRule, ...] = (PortRule(53),)
    default_incoming: str = "drop"

    def ports(self, proto: str) -> set[int]:
        """Every port of `proto` ("tcp" or "udp") that is open to someone."""
        rules = self.allow_tcp if proto == "tcp" else self.allow_udp
        return {rule.port for rule in rules}


@dataclass(frozen=True)
class Fail2banPolicy:
    """[fail2ban]: banning hosts that keep failing to log in."""

    enabled: bool = True
    jails: tuple[str, ...] = ("sshd",)
    bantime: int = 3600
    maxretry: int = 5


@dataclass(frozen=True)
class TimePolicy:
    """[time]: the clock: its synchronisation service and servers, and the time zone."""

    service: str = "chrony"
    servers: tuple[str, ...] = ()
    timezone: str = "Etc/UTC"
    must_be_synchronised: bool = True


@dataclass(frozen=True)
class UsersPolicy:
    """[users]: operator accounts that must exist, each with an SSH key, none without a password
    hash (an empty password). Empty: at least one non-root account with a key must exist."""

    operators: tuple[str, ...] = ()


@dataclass(frozen=True)
class BootPolicy:
    """[boot]: services that must be enabled at boot and running, and those that must not."""

    enabled: tuple[str, ...] = ("named", SSH_SERVICE, "fail2ban", "chrony")
    disabled: tuple[str, ...] = ("telnet", "rsh-server", "avahi-daemon")


@dataclass(frozen=True)
class FilesPolicy:
    """[files]: owner, group and mode of the TSIG and rndc key files and of the zone folder
    (their paths are the host's: daemon.toml's [tsig] key_file, [rndc] key_file, [bind]
    zone_dir)."""

    key_owner: str = "root"
    key_group: str = "bind"
    key_mode: str = "0640"
    zone_dir_owner: str = "root"
    zone_dir_group: str = "bind"
    zone_dir_mode: str = "0775"


@dataclass(frozen=True)
class NamedPolicy:
    """[named]: how the BIND daemon runs."""

    user: str = "bind"
    version_hidden: bool = True
    recursion: bool = False
    allow_transfer_tsig_only: bool = True
    chroot: bool = False


@dataclass(frozen=True)
class Policy:
    """The whole host policy; each field is one table of `host/policy.toml`."""

    ssh: SSHPolicy = field(default_factory=SSHPolicy)
    firewall: FirewallPolicy = field(default_factory=FirewallPolicy)
    fail2ban: Fail2banPolicy = field(default_factory=Fail2banPolicy)
    time: TimePolicy = field(default_factory=TimePolicy)
    users: UsersPolicy = field(default_factory=UsersPolicy)
    boot: BootPolicy = field(default_factory=BootPolicy)
    files: FilesPolicy = field(default_factory=FilesPolicy)
    named: NamedPolicy = field(default_factory=NamedPolicy)

    def to_dict(self) -> dict[str, dict[str, object]]:
        """A JSON-ready dict: one dict per table, tuples as lists."""
        out: dict[str, dict[str, object]] = {}
        for table in fields(self):
            section = getattr(self, table.name)
            out[table.name] = {f.name: _jsonable(getattr(section, f.name)) for f in fields(section)}
        return out


def _jsonable(value: object) -> object:
    if isinstance(value, tuple):
        return [v.to_json() if isinstance(v, PortRule) else v for v in value]
    return value


# --- the schema -------------------------------------------------------------------------------

_SCHEMA: dict[str, tuple[type, dict[str, _Field]]] = {
    "ssh": (
        SSHPolicy,
        {
            "port": _Field("port"),
            "permit_root_login": _Field("bool"),
            "password_authentication": _Field("bool"),
            "pubkey_authentication": _Field("bool"),
            "allow_users": _Field("login_list"),
            "max_auth_tries": _Field("int", minimum=1),
        },
    ),
    "firewall": (
        FirewallPolicy,
        {
            "enabled": _Field("bool"),
            "allow_tcp": _Field("port_rules"),
            "allow_udp": _Field("port_rules"),
            "default_incoming": _Field("str", choices=("drop", "reject")),
        },
    ),
    "fail2ban": (
        Fail2banPolicy,
        {
            "enabled": _Field("bool"),
            "jails": _Field("jail_list"),
            "bantime": _Field("int", minimum=1),
            "maxretry": _Field("int", minimum=1),
        },
    ),
    "time": (
        TimePolicy,
        {
            "service": _Field("str", choices=("chrony", "systemd-timesyncd", "ntpsec")),
            "servers": _Field("host_list"),
            "timezone": _Field("timezone"),
            "must_be_synchronised": _Field("bool"),
        },
    ),
    "users": (UsersPolicy, {"operators": _Field("user_list")}),
    "boot": (
        BootPolicy,
        {"enabled": _Field("service_list"), "disabled": _Field("service_list")},
    ),
    "files": (
        FilesPolicy,
        {
            "key_owner": _Field("user"),
            "key_group": _Field("user"),
            "key_mode": _Field("mode"),
            "zone_dir_owner": _Field("user"),
            "zone_dir_group": _Field("user"),
            "zone_dir_mode": _Field("mode"),
        },
    ),
    "named": (
        NamedPolicy,
        {
            "user": _Field("user"),
            "version_hidden": _Field("bool"),
            "recursion": _Field("bool"),
            "allow_transfer_tsig_only": _Field("bool"),
            "chroot": _Field("bool"),
        },
    ),
}
# [services] disabled was the first home of [boot] disabled: still read, with a warning.
_LEGACY = "services"


# --- parsing ----------------------------------------------------------------------------------


def parse_policy(text: str, file: str = DEFAULT_FILE) -> Policy:
    """Parse the text of `host/policy.toml` into a `Policy` (warnings dropped).

    Raises `ValidationError` with one `Problem` per thing wrong, all of them at once.
    """
    return read_policy(text, file)[0]


def read_policy(text: str, file: str = DEFAULT_FILE) -> tuple[Policy, tuple[Problem, ...]]:
    """The `Policy` and the warnings (severity "warning") about the text.

    Raises `ValidationError` carrying every problem, warnings included, when any is an error.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError([syntax_problem(file, exc)]) from None

    problems: list[Problem] = []
    sections: dict[str, Any] = {}
    invalid: set[tuple[str, str]] = set()  # (table, key) whose value was refused

    for name in data:
        if name not in _SCHEMA and name != _LEGACY:
            problems.append(
                Problem(file=file, line=table_line(text, name), message=f"unknown table [{name}]")
            )
    if _LEGACY in data:
        data = _legacy_services(data, text, file, problems)

    for table, (cls, spec) in _SCHEMA.items():
        raw = data.get(table, {})
        if not isinstance(raw, dict):
            problems.append(
                Problem(
                    file=file,
                    line=table_line(text, table),
                    message=f"[{table}] must be a table, got {type_name(raw)}",
                )
            )
            invalid.update((table, key) for key in spec)
            sections[table] = cls()
            continue
        values: dict[str, object] = {}
        for key, value in raw.items():  # a key's line is looked for only for its problems
            if key not in spec:
                line = key_line(text, table, key)
                problems.append(
                    Problem(file=file, line=line, message=f"unknown key '{key}' in [{table}]")
                )
                continue
            checked, messages = check_value(value, spec[key], f"[{table}] {key}")
            if messages:
                invalid.add((table, key))
                line = key_line(text, table, key)
                problems.extend(Problem(file=file, line=line, message=m) for m in messages)
            else:
                values[key] = checked
        sections[table] = cls(**values)

    policy = Policy(**sections)
    problems.extend(_contradictions(policy, invalid, text, file))
    # In file order; problems without a line (rare) last.
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    if any(p.severity == "error" for p in problems):
        raise ValidationError(problems)
    return policy, tuple(problems)


def _legacy_services(
    data: dict[str, Any], text: str, file: str, problems: list[Problem]
) -> dict[str, Any]:
    """[services] disabled, read as [boot] disabled (merged), with a warning saying so."""
    legacy = data[_LEGACY]
    line = table_line(text, _LEGACY)
    if not isinstance(legacy, dict) or set(legacy) - {"disabled"}:
        problems.append(
            Problem(file, "[services] is now [boot]: only 'disabled' is still read there", line)
        )
        return data
    problems.append(
        Problem(file, "[services] disabled is now [boot] disabled", line, severity="warning")
    )
    old, messages = check_value(
        legacy.get("disabled", []), _SCHEMA["boot"][1]["disabled"], "[services] disabled"
    )
    if messages:
        where = key_line(text, _LEGACY, "disabled") or line
        problems.extend(Problem(file, message, where) for message in messages)
        return data
    assert isinstance(old, tuple)
    boot = dict(data.get("boot", {})) if isinstance(data.get("boot", {}), dict) else {}
    new = boot.get("disabled")
    if isinstance(new, list):
        boot["disabled"] = new + [name for name in old if name not in new]
    elif new is None:
        boot["disabled"] = list(old)
    return {**data, "boot": boot}


def _contradictions(
    policy: Policy, invalid: set[tuple[str, str]], text: str, file: str
) -> list[Problem]:
    """Settings that are each valid but cannot hold together.

    A check is skipped when a value it needs was itself refused (in `invalid`): the default
    standing in for it would only produce a misleading second problem.
    """
    problems: list[Problem] = []
    ssh, firewall, boot = policy.ssh, policy.firewall, policy.boot

    def usable(*names: tuple[str, str]) -> bool:
        return not any(name in invalid for name in names)

    def line_of(table: str, *keys: str) -> int | None:
        for key in keys:
            line = key_line(text, table, key)
            if line is not None:
                return line
        return table_line(text, table)

    def problem(line: int | None, message: str) -> None:
        problems.append(Problem(file=file, line=line, message=message))

    if firewall.enabled and usable(("firewall", "enabled")):
        if usable(("ssh", "port"), ("firewall", "allow_tcp")) and ssh.port not in firewall.ports(
            "tcp"
        ):
            problem(
                key_line(text, "firewall", "allow_tcp") or line_of("ssh", "port"),
                f"[ssh] port {ssh.port} is not in [firewall] allow_tcp;"
                " the firewall would lock SSH out",
            )
        for proto in ("tcp", "udp"):
            if usable(("firewall", f"allow_{proto}")) and DNS_PORT not in firewall.ports(proto):
                problem(
                    line_of("firewall", f"allow_{proto}"),
                    f"[firewall] allow_{proto} must include {DNS_PORT}: this host is a nameserver"
                    f" and must answer DNS over {proto.upper()}",
                )

    if (
        usable(("ssh", "password_authentication"), ("ssh", "pubkey_authentication"))
        and not ssh.password_authentication
        and not ssh.pubkey_authentication
    ):
        problem(
            line_of("ssh", "pubkey_authentication", "password_authentication"),
            "[ssh] password_authentication and pubkey_authentication are both false;"
            " nobody could log in",
        )

    if usable(("boot", "enabled"), ("boot", "disabled")):
        for name in sorted(set(boot.enabled) & set(boot.disabled)):
            problem(
                line_of("boot", "disabled"),
                f"[boot] {name} is both enabled and disabled",
            )
        needed = {SSH_SERVICE: "sshd would not run: nobody could log in"}
        if usable(("time", "service")):
            needed[policy.time.service] = "the clock would not be synchronised ([time] service)"
        if policy.fail2ban.enabled:
            needed["fail2ban"] = "[fail2ban] enabled needs it running"
        for name, why in needed.items():
            if name in boot.disabled and name not in boot.enabled:
                problem(line_of("boot", "disabled"), f"[boot] disabled names {name}: {why}")
    return problems
