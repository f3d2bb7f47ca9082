"""named's load-time limits are checked before anything is written.

`named-checkzone` passes an RRset of 101 records, a name with 101 types, a TTL over
`max-zone-ttl`; named then refuses to load the zone. `check` refuses them with their
line, against the primary's named.conf (`--config daemon.toml`: the pre-receive hook
and the daemon) or `[limits]` in reconciler.toml. The daemon tests run real named
with a stricter limit than BIND's default and show both sides of it: at the limit
the zone is served, one over it the commit is invalid and nothing is written.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import pytest

from reconciler.bind.limits import parse_limits
from reconciler.devtools import demo
from reconciler.devtools.init import commit_all
from reconciler.devtools.sandbox import free_port
from reconciler.model.limits import Limits, LoadLimits

from .conftest import GOOD_ZONE, ZoneRepo
from .daemonsite import Site

ZONE = "zones/example.org.zone"
LINES = len(GOOD_ZONE.splitlines())


def _errors(out: str) -> list[str]:
    """The error lines of `check`'s output (the mail rules warn about the test zone's MX)."""
    return [line for line in out.splitlines()[:-1] if ": warning: " not in line]


def _hosts(name: str, count: int, start: int = 1) -> str:
    return "".join(f"{name} IN A 10.0.{i // 250}.{i % 250 + 1}\n" for i in range(start, count + 1))


def _types(name: str, count: int) -> str:
    return "".join(f"{name} IN TYPE{65280 + i} \\# 1 {i % 256:02x}\n" for i in range(count))


def test_an_rrset_over_the_limit_is_refused_with_its_line(zone_repo: ZoneRepo) -> None:
    zone_repo.write(ZONE, GOOD_ZONE + _hosts("big", 100))
    assert zone_repo.run("check").code == 0  # 100: exactly BIND 9.18's default limit
    zone_repo.write(ZONE, GOOD_ZONE + _hosts("big", 101))
    result = zone_repo.run("check")
    assert result.code == 1
    assert _errors(result.out) == [
        f"{ZONE}:{LINES + 101}: example.org: big.example.org. A: 101 records in one RRset, "
        "over 100: named refuses to load the zone (max-records-per-type, [limits] in "
        "reconciler.toml)",
    ]
    assert result.out.splitlines()[-1].startswith("invalid: working tree: 1 error(s)")


def test_an_rrset_made_by_generate_points_at_the_directive(zone_repo: ZoneRepo) -> None:
    zone_repo.write(ZONE, GOOD_ZONE + "$GENERATE 1-101 big A 10.0.0.$\n")
    result = zone_repo.run("check")
    assert result.code == 1
    assert f"{ZONE}:{LINES + 1}: example.org: big.example.org. A: 101 records" in result.out


def test_a_name_with_too_many_types_is_refused_at_the_type_over(zone_repo: ZoneRepo) -> None:
    zone_repo.write(ZONE, GOOD_ZONE + _types("many", 100))
    assert zone_repo.run("check").code == 0
    # at the apex, SOA, NS and MX are three types already: the 98th more is the 101st
    zone_repo.write(ZONE, GOOD_ZONE + _types("@", 98))
    result = zone_repo.run("check")
    assert result.code == 1
    assert (
        f"{ZONE}:{LINES + 98}: example.org: example.org.: 101 types at one name, over 100: "
        "named refuses to load the zone (max-types-per-name, [limits] in reconciler.toml)"
    ) in result.out


def _limits(repo: ZoneRepo, **values: int) -> None:
    """Set keys of the [limits] table of the repo's reconciler.toml."""
    path = repo.path / "reconciler.toml"
    head, table = path.read_text().split("\n[limits]\n", 1)
    for key, value in values.items():
        table, count = re.subn(rf"(?m)^{key} = \d+$", f"{key} = {value}", table, count=1)
        assert count == 1, key
    path.write_text(f"{head}\n[limits]\n{table}")


def test_limits_in_reconciler_toml_apply_where_no_primary_is_at_hand(zone_repo: ZoneRepo) -> None:
    zone_repo.write(ZONE, GOOD_ZONE + _hosts("big", 101) + 'long 172800 IN TXT "a day"\n')
    _limits(zone_repo, max_records_per_type=200, max_zone_ttl=86400, max_records=100)
    result = zone_repo.run("check")
    assert result.code == 1
    assert _errors(result.out) == [
        f"{ZONE}:{LINES + 102}: example.org: long.example.org. TXT: TTL 172800 is over 86400: "
        "named refuses to load the zone (max-zone-ttl, [limits] in reconciler.toml)",
        f"{ZONE}:2: example.org: 110 records, over 100: named refuses to load the zone "
        "(max-records, [limits] in reconciler.toml)",
    ]
    _limits(zone_repo, max_zone_ttl=0, max_records=0)
    assert zone_repo.run("check").code == 0


def test_many_rrsets_over_a_limit_are_listed_up_to_twenty_then_counted(
    zone_repo: ZoneRepo,
) -> None:
    zone_repo.write(ZONE, GOOD_ZONE + "".join(f't{n} 7200 IN TXT "{n}"\n' for n in range(25)))
    _limits(zone_repo, max_zone_ttl=3600)
    result = zone_repo.run("check")
    assert result.code == 1
    errors = _errors(result.out)
    assert len(errors) == 21, result.out
    assert all("TTL 7200 is over 3600" in e for e in errors[:20])
    assert errors[20] == f"{ZONE}:{LINES + 21}: example.org: and 5 more like the above"


def test_bad_limits_in_reconciler_toml_name_their_line(zone_repo: ZoneRepo) -> None:
    text = (zone_repo.path / "reconciler.toml").read_text()
    zone_repo.write("reconciler.toml", text.replace("max_records = 0", "max_records = -1"))
    result = zone_repo.run("check")
    assert result.code == 1
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t == "max_records = 0")
    assert (
        f"reconciler.toml:{line}: [limits] max_records must be 0 (no limit) or a positive number"
    ) in result.out


def _host_config(folder: Path, named_conf: str) -> Path:
    (folder / "named.conf").write_text(named_conf)
    config = folder / "daemon.toml"
    config.write_text(
        '[repo]\npath = "repo"\n[bind]\nzone_dir = "zones"\ninclude_file = "zones.conf"\n'
        'named_conf = "named.conf"\n[rndc]\nkey_file = "rndc.key"\n[tsig]\n'
        'key_file = "transfer.key"\n[state]\ndir = "state"\n'
    )
    return config


def test_check_on_the_primary_uses_the_limits_of_its_named_conf(
    zone_repo: ZoneRepo, tmp_path: Path
) -> None:
    config = _host_config(
        tmp_path,
        'options { directory "/tmp"; max-records-per-type 5; };\n'
        'zone "example.org" { type primary; file "example.org.zone"; max-types-per-name 4; };\n',
    )
    zone_repo.write(ZONE, GOOD_ZONE + _hosts("big", 6) + '@ IN TXT "x"\n@ IN AAAA 2001:db8::1\n')
    assert zone_repo.run("check").code == 0  # within BIND's defaults
    result = zone_repo.run("check", "--config", str(config))
    assert result.code == 1
    source = f"the primary's {tmp_path / 'named.conf'}"
    assert _errors(result.out) == [
        f"{ZONE}:{LINES + 6}: example.org: big.example.org. A: 6 records in one RRset, over 5: "
        f"named refuses to load the zone (max-records-per-type, {source})",
        f"{ZONE}:{LINES + 8}: example.org: example.org.: 5 types at one name, over 4: "
        f"named refuses to load the zone (max-types-per-name, {source})",
    ]


def test_a_dnssec_policy_brings_its_max_zone_ttl(zone_repo: ZoneRepo, tmp_path: Path) -> None:
    config = _host_config(tmp_path, 'options { directory "/tmp"; dnssec-policy default; };\n')
    zone_repo.write(ZONE, GOOD_ZONE + 'long 2d IN TXT "two days"\n')
    result = zone_repo.run("check", "--config", str(config))
    assert result.code == 1
    assert (
        f"{ZONE}:{LINES + 1}: example.org: long.example.org. TXT: TTL 172800 is over 86400: "
        "named refuses to load the zone (max-zone-ttl, the primary's"
    ) in result.out


def _counting_checkconf(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """named-checkconf on PATH that logs each run, then runs BIND's; the log's path."""
    tools, log = folder / "bin", folder / "checkconf.log"
    tools.mkdir()
    real = shutil.which("named-checkconf")
    wrapper = tools / "named-checkconf"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    log.touch()
    return log


def _primary_runs(log: Path, folder: Path) -> int:
    """How many times named-checkconf read the primary's named.conf (in `folder`)."""
    return sum(line.endswith(f" {folder / 'named.conf'}") for line in log.read_text().splitlines())


def test_the_primarys_limits_are_read_again_only_when_its_configuration_changes(
    zone_repo: ZoneRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = _counting_checkconf(tmp_path, monkeypatch)
    included = tmp_path / "limits.conf"
    included.write_text("max-records-per-type 5;\n")
    config = _host_config(tmp_path, f'options {{ directory "/tmp"; include "{included}"; }};\n')
    zone_repo.write(ZONE, GOOD_ZONE + _hosts("big", 6))
    over = "6 records in one RRset, over 5: named refuses to load the zone (max-records-per-type"
    first = zone_repo.run("check", "--config", str(config))
    assert first.code == 1 and over in first.out
    assert _primary_runs(runs, tmp_path) == 1
    again = zone_repo.run("check", "--config", str(config))
    assert again.code == 1 and again.out == first.out  # the same limits, from the cache
    assert _primary_runs(runs, tmp_path) == 1  # named-checkconf did not run again
    included.write_text("max-records-per-type 6;\n")  # only the included file changes
    relaxed = zone_repo.run("check", "--config", str(config))
    assert relaxed.code == 0, relaxed.out
    assert _primary_runs(runs, tmp_path) == 2
    (tmp_path / "named.conf").write_text('options { directory "/tmp"; max-records-per-type 2; };\n')
    stricter = zone_repo.run("check", "--config", str(config))
    assert stricter.code == 1 and "over 2: named refuses" in stricter.out
    assert _primary_runs(runs, tmp_path) == 3


def test_damaged_kept_limits_are_read_again(
    zone_repo: ZoneRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_cache: Path
) -> None:
    runs = _counting_checkconf(tmp_path, monkeypatch)
    config = _host_config(tmp_path, 'options { directory "/tmp"; max-records-per-type 5; };\n')
    zone_repo.write(ZONE, GOOD_ZONE + _hosts("big", 6))
    assert zone_repo.run("check", "--config", str(config)).code == 1
    [kept] = [p for p in (own_cache / "limits").glob("*.json") if '"default"' in p.read_text()]
    kept.write_text('{"default": {"max_records_per_type": "lots"}, "zones": {}}')
    result = zone_repo.run("check", "--config", str(config))
    assert result.code == 1 and "over 5: named refuses" in result.out
    assert _primary_runs(runs, tmp_path) == 2


def test_an_unreadable_named_conf_falls_back_to_reconciler_toml_with_a_warning(
    zone_repo: ZoneRepo, tmp_path: Path
) -> None:
    config = _host_config(tmp_path, "options { max-records-per-type oops; };\n")
    zone_repo.write(ZONE, GOOD_ZONE + _hosts("big", 101))
    result = zone_repo.run("check", "--config", str(config))
    assert result.code == 1
    warning = next(line for line in result.out.splitlines() if "warning:" in line)
    assert warning.startswith(f"{tmp_path / 'named.conf'}: warning: cannot read the primary's")
    assert "checked against [limits] in reconciler.toml instead" in warning
    assert "over 100: named refuses to load the zone (max-records-per-type, [limits]" in result.out


def test_limits_are_read_as_named_applies_them(tmp_path: Path) -> None:
    conf = tmp_path / "named.conf"
    conf.write_text(
        'options { directory "/tmp"; max-records-per-type 50; max-zone-ttl 1d;\n'
        "  max-records 1000; };\n"
        'dnssec-policy "short" { max-zone-ttl P1DT2H; };\n'
        'view "inside" { max-records-per-type 60;\n'
        '  zone "a.example" { type primary; file "a"; };\n'
        '  zone "b.example" { type primary; file "b"; max-records-per-type 70;\n'
        "    max-zone-ttl unlimited; };\n"
        '  zone "c.example" { type primary; file "c"; dnssec-policy short; inline-signing yes;\n'
        "    max-zone-ttl 60; };\n"
        '  zone "d.example" { type primary; file "d"; dnssec-policy insecure;\n'
        "    inline-signing yes; };\n"
        "};\n"
    )
    printed = subprocess.run(
        ["named-checkconf", "-p", "-x", str(conf)], capture_output=True, text=True, check=True
    ).stdout
    limits = parse_limits(printed, "test")
    server = LoadLimits(50, 100, 86400, 1000, "test")
    assert limits == Limits(
        server,
        {
            "a.example": LoadLimits(60, 100, 86400, 1000, "test"),
            "b.example": LoadLimits(70, 100, 0, 1000, "test"),
            "c.example": LoadLimits(60, 100, 93600, 1000, "test"),
            "d.example": LoadLimits(60, 100, 0, 1000, "test"),
        },
    )
    assert limits.of("elsewhere.example") == server


@pytest.fixture
def strict_site(tmp_path: Path) -> Iterator[Site]:
    """The demo's servers and daemon, the primary's named.conf allowing 5 records an RRset."""
    sandbox = demo.setup(tmp_path / "demo", primary_options="max-records-per-type 5;", deadline=4)
    http = f"127.0.0.1:{free_port()}"
    config = sandbox.root / "daemon.toml"
    text = re.sub(r'listen = "[^"]*"', f'listen = "{http}"', config.read_text())
    config.write_text(text.replace("recheck_interval = 10\n", "recheck_interval = 1\n"))
    site = Site(sandbox, http)
    try:
        yield site
    finally:
        for daemon in site.daemons:
            daemon.stop()
        sandbox.servers.stop_all()


def _answer(site: Site, name: str) -> list[str]:
    primary = site.sandbox.servers.primary
    query = dns.message.make_query(name, "A")
    response = dns.query.udp(query, primary.address, port=primary.port, timeout=2)
    return sorted(r.to_text() for rrset in response.answer for r in rrset)


def _push(site: Site, text: str, message: str) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Commit the zone text and push it: the commit, and git's answer."""
    (site.root / "clone" / "zones" / "example.com.zone").write_text(text)
    sha = commit_all(site.clone, message)
    pushed = subprocess.run(
        ["git", "push", "-q", "origin", "main"],
        cwd=site.root / "clone",
        capture_output=True,
        text=True,
    )
    return sha, pushed


def test_the_pre_receive_hook_refuses_what_the_primary_would_refuse(strict_site: Site) -> None:
    zone = (strict_site.root / "clone" / "zones" / "example.com.zone").read_text()
    _, pushed = _push(strict_site, zone + _hosts("big", 6), "Six addresses for big")
    assert pushed.returncode != 0
    lines = len(zone.splitlines())
    named_conf = strict_site.sandbox.host.named_conf
    assert (
        f"zones/example.com.zone:{lines + 6}: example.com: big.example.com. A: 6 records in one "
        f"RRset, over 5: named refuses to load the zone (max-records-per-type, the primary's "
        f"{named_conf})"
    ) in pushed.stderr


def test_the_daemon_refuses_an_rrset_over_the_primarys_limit_and_writes_nothing(
    strict_site: Site,
) -> None:
    (strict_site.root / "repo.git" / "hooks" / "pre-receive").unlink()  # straight to the daemon
    daemon = strict_site.start()
    zone_file = strict_site.sandbox.host.zone_dir / "example.com.zone"
    zone = (strict_site.root / "clone" / "zones" / "example.com.zone").read_text()

    sha, pushed = _push(strict_site, zone + _hosts("big", 5), "Five addresses")
    assert pushed.returncode == 0, pushed.stderr
    event = daemon.wait_event(lambda e: _outcome(e, sha), "the reconcile of five")
    assert event["status"] == "confirmed"
    assert len(_answer(strict_site, "big.example.com")) == 5  # named loads 5 under this limit
    served, serials = zone_file.read_bytes(), strict_site.serials()

    sha, pushed = _push(strict_site, zone + _hosts("big", 6), "Six addresses")
    assert pushed.returncode == 0, pushed.stderr
    event = daemon.wait_event(lambda e: _outcome(e, sha), "the reconcile of six")
    assert event["status"] == "invalid", event
    assert (
        f"zones/example.com.zone:{len(zone.splitlines()) + 6}: example.com: big.example.com. A: "
        "6 records in one RRset, over 5: named refuses to load the zone (max-records-per-type, "
        "the primary's"
    ) in event["reason"], event
    assert zone_file.read_bytes() == served  # nothing written
    assert strict_site.serials() == serials
    assert len(_answer(strict_site, "big.example.com")) == 5


def _outcome(event: dict[str, object], sha: str) -> bool:
    """The daemon's word on how the reconcile of commit `sha` ended."""
    return (
        event.get("component") == "daemon"
        and event.get("commit") == sha[:12]
        and ("status" in event)
    )
