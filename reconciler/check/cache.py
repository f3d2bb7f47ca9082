"""A cache of strict named-checkzone results, keyed by everything that decides them.

A zone's verdict and canonical form depend only on its rendered text, the
files it may $INCLUDE, the strict options and BIND's version: hash those,
and a zone checked once is not checked again. This keeps `check` in a
pre-commit hook, `plan` and the daemon proportional to what changed, even
in a repo of thousands of zones. An entry is two files: `<zone>.<key>.json`
(BIND's problems, and whether a canonical form exists) and `<zone>.<key>.zone`
(that canonical form, BIND's dump as it is: read back as one string, not
parsed); the newest few per zone are kept. The key includes `FORMAT`, so an
entry of an older layout is never read (it is ignored, then dropped).
daemon.toml's `[check] cache_dir` places it where a command was given one
(`configure`); else `RECONCILER_CACHE_DIR` (`off` disables it in any case); the default
is `$XDG_CACHE_HOME/dns-reconciler`. A damaged entry is ignored. Called by
`checkzone.py` and conflimits.py.

The cache may be shared between two users (on a primary: the pre-receive hook runs as
the pushing account, the daemon as `reconciler`), and the daemon serves the canonical
form it takes from an entry. So an entry is read only when its writer is trusted
(`read_trusted`): the file is a regular file owned by the reader's own uid, root, or an
account daemon.toml names in `[check] trust_cache_of`, and neither the file nor the
cache folder is writable by anyone else (owner trusted; not writable by others;
writable by its group only when every member of that group is trusted). Any other
entry is ignored, as if it were missing: the zone is checked again with BIND, never an
error.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from reconciler.atomic import write_atomic
from reconciler.errors import Problem
from reconciler.model.zone import decode, encode

KEEP_PER_ZONE = 4
FORMAT = "2"  # the entry's layout: 2, the dump in a file of its own beside the JSON


@dataclass(frozen=True)
class Sharing:
    """daemon.toml's word on the cache: its folder, and whose entries are trusted besides
    the reader's own and root's (user names or uids)."""

    folder: Path | None = None
    writers: tuple[str | int, ...] = ()


_sharing = Sharing()


def configure(cache_dir: Path | None, writers: tuple[str | int, ...]) -> None:
    """Use daemon.toml's `[check] cache_dir` and `trust_cache_of` (the hook's `check
    --config`, `apply`, `rollback`, the daemon)."""
    global _sharing
    _sharing = Sharing(cache_dir, writers)


def folder() -> Path | None:
    configured = os.environ.get("RECONCILER_CACHE_DIR")
    if configured == "off":
        return None
    if _sharing.folder is not None:  # daemon.toml's: the hook and the daemon share it
        return _sharing.folder
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dns-reconciler" / "checkzone"


def trusted_uids() -> frozenset[int]:
    """The reader's own uid, root, and the accounts of `[check] trust_cache_of` (a name
    that is no account here trusts nobody)."""
    uids = {0, os.geteuid()}
    for writer in _sharing.writers:
        if isinstance(writer, int):
            uids.add(writer)
            continue
        try:
            uids.add(pwd.getpwnam(writer).pw_uid)
        except KeyError:
            continue
    return frozenset(uids)


def _group_trusted(gid: int, uids: frozenset[int]) -> bool:
    """Whether every account in group `gid` (listed members and those whose own group it
    is) is trusted; asked again once /etc/passwd or /etc/group changes."""
    return _members_trusted(gid, uids, _accounts_stamp())


def _accounts_stamp() -> tuple[tuple[int, int], ...]:
    stamps = []
    for name in ("/etc/passwd", "/etc/group"):
        try:
            info = os.stat(name)
        except OSError:
            continue
        stamps.append((info.st_ino, info.st_mtime_ns))
    return tuple(stamps)


@lru_cache(maxsize=64)
def _members_trusted(gid: int, uids: frozenset[int], _stamp: tuple[tuple[int, int], ...]) -> bool:
    """One look at the account database per group, trusted set and state of its files (a
    shared cache folder is group-writable: every entry read asks)."""
    try:
        members = grp.getgrgid(gid).gr_mem
    except KeyError:
        return False
    for name in members:
        try:
            if pwd.getpwnam(name).pw_uid not in uids:
                return False
        except KeyError:
            return False
    return all(p.pw_uid in uids for p in pwd.getpwall() if p.pw_gid == gid)


def _only_trusted_write(info: os.stat_result, uids: frozenset[int]) -> bool:
    if info.st_uid not in uids or info.st_mode & stat.S_IWOTH:
        return False
    return not info.st_mode & stat.S_IWGRP or _group_trusted(info.st_gid, uids)


def read_trusted(path: Path) -> bytes:
    """The bytes of cache file `path` when its writer is trusted (see above); LookupError
    when it is not (or is missing, or not a regular file), OSError as reading raises it.

    The file is opened once (not following a symlink) and judged by what was opened, so it
    cannot be swapped between the look and the read."""
    uids = trusted_uids()
    if not _only_trusted_write(os.stat(path.parent), uids):
        raise LookupError(f"{path.parent}: writable by an account that is not trusted")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise LookupError(str(path)) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or not _only_trusted_write(info, uids):
            raise LookupError(f"{path}: not written by a trusted account")
        return handle.read()


@cache
def bind_version(checkzone: str) -> str:
    run = subprocess.run([checkzone, "-v"], capture_output=True, text=True, errors="replace")
    return run.stdout.strip() or run.stderr.strip()


def key(*parts: str) -> str:
    digest = hashlib.sha256(b"format " + FORMAT.encode() + b"\0")
    for part in parts:
        digest.update(encode(part) + b"\0")
    return digest.hexdigest()[:32]


def load(where: Path, zone: str, entry: str) -> tuple[tuple[Problem, ...], str | None]:
    """(problems, the canonical dump or None); raises LookupError when there is no usable
    entry."""
    try:
        data = json.loads(read_trusted(where / f"{zone}.{entry}.json"))
        problems = tuple(Problem(**p) for p in data["problems"])
        if data["format"] != FORMAT:
            raise ValueError(data["format"])
        if not data["canonical"]:
            return problems, None
        dump = decode(read_trusted(where / f"{zone}.{entry}.zone"))
        if len(dump) != data["length"]:
            raise ValueError("a dump cut short")
        return problems, dump
    except (OSError, ValueError, TypeError, KeyError):
        raise LookupError(entry) from None


def store(
    where: Path, zone: str, entry: str, problems: tuple[Problem, ...], dump: str | None
) -> None:
    """Keep the result; drop the zone's older entries beyond the newest few."""
    try:
        where.mkdir(parents=True, exist_ok=True)
        data = {
            "format": FORMAT,
            "problems": [p.as_dict() for p in problems],
            "canonical": dump is not None,
            "length": len(dump) if dump is not None else 0,
        }
        if dump is not None:  # the dump first: a JSON file names only a dump written whole
            write_atomic(where / f"{zone}.{entry}.zone", encode(dump))
        write_atomic(where / f"{zone}.{entry}.json", json.dumps(data))
        entries = sorted(where.glob(f"{zone}.*.json"), key=lambda p: p.stat().st_mtime)
        for old in entries[:-KEEP_PER_ZONE]:
            old.unlink(missing_ok=True)
            old.with_suffix(".zone").unlink(missing_ok=True)
    except OSError:
        pass  # a cache that cannot be written is only slower
