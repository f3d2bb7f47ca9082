"""The reconciler's state on the primary host: what was attempted, applied and served.

`state.json` (written atomically) holds the last attempted and last applied
commit, per zone the served serial, content hash and commit, the catalog
zone's serial, the secondaries that lagged and the last failure. `good/`
holds the last good copy of each served zone file, for rollback. `lock`
makes sure one reconciler at a time works on a state folder. Called by the
reconcile step, status and the daemon.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from reconciler.atomic import write_atomic
from reconciler.errors import ReconcilerError


class StateLocked(ReconcilerError):
    """another reconciler is working on this state folder"""


@dataclass(frozen=True)
class ZoneState:
    serial: int
    hash: str
    commit: str


@dataclass(frozen=True)
class State:
    last_attempted: str | None = None
    last_applied: str | None = None
    zones: dict[str, ZoneState] = field(default_factory=dict)
    catalog_serial: int = 1
    lagging: tuple[str, ...] = ()
    last_failure: dict[str, str] | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def with_zones(self, zones: dict[str, ZoneState]) -> State:
        return replace(self, zones=zones)


def state_file(folder: Path) -> Path:
    return folder / "state.json"


def good_copy(folder: Path, zone: str) -> Path:
    return folder / "good" / f"{zone}.zone"


def load_state(folder: Path) -> State:
    path = state_file(folder)
    if not path.exists():
        return State()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        zones = {name: ZoneState(**z) for name, z in data.pop("zones", {}).items()}
        data["lagging"] = tuple(data.get("lagging", ()))
        return State(zones=zones, **data)
    except (ValueError, TypeError) as exc:
        raise ReconcilerError(
            f"{path}: unreadable state ({exc}); move it aside to start afresh"
        ) from None


def save_state(folder: Path, state: State) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(state_file(folder), json.dumps(state.to_dict(), indent=2, sort_keys=True) + "\n")


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the state folder's lock; refuse at once when another process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateLocked(f"{folder}: another reconciler holds the lock") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
