"""Fuzzing the parsers of our own files: only the project's typed errors escape (issue 9).

reconciler.toml (config/repo.py), daemon.toml (config/host.py), host/policy.toml
(config/policy.py), zone file names (model/names.py, check/zonefiles.py), templates
(check/render.py) and the record count before expansion (check/expansion.py) are
given what hypothesis makes of them: documents built from the real files with
values of every TOML type put where the parser expects others, unknown tables and
keys, and raw text. Each parser returns its value or raises a `ReconcilerError`
(a `ValidationError` carrying `Problem`s); anything else is a bug.
"""

from __future__ import annotations

import datetime
import math
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.check.expansion import count
from reconciler.check.render import render
from reconciler.check.zonefiles import load_zone, zone_name
from reconciler.config.host import parse_host_config
from reconciler.config.policy import parse_policy
from reconciler.config.repo import parse_repo_config
from reconciler.devtools.init import template_dir
from reconciler.errors import Problem, ReconcilerError
from reconciler.model.snapshot import FileEntry, Snapshot
from reconciler.model.zone import ZoneText

ROOT = Path(__file__).resolve().parent.parent
REPO_TOML = (template_dir() / "reconciler.toml").read_text()
POLICY_TOML = (template_dir() / "host" / "policy.toml").read_text()
DAEMON_TOML = (ROOT / "deploy" / "daemon.toml.example").read_text()

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- TOML documents --------------------------------------------------------------------------

_KEY_TEXT = st.text(st.sampled_from("abz_-09 .\"'é\\\n"), min_size=1, max_size=8)
_SCALARS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, 1, -1, 53, 65535, 65536, 2**31, 2**32, 10**18, 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=20),
    st.sampled_from(["", ".", "..", "/", "../x", "a\x00b", "127.0.0.1", "::1", "date", "-x"]),
    st.dates(),
    st.datetimes(),
    st.times(),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEY_TEXT, inner, max_size=3),
    max_leaves=6,
)


def _key(key: str) -> str:
    return key if key and all(c.isalnum() or c in "_-" for c in key) else _string(key)


def _string(text: str) -> str:
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise AssertionError(value)


def _dump(document: dict[str, Any]) -> str:
    """TOML text for `document`: top-level scalars, then [tables] and [[arrays of tables]]."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in document.items() if not _is_table(v)]
    for name, value in document.items():
        if isinstance(value, dict):
            lines.append(f"[{_key(name)}]")
            lines += [f"{_key(k)} = {_value(v)}" for k, v in value.items()]
        elif _is_table(value):
            for table in value:
                lines.append(f"[[{_key(name)}]]")
                lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _is_table(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
    )


@st.composite
def _mutated(draw: st.DrawFn, text: str) -> str:
    """The real file with some values replaced, keys added or removed, tables retyped."""
    document: dict[str, Any] = tomllib.loads(text)
    for _ in range(draw(st.integers(1, 4))):
        tables = sorted(document)
        choice = draw(st.sampled_from(["value", "new key", "drop", "new table", "retype"]))
        name = draw(st.sampled_from(tables)) if tables else "x"
        table = document.get(name)
        if choice == "value" and isinstance(table, dict) and table:
            table[draw(st.sampled_from(sorted(table)))] = draw(_VALUES)
        elif choice == "value" and isinstance(table, list) and table:
            entry = table[0]
            if isinstance(entry, dict) and entry:
                entry[draw(st.sampled_from(sorted(entry)))] = draw(_VALUES)
        elif choice == "new key" and isinstance(table, dict):
            table[draw(_KEY_TEXT)] = draw(_VALUES)
        elif choice == "drop" and isinstance(table, dict) and table:
            del table[draw(st.sampled_from(sorted(table)))]
        elif choice == "new table":
            document[draw(_KEY_TEXT)] = draw(st.dictionaries(_KEY_TEXT, _VALUES, max_size=3))
        elif choice == "retype":
            document[name] = draw(_VALUES)
    return _dump(document)


def _documents(real: str) -> st.SearchStrategy[str]:
    garbage = st.text(st.sampled_from("[]=\"'#{},.\n \tabc019-_\\"), max_size=60)
    return st.one_of(_mutated(real), garbage, st.text(max_size=40))


def _only_typed_errors(parse: Any, text: str) -> None:
    try:
        parse(text)
    except ReconcilerError as exc:
        for problem in getattr(exc, "problems", ()):
            assert isinstance(problem, Problem) and problem.message, exc
        assert str(exc), exc


@FUZZ
@given(_documents(REPO_TOML))
def test_reconciler_toml_raises_only_typed_errors(text: str) -> None:
    _only_typed_errors(parse_repo_config, text)


@FUZZ
@given(_documents(DAEMON_TOML))
def test_daemon_toml_raises_only_typed_errors(text: str) -> None:
    _only_typed_errors(lambda t: parse_host_config(t, "daemon.toml", Path("/etc/reconciler")), text)


@FUZZ
@given(_documents(POLICY_TOML))
def test_policy_toml_raises_only_typed_errors(text: str) -> None:
    _only_typed_errors(parse_policy, text)


def test_the_generators_reach_valid_documents() -> None:
    """The mutations start from the real files, which parse: the fuzzing goes deep."""
    assert parse_repo_config(_dump(tomllib.loads(REPO_TOML)))
    assert parse_host_config(_dump(tomllib.loads(DAEMON_TOML)), "daemon.toml", Path("/etc"))
    assert parse_policy(_dump(tomllib.loads(POLICY_TOML)))


# --- zone file names and what a zone file expands to -----------------------------------------

_NAME_CHARS = st.sampled_from("abz09-_.ü \"'\\;$*\x00\x7f/") | st.characters()


@FUZZ
@given(st.text(_NAME_CHARS, min_size=1, max_size=30), st.sampled_from([".zone", ".zone.j2"]))
def test_zone_file_names_give_problems_not_exceptions(stem: str, suffix: str) -> None:
    path = f"zones/{stem}{suffix}"
    name = zone_name(path)
    if not name:
        return
    data = b"$TTL 60\n@ IN SOA ns.x. h.x. 1 2 3 4 5\n@ IN NS ns.x.\n"
    snapshot = Snapshot("fuzz", files={path: FileEntry(path, len(data), data)})
    zone, problems = load_zone(snapshot, "zones", name, path, {}, 1 << 20)
    assert zone is not None or problems
    assert all(isinstance(p, Problem) for p in problems)


_ZONE_LINES = st.sampled_from(
    [
        "$GENERATE 1-10 h$ A 192.0.2.1",
        "$GENERATE 1-2147483647 h$ A 192.0.2.1",
        "$generate +1-+99999999999/0 x",
        "$GENERATE 5-1",
        "$INCLUDE p/a",
        "$INCLUDE p/b",
        "$INCLUDE ../x",
        "$INCLUDE /etc/passwd",
        '$INCLUDE "p/a"',
        "$ORIGIN sub",
        'a IN TXT ( "x" ;',
        ") ; done",
        'b IN TXT "(" ; )',
        "  IN A 192.0.2.1",
        "; comment",
        "",
        "c IN A 192.0.2.3",
    ]
)
_ZONE_TEXT = st.lists(_ZONE_LINES, max_size=12).map("\n".join)


@FUZZ
@given(_ZONE_TEXT, _ZONE_TEXT, _ZONE_TEXT)
def test_counting_records_never_raises_and_includes_multiply(
    zone: str, piece_a: str, piece_b: str
) -> None:
    files = {"zones/p/a": piece_a, "zones/p/b": piece_b, "zones/x.zone": zone}
    entries = {p: FileEntry(p, len(t), t.encode()) for p, t in files.items()}
    snapshot = Snapshot("fuzz", files=entries)
    total = count(snapshot, "zones", ZoneText("x", "zones/x.zone", zone))
    assert total.records >= 0
    if "$INCLUDE" not in zone and "$GENERATE" not in zone.upper():
        assert total.line is None


# --- templates -------------------------------------------------------------------------------

_TEMPLATE_PARTS = st.sampled_from(
    [
        "{{ ",
        " }}",
        "{% ",
        " %}",
        "{# ",
        " #}",
        "for x in range(",
        ")",
        "endfor",
        "if ",
        "endif",
        "include ",
        '"common/shared.j2"',
        '"x.zone.j2"',
        "zone",
        "origin",
        "vars",
        "nameservers",
        ".__class__",
        "|join",
        "|length",
        "10**",
        "99",
        "'a'*",
        "[0]",
        "x",
        "\n",
        " IN A 192.0.2.1",
        "macro m() %}{{ m() }}{% endmacro",
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TEMPLATE_PARTS, max_size=16).map("".join))
def test_templates_give_text_or_problems(text: str) -> None:
    piece = b"{% for n in nameservers %}@ IN NS {{ n }}\n{% endfor %}"
    files = {
        "zones/x.zone.j2": FileEntry("zones/x.zone.j2", len(text), text.encode()),
        "zones/common/shared.j2": FileEntry("zones/common/shared.j2", len(piece), piece),
    }
    variables = {"nameservers": ["ns1.x.", "ns2.x."], "when": datetime.date(2026, 1, 1)}
    output, problems = render(
        Snapshot("fuzz", files=files), "zones", "zones/x.zone.j2", text, "x", variables, 1 << 16
    )
    assert (output is None) == bool(problems)
    assert all(isinstance(p, Problem) and p.file == "zones/x.zone.j2" for p in problems)
