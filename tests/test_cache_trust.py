"""The check cache shared by two accounts: an entry is used only when its writer is trusted.

On a primary the pre-receive hook runs as the pushing account and the daemon as
`reconciler`, and the daemon serves the canonical form an entry holds. These tests make
real entries with `check`, then give them other owners (os.chown: the suite runs as root)
and other modes, and plant a problem in the entry: where `check` reports the planted
problem, the entry was trusted; where it reports BIND's own, the zone was checked again.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.config.host import parse_host_config
from reconciler.errors import ValidationError

from .conftest import GOOD_ZONE, ZoneRepo

ZONE = "zones/example.org.zone"
BAD = GOOD_ZONE + "bad IN CNAME www\nbad IN A 192.0.2.9\n"
PLANTED = "planted in the cache by its writer"
BIND_SAYS = "CNAME and other data"
STRANGER = 4242  # a uid no account has


def _entries(cache: Path) -> list[Path]:
    """The example.org entry's files (its JSON and its dump, if any)."""
    return sorted(cache.glob("example.org.*"))


Plant = Callable[[], list[Path]]


@pytest.fixture
def plant(zone_repo: ZoneRepo, own_cache: Path) -> Plant:
    """example.org checked once (invalid); `plant()` replaces the problem of its entry by
    PLANTED (as the reader, again after each check that wrote a fresh entry) and returns
    the entry's files."""
    zone_repo.write(ZONE, BAD)
    assert BIND_SAYS in zone_repo.run("check").out

    def plant() -> list[Path]:
        [entry] = [p for p in _entries(own_cache) if p.suffix == ".json"]
        data = json.loads(entry.read_text())
        for problem in data["problems"]:
            problem["message"] = PLANTED
        entry.unlink()
        entry.write_text(json.dumps(data))
        return _entries(own_cache)

    return plant


def _daemon_toml(folder: Path, writers: str, bind: str = "") -> Path:
    config = folder / "daemon.toml"
    config.write_text(
        f'[repo]\npath = "repo"\n[bind]\n{bind}zone_dir = "zones"\ninclude_file = "zones.conf"\n'
        '[rndc]\nkey_file = "rndc.key"\n[tsig]\nkey_file = "transfer.key"\n[state]\n'
        f'dir = "state"\n[check]\ntrust_cache_of = {writers}\n'
    )
    return config


def _trusted(zone_repo: ZoneRepo, *args: str) -> bool:
    """Whether `check` took example.org's verdict from the planted entry."""
    out = zone_repo.run("check", *args).out
    assert (PLANTED in out) != (BIND_SAYS in out), out
    return PLANTED in out


def test_the_readers_own_entries_are_trusted(zone_repo: ZoneRepo, plant: Plant) -> None:
    assert all(p.stat().st_uid == os.geteuid() for p in plant())
    assert _trusted(zone_repo)


def _own(paths: list[Path], uid: int) -> None:
    for path in paths:
        os.chown(path, uid, -1)


def test_an_entry_of_another_account_is_checked_again_with_bind(
    zone_repo: ZoneRepo, plant: Plant, tmp_path: Path
) -> None:
    _own(plant(), STRANGER)
    assert not _trusted(zone_repo)
    _own(plant(), STRANGER)
    assert not _trusted(zone_repo, "--config", str(_daemon_toml(tmp_path, '["nobody"]')))


def test_an_account_named_in_trust_cache_of_is_trusted(
    zone_repo: ZoneRepo, plant: Plant, tmp_path: Path
) -> None:
    nobody = pwd.getpwnam("nobody").pw_uid
    _own(plant(), nobody)
    assert not _trusted(zone_repo)  # without daemon.toml: only the reader and root
    _own(plant(), nobody)
    assert _trusted(zone_repo, "--config", str(_daemon_toml(tmp_path, '["nobody"]')))
    assert _trusted(zone_repo, "--config", str(_daemon_toml(tmp_path, f"[{nobody}]")))
    assert not _trusted(zone_repo)  # a check without daemon.toml is back to its own


def _group(name: str) -> int:
    return grp.getgrnam(name).gr_gid


@pytest.mark.parametrize(
    ("change", "trusted"),
    [
        (lambda p: p.chmod(0o646), False),
        (lambda p: (os.chown(p, -1, _group("nogroup")), p.chmod(0o664)), False),
        (lambda p: (os.chown(p, -1, _group("nogroup")), p.chmod(0o644)), True),
        (lambda p: (os.chown(p, -1, 0), p.chmod(0o664)), True),
    ],
    ids=[
        "writable-by-others",
        "writable-by-a-group-with-nobody-in-it",
        "readable-by-that-group",
        "writable-by-roots-group-that-holds-only-root",
    ],
)
def test_an_entry_writable_by_an_account_not_trusted_is_checked_again(
    zone_repo: ZoneRepo,
    plant: Plant,
    change: Callable[[Path], object],
    trusted: bool,
) -> None:
    for path in plant():
        change(path)
    assert _trusted(zone_repo) == trusted


def test_a_folder_writable_by_others_makes_every_entry_checked_again(
    zone_repo: ZoneRepo, plant: Plant, own_cache: Path
) -> None:
    plant()
    own_cache.chmod(0o777)
    assert not _trusted(zone_repo)
    plant()
    own_cache.chmod(0o775)
    os.chown(own_cache, -1, _group("nogroup"))
    assert not _trusted(zone_repo)
    plant()
    os.chown(own_cache, -1, 0)
    assert _trusted(zone_repo)  # group-writable, but root's group holds only root


def test_a_symlinked_entry_is_checked_again(
    zone_repo: ZoneRepo, plant: Plant, tmp_path: Path
) -> None:
    for path in plant():
        moved = tmp_path / path.name
        path.rename(moved)
        path.symlink_to(moved)
    assert not _trusted(zone_repo)


def test_the_primarys_kept_limits_follow_the_same_rule(
    zone_repo: ZoneRepo, own_cache: Path, tmp_path: Path
) -> None:
    conf = tmp_path / "named.conf"
    conf.write_text('options { directory "/tmp"; max-records-per-type 5; };\n')
    config = _daemon_toml(tmp_path, "[]", bind=f'named_conf = "{conf}"\n')
    zone_repo.write(ZONE, GOOD_ZONE + "".join(f"big IN A 10.0.0.{i}\n" for i in range(1, 7)))
    assert "over 5: named refuses" in zone_repo.run("check", "--config", str(config)).out

    def plant_limits() -> Path:
        [kept] = [p for p in (own_cache / "limits").glob("*.json") if '"default"' in p.read_text()]
        data = json.loads(kept.read_text())
        data["default"]["max_records_per_type"] = 1000  # planted: would let the zone through
        kept.write_text(json.dumps(data))
        return kept

    os.chown(plant_limits(), STRANGER, -1)
    assert "over 5: named refuses" in zone_repo.run("check", "--config", str(config)).out
    plant_limits()
    assert zone_repo.run("check", "--config", str(config)).code == 0  # its own: trusted


def test_trust_cache_of_lists_accounts_or_its_line_is_named(tmp_path: Path) -> None:
    text = _daemon_toml(tmp_path, '["git", -1]').read_text()
    with pytest.raises(ValidationError) as raised:
        parse_host_config(text, "daemon.toml", tmp_path)
    line = text.splitlines().index('trust_cache_of = ["git", -1]') + 1
    [problem] = raised.value.problems
    assert (problem.line, problem.message) == (
        line,
        "[check] trust_cache_of must list account names or uids",
    )
    config = parse_host_config(_daemon_toml(tmp_path, '["git", 0]').read_text(), "d", tmp_path)
    assert config.cache_writers == ("git", 0)
