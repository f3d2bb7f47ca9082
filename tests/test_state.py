"""The state file (apply/state.py) read back and checked, and the git note format
(model/outcome.py): files in a temp folder only, no BIND, no git."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.apply import state as state_module
from reconciler.apply.state import State, StateError, ZoneState, load_state, save_state
from reconciler.model.outcome import Note, Status

pytestmark = pytest.mark.unit

COMMIT = "0123456789abcdef0123456789abcdef01234567"
GOOD = {
    "last_attempted": COMMIT,
    "last_applied": COMMIT,
    "zones": {"example.com": {"serial": 2026120100, "hash": "ab", "commit": COMMIT}},
    "catalog_serial": 7,
    "lagging": [],
    "last_failure": None,
}


def _write(folder: Path, data: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str | bytes) else json.dumps(data)
    path = folder / "state.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


def _with(**changes: object) -> dict[str, object]:
    return {**GOOD, **changes}


def _zone(**changes: object) -> dict[str, object]:
    return {"example.com": {**GOOD["zones"]["example.com"], **changes}}  # type: ignore[index]


def test_a_saved_state_reads_back_the_same(tmp_path: Path) -> None:
    state = State(
        COMMIT,
        COMMIT,
        {"example.com": ZoneState(5, "h", COMMIT)},
        9,
        ("ns2: example.com serves 4 (want 5)",),
        {"commit": COMMIT, "reason": "why"},
    )
    save_state(tmp_path, state)
    assert load_state(tmp_path) == state
    assert load_state(tmp_path / "nothing-yet") == State()


def test_the_state_file_is_what_asdict_made(tmp_path: Path) -> None:
    # to_dict is written out for speed (issue 13): the file must stay byte for byte the same.
    state = State(
        COMMIT,
        None,
        {"b.example": ZoneState(5, "h", COMMIT), "a.example": ZoneState(6, "i", COMMIT)},
        9,
        ("ns2: b.example serves 4 (want 5)",),
        None,
        {"gone.example": 3},
    )
    save_state(tmp_path, state)
    made = json.dumps(asdict(state), indent=2, sort_keys=True) + "\n"
    assert (tmp_path / "state.json").read_text() == made
    assert load_state(tmp_path) == state


def test_every_field_of_the_state_is_checked_when_read() -> None:
    assert set(state_module._FIELDS) == {f.name for f in fields(State)}


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("", "not JSON"),
        ("{not json", "not JSON"),
        (b"\xff\xfe garbage \x00", "not JSON"),
        ("[" * 100_000, "not JSON"),
        ([1, 2], "not a JSON object but a list"),
        ("null", "not a JSON object but null"),
        (_with(zones=_zone(serial="2026120100")), "zones.example.com.serial is a string"),
        (_with(zones=_zone(serial=-1)), "zones.example.com.serial is an integer (-1)"),
        (_with(zones=_zone(serial=2**32)), "not a serial 0..4294967295"),
        (_with(zones=_zone(serial=True)), "zones.example.com.serial is a boolean"),
        (_with(zones=_zone(serial=1.5)), "zones.example.com.serial is a number (1.5)"),
        (_with(zones={"example.com": [1]}), "zones.example.com is not an object of serial"),
        (_with(zones={"example.com": {"serial": 1}}), "not an object of serial, hash and commit"),
        (_with(zones=[]), "zones is a list, not an object"),
        (_with(last_applied=42), "last_applied is 42, not a commit id"),
        (_with(last_attempted="HEAD; rm -rf /"), "last_attempted is 'HEAD; rm -rf /'"),
        (_with(catalog_serial="7"), "catalog_serial is a string"),
        (_with(lagging="ns2"), "lagging is a string, not a list of strings"),
        (_with(last_failure=[]), "last_failure is a list"),
        (_with(surprise=1), "unknown field 'surprise'"),
    ],
)
def test_garbage_in_the_state_file_is_named(tmp_path: Path, content: object, said: str) -> None:
    _write(tmp_path, content)
    with pytest.raises(StateError) as caught:
        load_state(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'state.json'}: ")
    assert said in message
    assert "\n" not in message and len(message) < 600


def test_every_wrong_field_is_named_at_once(tmp_path: Path) -> None:
    _write(tmp_path, _with(last_applied=1, catalog_serial="x", lagging=None))
    message = str(pytest.raises(StateError, load_state, tmp_path).value)
    assert "last_applied" in message and "catalog_serial" in message and "lagging" in message


def test_an_unreadable_state_file_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").mkdir()
    with pytest.raises(StateError, match="cannot be read"):
        load_state(tmp_path)


def test_a_note_reads_back_and_old_notes_still_read() -> None:
    at = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    note = Note(Status.ROLLED_BACK, at, "example.com: named did not load it", {"a.test": 5})
    assert Note.parse(note.text()) == note
    old = "reconciler: rolled back at 2026-12-01T12:00:00+00:00\nserved: a.test serial 5"
    assert Note.parse(old) == Note(Status.ROLLED_BACK, at, None, {"a.test": 5})
    assert Note.parse("a note someone else wrote") is None
    assert Note.parse("reconciler: exploded at 2026-12-01T12:00:00+00:00") is None
    assert Note.parse("reconciler: confirmed at yesterday") is None
    assert Note.parse("reconciler: confirmed at 2026-12-01T12:00:00") is None  # no zone
    big = "reconciler: confirmed at 2026-12-01T12:00:00+00:00\nserved: a.test serial 9999999999"
    assert Note.parse(big) == Note(Status.CONFIRMED, at)
