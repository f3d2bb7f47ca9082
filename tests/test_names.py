"""Zone names: `check` refuses exactly the names deploy cannot write (issue 9 items 2, 6).

A zone's name is its file's name. `my zone`, `x"y.example`, `bücher.example`, a
300-character name and `-lead.example` passed `check` and broke deploy (or were
read by named-checkzone as an option); `catalog.invalid` replaced the catalog.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reconciler.bind.catalog import CATALOG
from reconciler.bind.conf import primary_include
from reconciler.check.zonefiles import load_zone, zone_name
from reconciler.errors import ConfigError
from reconciler.model.names import MAX_LENGTH, zone_name_problem
from reconciler.model.snapshot import FileEntry, Snapshot

from .conftest import GOOD_ZONE, ZoneRepo

LONG = ".".join(["a" * 60] * 5)  # 304 characters: fine labels, too long a name

# (file name's zone, words in the one line check prints)
BAD_NAMES = [
    ("my zone", "not ' '"),
    ('x"y.example', "not '\"'"),
    ("bücher.example", "written as its A-label: xn--bcher-kva.example"),
    ("-lead.example", "the label '-lead' starts or ends with '-'"),
    ("lead-.example", "the label 'lead-' starts or ends with '-'"),
    (CATALOG, "the catalog zone the reconciler generates"),
    ("a" * 64 + ".example", "is 64 characters, over 63"),
]


@pytest.mark.parametrize("name,words", BAD_NAMES, ids=[b[0] for b in BAD_NAMES])
def test_check_refuses_a_zone_name_deploy_cannot_write(
    zone_repo: ZoneRepo, name: str, words: str
) -> None:
    path = f"zones/{name}.zone"
    zone_repo.write(path, GOOD_ZONE)
    result = zone_repo.run("check")
    assert result.code == 1, result.out + result.err
    assert "Traceback" not in result.out + result.err
    lines = [line for line in result.out.splitlines() if line.startswith(path)]
    assert len(lines) == 1, result.out
    assert "invalid zone name" in lines[0] and words in lines[0], lines[0]
    with pytest.raises(ConfigError):  # and deploy would refuse it too
        primary_include({name: Path(f"/z/{name}.zone")}, [], "k", Path("/z/catalog.zone"))


def test_a_name_too_long_for_a_file_is_refused_in_a_commit(zone_repo: ZoneRepo) -> None:
    """No file system holds a 304-character file name, but a commit can: check the commit."""

    def git(*args: str, given: str = "") -> str:
        run = subprocess.run(
            ["git", *args], cwd=zone_repo.path, input=given, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    blob = git("hash-object", "-w", "--stdin", given=GOOD_ZONE)
    zones = git("ls-tree", "HEAD:zones") + f"\n100644 blob {blob}\t{LONG}.zone\n"
    top = [line for line in git("ls-tree", "HEAD").splitlines() if not line.endswith("\tzones")]
    top.append(f"040000 tree {git('mktree', given=zones)}\tzones")
    tree = git("mktree", given="\n".join(top) + "\n")
    commit = git("commit-tree", tree, "-p", "HEAD", "-m", "a long name")
    result = zone_repo.run("check", commit)
    assert result.code == 1, result.out + result.err
    (line,) = [x for x in result.out.splitlines() if x.startswith(f"zones/{LONG}.zone")]
    assert f"is 304 characters, over {MAX_LENGTH}" in line


BARE_ZONE = (
    "$TTL 60\n@ IN SOA ns.elsewhere.test. h.elsewhere.test. 1 2 3 4 5\n@ IN NS ns.elsewhere.test.\n"
)


def test_names_deploy_writes_are_accepted(zone_repo: ZoneRepo) -> None:
    for name in ("xn--bcher-kva.example", "_tcp.example", "0-25.2.0.192.in-addr.arpa"):
        zone_repo.write(f"zones/{name}.zone", BARE_ZONE)
    result = zone_repo.run("check")
    assert result.code == 0, result.out + result.err


def _check_accepts(name: str, path: str) -> bool:
    data = GOOD_ZONE.encode()
    snapshot = Snapshot("test", files={path: FileEntry(path, len(data), data)})
    _, problems = load_zone(snapshot, "zones", name, path, {}, 1 << 20)
    return not any("invalid zone name" in p.message for p in problems)


def _deploy_accepts(name: str) -> bool:
    try:
        primary_include({name: Path("/z/x.zone")}, [], "k", Path("/z/catalog.zone"))
    except ConfigError:
        return False
    return True


_LABELS = st.text(st.sampled_from("abzAZ09-_ .\"'\\;*$Üü\x00"), min_size=0, max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LABELS, min_size=1, max_size=4).map(".".join) | st.sampled_from([CATALOG, LONG]))
def test_check_and_deploy_agree_on_every_name(stem: str) -> None:
    """For any file name in zones/, check accepts the zone exactly when deploy can write it."""
    path = f"zones/{stem}.zone"
    name = zone_name(path)
    assume(name)  # "zones/.zone" and the like are not zone files at all
    assert name is not None
    accepted = _check_accepts(name, path)
    assert accepted == _deploy_accepts(name), (name, zone_name_problem(name))


def test_named_checkzone_gets_the_zone_after_double_dash(zone_repo: ZoneRepo) -> None:
    """Even a name that looks like an option reaches named-checkzone as the zone's name."""
    from reconciler.check.checkzone import check_zones
    from reconciler.model.zone import ZoneText

    path = "zones/-l.example.zone"
    snapshot = Snapshot("test", files={path: FileEntry(path, len(BARE_ZONE), BARE_ZONE.encode())})
    (result,) = check_zones([ZoneText("-l.example", path, BARE_ZONE)], snapshot, "zones")
    assert result.canonical is not None, result.problems
    assert result.canonical.soa.owner == "-l.example."
