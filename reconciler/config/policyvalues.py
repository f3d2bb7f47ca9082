"""The kinds of value host/policy.toml holds, and how each is checked.

Policy values end up in files the host runs (sshd_config, an nftables ruleset, fail2ban's
jail file, chrony's sources, named's options) and in the revert script `host apply` arms; a
value that could carry a newline, a quote or a shell word into one of them is refused here,
by a strict pattern per kind. Pure: `check_value` returns the value (arrays as tuples,
firewall entries as `PortRule`) and the messages. Called by config/policy.py only.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
import zoneinfo
from dataclasses import dataclass
from functools import cache
from typing import Literal

MIN_PORT = 1
MAX_PORT = 65535

Kind = Literal[
    "bool",
    "int",
    "str",
    "port",
    "mode",
    "timezone",
    "user",
    "str_list",
    "user_list",
    "login_list",
    "service_list",
    "jail_list",
    "host_list",
    "port_rules",
]


@dataclass(frozen=True)
class PortRule:
    """One firewall entry: a port, open to everyone or only to the `sources` networks."""

    port: int
    sources: tuple[str, ...] = ()

    def to_json(self) -> object:
        return self.port if not self.sources else {"port": self.port, "from": list(self.sources)}

    def __str__(self) -> str:
        return str(self.port) if not self.sources else f"{self.port} from {', '.join(self.sources)}"


@dataclass(frozen=True)
class Field:
    """How one key is checked: its kind, and optionally its allowed values or lower bound."""

    kind: Kind
    choices: tuple[str, ...] = ()
    minimum: int | None = None


# Names that land in generated files and scripts: no spaces, quotes, newlines or shell words.
_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}\$?$")
_LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9_.*?!-]+(@[A-Za-z0-9_.*?:/%-]+)?$")  # AllowUsers
_SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
_JAIL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^[0-9A-Fa-f:.]+$")
_MODE = re.compile(r"^0?[0-7]{3}$")
_NOT_ZONES = {"localtime", "posixrules", "Factory", "posix/Factory", "right/Factory"}

_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "user": (_USER, "a user or group name (lower case, digits, _ . -)"),
    "user_list": (_USER, "a user name (lower case, digits, _ . -)"),
    "login_list": (_LOGIN_PATTERN, "a user name or USER@HOST pattern"),
    "service_list": (_SERVICE, "a service name (letters, digits, _ . @ -)"),
    "jail_list": (_JAIL, "a jail name (letters, digits, _ -)"),
    "host_list": (_HOST, "a host name or address"),
}


@cache
def timezones() -> frozenset[str]:
    """The IANA names of this machine's tz database (empty when it has none)."""
    return frozenset(zoneinfo.available_timezones() - _NOT_ZONES)


def type_name(value: object) -> str:
    """The TOML name of a parsed value's type, for messages."""
    if isinstance(value, bool):
        return "boolean"
    for kind, name in ((int, "integer"), (float, "float"), (str, "string"), (list, "array")):
        if isinstance(value, kind):
            return name
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


def _check_scalar(value: object, kind: str, spec: Field, where: str) -> str | None:
    """The message if `value` is wrong for a scalar of `kind`, else None."""
    if kind == "bool":
        return (
            None
            if isinstance(value, bool)
            else f"{where} must be a boolean, got {type_name(value)}"
        )
    if kind in ("int", "port"):
        if not _is_int(value):
            return f"{where} must be an integer, got {type_name(value)}"
        assert isinstance(value, int)
        if kind == "port" and not MIN_PORT <= value <= MAX_PORT:
            return f"{where} must be a port between {MIN_PORT} and {MAX_PORT}, got {value}"
        if spec.minimum is not None and value < spec.minimum:
            return f"{where} must be at least {spec.minimum}, got {value}"
        return None
    if not isinstance(value, str):
        return f"{where} must be a string, got {type_name(value)}"
    if not value.strip():
        return f"{where} must not be empty"
    if spec.choices and value not in spec.choices:
        allowed = ", ".join(repr(c) for c in spec.choices)
        return f"{where} must be one of {allowed}, got {value!r}"
    if kind == "mode" and not _MODE.fullmatch(value):
        return f'{where} must be an octal file mode like "0640", got {value!r}'
    if kind == "timezone" and value not in timezones():
        if not timezones():
            return f"{where}: no tz database on this machine to check {value!r} against"
        return f"{where} must be an IANA time zone like 'Etc/UTC' or 'Europe/Berlin', got {value!r}"
    if kind in _PATTERNS:
        pattern, what = _PATTERNS[kind]
        if not pattern.fullmatch(value):
            return f"{where} must be {what}, got {value!r}"
    return None


def _check_sources(sources: object, where: str) -> tuple[tuple[str, ...], list[str]]:
    if not isinstance(sources, list) or not sources:
        return (), [f"{where} must be a non-empty array of networks, got {type_name(sources)}"]
    checked: list[str] = []
    messages: list[str] = []
    for index, source in enumerate(sources):
        try:
            if not isinstance(source, str):
                raise ValueError
            checked.append(str(ipaddress.ip_network(source, strict=True)))
        except ValueError:
            messages.append(
                f"{where}[{index}] must be an address or network like 192.0.2.0/24, got {source!r}"
            )
    return tuple(checked), messages


def _check_rule(item: object, where: str) -> tuple[PortRule | None, list[str]]:
    """A firewall entry: a port, or `{ port = P, from = ["NETWORK", ...] }`."""
    if not isinstance(item, dict):
        if not _is_int(item):
            return None, [
                f"{where} must be a port or {{ port = P, from = [...] }}, got {type_name(item)}"
            ]
        message = _check_scalar(item, "port", Field("port"), where)
        if message is not None:
            return None, [message]
        assert isinstance(item, int)
        return PortRule(item), []
    messages = [
        f"{where} has an unknown key '{key}' (known: port, from)"
        for key in item
        if key not in ("port", "from")
    ]
    port = item.get("port")
    if "port" not in item:
        messages.append(f"{where} needs a port")
    else:
        message = _check_scalar(port, "port", Field("port"), f"{where} port")
        if message:
            messages.append(message)
    sources, found = _check_sources(item.get("from"), f"{where} from")
    messages += found
    if messages:
        return None, messages
    assert isinstance(port, int)
    return PortRule(port, sources), []


def check_value(value: object, spec: Field, where: str) -> tuple[object, list[str]]:
    """Check one value against its field; return it (arrays as tuples) and the messages."""
    if not spec.kind.endswith(("_list", "_rules")):
        message = _check_scalar(value, spec.kind, spec, where)
        return value, [] if message is None else [message]
    if spec.kind == "port_rules":
        if not isinstance(value, list):
            return value, [f"{where} must be an array of ports, got {type_name(value)}"]
        rules: list[PortRule] = []
        messages: list[str] = []
        for index, item in enumerate(value):
            rule, found = _check_rule(item, f"{where}[{index}]")
            messages += found
            if rule is not None:
                rules.append(rule)
        return tuple(rules), messages
    if not isinstance(value, list):
        return value, [f"{where} must be an array of strings, got {type_name(value)}"]
    element = "str" if spec.kind == "str_list" else spec.kind
    messages = []
    for index, item in enumerate(value):
        message = _check_scalar(item, element, spec, f"{where}[{index}]")
        if message is not None:
            messages.append(message)
    return tuple(value), messages
