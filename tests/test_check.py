"""`reconciler check`: every bad input gets one clear line naming file and line, exit 1."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from .conftest import GOOD_ZONE, ZoneRepo

ZONE = "zones/example.org.zone"


def _zone(extra: str) -> Callable[[ZoneRepo], None]:
    return lambda r: r.write(ZONE, GOOD_ZONE + extra)


def _replace(old: str, new: str) -> Callable[[ZoneRepo], None]:
    return lambda r: r.write(ZONE, GOOD_ZONE.replace(old, new))


def _symlink(r: ZoneRepo) -> None:
    r.write("zones/real.txt", GOOD_ZONE)
    os.symlink("real.txt", r.path / "zones" / "example.org.zone")


def _big(r: ZoneRepo) -> None:
    with open(r.path / ZONE, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: 200 MB that is never read


def _config_key(r: ZoneRepo) -> None:
    text = (r.path / "reconciler.toml").read_text()
    r.write("reconciler.toml", text.replace("[serial]\n", "[serial]\nsheme = 'date'\n"))


# (case, setup, file:line prefix expected, words expected in the message)
BAD = [
    (
        "no SOA",
        _replace("@       IN SOA ns1 hostmaster ( 1 1800 900 1209600 1800 )\n", ""),
        f"{ZONE}:2: example.org: example.org. SOA",
        "no SOA record",
    ),
    ("syntax error", _zone("bad IN BOGUS 1\n"), f"{ZONE}:10: example.org", "unknown RR type"),
    ("unbalanced", _zone('txt IN TXT ( "open"\n'), f"{ZONE}:", "unbalanced parentheses"),
    (
        "CNAME and other data",
        _zone("www IN CNAME mail\n"),
        f"{ZONE}:10: example.org",
        "CNAME and other data",
    ),
    (
        "MX to CNAME",
        _zone("alias IN CNAME mail\n@ IN MX 20 alias\n"),
        f"{ZONE}:11: example.org",
        "is a CNAME",
    ),
    (
        "NS without address",
        _zone("@ IN NS ns3\n"),
        f"{ZONE}:10: example.org",
        "NS target ns3.example.org. has no address",
    ),
    (
        "bad owner name",
        _zone("bad_name IN A 192.0.2.9\n"),
        f"{ZONE}:10: example.org",
        "bad owner name",
    ),
    (
        "file name does not match",
        lambda r: r.write(
            "zones/example.info.zone",
            GOOD_ZONE.replace("$TTL 3600\n", "$TTL 3600\n$ORIGIN example.org.\n"),
        ),
        "zones/example.info.zone:3: example.info: example.org.: out-of-zone data",
        "not in zone example.info",
    ),
    (
        "two files for one zone",
        lambda r: r.write("zones/example.net.zone", GOOD_ZONE),
        "zones/example.net.zone.j2",
        "zone example.net is already defined by zones/example.net.zone",
    ),
    (
        "include /etc/passwd",
        _zone("$INCLUDE /etc/passwd\n"),
        f"{ZONE}:10: example.org",
        "$INCLUDE /etc/passwd is outside the zones/ folder",
    ),
    (
        "include ../x",
        _zone("$INCLUDE ../x\n"),
        f"{ZONE}:10: example.org",
        "$INCLUDE ../x is outside the zones/ folder",
    ),
    ("symlink in zones", _symlink, "zones/example.org.zone", "is a symlink"),
    (
        "template attribute trick",
        lambda r: r.write(
            "zones/example.org.zone.j2", GOOD_ZONE + "x IN TXT \"{{ ''.__class__ }}\"\n"
        ),
        "zones/example.org.zone.j2:10",
        "refused by the sandbox",
    ),
    ("empty file", lambda r: r.write(ZONE, ""), ZONE, "empty file"),
    ("200 MB file", _big, ZONE, "over the limit of 67108864 bytes ([safety] max_zone_bytes"),
    ("unknown config key", _config_key, "reconciler.toml:26", "unknown key 'sheme' in [serial]"),
    (
        "trailing dot slip BIND refuses",
        _zone("@ IN NS ns3.example.org\n"),
        f"{ZONE}:10: example.org: example.org. NS",
        "NS target ns3.example.org.example.org. has no address records (A or AAAA) (missing "
        "trailing dot?)",
    ),
]


@pytest.mark.parametrize("case,setup,where,words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_line(zone_repo: ZoneRepo, case: str, setup, where, words) -> None:
    setup(zone_repo)
    result = zone_repo.run("check")
    assert result.code == 1, result.out + result.err
    assert "Traceback" not in result.out + result.err
    errors = [line for line in result.out.splitlines() if words in line]
    assert errors, f"no line with {words!r} in:\n{result.out}{result.err}"
    assert errors[0].startswith(where), errors[0]
    assert result.out.splitlines()[-1].startswith("invalid: working tree")


def test_every_problem_is_reported_at_once(zone_repo: ZoneRepo) -> None:
    zone_repo.write(ZONE, GOOD_ZONE + "$INCLUDE /etc/passwd\n")
    zone_repo.write("zones/bad.example.zone", "")
    _config_key(zone_repo)
    result = zone_repo.run("check", "--format", "json")
    assert result.code == 1
    report = json.loads(result.out)
    files = sorted({p["file"] for p in report["problems"] if p["severity"] == "error"})
    assert files == ["reconciler.toml", "zones/bad.example.zone", ZONE]
    assert report["ok"] is False and report["errors"] == 3


def test_committed_revision_is_checked_not_the_working_tree(zone_repo: ZoneRepo) -> None:
    zone_repo.write(ZONE, GOOD_ZONE + "www IN CNAME mail\n")
    bad = zone_repo.commit("break example.org")
    zone_repo.write(ZONE, GOOD_ZONE)
    assert zone_repo.run("check").code == 0
    result = zone_repo.run("check", bad)
    assert result.code == 1
    assert f"{ZONE}:10: example.org: www.example.org.: CNAME and other data" in result.out


def test_symlink_committed_in_git_is_refused(zone_repo: ZoneRepo) -> None:
    _symlink(zone_repo)
    rev = zone_repo.commit("a symlinked zone")
    result = zone_repo.run("check", rev)
    assert result.code == 1
    assert "zones/example.org.zone: is a symlink" in result.out


def test_unknown_revision_is_one_line(zone_repo: ZoneRepo) -> None:
    result = zone_repo.run("check", "no-such-branch")
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        f"error: revision 'no-such-branch' does not exist in {zone_repo.path}"
    ]


def test_include_inside_zones_folder_is_allowed(zone_repo: ZoneRepo) -> None:
    zone_repo.write("zones/common/hosts.inc", "extra IN A 192.0.2.99\n")
    zone_repo.write(ZONE, GOOD_ZONE + "$INCLUDE common/hosts.inc\n")
    result = zone_repo.run("check")
    assert result.code == 0, result.out
    zone_repo.write("zones/common/hosts.inc", "extra IN CNAME www\nextra IN A 192.0.2.9\n")
    result = zone_repo.run("check")
    assert result.code == 1
    assert "zones/common/hosts.inc:2: example.org: extra.example.org.: CNAME and other data" in (
        result.out
    )


def test_soa_timers_outside_advice_warn_but_pass(zone_repo: ZoneRepo) -> None:
    zone_repo.write(ZONE, GOOD_ZONE.replace("1 1800 900 1209600 1800", "1 60 900 3600 1800"))
    result = zone_repo.run("check")
    assert result.code == 0, result.out
    warning = next(line for line in result.out.splitlines() if "warning:" in line)
    assert warning.startswith(f"{ZONE}:2: example.org: example.org. SOA: warning: SOA timers")
    assert "refresh 60 outside 1200-43200" in warning and "expire 3600" in warning


def test_check_base_only_checks_changed_zones(zone_repo: ZoneRepo) -> None:
    base = zone_repo.repo.head.commit.hexsha
    zone_repo.write(ZONE, GOOD_ZONE)
    zone_repo.commit("add example.org")
    result = zone_repo.run("check", "HEAD", "--base", base, "--format", "json")
    assert result.code == 0, result.out
    assert json.loads(result.out)["zones"] == ["example.org"]


def test_glue_must_agree_with_the_child_zone(zone_repo: ZoneRepo) -> None:
    zone_repo.write(ZONE, GOOD_ZONE + "sub IN NS ns.sub\nns.sub IN A 192.0.2.50\n")
    child = GOOD_ZONE.replace("ns1\n@       IN NS  ns2", "ns").replace(
        "ns1     IN A   192.0.2.1\nns2     IN A   192.0.2.2", "ns IN A 192.0.2.51"
    )
    zone_repo.write("zones/sub.example.org.zone", child)
    result = zone_repo.run("check")
    assert result.code == 1, result.out
    assert (
        f"{ZONE}:11: example.org: ns.sub.example.org. A: glue A ['192.0.2.50'] for "
        "ns.sub.example.org. disagrees with zone sub.example.org, which has "
        "['192.0.2.51']"
    ) in result.out


def test_mx_into_another_repo_zone_needs_an_address(zone_repo: ZoneRepo) -> None:
    zone_repo.write(ZONE, GOOD_ZONE + "@ IN MX 20 relay.example.com.\n")
    result = zone_repo.run("check")
    assert result.code == 1
    assert (
        f"{ZONE}:10: example.org: example.org. MX: MX target relay.example.com. has no A "
        "or AAAA record in zone example.com"
    ) in result.out
