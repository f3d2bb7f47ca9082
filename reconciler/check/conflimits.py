"""named-checkconf's answers kept between checks while what it reads stays the same.

The primary's load-time limits:

`named-checkconf -p` of the primary's named.conf (bind/limits.py) runs in every
pre-receive hook and every reconcile that checks against the primary, though
named.conf rarely changes. The parsed `Limits` are kept in the check cache under a
key made of the content of named.conf and of every file it includes (followed
recursively, `include` globs expanded) and of the named-checkconf binary itself: a
change to any of them gives a new key, so a kept entry is never stale. Where the
files cannot all be known for sure (an unreadable include, a relative include
with a `directory` statement that would move it, an escape in a path), nothing is
kept and named-checkconf runs as before. Only the limits' numbers and sources are
kept, never the printed configuration (its secrets). `kept_json`/`keep_json` also
keep named-checkconf's verdict on each repo DNSSEC policy (check/dnssec.py), keyed
by the policy's statement and the binary. Called by check/inspect.py.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from pathlib import Path

from reconciler.atomic import write_atomic
from reconciler.bind.limits import primary_limits
from reconciler.bind.tools import tool
from reconciler.check import cache
from reconciler.errors import ToolError
from reconciler.model.limits import Limits, LoadLimits

_INCLUDE = re.compile(r'(?<![\w-])include\s+"([^"]*)"', re.IGNORECASE)
_DIRECTORY = re.compile(r"(?<![\w-])directory\s", re.IGNORECASE)
_GLOB = re.compile(r"[*?\[]")
FOLDER = "limits"  # under the check cache
MAX_FILES = 10_000  # a configuration that includes more is not kept


def cached_primary_limits(named_conf: Path) -> Limits:
    """`primary_limits(named_conf)`, from the cache when named.conf, its includes and
    named-checkconf are as they were; BindError as primary_limits raises it."""
    key = conf_key(named_conf) if cache.folder() is not None else None
    kept = _load(kept_json(key)) if key is not None else None
    if kept is not None:
        return kept
    limits = primary_limits(named_conf)
    if key is not None:
        keep_json(key, _as_dict(limits))
    return limits


def kept_json(key: str) -> object:
    """What `keep_json` kept under `key`; None when nothing usable is there."""
    where = cache.folder()
    if where is None:
        return None
    try:
        return json.loads(cache.read_trusted(where / FOLDER / f"{key}.json"))
    except (OSError, ValueError, LookupError):  # missing, damaged, or not trusted
        return None


def keep_json(key: str, data: object) -> None:
    """Keep `data` (JSON) under `key`, a hash of everything that decides it."""
    where = cache.folder()
    if where is None:
        return
    try:
        (where / FOLDER).mkdir(parents=True, exist_ok=True)
        write_atomic(where / FOLDER / f"{key}.json", json.dumps(data))
    except OSError:
        pass  # a cache that cannot be written is only slower


def checkconf_identity() -> str | None:
    """named-checkconf's path, size, time and inode: an upgrade of BIND changes it."""
    try:
        binary = Path(tool("named-checkconf")).resolve()
        info = binary.stat()
    except (OSError, ToolError):
        return None
    return f"{binary}:{info.st_size}:{info.st_mtime_ns}:{info.st_ino}"


def conf_key(named_conf: Path) -> str | None:
    """A hash of everything `named-checkconf -p named_conf` reads; None when that cannot
    be known for sure (then nothing is kept)."""
    named_conf = Path(named_conf).absolute()
    binary = checkconf_identity()
    if binary is None:
        return None
    parts = ["primary limits", binary]
    texts: list[str] = []
    todo, seen = [named_conf], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if len(seen) > MAX_FILES:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            parts.append(f"{path}:absent")
            continue
        except OSError:
            return None  # unreadable here: named-checkconf decides what that means
        parts.append(f"{path}:{hashlib.sha256(data).hexdigest()}")
        text = data.decode("utf-8", "replace")
        texts.append(text)
        for argument in _INCLUDE.findall(text):
            if "\\" in argument:
                return None
            relative = not os.path.isabs(argument)
            target = named_conf.parent / argument if relative else Path(argument)
            if _GLOB.search(argument):
                matches = sorted(glob.glob(str(target)))
                parts.append(f"{target}:glob:{'|'.join(matches)}")
                todo += [Path(m) for m in reversed(matches)]
            else:
                todo.append(target)
    if any(_DIRECTORY.search(t) for t in texts) and any(
        not os.path.isabs(a) for t in texts for a in _INCLUDE.findall(t)
    ):
        return None  # named-checkconf may read a relative include from `directory`
    return cache.key(*parts)


def _as_dict(limits: Limits) -> dict[str, object]:
    return {
        "default": limits.default.__dict__,
        "zones": {zone: each.__dict__ for zone, each in limits.zones.items()},
    }


def _load(data: object) -> Limits | None:
    """The kept limits; None when there are none or they are damaged (then read again)."""
    if not isinstance(data, dict):
        return None
    try:
        return Limits(
            _load_limits(data["default"]),
            {str(zone): _load_limits(each) for zone, each in data["zones"].items()},
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _load_limits(data: dict[str, object]) -> LoadLimits:
    limits = LoadLimits(**data)  # type: ignore[arg-type]
    numbers = (limits.max_records_per_type, limits.max_types_per_name, limits.max_zone_ttl)
    if not all(type(n) is int for n in (*numbers, limits.max_records)):
        raise TypeError("a limit is not a number")
    if not isinstance(limits.source, str):
        raise TypeError("a source is not text")
    return limits
