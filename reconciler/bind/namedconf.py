"""The primary zones of a named.conf, read with `named-checkconf -p -x`, for `import`.

For each zone of type primary (`master`): its name, the file named loads it from
(relative names resolved against `options { directory }`, else the folder of
named.conf), the servers it sends NOTIFY to (`also-notify`, the zone's own or the
options'), and the TSIG keys its `allow-transfer` names. Secrets never leave: `-x`
prints them as `?`, and only names, paths and addresses are taken. Zones in views
are read too. The catalog zone of the reconciler (`catalog.invalid`) is left out.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from reconciler.bind.catalog import CATALOG
from reconciler.bind.limits import Statement, parse, printed_conf

PRIMARY_TYPES = ("primary", "master")


@dataclass(frozen=True)
class Notified:
    """A server named in `also-notify`: its address and port."""

    address: str
    port: int = 53


@dataclass(frozen=True)
class ConfZone:
    """One primary zone of named.conf."""

    name: str  # lower case, no trailing dot
    file: Path | None  # absolute; None: the zone statement names no file
    also_notify: tuple[Notified, ...]
    transfer_keys: tuple[str, ...]  # key names in allow-transfer


def read_named_conf(named_conf: Path) -> tuple[ConfZone, ...]:
    """The primary zones of `named_conf` (includes resolved); BindError when it is unreadable."""
    named_conf = Path(named_conf).resolve()
    return primary_zones(printed_conf(named_conf), named_conf.parent)


def primary_zones(printed: str, conf_dir: Path) -> tuple[ConfZone, ...]:
    """The primary zones in `named-checkconf -p` output (pure)."""
    top = parse(printed)
    options = _block(top, "options")
    directory = _value(options, "directory")
    base = conf_dir / directory if directory else conf_dir
    found: list[ConfZone] = []
    for statement in top:
        if _is(statement, "zone"):
            found += _zone(statement, [options], base)
        elif _is(statement, "view"):
            for inner in statement.body or ():
                if _is(inner, "zone"):
                    found += _zone(inner, [statement.body, options], base)
    return tuple(found)


def _zone(
    statement: Statement, outer: list[tuple[Statement, ...] | None], base: Path
) -> list[ConfZone]:
    body = statement.body or ()
    name = statement.words[1].lower().rstrip(".")
    if _value(body, "type") not in PRIMARY_TYPES or name == CATALOG:
        return []
    file = _value(body, "file")
    notify: tuple[Notified, ...] = ()
    for block in (body, *outer):  # the zone's own also-notify, else the view's, the options'
        entries = _block(block, "also-notify")
        if entries is not None:
            notify = _notified(entries)
            break
    transfer = _block(body, "allow-transfer") or ()
    keys = tuple(s.words[1] for s in transfer if s.words[:1] == ("key",) and len(s.words) > 1)
    return [ConfZone(name, (base / file).resolve() if file else None, notify, keys)]


def _notified(entries: tuple[Statement, ...]) -> tuple[Notified, ...]:
    found = []
    for entry in entries:
        words = entry.words
        if not words:
            continue
        try:
            address = str(ipaddress.ip_address(words[0]))
        except ValueError:
            continue  # a named `primaries` list: not followed
        port = int(words[words.index("port") + 1]) if "port" in words[:-1] else 53
        found.append(Notified(address, port))
    return tuple(found)


def _is(statement: Statement, keyword: str) -> bool:
    return statement.words[:1] == (keyword,) and len(statement.words) > 1


def _block(body: tuple[Statement, ...] | None, keyword: str) -> tuple[Statement, ...] | None:
    for statement in body or ():
        if statement.words[:1] == (keyword,) and statement.body is not None:
            return statement.body
    return None


def _value(body: tuple[Statement, ...] | None, keyword: str) -> str | None:
    for statement in body or ():
        if statement.words[:1] == (keyword,) and len(statement.words) > 1:
            return statement.words[1]
    return None
