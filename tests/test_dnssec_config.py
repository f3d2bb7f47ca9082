"""reconciler.toml's [dnssec]: parsed with file:line problems, written into the generated
include as BIND's `dnssec-policy` statements with inline signing, checked by the real
named-checkconf (in `check` too, at the policy's line)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from reconciler.bind.conf import primary_include
from reconciler.bind.keys import new_key, write_key_file
from reconciler.bind.tools import checkconf
from reconciler.config.host import parse_host_config
from reconciler.config.repo import parse_repo_config
from reconciler.errors import ValidationError
from tests.conftest import ZoneRepo


def with_policy(config: str, zone: str, policy: str) -> str:
    """The template's reconciler.toml (`config`) with `zone` signed by `policy`."""
    assert "\n[dnssec.zones]\n" in config
    return config.replace("\n[dnssec.zones]\n", f'\n[dnssec.zones]\n"{zone}" = "{policy}"\n', 1)


TOPOLOGY = """[primary]
name = "ns1"
address = "127.0.0.1"
"""

SIGNED = (
    TOPOLOGY
    + """
[dnssec]
policy = "default"

[dnssec.zones]
"example.net" = "fast"
"legacy.example" = "none"

[dnssec.policies.fast]
algorithm = "ED25519"
keys = "ksk-zsk"
ksk_lifetime = "unlimited"
zsk_lifetime = "90d"
denial = "nsec3"
nsec3_optout = true
dnskey_ttl = "1h"
max_zone_ttl = 86400
signatures_validity = "14d"
signatures_refresh = "5d"
"""
)


def test_policies_per_zone_and_their_values() -> None:
    dnssec = parse_repo_config(SIGNED).dnssec
    assert dnssec.policy_name("example.com") == "default"
    assert dnssec.policy_name("Example.NET.") == "fast"
    assert not dnssec.signed("legacy.example")
    fast = dnssec.policy("example.net")
    assert fast is not None
    assert (fast.algorithm, fast.algorithm_number, fast.keys) == ("ed25519", 15, "ksk-zsk")
    assert (fast.ksk_lifetime, fast.zsk_lifetime) == (None, 90 * 86400)
    assert fast.durations["dnskey_ttl"] == 3600
    assert fast.summary() == "ED25519, KSK-ZSK, NSEC3 opt-out"
    assert parse_repo_config(TOPOLOGY).dnssec.signed("example.com") is False  # off unless asked


def test_include_signs_inline_with_the_policies_and_passes_named_checkconf(
    tmp_path: Path,
) -> None:
    config = parse_repo_config(SIGNED)
    key_file = tmp_path / "transfer.key"
    write_key_file(key_file, new_key("transfer-key"))
    zones = {z: tmp_path / f"{z}.zone" for z in ("example.com", "example.net", "legacy.example")}
    text = primary_include(
        zones, [], "transfer-key", tmp_path / "catalog.zone", key_file, config.dnssec, tmp_path
    )
    assert text.count("inline-signing yes;") == 2
    assert text.count(f'key-directory "{tmp_path}";') == 2
    assert 'dnssec-policy "fast" {' in text
    assert "nsec3param iterations 0 optout yes salt-length 0;" in text
    assert "zsk lifetime 7776000 algorithm ed25519;" in text
    legacy = text[text.index('zone "legacy.example"') :].split("};\n", 1)[0]
    assert "dnssec-policy" not in legacy and "inline-signing" not in legacy
    include = tmp_path / "reconciler.conf"
    include.write_text(text)
    conf = tmp_path / "named.conf"
    conf.write_text(f'options {{ directory "{tmp_path}"; }};\ninclude "{include}";\n')
    assert checkconf(conf) == []


@pytest.mark.parametrize(
    ("table", "line", "message"),
    [
        ('[dnssec]\npolicy = "fsat"\n', 6, "no policy 'fsat'"),
        ("[dnssec]\nsign = true\n", 6, "unknown key 'sign' in [dnssec]"),
        ('[dnssec.policies.p]\nalgorithm = "rsasha1"\n', 6, "algorithm 'rsasha1' is not one of"),
        ('[dnssec.policies.p]\ndenial = "nsec5"\n', 6, 'denial must be "nsec" or "nsec3"'),
        ("[dnssec.policies.p]\nnsec3_optout = true\n", 6, 'needs denial = "nsec3"'),
        ('[dnssec.policies.p]\nzsk_lifetime = "30d"\n', 6, 'is for keys = "ksk-zsk"'),
        ('[dnssec.policies.p]\ndnskey_ttl = "soon"\n', 6, "dnskey_ttl must be a duration"),
        (
            '[dnssec.policies.p]\nsignatures_validity = "1d"\nsignatures_refresh = "2d"\n',
            7,
            "signatures_refresh must be shorter than signatures_validity",
        ),
        ('[dnssec.policies.default]\nalgorithm = "ed25519"\n', 5, "is BIND's own"),
        ('[dnssec.zones]\nexample.com = "default"\n', 6, "quote a zone name with dots"),
    ],
)
def test_bad_dnssec_tables_name_the_line(table: str, line: int, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_repo_config(TOPOLOGY + "\n" + table)
    problem = caught.value.problems[0]
    assert (problem.file, problem.line) == ("reconciler.toml", line)
    assert message in problem.message


def test_check_gives_named_checkconfs_verdict_on_a_policy_at_its_line(
    zone_repo: ZoneRepo,
) -> None:
    config = (zone_repo.path / "reconciler.toml").read_text()
    zone_repo.write(
        "reconciler.toml",
        config + '\n[dnssec.policies.brief]\nkeys = "ksk-zsk"\nzsk_lifetime = "1h"\n',
    )
    line = len(config.splitlines()) + 2
    expected = (
        f"reconciler.toml:{line}: [dnssec.policies.brief]: named-checkconf: dnssec-policy: "
        "key lifetime is shorter than the time it takes to do a rollover"
    )
    result = zone_repo.run("check")
    assert result.code == 1, result.out + result.err
    assert expected in result.out + result.err
    again = zone_repo.run("check")  # the verdict kept in the cache: the same problem
    assert again.code == 1 and expected in again.out + again.err


def test_a_policys_verdict_is_kept_until_the_policy_or_bind_changes(
    zone_repo: ZoneRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools, log = tmp_path / "bin", tmp_path / "checkconf.log"
    tools.mkdir()
    wrapper = tools / "named-checkconf"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec {checkconf_path()} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    config = (zone_repo.path / "reconciler.toml").read_text()
    assert "\n[dnssec.policies." in config  # the template has a policy of its own
    assert zone_repo.run("check").code == 0
    runs = len(log.read_text().splitlines())
    assert runs >= 1
    assert zone_repo.run("check").code == 0
    assert len(log.read_text().splitlines()) == runs  # named-checkconf did not run again
    zone_repo.write("reconciler.toml", config + '\n[dnssec.policies.other]\nkeys = "csk"\n')
    assert zone_repo.run("check").code == 0
    assert len(log.read_text().splitlines()) == runs + 1  # only the new policy
    wrapper.write_text(wrapper.read_text() + "# another BIND\n")  # the binary changes
    assert zone_repo.run("check").code == 0
    assert len(log.read_text().splitlines()) == 2 * (runs + 1)  # both policies again


def checkconf_path() -> str:
    found = shutil.which("named-checkconf")
    assert found is not None
    return found


def test_signed_zone_over_its_policys_ttl_ceiling_is_refused_by_check(
    zone_repo: ZoneRepo,
) -> None:
    config = (zone_repo.path / "reconciler.toml").read_text()
    signed = with_policy(config, "example.com", "default")
    zone_repo.write("reconciler.toml", signed)
    zone = (zone_repo.path / "zones/example.com.zone").read_text()
    zone_repo.write("zones/example.com.zone", zone + "slow 172800 IN A 192.0.2.7\n")
    result = zone_repo.run("check")
    assert result.code == 1, result.out
    assert "TTL 172800" in result.out and "[dnssec] policy default" in result.out
    zone_repo.write("reconciler.toml", config)
    assert zone_repo.run("check").code == 0  # unsigned, [limits] max_zone_ttl = 0: no ceiling


def test_key_directory_from_daemon_toml(tmp_path: Path) -> None:
    base = """[repo]\npath = "repo"\n[bind]\nzone_dir = "zones"\ninclude_file = "z.conf"
[rndc]\nkey_file = "rndc.key"\n[tsig]\nkey_file = "t.key"\n[state]\ndir = "state"\n"""
    assert parse_host_config(base, "daemon.toml", tmp_path).keys == tmp_path / "zones" / "keys"
    keyed = base + '[dnssec]\nkey_directory = "/var/lib/bind/keys"\n'
    assert parse_host_config(keyed, "daemon.toml", tmp_path).keys == Path("/var/lib/bind/keys")


def test_the_templates_dnssec_table_signs_example_com_once_uncommented() -> None:
    template = Path(__file__).parent.parent / "repo-template" / "reconciler.toml"
    text = template.read_text()
    assert not parse_repo_config(text).dnssec.signed("example.com")  # off until asked
    signed = text.replace('# "example.com" = "default"', '"example.com" = "default"')
    dnssec = parse_repo_config(signed).dnssec
    assert dnssec.policy_name("example.com") == "default"
    modern = dnssec.policies["modern"]
    assert (modern.algorithm, modern.keys, modern.denial) == ("ed25519", "ksk-zsk", "nsec3")
    assert not dnssec.signed("example.net")


def test_a_signed_zone_that_is_not_in_the_repo_is_a_warning_at_its_line(
    zone_repo: ZoneRepo,
) -> None:
    config = (zone_repo.path / "reconciler.toml").read_text()
    typo = with_policy(config, "exmaple.com", "default")
    zone_repo.write("reconciler.toml", typo)
    line = typo.splitlines().index('"exmaple.com" = "default"') + 1
    result = zone_repo.run("check")
    assert result.code == 0, result.out
    assert (
        f"reconciler.toml:{line}: warning: [dnssec.zones] exmaple.com: no zone of the repo is "
        "called so; the entry does nothing (a typo?)"
    ) in result.out, result.out
