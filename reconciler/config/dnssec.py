"""reconciler.toml's `[dnssec]`: which policy signs each zone, and the repo's policies.

    [dnssec]
    policy = "none"                 # every zone's, unless [dnssec.zones] says otherwise
    [dnssec.zones]
    "example.com" = "signed"        # none, default, insecure, or a policy below
    [dnssec.policies.signed]
    algorithm = "ed25519"           # model/dnssec.py ALGORITHMS
    keys = "csk"                    # or "ksk-zsk"
    csk_lifetime = "unlimited"      # or a duration: 3600, "30d", "1w2d"
    denial = "nsec3"                # or "nsec"; NSEC3 always with iterations 0, no salt
    nsec3_optout = false
    dnskey_ttl = "1h"               # and the other DURATIONS of model/dnssec.py

Pure: every problem names reconciler.toml and the line. Called by config/repo.py.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.config.tomlfile import key_line, table_line, value_problem
from reconciler.errors import ConfigError, Problem
from reconciler.model.dnssec import (
    ALGORITHMS,
    BUILTIN,
    DURATIONS,
    LIFETIMES,
    NONE,
    Dnssec,
    Policy,
)
from reconciler.model.names import checked_zone_name

TABLE = "dnssec"
_POLICY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")
_UNITS = (604800, 86400, 3600, 60, 1)
_MAX_SECONDS = 2**31 - 1
_POLICY_KEYS = {"algorithm", "keys", "denial", "nsec3_optout", *LIFETIMES, *DURATIONS}
_DEFAULT_VALIDITY, _DEFAULT_REFRESH = 14 * 86400, 5 * 86400  # BIND 9.18's


class _Reader:
    """reconciler.toml's text and the problems found in [dnssec] so far."""

    def __init__(self, text: str, file: str) -> None:
        self.text, self.file = text, file
        self.problems: list[Problem] = []

    def at(self, table: str, key: str | None, message: str) -> None:
        line = key_line(self.text, table, key) if key else None
        self.problems.append(Problem(self.file, message, line or table_line(self.text, table)))


def seconds(value: object) -> int | None:
    """A duration in seconds: an integer, or "30d", "1w2d", "12h", "90m", "45s"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_SECONDS else None
    if not isinstance(value, str) or not value.strip():
        return None
    found = _DURATION.match(value.strip().lower())
    if not found or not any(found.groups()):
        return None
    total = sum(int(n) * unit for n, unit in zip(found.groups(), _UNITS, strict=True) if n)
    return total if total <= _MAX_SECONDS else None


def _policy(reader: _Reader, name: str, raw: Any) -> Policy | None:
    table = f"{TABLE}.policies.{name}"
    where = f"[{table}]"
    if not _POLICY_NAME.match(name) or name in (NONE, *BUILTIN):
        reader.at(
            table,
            None,
            f"{where}: policy name {name!r} is BIND's own or not a plain name "
            "(letters, digits, - and _)",
        )
        return None
    if not isinstance(raw, dict):
        reader.at(table, None, f"{where} must be a table")
        return None
    before = len(reader.problems)
    for key, value in raw.items():
        if key not in _POLICY_KEYS:
            reader.at(table, key, f"unknown key '{key}' in {where}")
        elif key == "nsec3_optout":
            wrong = value_problem(value, bool)
            if wrong:
                reader.at(table, key, f"{where} {key} {wrong}")
        elif key in ("algorithm", "keys", "denial") and not isinstance(value, str):
            reader.at(table, key, f"{where} {key} must be a string")
    algorithm = str(raw.get("algorithm", "ecdsap256sha256")).lower()
    if algorithm not in ALGORITHMS:
        reader.at(
            table,
            "algorithm",
            f"{where} algorithm {raw.get('algorithm')!r} is not one of {', '.join(ALGORITHMS)}",
        )
    keys = raw.get("keys", "csk")
    if keys not in ("csk", "ksk-zsk"):
        reader.at(table, "keys", f'{where} keys must be "csk" or "ksk-zsk", got {keys!r}')
    denial = raw.get("denial", "nsec")
    if denial not in ("nsec", "nsec3"):
        reader.at(table, "denial", f'{where} denial must be "nsec" or "nsec3", got {denial!r}')
    if raw.get("nsec3_optout") is True and denial != "nsec3":
        reader.at(table, "nsec3_optout", f'{where} nsec3_optout needs denial = "nsec3"')
    lifetimes: dict[str, int | None] = {}
    for key in LIFETIMES:
        if key not in raw:
            continue
        wanted = "csk" if key == "csk_lifetime" else "ksk-zsk"
        if keys != wanted:
            reader.at(table, key, f'{where} {key} is for keys = "{wanted}"')
        value = raw[key]
        lifetime = None if value == "unlimited" else seconds(value)
        if value != "unlimited" and lifetime is None:
            reader.at(table, key, f'{where} {key} must be "unlimited" or a duration ("90d")')
        lifetimes[key] = lifetime
    durations: dict[str, int] = {}
    for key in DURATIONS:
        if key in raw:
            found = seconds(raw[key])
            if found is None:
                reader.at(table, key, f'{where} {key} must be a duration ("1h", "14d", 3600)')
            else:
                durations[key] = found
    validity = min(
        durations.get("signatures_validity", _DEFAULT_VALIDITY),
        durations.get("signatures_validity_dnskey", _DEFAULT_VALIDITY),
    )
    if durations.get("signatures_refresh", _DEFAULT_REFRESH) >= validity:
        key = "signatures_refresh" if "signatures_refresh" in raw else "signatures_validity"
        reader.at(
            table,
            key,
            f"{where} signatures_refresh must be shorter than signatures_validity: "
            "signatures would expire before BIND refreshes them",
        )
    if len(reader.problems) > before:
        return None
    return Policy(
        name,
        algorithm=algorithm,
        keys="csk" if keys == "csk" else "ksk-zsk",
        denial="nsec3" if denial == "nsec3" else "nsec",
        nsec3_optout=raw.get("nsec3_optout", False),
        durations=durations,
        **lifetimes,
    )


def _choice(reader: _Reader, table: str, key: str, value: object, known: set[str]) -> str | None:
    choices = ", ".join([NONE, *BUILTIN, *sorted(known)])
    if not isinstance(value, str):
        reader.at(table, key, f"[{table}] {key} must be a string: one of {choices}")
        return None
    if value not in (NONE, *BUILTIN) and value not in known:
        reader.at(
            table, key, f"[{table}] {key}: no policy {value!r}: one of {choices}, or describe it "
            f"in [{TABLE}.policies.{value}]"
        )  # fmt: skip
        return None
    return value


def parse_dnssec(text: str, file: str, raw: Any) -> tuple[Dnssec, list[Problem]]:
    """The `[dnssec]` table (`raw`: its parsed value) and what is wrong with it."""
    reader = _Reader(text, file)
    if not isinstance(raw, dict):
        reader.at(TABLE, None, f"[{TABLE}] must be a table")
        return Dnssec(), reader.problems
    for key in raw:
        if key not in ("policy", "zones", "policies"):
            reader.at(TABLE, key, f"unknown key '{key}' in [{TABLE}]")
    raw_policies = raw.get("policies", {})
    if not isinstance(raw_policies, dict):
        reader.at(TABLE, "policies", f"[{TABLE}.policies] must be tables, one per policy")
        raw_policies = {}
    policies, policy_lines = {}, {}
    for name, body in raw_policies.items():
        policy_lines[name] = table_line(text, f"{TABLE}.policies.{name}") or 0
        policy = _policy(reader, name, body)
        if policy is not None:
            policies[name] = policy
    known = set(raw_policies)
    default = _choice(reader, TABLE, "policy", raw.get("policy", NONE), known) or NONE
    raw_zones = raw.get("zones", {})
    if not isinstance(raw_zones, dict):
        reader.at(TABLE, "zones", f'[{TABLE}.zones] must be a table: "example.com" = "policy"')
        raw_zones = {}
    zones, lines = {}, {}
    table = f"{TABLE}.zones"
    for zone, value in raw_zones.items():
        if isinstance(value, dict):
            reader.at(
                table, zone, f"[{table}] {zone} reads as a table: quote a zone name with dots"
            )
            continue
        try:
            name = checked_zone_name(zone).lower().rstrip(".")
        except ConfigError:
            reader.at(table, zone, f"[{table}]: invalid zone name {zone!r}")
            continue
        chosen = _choice(reader, table, zone, value, known)
        if chosen is not None:
            zones[name] = chosen
            lines[name] = key_line(text, table, zone) or 0
    return Dnssec(default, zones, policies, lines, policy_lines), reader.problems
