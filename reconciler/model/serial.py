"""SOA serial numbers: RFC 1982 arithmetic and picking the next serial.

Pure functions, no I/O: the caller passes the current time in. The planner and the reconcile
step call `next_serial` to choose the serial to serve after the one that is live now, so that
every secondary sees the new serial as newer and transfers the zone. `steps_to_reach` gives the
sequence of serials an operator must serve, one after another, to move the serial to an
arbitrary value (for example back to a lower number), the classic "serial reset" procedure.

Serials are unsigned 32-bit integers compared with RFC 1982 sequence space arithmetic: `b` is
newer than `a` when `(b - a) % 2**32` is in `1..2**31-1`; a distance of exactly `2**31` leaves
the comparison undefined.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Literal, get_args

SERIAL_BITS = 32
SERIAL_MAX: int = (1 << SERIAL_BITS) - 1
MAX_STEP: int = (1 << (SERIAL_BITS - 1)) - 1

_MODULUS: int = 1 << SERIAL_BITS
_HALF: int = 1 << (SERIAL_BITS - 1)

Scheme = Literal["date", "unixtime", "increment"]
SCHEMES: tuple[Scheme, ...] = get_args(Scheme)

_PER_DAY = 100  # the nn in YYYYMMDDnn


def _check_serial(value: int, name: str = "serial") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not is_serial(value):
        raise ValueError(f"{name} {value} is outside the SOA serial range 0..{SERIAL_MAX}")
    return value


def is_serial(value: object) -> bool:
    """Whether `value` is an int in the SOA serial range 0..2**32-1 (bool is not)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= SERIAL_MAX


def distance(current: int, target: int) -> int:
    """How far `target` is ahead of `current` in sequence space, in 0..2**32-1."""
    return (target - current) % _MODULUS


def previous(serial: int) -> int:
    """The serial one step behind `serial` (the one `serial` is newer than)."""
    return (serial - 1) % _MODULUS


def compare(a: int, b: int) -> int:
    """Compare two serials under RFC 1982: -1 if a < b, 0 if equal, 1 if a > b.

    Raises ValueError when the comparison is undefined (the values are exactly 2**31 apart)
    or when either value is outside 0..2**32-1.
    """
    _check_serial(a, "a")
    _check_serial(b, "b")
    ahead = distance(a, b)
    if ahead == 0:
        return 0
    if ahead == _HALF:
        raise ValueError(
            f"serials {a} and {b} are exactly 2**31 apart: RFC 1982 leaves their order undefined"
        )
    return -1 if ahead < _HALF else 1


def is_newer(candidate: int, current: int) -> bool:
    """True iff `candidate` is greater than `current` under RFC 1982.

    False when the comparison is undefined; ValueError for values outside 0..2**32-1.
    """
    _check_serial(candidate, "candidate")
    _check_serial(current, "current")
    return 1 <= distance(current, candidate) <= MAX_STEP


def latest(serials: Iterable[int | None]) -> int | None:
    """The newest of `serials` under RFC 1982 (None values skipped); None when there is none.

    A serial whose order against the newest so far is undefined (exactly 2**31 apart) does
    not replace it: the first of the two is kept.
    """
    best: int | None = None
    for serial in serials:
        if serial is None:
            continue
        _check_serial(serial)
        if best is None or is_newer(serial, best):
            best = serial
    return best


def add(serial: int, step: int) -> int:
    """RFC 1982 addition: `serial + step` modulo 2**32, with `step` in 1..2**31-1."""
    _check_serial(serial)
    if isinstance(step, bool) or not isinstance(step, int):
        raise TypeError(f"step must be an int, not {type(step).__name__}")
    if not 1 <= step <= MAX_STEP:
        raise ValueError(f"step {step} is outside the RFC 1982 range 1..{MAX_STEP}")
    return (serial + step) % _MODULUS


def _utc(now: datetime) -> datetime:
    if not isinstance(now, datetime):
        raise TypeError(f"now must be a datetime, not {type(now).__name__}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (a naive datetime has no defined UTC date)")
    return now.astimezone(UTC)


def _reachable(current: int, candidate: int) -> bool:
    """True if `candidate` is a serial that is newer than `current` by one legal step."""
    return 0 <= candidate <= SERIAL_MAX and is_newer(candidate, current)


def _date_serial(current: int, now: datetime) -> int:
    day = now.date()
    first = (day.year * 10_000 + day.month * 100 + day.day) * _PER_DAY  # YYYYMMDD00
    if _reachable(current, first):
        return first
    # Otherwise: `current` is within today (first <= current <= first + 99), so the next nn is
    # current + 1; or today's values are used up, or `current` is ahead of today (a future date,
    # a huge value) or the date does not fit in 32 bits: all of these fall back to current + 1.
    return add(current, 1)


def _unixtime_serial(current: int, now: datetime) -> int:
    stamp = int(now.timestamp())
    if _reachable(current, stamp):
        return stamp
    return add(current, 1)


def next_serial(current: int, scheme: Scheme, now: datetime, floor: int | None = None) -> int:
    """The serial to serve after `current`.

    The result is always newer than `current` under RFC 1982, by a step of 1..2**31-1.

    - ``increment``: current + 1 (mod 2**32, so 2**32-1 is followed by 0).
    - ``date``: YYYYMMDDnn from the UTC date of `now`: YYYYMMDD00 when that is newer than
      `current`, else current + 1 (the next nn of today, or the fallback once today's 100
      values are used up or `current` is ahead of today).
    - ``unixtime``: `now` in seconds since the epoch when that is newer than `current`, else
      current + 1.

    `floor` (the serial written in the zone file in git) is a lower bound: it is used instead of
    the scheme's result when it is newer than that result and reachable from `current` in one
    legal step; otherwise it is ignored.

    Raises ValueError for serials outside 0..2**32-1, an unknown scheme or a naive `now`.
    """
    _check_serial(current, "current")
    if floor is not None:
        _check_serial(floor, "floor")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown serial scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    utc_now = _utc(now)
    if scheme == "date":
        result = _date_serial(current, utc_now)
    elif scheme == "unixtime":
        result = _unixtime_serial(current, utc_now)
    else:
        result = add(current, 1)
    if floor is not None and is_newer(floor, result) and _reachable(current, floor):
        return floor
    return result


def steps_to_reach(current: int, target: int) -> list[int]:
    """The serials to serve, in order, to move from `current` to `target`.

    Each serial is newer than the one before it by 1..2**31-1 (so every secondary follows
    each change) and the last one is `target`; the list is empty when `target == current`.
    Every serial in the list must be served, and have reached all secondaries, before the
    next one. One step suffices when `target` is already newer than `current`; moving back
    to a lower number takes two steps (three when `target` is `current - 1`, whose distance
    of 2**32-1 is larger than two legal steps can cover).
    """
    _check_serial(current, "current")
    _check_serial(target, "target")
    remaining = distance(current, target)
    steps: list[int] = []
    serial = current
    while remaining > MAX_STEP:
        serial = add(serial, MAX_STEP)
        steps.append(serial)
        remaining -= MAX_STEP
    if remaining:
        steps.append(add(serial, remaining))
    return steps


def guess_scheme(serials: Iterable[int]) -> Scheme:
    """The scheme existing serials follow (for `import`): `date` when every one reads as
    YYYYMMDDnn of a real day since 1990, `unixtime` when every one is a time since 2001
    (10**9 s), else `increment`."""
    found = list(serials)
    if not found:
        return "date"
    if all(_is_date_serial(s) for s in found):
        return "date"
    if all(10**9 <= s <= SERIAL_MAX for s in found):
        return "unixtime"
    return "increment"


def _is_date_serial(serial: int) -> bool:
    day, year = serial // _PER_DAY, serial // (_PER_DAY * 10_000)
    try:
        date(year, day // 100 % 100, day % 100)
    except ValueError:
        return False
    return 1990 <= year <= 2100
