"""Tests for reconciler.serial: RFC 1982 arithmetic and the next-serial schemes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from reconciler.model.serial import (
    MAX_STEP,
    SCHEMES,
    SERIAL_MAX,
    add,
    compare,
    is_newer,
    latest,
    next_serial,
    steps_to_reach,
)

pytestmark = pytest.mark.unit

EDGES = [0, 1, 2**31 - 2, 2**31 - 1, 2**31, 2**31 + 1, 2**32 - 2, 2**32 - 1]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NOW_TIMESTAMP = 1795608000  # int(NOW.timestamp()), written out so the test cannot agree with itself
TODAY = 2026112500  # YYYYMMDD00 for NOW

serials = st.one_of(st.sampled_from(EDGES), st.integers(min_value=0, max_value=SERIAL_MAX))
floors = st.one_of(st.none(), serials)
steps = st.one_of(st.sampled_from([1, 2, MAX_STEP - 1, MAX_STEP]), st.integers(1, MAX_STEP))
nows = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2105, 12, 31, 23, 59, 59),
    timezones=st.just(UTC),
)


def rfc1982_less(i1: int, i2: int) -> bool:
    """RFC 1982 section 3.2, written as the RFC states it (an oracle independent of the module)."""
    half = 2**31
    return (i1 < i2 and i2 - i1 < half) or (i1 > i2 and i1 - i2 > half)


def step_of(current: int, result: int) -> int:
    return (result - current) % 2**32


# --- constants -------------------------------------------------------------------------------


def test_constants() -> None:
    assert SERIAL_MAX == 4294967295
    assert MAX_STEP == 2147483647
    assert SCHEMES == ("date", "unixtime", "increment")


# --- compare ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (0, 0, 0),
        (5, 5, 0),
        (2**32 - 1, 2**32 - 1, 0),
        (0, 1, -1),
        (1, 0, 1),
        (0, 2**31 - 1, -1),
        (2**31 - 1, 0, 1),
        (0, 2**31 + 1, 1),  # 2**31 + 1 is "behind" 0: 0 is newer
        (2**31 + 1, 0, -1),
        (2**32 - 1, 0, -1),  # wrap-around: 0 is newer than 2**32 - 1
        (0, 2**32 - 1, 1),
        (4294967000, 2026112500, -1),
        (2026112500, 4294967000, 1),
        (4000000000, 2026112500, 1),  # 2026112500 is more than 2**31 ahead: older
    ],
)
def test_compare_examples(a: int, b: int, expected: int) -> None:
    assert compare(a, b) == expected


@pytest.mark.parametrize(
    ("a", "b"), [(0, 2**31), (2**31, 0), (1, 2**31 + 1), (2**31 - 1, 2**32 - 1)]
)
def test_compare_undefined_raises(a: int, b: int) -> None:
    with pytest.raises(ValueError, match="undefined"):
        compare(a, b)


@pytest.mark.parametrize(("a", "b"), [(-1, 0), (0, -1), (2**32, 0), (0, 2**32), (2**40, 2**40)])
def test_compare_out_of_range_raises(a: int, b: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        compare(a, b)


def test_compare_rejects_non_int() -> None:
    with pytest.raises(TypeError):
        compare(1.0, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        compare(True, 2)


@given(a=serials, b=serials)
@example(a=0, b=2**31 - 1)
@example(a=0, b=2**31)
@example(a=2**32 - 1, b=0)
@example(a=2**31 + 1, b=0)
def test_compare_matches_rfc1982(a: int, b: int) -> None:
    if abs(a - b) == 2**31:
        with pytest.raises(ValueError):
            compare(a, b)
        assert is_newer(a, b) is False
        assert is_newer(b, a) is False
        return
    expected = 0 if a == b else (-1 if rfc1982_less(a, b) else 1)
    assert compare(a, b) == expected
    assert compare(b, a) == -expected
    assert is_newer(a, b) is (expected == 1)


# --- is_newer --------------------------------------------------------------------------------


def test_is_newer_examples() -> None:
    assert is_newer(1, 0) is True
    assert is_newer(0, 1) is False
    assert is_newer(5, 5) is False
    assert is_newer(0, 2**32 - 1) is True
    assert is_newer(2**32 - 1, 0) is False
    assert is_newer(2**31 - 1, 0) is True
    assert is_newer(2**31, 0) is False  # undefined
    assert is_newer(0, 2**31) is False  # undefined
    assert is_newer(2026112500, 4294967000) is True


def test_is_newer_out_of_range_raises() -> None:
    with pytest.raises(ValueError):
        is_newer(2**32, 0)
    with pytest.raises(ValueError):
        is_newer(0, -1)


# --- add -------------------------------------------------------------------------------------


def test_add_examples() -> None:
    assert add(0, 1) == 1
    assert add(2**32 - 1, 1) == 0
    assert add(2**32 - 2, 5) == 3
    assert add(0, 2**31 - 1) == 2**31 - 1
    assert add(2**31, 2**31 - 1) == 2**32 - 1
    assert add(2**31 + 1, 2**31 - 1) == 0
    assert add(2**32 - 1, 2**31 - 1) == 2**31 - 2


@pytest.mark.parametrize("step", [0, -1, 2**31, 2**32])
def test_add_illegal_step_raises(step: int) -> None:
    with pytest.raises(ValueError, match="step"):
        add(10, step)


@pytest.mark.parametrize("serial", [-1, 2**32])
def test_add_illegal_serial_raises(serial: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        add(serial, 1)


@given(serial=serials, step=steps)
@example(serial=2**32 - 1, step=1)
@example(serial=0, step=MAX_STEP)
@example(serial=2**32 - 1, step=MAX_STEP)
def test_add_is_newer_by_step(serial: int, step: int) -> None:
    result = add(serial, step)
    assert 0 <= result <= SERIAL_MAX
    assert result == (serial + step) % 2**32
    assert compare(result, serial) == 1
    assert compare(serial, result) == -1
    assert is_newer(result, serial)


@given(serial=serials)
@example(serial=0)
@example(serial=2**32 - 1)
def test_add_half_range_is_illegal(serial: int) -> None:
    with pytest.raises(ValueError):
        add(serial, 2**31)


# --- next_serial: increment ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "expected"),
    [(0, 1), (41, 42), (2**31 - 1, 2**31), (2**32 - 2, 2**32 - 1), (2**32 - 1, 0)],
)
def test_increment(current: int, expected: int) -> None:
    assert next_serial(current, "increment", NOW) == expected


def test_increment_wraps_to_zero_which_is_newer() -> None:
    result = next_serial(2**32 - 1, "increment", NOW)
    assert result == 0
    assert is_newer(result, 2**32 - 1)


# --- next_serial: date -----------------------------------------------------------------------


def test_date_first_change_of_day() -> None:
    assert next_serial(2026112400, "date", NOW) == TODAY


def test_date_second_change_of_day() -> None:
    first = next_serial(2026112400, "date", NOW)
    assert first == 2026112500
    assert next_serial(first, "date", NOW) == 2026112501


def test_date_successive_changes_count_up() -> None:
    serial = 2026112403
    seen = []
    for _ in range(5):
        serial = next_serial(serial, "date", NOW)
        seen.append(serial)
    assert seen == [2026112500, 2026112501, 2026112502, 2026112503, 2026112504]


def test_date_mid_day() -> None:
    assert next_serial(2026112542, "date", NOW) == 2026112543
    assert next_serial(2026112598, "date", NOW) == 2026112599


def test_date_after_99_falls_back_to_plus_one() -> None:
    assert next_serial(2026112599, "date", NOW) == 2026112600
    # and the day after, the serial is already "tomorrow 00": the next one is 01
    tomorrow = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert next_serial(2026112600, "date", tomorrow) == 2026112601


def test_date_previous_day_moves_to_today_00() -> None:
    assert next_serial(2026112499, "date", NOW) == TODAY
    assert next_serial(2026112417, "date", NOW) == TODAY
    assert next_serial(2025010100, "date", NOW) == TODAY


def test_date_from_small_serial_moves_to_today() -> None:
    assert next_serial(1, "date", NOW) == TODAY
    assert next_serial(0, "date", NOW) == TODAY


def test_date_current_ahead_of_today_falls_back_to_plus_one() -> None:
    assert next_serial(2027010100, "date", NOW) == 2027010101  # a future date
    assert next_serial(2030123199, "date", NOW) == 2030123200
    assert next_serial(4000000000, "date", NOW) == 4000000001  # a huge value, date not newer


def test_date_from_very_old_serial_that_cannot_reach_today() -> None:
    # today is 2**31 + 5 ahead of this serial: under RFC 1982 that makes it *older*, so the
    # scheme falls back to +1
    current = (TODAY - 2**31 - 5) % 2**32
    assert current == 4173596143
    assert is_newer(TODAY, current) is False
    assert next_serial(current, "date", NOW) == current + 1


def test_date_wrap_around_reaches_today_legally() -> None:
    # 4294967000 -> 2026112500 is a step of 2026112796 < 2**31: RFC 1982 says it is newer
    assert next_serial(4294967000, "date", NOW) == 2026112500


def test_date_uses_utc_date() -> None:
    plus_five = timezone(timedelta(hours=5))
    # 01:00 on the 25th at +05:00 is 20:00 on the 24th in UTC
    early = datetime(2026, 11, 25, 1, 0, tzinfo=plus_five)
    assert next_serial(2026112000, "date", early) == 2026112400
    minus_five = timezone(timedelta(hours=-5))
    # 22:00 on the 24th at -05:00 is 03:00 on the 25th in UTC
    late = datetime(2026, 11, 24, 22, 0, tzinfo=minus_five)
    assert next_serial(2026112000, "date", late) == 2026112500


def test_date_scheme_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_serial(1, "date", datetime(2026, 11, 25, 12, 0))


# --- next_serial: unixtime -------------------------------------------------------------------


def test_unixtime_from_older_serial() -> None:
    assert next_serial(1700000000, "unixtime", NOW) == NOW_TIMESTAMP
    assert next_serial(0, "unixtime", NOW) == NOW_TIMESTAMP


def test_unixtime_same_second_falls_back_to_plus_one() -> None:
    assert next_serial(NOW_TIMESTAMP, "unixtime", NOW) == NOW_TIMESTAMP + 1


def test_unixtime_current_ahead_falls_back_to_plus_one() -> None:
    assert next_serial(NOW_TIMESTAMP + 100, "unixtime", NOW) == NOW_TIMESTAMP + 101
    # the timestamp is 2190575296 (> 2**31) ahead of 3900000000 modulo 2**32: older
    assert next_serial(3900000000, "unixtime", NOW) == 3900000001


def test_unixtime_wrap_around_reaches_timestamp_legally() -> None:
    # ... but only 2090575296 (< 2**31) ahead of 4000000000: newer, so it is used
    assert next_serial(4000000000, "unixtime", NOW) == NOW_TIMESTAMP


def test_unixtime_from_date_style_serial() -> None:
    # a date-style serial 2026112500 is numerically above the timestamp: +1
    assert next_serial(2026112500, "unixtime", NOW) == 2026112501


def test_unixtime_unreachable_in_one_step_falls_back() -> None:
    current = (NOW_TIMESTAMP - 2**31) % 2**32  # exactly 2**31 behind: undefined, not newer
    assert current == 3943091648
    assert next_serial(current, "unixtime", NOW) == current + 1
    current = (NOW_TIMESTAMP - 2**31 + 1) % 2**32  # one less: legal
    assert next_serial(current, "unixtime", NOW) == NOW_TIMESTAMP


def test_unixtime_ignores_sub_second_part() -> None:
    now = NOW.replace(microsecond=999_999)
    assert next_serial(1, "unixtime", now) == NOW_TIMESTAMP


# --- next_serial: floor ----------------------------------------------------------------------


def test_floor_newer_and_reachable_is_used() -> None:
    assert next_serial(10, "increment", NOW, floor=500) == 500
    assert next_serial(2026112400, "date", NOW, floor=2026112507) == 2026112507
    assert next_serial(1700000000, "unixtime", NOW, floor=NOW_TIMESTAMP + 60) == NOW_TIMESTAMP + 60


def test_floor_not_newer_than_result_is_ignored() -> None:
    assert next_serial(10, "increment", NOW, floor=11) == 11  # equal to the result
    assert next_serial(10, "increment", NOW, floor=5) == 11
    assert next_serial(10, "increment", NOW, floor=10) == 11
    assert next_serial(2026112400, "date", NOW, floor=2026112300) == TODAY
    assert next_serial(2026112400, "date", NOW, floor=TODAY) == TODAY


def test_floor_unreachable_in_one_step_is_ignored() -> None:
    assert next_serial(0, "increment", NOW, floor=2**31) == 1  # exactly 2**31 ahead
    assert next_serial(0, "increment", NOW, floor=2**31 - 1) == 2**31 - 1  # the largest step
    assert next_serial(5, "increment", NOW, floor=2**31 + 5) == 6
    assert next_serial(5, "increment", NOW, floor=2**31 + 4) == 2**31 + 4


def test_floor_across_wrap_around() -> None:
    assert next_serial(2**32 - 10, "increment", NOW, floor=3) == 3
    assert next_serial(2**32 - 10, "increment", NOW, floor=2**32 - 20) == 2**32 - 9


def test_floor_newer_than_result_but_behind_current_is_ignored() -> None:
    # floor is newer than the unixtime result under RFC 1982 yet more than 2**31 ahead of current
    current = 1700000000
    floor = (NOW_TIMESTAMP + 2**31 - 10) % 2**32
    assert is_newer(floor, NOW_TIMESTAMP)
    assert not is_newer(floor, current)
    assert next_serial(current, "unixtime", NOW, floor=floor) == NOW_TIMESTAMP


# --- next_serial: errors ---------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Date", "epoch", "", "dateserial"])
def test_unknown_scheme_raises(scheme: str) -> None:
    with pytest.raises(ValueError, match="unknown serial scheme"):
        next_serial(1, scheme, NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("current", [-1, 2**32, 2**64])
def test_current_out_of_range_raises(current: int) -> None:
    with pytest.raises(ValueError, match="current"):
        next_serial(current, "increment", NOW)


@pytest.mark.parametrize("floor", [-1, 2**32])
def test_floor_out_of_range_raises(floor: int) -> None:
    with pytest.raises(ValueError, match="floor"):
        next_serial(1, "increment", NOW, floor=floor)


# --- next_serial: properties -----------------------------------------------------------------


def _edge_examples(test):  # type: ignore[no-untyped-def]
    for edge in EDGES:
        test = example(current=edge, now=NOW, floor=None)(test)
        test = example(current=edge, now=NOW, floor=add(edge, MAX_STEP))(test)
        test = example(current=edge, now=NOW, floor=(edge + 2**31) % 2**32)(test)
    test = example(current=4294967000, now=NOW, floor=None)(test)
    test = example(current=TODAY + 99, now=NOW, floor=None)(test)
    test = example(current=2**32 - 1, now=datetime(2105, 12, 31, 23, 59, 59, tzinfo=UTC), floor=0)(
        test
    )
    return test


@pytest.mark.parametrize("scheme", SCHEMES)
@given(current=serials, now=nows, floor=floors)
@_edge_examples
def test_next_serial_is_always_a_legal_newer_step(
    scheme: str, current: int, now: datetime, floor: int | None
) -> None:
    result = next_serial(current, scheme, now, floor)  # type: ignore[arg-type]
    assert 0 <= result <= SERIAL_MAX
    assert is_newer(result, current)
    assert compare(result, current) == 1
    assert 1 <= step_of(current, result) <= MAX_STEP


@pytest.mark.parametrize("scheme", SCHEMES)
@given(current=serials, now=nows, floor=floors)
@_edge_examples
def test_next_serial_is_scheme_result_or_floor(
    scheme: str, current: int, now: datetime, floor: int | None
) -> None:
    plain = next_serial(current, scheme, now)  # type: ignore[arg-type]
    result = next_serial(current, scheme, now, floor)  # type: ignore[arg-type]
    if floor is not None and rfc1982_less(plain, floor) and rfc1982_less(current, floor):
        assert result == floor
    else:
        assert result == plain


@given(current=serials, now=nows)
@example(current=2**32 - 1, now=NOW)
def test_increment_property(current: int, now: datetime) -> None:
    assert next_serial(current, "increment", now) == (current + 1) % 2**32


@given(current=serials, now=nows)
@example(current=4294967000, now=NOW)
@example(current=TODAY, now=NOW)
@example(current=TODAY + 99, now=NOW)
def test_date_property(current: int, now: datetime) -> None:
    today = int(now.strftime("%Y%m%d")) * 100
    result = next_serial(current, "date", now)
    if rfc1982_less(current, today):
        assert result == today
    else:
        assert result == (current + 1) % 2**32


@given(current=serials, now=nows)
@example(current=NOW_TIMESTAMP, now=NOW)
@example(current=(NOW_TIMESTAMP - 2**31) % 2**32, now=NOW)
@example(current=4000000000, now=NOW)
def test_unixtime_property(current: int, now: datetime) -> None:
    stamp = int((now - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    result = next_serial(current, "unixtime", now)
    if rfc1982_less(current, stamp):
        assert result == stamp
    else:
        assert result == (current + 1) % 2**32


# --- steps_to_reach --------------------------------------------------------------------------


def test_steps_to_reach_same_is_empty() -> None:
    assert steps_to_reach(0, 0) == []
    assert steps_to_reach(2026112500, 2026112500) == []


def test_steps_to_reach_newer_target_is_one_step() -> None:
    assert steps_to_reach(10, 20) == [20]
    assert steps_to_reach(0, 2**31 - 1) == [2**31 - 1]
    assert steps_to_reach(2**32 - 1, 0) == [0]


def test_steps_to_reach_lower_number_takes_two_steps() -> None:
    # the classic reset: from a date serial back to 1
    assert steps_to_reach(2026112500, 1) == [(2026112500 + MAX_STEP) % 2**32, 1]
    assert steps_to_reach(0, 2**31) == [2**31 - 1, 2**31]


def test_steps_to_reach_one_below_takes_three_steps() -> None:
    # distance 2**32 - 1 is more than two legal steps (at most 2**32 - 2) can cover
    assert steps_to_reach(100, 99) == [100 + MAX_STEP, (100 + 2 * MAX_STEP) % 2**32, 99]


def test_steps_to_reach_out_of_range_raises() -> None:
    with pytest.raises(ValueError):
        steps_to_reach(0, 2**32)
    with pytest.raises(ValueError):
        steps_to_reach(-1, 0)


@given(current=serials, target=serials)
@example(current=0, target=0)
@example(current=0, target=2**31)
@example(current=2**31, target=0)
@example(current=100, target=99)
@example(current=0, target=2**32 - 1)
@example(current=2**32 - 1, target=2**32 - 2)
@example(current=2026112500, target=1)
def test_steps_to_reach_property(current: int, target: int) -> None:
    path = steps_to_reach(current, target)
    if current == target:
        assert path == []
        return
    assert path[-1] == target
    assert 1 <= len(path) <= 3
    previous = current
    for serial in path:
        assert 0 <= serial <= SERIAL_MAX
        assert is_newer(serial, previous)
        assert rfc1982_less(previous, serial)
        assert 1 <= step_of(previous, serial) <= MAX_STEP
        previous = serial
    # as few steps as the distance allows
    distance = step_of(current, target)
    assert len(path) == -(-distance // MAX_STEP)


def test_latest_is_the_newest_in_rfc1982_terms() -> None:
    assert latest([]) is None
    assert latest([None, None]) is None
    assert latest([5, None, 3]) == 5
    assert latest([SERIAL_MAX, 2, None]) == 2  # 2 is past the wrap
    assert latest([7, 7 + 2**31]) == 7  # undefined order: the first is kept


@given(st.integers(0, SERIAL_MAX), st.lists(st.integers(0, MAX_STEP), min_size=1))
def test_latest_of_serials_within_half_the_space_is_their_maximum(
    start: int, offsets: list[int]
) -> None:
    """Within less than 2**31 of each other serials are ordered: `latest` is the maximum."""
    serials = [add(start, o) if o else start for o in offsets]
    newest = latest(serials)
    assert newest == add(start, max(offsets)) if max(offsets) else newest == start
    assert not any(is_newer(s, newest) for s in serials)
