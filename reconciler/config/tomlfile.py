"""TOML files the reconciler reads: syntax errors, line numbers of keys, type checks.

tomllib gives values but no line numbers; these helpers find the line of a
table or key so that every problem names file and line. Shared by repo.py
(reconciler.toml), host.py (daemon.toml) and policy.py (host/policy.toml).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable
from typing import Any

from reconciler.errors import Problem

_HEADER = re.compile(r"^\s*\[(?!\[)\s*([^\]]+?)\s*\]")
_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")


def _normalise_name(raw: str) -> str:
    return re.sub(r"\s*\.\s*", ".", raw).replace('"', "").replace("'", "")


def _key_pattern(key: str) -> re.Pattern[str]:
    k = re.escape(key)
    return re.compile(rf"""^\s*(?:{k}|"{k}"|'{k}')\s*[=.]""")


def _scan(text: str, matches: Callable[[str | None, str], bool]) -> int | None:
    """The 1-based number of the first line for which `matches(current_table, line)` holds."""
    table: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _ARRAY_HEADER.match(line) or _HEADER.match(line)
        if header:
            table = _normalise_name(header.group(1))
        if matches(table, line):
            return number
    return None


def table_line(text: str, table: str) -> int | None:
    """Where `table` starts: its `[table]` header, or a top-level `table = ...` / `table.x =`."""
    top = _key_pattern(table)

    def matches(current: str | None, line: str) -> bool:
        header = _ARRAY_HEADER.match(line) or _HEADER.match(line)
        if header:
            name = _normalise_name(header.group(1))
            return name == table or name.startswith(table + ".")
        return current is None and bool(top.match(line))

    return _scan(text, matches)


def key_line(text: str, table: str, key: str) -> int | None:
    """Where `key` is set inside `table`: `key =` under `[table]`, or `table.key =` at the top."""
    inside = _key_pattern(key)
    dotted = re.compile(
        rf"^\s*{re.escape(table)}\s*\.\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*[=.]"
    )
    subtable = f"{table}.{key}"

    def matches(current: str | None, line: str) -> bool:
        header = _ARRAY_HEADER.match(line) or _HEADER.match(line)
        if header:
            name = _normalise_name(header.group(1))
            return name == subtable or name.startswith(subtable + ".")
        if current == table:
            return bool(inside.match(line))
        return current is None and bool(dotted.match(line))

    return _scan(text, matches)


def utf8_text(path: str, data: bytes | None) -> tuple[str | None, list[Problem]]:
    """A configuration file's text (TOML is UTF-8), or the problem; (None, []) when absent."""
    if data is None:
        return None, []
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        return None, [Problem(path, "not UTF-8")]


def syntax_problem(file: str, exc: tomllib.TOMLDecodeError) -> Problem:
    """tomllib's error as a Problem: the line goes in front, the column stays in the text."""
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)", str(exc))
    if not found:
        return Problem(file, f"invalid TOML: {exc}")
    message = str(exc).replace(found.group(0), "")
    return Problem(
        file, f"invalid TOML: {message} (column {found.group(2)})", line=int(found.group(1))
    )


def type_name(expected: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    if isinstance(expected, tuple) and float in expected:
        return names[float]  # (int, float): any number
    first = expected[0] if isinstance(expected, tuple) else expected
    return names.get(first, first.__name__)


def value_problem(value: object, expected: type | tuple[type, ...]) -> str | None:
    """What is wrong with a value that should have type `expected`; None if nothing.

    TOML's idea of a type: true and false are not integers.
    """
    wants_bool = bool in (expected if isinstance(expected, tuple) else (expected,))
    if (isinstance(value, bool) and not wants_bool) or not isinstance(value, expected):
        return f"must be {type_name(expected)}, got {type(value).__name__}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if isinstance(value, str) and "\x00" in value:
        return "must not contain a NUL character"
    return None


def check_types(
    text: str, file: str, table: str, values: dict[str, Any], schema: dict[str, Any]
) -> list[Problem]:
    problems = []
    for key, value in values.items():
        if key not in schema:
            problems.append(
                Problem(file, f"unknown key '{key}' in [{table}]", line=key_line(text, table, key))
            )
            continue
        wrong = value_problem(value, schema[key])
        if wrong:
            problems.append(Problem(file, f"[{table}] {key} {wrong}", key_line(text, table, key)))
    return problems
