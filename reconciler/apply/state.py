"""The reconciler's state on the primary host: what was attempted, applied and served.

`state.json` (written atomically) holds the last attempted and last applied
commit, per zone the served serial, content hash and commit, the catalog
zone's serial, the last serial of each removed zone (a zone added again
starts past it), the secondaries that lagged and the last failure. `good/`
holds the last good copy of each served zone file, for rollback; what is lost
of both is rebuilt from what the primary serves (apply/served.py). `lock`
makes sure one reconciler at a time works on a state folder. Called by the
reconcile step, status and the daemon.

`load_state` trusts nothing it reads: a file that is not JSON, a serial that
is a string, a commit that is not a hash, raise `StateError` naming every
field that is wrong (the daemon then rebuilds the state: apply/recover.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from reconciler.atomic import write_atomic
from reconciler.errors import PermanentError, TemporaryError
from reconciler.model.serial import SERIAL_MAX

Holder = Literal["daemon", "apply"]  # who holds the state folder's lock: `run`, or one apply


class StateLocked(TemporaryError):
    """another reconciler is working on this state folder"""

    def __init__(self, folder: Path, pid: int | None, holder: Holder | None) -> None:
        self.folder, self.pid, self.holder = folder, pid, holder
        said = f"pid {pid}" if pid else "pid unknown"
        who = {
            "daemon": f"the daemon (reconciler run, {said})",
            "apply": f"another apply or rollback ({said})",
        }.get(holder or "", f"another reconciler ({said})")
        super().__init__(f"{who} holds the lock of {folder}")


class StateError(PermanentError):
    """the state file is unreadable"""


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
    retired: dict[str, int] = field(default_factory=dict)  # removed zone -> its last serial

    def to_dict(self) -> dict[str, object]:
        """As `dataclasses.asdict`, written out: asdict's deep copy took 0.15 s a save for
        1,000 zones, and a reconcile saves twice."""
        return {
            "last_attempted": self.last_attempted,
            "last_applied": self.last_applied,
            "zones": {
                name: {"serial": z.serial, "hash": z.hash, "commit": z.commit}
                for name, z in self.zones.items()
            },
            "catalog_serial": self.catalog_serial,
            "lagging": list(self.lagging),
            "last_failure": dict(self.last_failure) if self.last_failure is not None else None,
            "retired": dict(self.retired),
        }


def state_file(folder: Path) -> Path:
    return folder / "state.json"


def good_copy(folder: Path, zone: str) -> Path:
    return folder / _GOOD / f"{zone}.zone"


def good_zones(folder: Path) -> set[str]:
    """The zones that have a last good copy."""
    return {path.name.removesuffix(".zone") for path in (folder / _GOOD).glob("*.zone")}


_GOOD = "good"  # the folder of last good copies, in the state folder


def load_state(folder: Path) -> State:
    """The state in `folder` (an empty one when there is no state file yet).

    Raises StateError naming the file and every field that is wrong.
    """
    path = state_file(folder)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return State()
    except OSError as exc:
        raise StateError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep
        raise StateError(f"{path}: not JSON ({str(exc).splitlines()[0][:200]})") from None
    wrong: list[str] = []
    state = parse_state(data, wrong)
    if state is None or wrong:
        shown = "; ".join(wrong[:_SHOWN]) + (
            f"; and {len(wrong) - _SHOWN} more" if len(wrong) > _SHOWN else ""
        )
        raise StateError(f"{path}: {shown}")
    return state


_SHOWN = 5  # wrong fields named in one message
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def parse_state(data: object, wrong: list[str]) -> State | None:
    """A `State` from parsed JSON; what is wrong is appended to `wrong` (then None or partial)."""
    if not isinstance(data, dict):
        wrong.append(f"not a JSON object but {_kind(data)}")
        return None
    values: dict[str, object] = {}
    for name, value in data.items():
        check = _FIELDS.get(name)
        if check is None:
            wrong.append(f"unknown field '{name}'")
        else:
            values[name] = check(name, value, wrong)
    if wrong:
        return None
    return State(**values)  # type: ignore[arg-type]  # each value checked above


def _kind(value: object) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    kinds |= {int: "an integer", float: "a number"}
    return kinds.get(type(value), "null" if value is None else type(value).__name__)


def _commit(name: str, value: object, wrong: list[str]) -> str | None:
    if value is None or (isinstance(value, str) and _COMMIT.match(value)):
        return value
    wrong.append(f"{name} is {value!r:.80}, not a commit id")
    return None


def _serial(name: str, value: object, wrong: list[str]) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= SERIAL_MAX:
        return value
    wrong.append(f"{name} is {_kind(value)} ({value!r:.40}), not a serial 0..{SERIAL_MAX}")
    return 0


def _text(name: str, value: object, wrong: list[str]) -> str:
    if isinstance(value, str):
        return value
    wrong.append(f"{name} is {_kind(value)}, not a string")
    return ""


def _zones(name: str, value: object, wrong: list[str]) -> dict[str, ZoneState]:
    if not isinstance(value, dict):
        wrong.append(f"{name} is {_kind(value)}, not an object")
        return {}
    zones = {}
    for zone, entry in value.items():
        where = f"{name}.{zone}"
        if not isinstance(entry, dict) or set(entry) != {"serial", "hash", "commit"}:
            wrong.append(f"{where} is not an object of serial, hash and commit")
            continue
        zones[zone] = ZoneState(
            _serial(f"{where}.serial", entry["serial"], wrong),
            _text(f"{where}.hash", entry["hash"], wrong),
            _text(f"{where}.commit", entry["commit"], wrong),
        )
    return zones


def _lagging(name: str, value: object, wrong: list[str]) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    wrong.append(f"{name} is {_kind(value)}, not a list of strings")
    return ()


def _failure(name: str, value: object, wrong: list[str]) -> dict[str, str] | None:
    if value is None or (
        isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    ):
        return value
    wrong.append(f"{name} is {_kind(value)}, not an object of strings")
    return None


def _retired(name: str, value: object, wrong: list[str]) -> dict[str, int]:
    if not isinstance(value, dict):
        wrong.append(f"{name} is {_kind(value)}, not an object")
        return {}
    return {zone: _serial(f"{name}.{zone}", serial, wrong) for zone, serial in value.items()}


_FIELDS: dict[str, Callable[[str, object, list[str]], object]] = {  # one per field of State
    "last_attempted": _commit,
    "last_applied": _commit,
    "zones": _zones,
    "catalog_serial": _serial,
    "lagging": _lagging,
    "last_failure": _failure,
    "retired": _retired,
}


def save_state(folder: Path, state: State) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(state_file(folder), json.dumps(state.to_dict(), indent=2, sort_keys=True) + "\n")


@contextmanager
def locked(folder: Path, holder: Holder = "apply") -> Iterator[None]:
    """Hold the state folder's lock; refuse at once (StateLocked, naming the holder) when
    another process holds it. The lock file says who holds it: "<pid> <holder>"."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateLocked(folder, *_holder(fd)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {holder}\n".encode())
        yield
    finally:
        os.close(fd)


def _holder(fd: int) -> tuple[int | None, Holder | None]:
    """The pid and kind the lock file names (written by whoever holds it)."""
    words = os.pread(fd, 100, 0).decode("ascii", errors="replace").split()
    pid = int(words[0]) if words and words[0].isdigit() else None
    word = words[1] if len(words) > 1 else None
    kind: Holder | None = "daemon" if word == "daemon" else "apply" if word == "apply" else None
    return pid, kind
