"""reconciler.toml: the zone repo's topology and policy, parsed and validated.

Pure: `parse_repo_config` takes the file's text and returns a frozen value or
raises `ValidationError` with every problem found. Called by `check`, `plan`
and every later stage that needs the servers, serial scheme, safety limits or
named's load-time limits ([limits], used where the primary's own are not at hand).
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from reconciler.config.tomlfile import check_types, key_line, syntax_problem, table_line
from reconciler.config.waivers import TABLE as WAIVE
from reconciler.config.waivers import Waiver, parse_waivers
from reconciler.errors import Problem, ValidationError
from reconciler.model.limits import LoadLimits
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
    tsig_key: str | None = None
    tsig_algorithm: str = "hmac-sha256"
    serial_scheme: Scheme = "date"
    zones_dir: str = "zones"
    safety: Safety = Safety()
    limits: LoadLimits = LoadLimits(source=LIMITS_SOURCE)  # where no primary's are at hand
    variables: dict[str, Any] = field(default_factory=dict)
    waivers: tuple[Waiver, ...] = ()

    @property
    def servers(self) -> tuple[Server, ...]:
        return (self.primary, *self.secondaries)


DEFAULT = RepoConfig(primary=Server("primary", "127.0.0.1"))

_TOP = {"primary", "secondary", "transfer", "serial", "safety", "limits", "zones", "vars", WAIVE}
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
_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _server(text: str, file: str, table: str, raw: Any, problems: list[Problem]) -> Server | None:
    if not isinstance(raw, dict):
        problems.append(Problem(file, f"[{table}] must be a table", line=table_line(text, table)))
        return None
    found = check_types(text, file, table, raw, _SERVER)
    for needed in ("name", "address"):
        if needed not in raw:
            found.append(Problem(file, f"[{table}] needs '{needed}'", line=table_line(text, table)))
    if not found:
        try:
            ipaddress.ip_address(raw["address"])
        except ValueError:
            found.append(
                Problem(
                    file,
                    f"[{table}] address '{raw['address']}' is not an IP address",
                    line=key_line(text, table, "address"),
                )
            )
        port = raw.get("port", 53)
        if not 1 <= port <= 65535:
            found.append(
                Problem(
                    file,
                    f"[{table}] port {port} is out of range 1-65535",
                    line=key_line(text, table, "port"),
                )
            )
    problems.extend(found)
    return None if found else Server(raw["name"], raw["address"], raw.get("port", 53))


def parse_repo_config(text: str, file: str = CONFIG_FILE) -> RepoConfig:
    """Parse and validate reconciler.toml; raise ValidationError with every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError([syntax_problem(file, exc)]) from None
    problems: list[Problem] = []
    for key in data:
        if key not in _TOP:
            problems.append(Problem(file, f"unknown key '{key}'", line=table_line(text, key)))
    tables: dict[str, dict[str, Any]] = {}
    for name, schema in _TABLES.items():
        raw = data.get(name, {})
        if not isinstance(raw, dict):
            problems.append(Problem(file, f"[{name}] must be a table", line=table_line(text, name)))
            raw = {}
        problems += check_types(text, file, name, raw, schema)
        tables[name] = raw

    primary = None
    if "primary" in data:
        primary = _server(text, file, "primary", data["primary"], problems)
    else:
        problems.append(Problem(file, "missing [primary] (name and address of the primary)"))
    raw_secondaries = data.get("secondary", [])
    if not isinstance(raw_secondaries, list):
        problems.append(Problem(file, "[[secondary]] must be an array of tables"))
        raw_secondaries = []
    secondaries = [_server(text, file, "secondary", s, problems) for s in raw_secondaries]
    names = [s.name for s in [primary, *secondaries] if s]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(file, f"server name '{duplicate}' is used twice"))

    transfer, serial, safety = tables["transfer"], tables["serial"], tables["safety"]
    scheme = serial.get("scheme", "date")
    if isinstance(scheme, str) and scheme not in SCHEMES:
        problems.append(
            Problem(
                file,
                f"[serial] scheme '{scheme}' is not one of {', '.join(SCHEMES)}",
                line=key_line(text, "serial", "scheme"),
            )
        )
    key = transfer.get("tsig_key")
    if isinstance(key, str) and not _KEY_NAME.match(key):
        problems.append(
            Problem(
                file,
                f"[transfer] tsig_key '{key}' is not a valid key name",
                line=key_line(text, "transfer", "tsig_key"),
            )
        )
    algorithm = transfer.get("algorithm", "hmac-sha256")
    if isinstance(algorithm, str) and algorithm not in _ALGORITHMS:
        problems.append(
            Problem(
                file,
                f"[transfer] algorithm '{algorithm}' is not supported",
                line=key_line(text, "transfer", "algorithm"),
            )
        )
    percent = safety.get("max_change_percent", 30)
    if isinstance(percent, int | float) and not 0 < percent <= 100:
        problems.append(
            Problem(
                file,
                "[safety] max_change_percent must be in (0, 100]",
                line=key_line(text, "safety", "max_change_percent"),
            )
        )
    for limit in ("min_records", "max_zone_bytes", "max_records"):
        value = safety.get(limit, 1)
        if isinstance(value, int) and value < 1:
            problems.append(
                Problem(
                    file, f"[safety] {limit} must be positive", line=key_line(text, "safety", limit)
                )
            )
    limits = tables["limits"]
    for limit in _TABLES["limits"]:
        value = limits.get(limit, 0)
        if isinstance(value, int) and not 0 <= value <= 2**31 - 1:
            problems.append(
                Problem(
                    file,
                    f"[limits] {limit} must be 0 (no limit) or a positive number",
                    line=key_line(text, "limits", limit),
                )
            )
    variables = data.get("vars", {})
    if not isinstance(variables, dict):
        problems.append(Problem(file, "[vars] must be a table", line=table_line(text, "vars")))
        variables = {}
    directory = tables["zones"].get("directory", "zones")
    if isinstance(directory, str) and (directory.startswith("/") or ".." in directory.split("/")):
        problems.append(
            Problem(
                file,
                f"[zones] directory '{directory}' must be inside the repo",
                line=key_line(text, "zones", "directory"),
            )
        )

    waivers, found = parse_waivers(text, file, data.get(WAIVE, {}))
    problems += found

    if problems or primary is None:
        raise ValidationError(problems)
    return RepoConfig(
        primary=primary,
        secondaries=tuple(s for s in secondaries if s),
        tsig_key=key,
        tsig_algorithm=algorithm,
        serial_scheme=cast(Scheme, scheme),  # checked against SCHEMES above
        zones_dir=directory.strip("/"),
        safety=Safety(
            max_change_percent=float(percent),
            min_records=safety.get("min_records", 10),
            max_zone_bytes=safety.get("max_zone_bytes", Safety.max_zone_bytes),
            max_records=safety.get("max_records", Safety.max_records),
        ),
        limits=LoadLimits(**limits, source=LIMITS_SOURCE),
        variables=variables,
        waivers=waivers,
    )
