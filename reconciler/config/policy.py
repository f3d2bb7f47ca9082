"""The host hardening policy: `host/policy.toml` in the zone repo, parsed into a frozen model.

The zone repository holds, next to the zones, a policy for the host the primary nameserver
runs on: SSH settings, the firewall, fail2ban, time synchronisation, how `named` runs and which
services must stay off. This module turns the TOML text of that file into a `Policy` value.

It is pure: `parse_policy` takes text (the caller reads the file, from a checkout or a git
revision) and either returns a `Policy` or raises `ValidationError` carrying every problem found
at once -- TOML syntax, unknown tables and keys, wrong types, values out of range, and settings
that contradict each other (the SSH port closed by the firewall, DNS port 53 not open on a
nameserver, no way left to log in over SSH). Every table and key is optional; what is missing
takes the default shown on the dataclasses below.

Callers: `reconciler check` validates `host/policy.toml` with it; `host audit` (compare the
running host with the policy) and `host apply` (make the host match) will use the model.
"""

from __future__ import annotations

import datetime as _dt
import tomllib
from dataclasses import dataclass, field, fields
from typing import Any

from reconciler.config.tomlfile import key_line, syntax_problem, table_line
from reconciler.errors import Problem, ValidationError

DEFAULT_FILE = "host/policy.toml"

DNS_PORT = 53
MIN_PORT = 1
MAX_PORT = 65535


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
    """[firewall]: the host firewall's incoming rules."""

    enabled: bool = True
    allow_tcp: tuple[int, ...] = (22, 53)
    allow_udp: tuple[int, ...] = (53,)
    default_incoming: str = "drop"


@dataclass(frozen=True)
class Fail2banPolicy:
    """[fail2ban]: banning hosts that keep failing to log in."""

    enabled: bool = True
    jails: tuple[str, ...] = ("sshd",)
    bantime: int = 3600
    maxretry: int = 5


@dataclass(frozen=True)
class TimePolicy:
    """[time]: the clock synchronisation service and its servers."""

    service: str = "chrony"
    servers: tuple[str, ...] = ()


@dataclass(frozen=True)
class NamedPolicy:
    """[named]: how the BIND daemon runs."""

    user: str = "bind"
    version_hidden: bool = True
    recursion: bool = False
    allow_transfer_tsig_only: bool = True
    chroot: bool = False


@dataclass(frozen=True)
class ServicesPolicy:
    """[services]: system services that must be disabled."""

    disabled: tuple[str, ...] = ("telnet", "rsh-server", "avahi-daemon")


@dataclass(frozen=True)
class Policy:
    """The whole host policy; each field is one table of `host/policy.toml`."""

    ssh: SSHPolicy = field(default_factory=SSHPolicy)
    firewall: FirewallPolicy = field(default_factory=FirewallPolicy)
    fail2ban: Fail2banPolicy = field(default_factory=Fail2banPolicy)
    time: TimePolicy = field(default_factory=TimePolicy)
    named: NamedPolicy = field(default_factory=NamedPolicy)
    services: ServicesPolicy = field(default_factory=ServicesPolicy)

    def to_dict(self) -> dict[str, dict[str, object]]:
        """A JSON-ready dict: one dict per table, tuples as lists."""
        out: dict[str, dict[str, object]] = {}
        for table in fields(self):
            section = getattr(self, table.name)
            out[table.name] = {f.name: _jsonable(getattr(section, f.name)) for f in fields(section)}
        return out


def _jsonable(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


# --- the schema -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """How one key is checked: its kind, and optionally its allowed values or lower bound."""

    kind: str  # "bool", "int", "str", "port", "str_list", "port_list"
    choices: tuple[str, ...] = ()
    minimum: int | None = None


_SCHEMA: dict[str, tuple[type, dict[str, _Field]]] = {
    "ssh": (
        SSHPolicy,
        {
            "port": _Field("port"),
            "permit_root_login": _Field("bool"),
            "password_authentication": _Field("bool"),
            "pubkey_authentication": _Field("bool"),
            "allow_users": _Field("str_list"),
            "max_auth_tries": _Field("int", minimum=1),
        },
    ),
    "firewall": (
        FirewallPolicy,
        {
            "enabled": _Field("bool"),
            "allow_tcp": _Field("port_list"),
            "allow_udp": _Field("port_list"),
            "default_incoming": _Field("str", choices=("drop", "reject")),
        },
    ),
    "fail2ban": (
        Fail2banPolicy,
        {
            "enabled": _Field("bool"),
            "jails": _Field("str_list"),
            "bantime": _Field("int", minimum=1),
            "maxretry": _Field("int", minimum=1),
        },
    ),
    "time": (
        TimePolicy,
        {
            "service": _Field("str", choices=("chrony", "systemd-timesyncd", "ntpsec")),
            "servers": _Field("str_list"),
        },
    ),
    "named": (
        NamedPolicy,
        {
            "user": _Field("str"),
            "version_hidden": _Field("bool"),
            "recursion": _Field("bool"),
            "allow_transfer_tsig_only": _Field("bool"),
            "chroot": _Field("bool"),
        },
    ),
    "services": (
        ServicesPolicy,
        {
            "disabled": _Field("str_list"),
        },
    ),
}


def _type_name(value: object) -> str:
    """The TOML name of a parsed value's type, for messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, _dt.datetime):
        return "datetime"
    if isinstance(value, _dt.date):
        return "date"
    if isinstance(value, _dt.time):
        return "time"
    return type(value).__name__


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_scalar(value: object, kind: str, spec: _Field, where: str) -> str | None:
    """The message if `value` is wrong for a scalar of `kind`, else None."""
    if kind == "bool":
        if not isinstance(value, bool):
            return f"{where} must be a boolean, got {_type_name(value)}"
        return None
    if kind in ("int", "port"):
        if not _is_int(value):
            return f"{where} must be an integer, got {_type_name(value)}"
        assert isinstance(value, int)
        if kind == "port" and not MIN_PORT <= value <= MAX_PORT:
            return f"{where} must be a port between {MIN_PORT} and {MAX_PORT}, got {value}"
        if spec.minimum is not None and value < spec.minimum:
            return f"{where} must be at least {spec.minimum}, got {value}"
        return None
    # kind == "str"
    if not isinstance(value, str):
        return f"{where} must be a string, got {_type_name(value)}"
    if not value.strip():
        return f"{where} must not be empty"
    if spec.choices and value not in spec.choices:
        allowed = ", ".join(repr(c) for c in spec.choices)
        return f"{where} must be one of {allowed}, got {value!r}"
    return None


def _check_value(value: object, spec: _Field, where: str) -> tuple[object, list[str]]:
    """Check one value against its field; return it (lists as tuples) and the messages."""
    if spec.kind not in ("str_list", "port_list"):
        message = _check_scalar(value, spec.kind, spec, where)
        return value, [] if message is None else [message]
    element_kind = "str" if spec.kind == "str_list" else "port"
    noun = "strings" if element_kind == "str" else "integers"
    if not isinstance(value, list):
        return value, [f"{where} must be an array of {noun}, got {_type_name(value)}"]
    messages = []
    for index, item in enumerate(value):
        message = _check_scalar(item, element_kind, spec, f"{where}[{index}]")
        if message is not None:
            messages.append(message)
    return tuple(value), messages


# --- parsing ----------------------------------------------------------------------------------


def parse_policy(text: str, file: str = DEFAULT_FILE) -> Policy:
    """Parse the text of `host/policy.toml` into a `Policy`.

    Raises `ValidationError` with one `Problem` per thing wrong, all of them at once.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError([syntax_problem(file, exc)]) from None

    problems: list[Problem] = []
    sections: dict[str, Any] = {}
    invalid: set[tuple[str, str]] = set()  # (table, key) whose value was refused

    for name in data:
        if name not in _SCHEMA:
            problems.append(
                Problem(file=file, line=table_line(text, name), message=f"unknown table [{name}]")
            )

    for table, (cls, spec) in _SCHEMA.items():
        raw = data.get(table, {})
        if not isinstance(raw, dict):
            problems.append(
                Problem(
                    file=file,
                    line=table_line(text, table),
                    message=f"[{table}] must be a table, got {_type_name(raw)}",
                )
            )
            invalid.update((table, key) for key in spec)
            sections[table] = cls()
            continue
        values: dict[str, object] = {}
        for key, value in raw.items():
            line = key_line(text, table, key)
            if key not in spec:
                problems.append(
                    Problem(file=file, line=line, message=f"unknown key '{key}' in [{table}]")
                )
                continue
            checked, messages = _check_value(value, spec[key], f"[{table}] {key}")
            if messages:
                invalid.add((table, key))
                problems.extend(Problem(file=file, line=line, message=m) for m in messages)
            else:
                values[key] = checked
        sections[table] = cls(**values)

    policy = Policy(**sections)
    problems.extend(_contradictions(policy, invalid, text, file))
    if problems:
        # In file order; problems without a line (rare) last.
        problems.sort(key=lambda p: (p.line is None, p.line or 0))
        raise ValidationError(problems)
    return policy


def _contradictions(
    policy: Policy, invalid: set[tuple[str, str]], text: str, file: str
) -> list[Problem]:
    """Settings that are each valid but cannot hold together.

    A check is skipped when a value it needs was itself refused (in `invalid`): the default
    standing in for it would only produce a misleading second problem.
    """
    problems: list[Problem] = []
    ssh, firewall = policy.ssh, policy.firewall

    def usable(*names: tuple[str, str]) -> bool:
        return not any(name in invalid for name in names)

    def line_of(table: str, *keys: str) -> int | None:
        for key in keys:
            line = key_line(text, table, key)
            if line is not None:
                return line
        return table_line(text, table)

    if firewall.enabled and usable(("firewall", "enabled")):
        if (
            usable(("ssh", "port"), ("firewall", "allow_tcp"))
            and ssh.port not in firewall.allow_tcp
        ):
            line = key_line(text, "firewall", "allow_tcp") or line_of("ssh", "port")
            problems.append(
                Problem(
                    file=file,
                    line=line,
                    message=(
                        f"[ssh] port {ssh.port} is not in [firewall] allow_tcp;"
                        " the firewall would lock SSH out"
                    ),
                )
            )
        for proto, allowed in (("tcp", firewall.allow_tcp), ("udp", firewall.allow_udp)):
            if usable(("firewall", f"allow_{proto}")) and DNS_PORT not in allowed:
                problems.append(
                    Problem(
                        file=file,
                        line=line_of("firewall", f"allow_{proto}"),
                        message=(
                            f"[firewall] allow_{proto} must include {DNS_PORT}:"
                            f" this host is a nameserver and must answer DNS over"
                            f" {proto.upper()}"
                        ),
                    )
                )

    if (
        usable(("ssh", "password_authentication"), ("ssh", "pubkey_authentication"))
        and not ssh.password_authentication
        and not ssh.pubkey_authentication
    ):
        problems.append(
            Problem(
                file=file,
                line=line_of("ssh", "pubkey_authentication", "password_authentication"),
                message=(
                    "[ssh] password_authentication and pubkey_authentication are both false;"
                    " nobody could log in"
                ),
            )
        )
    return problems
