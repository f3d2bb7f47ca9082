"""Rebuild an unreadable state file from what the primary serves and the git notes.

When `state.json` is garbage (a bad restore, a disk error, a hand edit), the
daemon does not stop: `rebuild` puts the file aside, and writes a new state
from what can still be known:

- the last applied commit: the newest git note (`git notes --ref=reconciler`)
  of a deployment that reached the primary (confirmed, unchanged, unconfirmed);
- per zone (the zones of that commit and those with a last good copy): the
  serial the primary serves now, or, when it does not answer, the newest serial
  a note recorded; the content hash of the last good copy;
- the catalog zone's serial the primary serves.

`last_attempted` is left empty, so the next reconcile runs and proves the
rebuilt state (the serial it serves is past anything served). What could not be
rebuilt is said in `Rebuilt.missing`. Called by the daemon (serve/daemon.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import git

from reconciler.apply.state import (
    State,
    ZoneState,
    good_copy,
    good_zones,
    save_state,
    state_file,
)
from reconciler.bind import probe
from reconciler.bind.catalog import CATALOG
from reconciler.check.inspect import inspect, read_config
from reconciler.config.host import HostConfig
from reconciler.errors import ReconcilerError
from reconciler.model.outcome import Note
from reconciler.model.serial import is_newer
from reconciler.model.zone import CanonicalZone
from reconciler.source.repo import all_notes, open_repo, resolve


@dataclass(frozen=True)
class Rebuilt:
    state: State
    kept: Path | None  # where the unreadable file was put
    missing: tuple[str, ...]  # what could not be rebuilt, one sentence each


def rebuild(host: HostConfig, why: str, now: datetime | None = None) -> Rebuilt:
    """Put the unreadable state file aside and write one rebuilt from the primary and the notes.

    `why` (the StateError's message) is recorded as the last failure. Raises OSError when the
    state folder cannot be written.
    """
    now = now or datetime.now(UTC)
    missing: list[str] = []
    repo = open_repo(host.repo)
    notes = _notes(repo)
    applied = _last_applied(repo, notes)
    if applied is None:
        missing.append(
            "no git note names an applied commit: every zone is checked on the next reconcile"
        )
    rev = applied or host.branch
    config, problems = read_config(repo, rev)
    if problems:
        missing.append(f"reconciler.toml at {rev[:12]} is invalid: the primary is not asked")
    names = good_zones(host.state_dir)
    try:
        names |= set(inspect(repo, rev, only=(), own_checks=False).zone_paths)
    except ReconcilerError as exc:
        missing.append(f"the zones of {rev[:12]} cannot be listed: {exc}")
    primary = None if problems else config.primary
    zones: dict[str, ZoneState] = {}
    for name in sorted(names):
        live = (
            probe.soa_serial(primary.address, primary.port, name, timeout=host.query_timeout)
            if primary
            else None
        )
        noted = _noted_serial(notes, name)
        serial = _newest(live, noted)
        if serial is None:
            missing.append(f"{name}: the primary does not answer and no note names its serial")
            continue
        zones[name] = ZoneState(serial, _hash(host.state_dir, name), applied or "")
    catalog = (
        probe.soa_serial(primary.address, primary.port, CATALOG, timeout=host.query_timeout)
        if primary
        else None
    )
    state = State(
        last_attempted=None,
        last_applied=applied,
        zones=zones,
        catalog_serial=catalog if catalog is not None else 1,
        last_failure={"commit": "", "reason": f"state rebuilt: {why}"},
    )
    kept = _put_aside(state_file(host.state_dir), now)
    save_state(host.state_dir, state)
    return Rebuilt(state, kept, tuple(missing))


def _notes(repo: git.Repo) -> dict[str, Note]:
    parsed = {commit: Note.parse(text) for commit, text in all_notes(repo).items()}
    return {commit: note for commit, note in parsed.items() if note is not None}


def _last_applied(repo: git.Repo, notes: dict[str, Note]) -> str | None:
    """The commit of the newest note of a deployment the primary took, if it still exists."""
    reached = [(note.at, commit) for commit, note in notes.items() if note.status.applied]
    for _, commit in sorted(reached, reverse=True):
        try:
            return resolve(repo, commit).hexsha
        except ReconcilerError:
            continue  # a commit gone (garbage-collected after a force-push)
    return None


def _noted_serial(notes: dict[str, Note], zone: str) -> int | None:
    """The serial of `zone` in the newest note that served it."""
    served = sorted((n.at, n.served[zone]) for n in notes.values() if zone in n.served)
    return served[-1][1] if served else None


def _newest(*serials: int | None) -> int | None:
    found = None
    for serial in serials:
        if serial is not None and (found is None or is_newer(serial, found)):
            found = serial
    return found


def _hash(state_dir: Path, zone: str) -> str:
    try:
        text = good_copy(state_dir, zone).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    try:
        return CanonicalZone.from_dump(zone, text).content_hash
    except (ValueError, IndexError):  # a good copy that is itself damaged
        return ""


def _put_aside(path: Path, now: datetime) -> Path | None:
    """Rename the unreadable file to state.json.unreadable-<UTC time>; None when it is gone."""
    kept = path.with_name(f"{path.name}.unreadable-{now.strftime('%Y%m%dT%H%M%SZ')}")
    try:
        path.rename(kept)
    except FileNotFoundError:
        return None
    return kept
