"""reconciler.toml: the zone repo's topology and policy, parsed and validated.

Pure: `parse_repo_config` takes the file's text and returns a frozen value or
raises `ValidationError` with every problem found. Called by `check`, `plan`
and every later stage that needs the servers, serial scheme, safety limits or
named's load-time limits ([limits], used where the primary's own are not at hand) or
the DNSSEC policies ([dnssec], config/dnssec.py).
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.config.dnssec import TABLE as DNSSEC
from reconciler.config.dnssec import parse_dnssec
from reconciler.config.dynamic import TABLE as DYNAMIC
from reconciler.config.dynamic import parse_dynamic
from reconciler.config.tomlfile import (
    check_types,
    key_line,
    syntax_problem,
    table_line,
    value_problem,
)
from reconciler.config.waivers import TABLE as WAIVE
from reconciler.config.waivers import Waiver, parse_waivers
from reconciler.errors import Problem, ValidationError
from reconciler.model.dnssec import Dnssec
from reconciler.model.dynamic import Dynamic
from reconciler.model.limits import LoadLimits
from reconciler.model.names import DEFAULT_KEY_NAME, KEY_NAME
from reconciler.model.plan import Safety
from reconciler.model.serial import SCHEMES, Scheme

CONFIG_FILE = "reconciler.toml"
LIMITS_SOURCE = f"[limits] in {CONFIG_FILE}"

Role = Literal["primary", "secondary"]  # a server's part: the one that loads, or one that copies


@dataclass(frozen=True)
class Server:
    """A nameserver: where the reconciler reaches it (not what the zone publishes)."""

    name: str
    address: str
    port: int = 53


@dataclass(frozen=True)
class RepoConfig:
    primary: Server
    secondaries: tuple[Server, ...] = ()
    tsig_key: str = DEFAULT_KEY_NAME  # the TSIG key's name; the secret stays on the hosts
    tsig_algorithm: str = "hmac-sha256"
    serial_scheme: Scheme = "date"
    zones_dir: str = "zones"
    safety: Safety = Safety()
    limits: LoadLimits = LoadLimits(source=LIMITS_SOURCE)  # where no primary's are at hand
    variables: dict[str, Any] = field(default_factory=dict)
    waivers: tuple[Waiver, ...] = ()
    dnssec: Dnssec = Dnssec()  # which policy signs each zone ([dnssec])
    dynamic: Dynamic = Dynamic()  # names an RFC 2136 client may update ([dynamic])

    @property
    def servers(self) -> tuple[Server, ...]:
        return (self.primary, *self.secondaries)


DEFAULT = RepoConfig(primary=Server("primary", "127.0.0.1"))

_TOP = {"primary", "secondary", "transfer", "serial", "safety", "limits", "zones", "vars"}
_TOP |= {WAIVE, DNSSEC, DYNAMIC}
_SERVER = {"name": str, "address": str, "port": int}
_TABLES: dict[str, dict[str, type | tuple[type, ...]]] = {
    "transfer": {"tsig_key": str, "algorithm": str},
    "serial": {"scheme": str},
    "safety": {
        "max_change_percent": (int, float),
        "min_records": int,
        "max_zone_bytes": int,
        "max_records": int,
    },
    "limits": {
        "max_records_per_type": int,
        "max_types_per_name": int,
        "max_zone_ttl": int,
        "max_records": int,
    },
    "zones": {"directory": str},
}
_ALGORITHMS = {"hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5"}


@dataclass
class _Doc:
    """The file being read and the problems found so far: every step adds to them."""

    text: str
    file: str
    problems: list[Problem] = field(default_factory=list)

    def at_key(self, table: str, key: str, message: str) -> None:
        self.problems.append(Problem(self.file, message, line=key_line(self.text, table, key)))

    def at_table(self, table: str, message: str) -> None:
        self.problems.append(Problem(self.file, message, line=table_line(self.text, table)))


def _server(doc: _Doc, table: str, raw: Any) -> Server | None:
    if not isinstance(raw, dict):
        doc.at_table(table, f"[{table}] must be a table")
        return None
    before = len(doc.problems)
    doc.problems += check_types(doc.text, doc.file, table, raw, _SERVER)
    for needed in ("name", "address"):
        if needed not in raw:
            doc.at_table(table, f"[{table}] needs '{needed}'")
    if len(doc.problems) > before:
        return None
    try:
        ipaddress.ip_address(raw["address"])
    except ValueError:
        doc.at_key(table, "address", f"[{table}] address '{raw['address']}' is not an IP address")
    port = raw.get("port", Server.port)
    if not 1 <= port <= 65535:
        doc.at_key(table, "port", f"[{table}] port {port} is out of range 1-65535")
    if len(doc.problems) > before:
        return None
    return Server(raw["name"], raw["address"], port)


def _tables(doc: _Doc, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Unknown top-level keys, and each plain table type-checked against its schema."""
    for key in data:
        if key not in _TOP:
            doc.at_table(key, f"unknown key '{key}'")
    tables: dict[str, dict[str, Any]] = {}
    for name, schema in _TABLES.items():
        raw = data.get(name, {})
        if not isinstance(raw, dict):
            doc.at_table(name, f"[{name}] must be a table")
            raw = {}
        doc.problems += check_types(doc.text, doc.file, name, raw, schema)
        # Only well-typed values go on: the problems above say what was left out.
        tables[name] = {
            k: v for k, v in raw.items() if k in schema and not value_problem(v, schema[k])
        }
    return tables


def _servers(doc: _Doc, data: dict[str, Any]) -> tuple[Server | None, tuple[Server, ...]]:
    primary = None
    if "primary" in data:
        primary = _server(doc, "primary", data["primary"])
    else:
        doc.problems.append(
            Problem(doc.file, "missing [primary] (name and address of the primary)")
        )
    raw_secondaries = data.get("secondary", [])
    if not isinstance(raw_secondaries, list):
        doc.problems.append(Problem(doc.file, "[[secondary]] must be an array of tables"))
        raw_secondaries = []
    secondaries = [_server(doc, "secondary", s) for s in raw_secondaries]
    names = [s.name for s in [primary, *secondaries] if s]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        doc.problems.append(Problem(doc.file, f"server name '{duplicate}' is used twice"))
    return primary, tuple(s for s in secondaries if s)


def _scheme(doc: _Doc, serial: dict[str, Any]) -> Scheme:
    raw = serial.get("scheme", RepoConfig.serial_scheme)
    if isinstance(raw, str) and raw not in SCHEMES:
        doc.at_key(
            "serial", "scheme", f"[serial] scheme '{raw}' is not one of {', '.join(SCHEMES)}"
        )
    return next((s for s in SCHEMES if s == raw), RepoConfig.serial_scheme)


def _transfer(doc: _Doc, transfer: dict[str, Any]) -> tuple[str, str]:
    """The TSIG key's name (the secret stays on the hosts) and its algorithm."""
    name = transfer.get("tsig_key", RepoConfig.tsig_key)
    if isinstance(name, str) and not KEY_NAME.match(name):
        doc.at_key("transfer", "tsig_key", f"[transfer] tsig_key '{name}' is not a valid key name")
    algorithm = transfer.get("algorithm", RepoConfig.tsig_algorithm)
    if isinstance(algorithm, str) and algorithm not in _ALGORITHMS:
        doc.at_key("transfer", "algorithm", f"[transfer] algorithm '{algorithm}' is not supported")
    return name, algorithm


def _safety(doc: _Doc, safety: dict[str, Any]) -> Safety:
    default = Safety()
    percent = safety.get("max_change_percent", default.max_change_percent)
    if isinstance(percent, int | float) and not 0 < percent <= 100:
        doc.at_key(
            "safety", "max_change_percent", "[safety] max_change_percent must be in (0, 100]"
        )
    for limit in ("min_records", "max_zone_bytes", "max_records"):
        value = safety.get(limit, 1)
        if isinstance(value, int) and value < 1:
            doc.at_key("safety", limit, f"[safety] {limit} must be positive")
    return Safety(
        max_change_percent=float(percent),
        min_records=safety.get("min_records", default.min_records),
        max_zone_bytes=safety.get("max_zone_bytes", default.max_zone_bytes),
        max_records=safety.get("max_records", default.max_records),
    )


def _limits(doc: _Doc, limits: dict[str, Any]) -> LoadLimits:
    """named's load-time limits, where the primary's own are not at hand (0: no limit)."""
    for limit in _TABLES["limits"]:
        value = limits.get(limit, 0)
        if isinstance(value, int) and not 0 <= value <= 2**31 - 1:
            doc.at_key(
                "limits", limit, f"[limits] {limit} must be 0 (no limit) or a positive number"
            )
    return LoadLimits(**limits, source=LIMITS_SOURCE)


def _zones_dir(doc: _Doc, zones: dict[str, Any]) -> str:
    directory = zones.get("directory", RepoConfig.zones_dir)
    if isinstance(directory, str) and (directory.startswith("/") or ".." in directory.split("/")):
        doc.at_key("zones", "directory", f"[zones] directory '{directory}' must be inside the repo")
    return str(directory).strip("/")


def _variables(doc: _Doc, data: dict[str, Any]) -> dict[str, Any]:
    variables = data.get("vars", {})
    if not isinstance(variables, dict):
        doc.at_table("vars", "[vars] must be a table")
        return {}
    return variables


def _waivers(doc: _Doc, data: dict[str, Any]) -> tuple[Waiver, ...]:
    waivers, found = parse_waivers(doc.text, doc.file, data.get(WAIVE, {}))
    doc.problems += found
    return waivers


def _dnssec(doc: _Doc, data: dict[str, Any]) -> Dnssec:
    dnssec, found = parse_dnssec(doc.text, doc.file, data.get(DNSSEC, {}))
    doc.problems += found
    return dnssec


def _dynamic(doc: _Doc, data: dict[str, Any]) -> Dynamic:
    dynamic, found = parse_dynamic(doc.text, doc.file, data.get(DYNAMIC, {}))
    doc.problems += found
    return dynamic


def parse_repo_config(text: str, file: str = CONFIG_FILE) -> RepoConfig:
    """Parse and validate reconciler.toml; raise ValidationError with every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError([syntax_problem(file, exc)]) from None
    doc = _Doc(text, file)
    tables = _tables(doc, data)
    primary, secondaries = _servers(doc, data)
    tsig_key, algorithm = _transfer(doc, tables["transfer"])
    config = RepoConfig(
        primary=primary or DEFAULT.primary,
        secondaries=secondaries,
        tsig_key=tsig_key,
        tsig_algorithm=algorithm,
        serial_scheme=_scheme(doc, tables["serial"]),
        zones_dir=_zones_dir(doc, tables["zones"]),
        safety=_safety(doc, tables["safety"]),
        limits=_limits(doc, tables["limits"]),
        variables=_variables(doc, data),
        waivers=_waivers(doc, data),
        dnssec=_dnssec(doc, data),
        dynamic=_dynamic(doc, data),
    )
    for zone in config.dynamic.zones:  # a frozen inline-signed zone is not one deploy can read
        if config.dnssec.signed(zone.zone):
            message = (
                f'[{DYNAMIC}."{zone.zone}"]: {zone.zone} is signed ([dnssec]); dynamic names '
                "in a signed zone are not supported yet"
            )
            line = table_line(text, f"{DYNAMIC}.{zone.zone}") or table_line(text, DYNAMIC)
            doc.problems.append(Problem(file, message, line))
    if doc.problems or primary is None:
        raise ValidationError(doc.problems)
    return config
