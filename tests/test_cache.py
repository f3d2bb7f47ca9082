"""The checkzone cache: a zone checked once is not checked again, and nothing stale is used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.check import checkzone as validate
from reconciler.errors import ToolError

from .conftest import GOOD_ZONE, ZoneRepo

ZONE = "zones/example.org.zone"


def _no_bind(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, running named-checkzone fails: only the cache can answer."""
    real = validate.tool

    def refuse(name: str) -> str:
        path = real(name)
        monkeypatch.setattr(validate, "_check_one", _fail)
        return path

    monkeypatch.setattr(validate, "tool", refuse)


def _fail(*args: object) -> None:
    raise ToolError("named-checkzone was run although the cache should have answered")


def test_unchanged_zones_are_not_checked_again(
    zone_repo: ZoneRepo, own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone_repo.write(ZONE, GOOD_ZONE + "bad IN CNAME www\nbad IN A 192.0.2.9\n")
    first = zone_repo.run("check", "--format", "json")
    assert first.code == 1
    assert sorted(p.name.rsplit(".", 2)[0] for p in own_cache.glob("*.json")) == [
        "example.com",
        "example.net",
        "example.org",
    ]
    _no_bind(monkeypatch)
    second = zone_repo.run("check", "--format", "json")
    assert second.code == 1, second.err
    assert json.loads(second.out) == json.loads(first.out)
    plan = zone_repo.run("plan", "--format", "json")  # base and head: all from the cache
    assert plan.code == 1, plan.err
    assert "CNAME and other data" in plan.out


def test_a_changed_zone_or_include_is_checked_again(
    zone_repo: ZoneRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone_repo.write("zones/common/hosts.inc", "extra IN A 192.0.2.99\n")
    zone_repo.write(ZONE, GOOD_ZONE + "$INCLUDE common/hosts.inc\n")
    assert zone_repo.run("check").code == 0
    zone_repo.write("zones/common/hosts.inc", "extra IN CNAME www\nextra IN A 192.0.2.9\n")
    result = zone_repo.run("check")
    assert result.code == 1
    assert "zones/common/hosts.inc:2: example.org: extra.example.org.: CNAME and other" in (
        result.out
    )
    zone_repo.write("zones/common/hosts.inc", "extra IN A 192.0.2.99\n")
    assert zone_repo.run("check").code == 0
    _no_bind(monkeypatch)
    assert zone_repo.run("check").code == 0  # both states were seen: no BIND run needed
    zone_repo.write(ZONE, GOOD_ZONE + "$INCLUDE common/hosts.inc\nnew IN A 192.0.2.5\n")
    result = zone_repo.run("check")
    assert result.code == 1 and "named-checkzone was run" in result.err


def test_a_change_two_includes_deep_is_checked_again_and_an_unreached_file_is_not_read(
    zone_repo: ZoneRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone_repo.write("zones/common/hosts.inc", "$INCLUDE common/deeper.inc\n")
    zone_repo.write("zones/common/deeper.inc", "deep IN A 192.0.2.98\n")
    zone_repo.write("zones/common/unused.inc", "not read by anything\n")
    zone_repo.write(ZONE, GOOD_ZONE + "$INCLUDE common/hosts.inc\n")
    assert zone_repo.run("check").code == 0
    zone_repo.write("zones/common/deeper.inc", "deep IN CNAME www\ndeep IN A 192.0.2.9\n")
    result = zone_repo.run("check")
    assert result.code == 1
    assert "zones/common/deeper.inc:2: example.org: deep.example.org.: CNAME and other" in (
        result.out
    )
    zone_repo.write("zones/common/deeper.inc", "deep IN A 192.0.2.98\n")
    _no_bind(monkeypatch)
    zone_repo.write("zones/common/unused.inc", "changed, and still reached by no $INCLUDE\n")
    assert zone_repo.run("check").code == 0  # the first state again: from the cache


def test_a_damaged_entry_is_ignored(zone_repo: ZoneRepo, own_cache: Path) -> None:
    zone_repo.write(ZONE, GOOD_ZONE)
    assert zone_repo.run("check").code == 0
    for entry in own_cache.glob("example.org.*.json"):
        entry.write_text("{not json")
    result = zone_repo.run("check", "--format", "json")
    assert result.code == 0
    assert "example.org" in json.loads(result.out)["zones"]


def test_cache_can_be_turned_off(
    zone_repo: ZoneRepo, own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_CACHE_DIR", "off")
    assert zone_repo.run("check").code == 0
    assert not own_cache.exists()


def test_an_entry_holds_bind_s_dump_as_a_plain_file(
    zone_repo: ZoneRepo, own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The canonical form is kept as BIND printed it, one record per line, beside a small
    JSON of BIND's problems (not a JSON list of every line); a dump cut short is not used."""
    zone_repo.write(ZONE, GOOD_ZONE)
    assert zone_repo.run("check").code == 0
    [meta] = own_cache.glob("example.org.*.json")
    dump = meta.with_suffix(".zone")
    lines = dump.read_text(encoding="utf-8").splitlines()
    assert any(line.split()[:1] == ["www.example.org."] for line in lines)
    assert all(len(line.split()) >= 5 for line in lines)
    assert "canonical" in json.loads(meta.read_text()) and str(lines[0]) not in meta.read_text()
    dump.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # the last record lost
    assert zone_repo.run("check").code == 0  # checked again: the cut entry was not trusted
    assert dump.read_text(encoding="utf-8").splitlines() == lines
    _no_bind(monkeypatch)
    assert zone_repo.run("check").code == 0  # and the entry written again is used


def test_an_entry_of_the_earlier_layout_is_ignored(zone_repo: ZoneRepo, own_cache: Path) -> None:
    """A cache written by an earlier version (every line in the JSON) is not an error."""
    zone_repo.write(ZONE, GOOD_ZONE)
    assert zone_repo.run("check").code == 0
    entries = list(own_cache.glob("*.json"))
    for meta in entries:
        lines = meta.with_suffix(".zone").read_text(encoding="utf-8").splitlines()
        meta.write_text(json.dumps({"problems": [], "canonical": lines[:1]}))
        meta.with_suffix(".zone").unlink()
    result = zone_repo.run("check", "--format", "json")
    assert result.code == 0, result.err
    assert sorted(json.loads(result.out)["zones"]) == ["example.com", "example.net", "example.org"]
    assert all(m.with_suffix(".zone").exists() for m in entries)  # checked and kept again
