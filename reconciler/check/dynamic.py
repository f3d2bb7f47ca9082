"""Dynamic names stay out of git: a record git has there is refused, with its line.

reconciler.toml's [dynamic] gives some names and types of a zone to an RFC 2136 client
(model/dynamic.py); the generated include lets its key change exactly those. A record of
git's at such a name and type would be changed by the client behind git's back, or would
undo the client's on every deploy, so `check` refuses it. Pure. Called by check/inspect.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.check.rules import Zone
from reconciler.errors import Problem
from reconciler.model.dynamic import Dynamic


def dynamic_in_git(zones: Iterable[Zone], dynamic: Dynamic) -> list[Problem]:
    problems = []
    for zone in zones:
        name = zone.text.name
        if dynamic.of(name) is None:
            continue
        seen: set[tuple[str, str]] = set()
        for record in zone.canonical.records():
            key = (record.owner, record.rtype)
            if key in seen or not dynamic.is_dynamic(name, record.owner, record.rtype):
                continue
            seen.add(key)
            file, line = zone.locator.find(record.owner, record.rtype) or (
                zone.locator.first_record()
            )
            problems.append(
                Problem(
                    file,
                    f'dynamic: [dynamic."{name}"] in reconciler.toml gives this name and type '
                    "to an RFC 2136 client; git cannot hold it",
                    line,
                    name,
                    f"{record.owner} {record.rtype}",
                )
            )
    return problems
