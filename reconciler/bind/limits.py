"""The primary's load-time limits, read from its named.conf with `named-checkconf -p`.

`named-checkconf -p -x` prints the whole configuration (includes resolved,
durations mostly in seconds, secrets replaced by `?`); `parse_limits` reads the
settings that make named refuse a zone at load, for the server and for each zone
statement: `max-records-per-type`, `max-types-per-name`, `max-records`, and
`max-zone-ttl` or, for a zone with a `dnssec-policy` other than `none`, the
policy's (named ignores the zone's own then; `insecure` has none). Zone over view
over options over BIND's defaults. The printed configuration is never logged or
kept: only these numbers leave this module. Called by check/inspect.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from reconciler.bind.keys import scrub
from reconciler.bind.tools import LIMITS, run_tool
from reconciler.errors import BindError
from reconciler.model.limits import (
    DEFAULT_POLICY_MAX_ZONE_TTL,
    MAX_RECORDS_PER_TYPE,
    MAX_TYPES_PER_NAME,
    Limits,
    LoadLimits,
)

_WARNING = re.compile(r"^[^\s{};]+:\d+: ")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{};]|[^\s{};"]+')
_ISO = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$",
    re.IGNORECASE,
)
_ISO_SECONDS = (31536000, 2592000, 604800, 86400, 3600, 60, 1)
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


@dataclass(frozen=True)
class Statement:
    """One named.conf statement: its words, and its `{ }` block if it has one."""

    words: tuple[str, ...]
    body: tuple[Statement, ...] | None = None


def primary_limits(named_conf: Path) -> Limits:
    """The limits the primary's named loads zones under; BindError when they cannot be read."""
    named_conf = Path(named_conf)
    return parse_limits(printed_conf(named_conf), f"the primary's {named_conf}")


def printed_conf(named_conf: Path) -> str:
    """`named-checkconf -p -x` of `named_conf`: the whole configuration, includes resolved and
    secrets left out; BindError (its first line, scrubbed) when named-checkconf refuses it."""
    run = run_tool("named-checkconf", ["-p", "-x"], [str(named_conf)], cwd=named_conf.parent)
    stopped = run.stopped("named-checkconf", LIMITS)
    if stopped:
        raise BindError(f"{named_conf}: {stopped}")
    if run.returncode != 0:
        output = (run.stderr + run.stdout).decode("utf-8", "replace")
        lines = scrub(output, cwd=named_conf.parent).strip().splitlines()
        raise BindError(lines[0] if lines else f"{named_conf}: named-checkconf failed")
    return run.stdout.decode("utf-8", "replace")


def parse(text: str) -> tuple[Statement, ...]:
    """named-checkconf -p output as statements (quotes kept off the words).

    Its warnings (`file:line: ...`) come on the same stream, before the configuration.
    """
    text = "\n".join(line for line in text.splitlines() if not _WARNING.match(line))
    tokens = _TOKEN.findall(text)
    position = 0

    def block() -> tuple[Statement, ...]:
        nonlocal position
        found: list[Statement] = []
        words: list[str] = []
        body: tuple[Statement, ...] | None = None
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == "{":
                body = block()
            elif token == "}":
                break
            elif token == ";":
                if words or body is not None:
                    found.append(Statement(tuple(words), body))
                words, body = [], None
            else:
                words.append(token[1:-1] if token.startswith('"') else token)
        return tuple(found)

    return block()


def parse_limits(text: str, source: str) -> Limits:
    """The limits of the server and of each zone statement in named-checkconf -p output."""
    top = parse(text)
    options = _first(top, "options")
    policies = {s.words[1]: s.body or () for s in top if _named(s, "dnssec-policy")}
    zones: dict[str, LoadLimits] = {}
    for statement in top:
        if _named(statement, "zone"):
            zones[_zone(statement)] = _limits([statement.body, options], policies, source)
        elif _named(statement, "view"):
            for inner in statement.body or ():
                if _named(inner, "zone"):
                    chain = [inner.body, statement.body, options]
                    zones[_zone(inner)] = _limits(chain, policies, source)
    return Limits(_limits([options], policies, source), zones)


def _named(statement: Statement, keyword: str) -> bool:
    return statement.words[:1] == (keyword,) and len(statement.words) > 1


def _zone(statement: Statement) -> str:
    return statement.words[1].lower().rstrip(".")


def _first(statements: tuple[Statement, ...], keyword: str) -> tuple[Statement, ...] | None:
    for statement in statements:
        if statement.words[:1] == (keyword,):
            return statement.body
    return None


def _setting(chain: list[tuple[Statement, ...] | None], key: str) -> str | None:
    """The first value of `key` in the innermost block that sets it."""
    for body in chain:
        for statement in body or ():
            if statement.words[:1] == (key,) and len(statement.words) > 1:
                return statement.words[1]
    return None


def _limits(
    chain: list[tuple[Statement, ...] | None],
    policies: dict[str, tuple[Statement, ...]],
    source: str,
) -> LoadLimits:
    policy = _setting(chain, "dnssec-policy") or "none"
    if policy == "none":
        ttl = _seconds(_setting(chain, "max-zone-ttl"))
    elif policy == "insecure":
        ttl = 0
    else:
        ttl = _seconds(_setting([policies.get(policy)], "max-zone-ttl"))
        ttl = ttl or DEFAULT_POLICY_MAX_ZONE_TTL
    return LoadLimits(
        max_records_per_type=_number(_setting(chain, "max-records-per-type"), MAX_RECORDS_PER_TYPE),
        max_types_per_name=_number(_setting(chain, "max-types-per-name"), MAX_TYPES_PER_NAME),
        max_zone_ttl=ttl,
        max_records=_number(_setting(chain, "max-records"), 0),
        source=source,
    )


def _number(value: str | None, default: int) -> int:
    return int(value) if value is not None and value.isdigit() else default


def _seconds(value: str | None) -> int:
    """A named.conf duration in seconds: `3600`, `1h30m`, `P1DT2H`; 0 for none or unlimited."""
    if value is None or value.lower() == "unlimited":
        return 0
    if value.isdigit():
        return int(value)
    iso = _ISO.match(value)
    if iso:
        return sum(int(n or 0) * unit for n, unit in zip(iso.groups(), _ISO_SECONDS, strict=True))
    units = re.findall(r"(\d+)([wdhms]?)", value.lower())
    return sum(int(n) * _UNITS.get(u or "s", 1) for n, u in units)
