"""Find the line of a record in master-file text, for error messages.

BIND's canonical dump loses line numbers and some of BIND's own messages name
a record but no line. This light scanner (owners, $ORIGIN, types; no full
parse) points the user at the line. Pure; called by `checkzone.py` and `rules.py`.
"""

from __future__ import annotations

from collections.abc import Iterator


def absolute(name: str, origin: str) -> str:
    """`name` as written in a zone file, made fully qualified (lower case, trailing dot)."""
    name = name.lower()
    if name == "@":
        return origin
    if name.endswith("."):
        return name
    return f"{name}.{origin}" if origin != "." else f"{name}."


def _records(text: str, origin: str) -> Iterator[tuple[int, str, str, list[str]]]:
    """(line number, owner, origin there, tokens after the owner) of every record line."""
    current = origin.lower()
    last_owner = current
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";", 1)[0]
        tokens = line.split()
        if not tokens:
            continue
        if tokens[0].upper() == "$ORIGIN" and len(tokens) > 1:
            current = absolute(tokens[1], current)
            continue
        if tokens[0].startswith("$"):
            continue
        if not raw[:1].isspace():
            last_owner = absolute(tokens[0], current)
            tokens = tokens[1:]
        yield number, last_owner, current, tokens


def locate(
    text: str,
    origin: str,
    owner: str | None = None,
    rtype: str | None = None,
    target: str | None = None,
) -> int | None:
    """First line whose record has this owner, type and target name (each optional)."""
    for number, last_owner, current, tokens in _records(text, origin):
        if owner is not None and last_owner != owner.lower():
            continue
        upper = [t.upper() for t in tokens]
        if rtype is not None and rtype.upper() not in upper:
            continue
        if target is not None:
            start = upper.index(rtype.upper()) + 1 if rtype else 0
            if not any(absolute(t, current) == target.lower() for t in tokens[start:]):
                continue
        return number
    return None


def locate_all(text: str, origin: str, owner: str, rtype: str) -> list[int]:
    """Every line that starts a record of this owner and type (several records of one RRset)."""
    return [
        number
        for number, last_owner, _current, tokens in _records(text, origin)
        if last_owner == owner.lower() and rtype.upper() in (t.upper() for t in tokens)
    ]
