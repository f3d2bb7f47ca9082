"""Dynamic names ([dynamic] in reconciler.toml): the ACME DNS-01 case, as certbot does it.

certbot's dns-rfc2136 plugin sends an RFC 2136 update signed with a TSIG key; here
`nsupdate -k KEYFILE` does the same against the sandbox primary. The TXT record it adds is
served by every secondary and survives a push that changes another record of the zone; the
key can change nothing else; git may not hold the dynamic name; plan and check ignore the
client's records; the key's secret is in no output, include or state file.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import git
import pytest
from click.testing import CliRunner

from reconciler.bind.keys import new_key, write_key_file
from reconciler.cli.main import main
from reconciler.devtools import demo
from reconciler.devtools.init import commit_all
from tests.daemonsite import WWW, ZONE, wait_until

ACME = "_acme-challenge.example.com."
DYNAMIC = """
[dynamic."example.com"]
key = "acme-key"
names = ["_acme-challenge", "_acme-challenge.www"]
types = ["TXT"]
"""


@pytest.fixture
def acme(tmp_path: Path) -> Iterator[demo.Demo]:
    """The demo sandbox with [dynamic] for example.com and the acme key on the host."""
    sandbox = demo.setup(tmp_path / "demo", hooks=False, deadline=30)
    try:
        key_file = sandbox.root / "servers" / "keys" / "acme.key"
        write_key_file(key_file, new_key("acme-key"))
        daemon = sandbox.root / "daemon.toml"
        daemon.write_text(
            daemon.read_text() + f'\n[dynamic]\nkey_file = "{key_file.relative_to(sandbox.root)}"\n'
        )
        yield sandbox
    finally:
        sandbox.servers.stop_all()


def push(sandbox: demo.Demo, message: str, edit: dict[str, str]) -> None:
    clone = sandbox.root / "clone"
    for relative, text in edit.items():
        (clone / relative).write_text(text)
    repo = git.Repo(clone)
    commit_all(repo, message)
    repo.git.push("-q", "origin", "main")


def run(sandbox: demo.Demo, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["-C", str(sandbox.root / "clone"), *args])
    return result.exit_code, result.output


def apply(sandbox: demo.Demo) -> tuple[int, str]:
    return run(sandbox, "apply", "--config", str(sandbox.root / "daemon.toml"))


def nsupdate(sandbox: demo.Demo, *updates: str) -> subprocess.CompletedProcess[str]:
    """What certbot's rfc2136 plugin sends: an update signed with the acme key."""
    primary = sandbox.servers.primary
    script = "\n".join(
        [f"server {primary.address} {primary.port}", "zone example.com", *updates, "send", ""]
    )
    key_file = sandbox.root / "servers" / "keys" / "acme.key"
    return subprocess.run(
        ["nsupdate", "-k", str(key_file)],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def answers(sandbox: demo.Demo, name: str, rdtype: str) -> list[list[str]]:
    """What each server (primary first) answers for `name` `rdtype`."""
    found = []
    for server in sandbox.servers.all():
        query = dns.message.make_query(name, rdtype)
        response = dns.query.udp(query, server.address, port=server.port, timeout=2)
        rrset = response.get_rrset(
            response.answer, dns.name.from_text(name), 1, dns.rdatatype.from_text(rdtype)
        )
        found.append(sorted(r.to_text() for r in rrset) if rrset else [])
    return found


def everywhere(sandbox: demo.Demo, name: str, rdtype: str, want: list[str]) -> None:
    wait_until(
        lambda: all(a == want for a in answers(sandbox, name, rdtype)),
        f"every server to answer {want} for {name} {rdtype}",
    )


def test_acme_txt_survives_a_push_and_reaches_every_secondary(acme: demo.Demo) -> None:
    sandbox = acme
    clone = sandbox.root / "clone"
    toml = (clone / "reconciler.toml").read_text()
    push(sandbox, "Let the ACME client update _acme-challenge", {"reconciler.toml": toml + DYNAMIC})
    code, output = apply(sandbox)
    assert code == 0, output
    include = sandbox.servers.primary.include_file
    assert include is not None
    text = include.read_text()
    assert f'grant "acme-key" name {ACME} TXT;' in text
    assert 'grant "acme-key" name _acme-challenge.www.example.com. TXT;' in text

    added = nsupdate(sandbox, f'update add {ACME} 60 IN TXT "token-1"')
    assert added.returncode == 0, added.stdout + added.stderr
    everywhere(sandbox, ACME, "TXT", ['"token-1"'])

    zone = (clone / ZONE).read_text()
    push(sandbox, "Move www", {ZONE: zone.replace(WWW, "www     IN A    192.0.2.91")})
    code, output = apply(sandbox)
    assert code == 0, output
    everywhere(sandbox, "www.example.com.", "A", ["192.0.2.91"])
    everywhere(sandbox, ACME, "TXT", ['"token-1"'])  # the client's record survived

    # a second token (as for a wildcard certificate), then another push: both stay
    again = nsupdate(sandbox, f'update add {ACME} 60 IN TXT "token-2"')
    assert again.returncode == 0, again.stdout + again.stderr
    everywhere(sandbox, ACME, "TXT", ['"token-1"', '"token-2"'])
    push(sandbox, "Move www again", {ZONE: zone.replace(WWW, "www     IN A    192.0.2.92")})
    code, output = apply(sandbox)
    assert code == 0, output
    everywhere(sandbox, "www.example.com.", "A", ["192.0.2.92"])
    everywhere(sandbox, ACME, "TXT", ['"token-1"', '"token-2"'])

    # the client cleans up, as certbot does after validation
    removed = nsupdate(sandbox, f"update delete {ACME} TXT")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    everywhere(sandbox, ACME, "TXT", [])

    # nothing of the key's secret anywhere the reconciler writes or says
    secret = (sandbox.root / "servers" / "keys" / "acme.key").read_text().split('"')[-2]
    state = "".join(p.read_text() for p in (sandbox.root / "state").rglob("*") if p.is_file())
    assert secret not in output + text + state


def test_the_acme_key_changes_nothing_git_owns(acme: demo.Demo) -> None:
    sandbox = acme
    toml = (sandbox.root / "clone" / "reconciler.toml").read_text()
    push(sandbox, "Let the ACME client update _acme-challenge", {"reconciler.toml": toml + DYNAMIC})
    assert apply(sandbox)[0] == 0
    before = answers(sandbox, "www.example.com.", "A")[0]
    refused = nsupdate(sandbox, "update add www.example.com. 60 IN A 192.0.2.66")
    assert refused.returncode != 0 and "REFUSED" in refused.stdout + refused.stderr
    wrong_type = nsupdate(sandbox, f'update add {ACME} 60 IN CAA 0 issue "ca.example"')
    assert wrong_type.returncode != 0 and "REFUSED" in wrong_type.stdout + wrong_type.stderr
    other = "_acme-challenge.mail.example.com."
    wrong_name = nsupdate(sandbox, f'update add {other} 60 IN TXT "token"')
    assert wrong_name.returncode != 0 and "REFUSED" in wrong_name.stdout + wrong_name.stderr
    assert answers(sandbox, "www.example.com.", "A")[0] == before
    assert answers(sandbox, ACME, "CAA")[0] == []
    assert answers(sandbox, other, "TXT")[0] == []


def test_git_cannot_hold_a_dynamic_name_and_plan_ignores_them(acme: demo.Demo) -> None:
    sandbox = acme
    clone = sandbox.root / "clone"
    toml = (clone / "reconciler.toml").read_text()
    push(sandbox, "Let the ACME client update _acme-challenge", {"reconciler.toml": toml + DYNAMIC})
    assert apply(sandbox)[0] == 0
    assert nsupdate(sandbox, f'update add {ACME} 60 IN TXT "token-1"').returncode == 0

    zone = (clone / ZONE).read_text()
    (clone / ZONE).write_text(zone + '_acme-challenge IN TXT "from git"\n')
    code, output = run(sandbox, "check")
    assert code == 1
    line = len(zone.splitlines()) + 1
    assert f"zones/example.com.zone:{line}: example.com: {ACME} TXT: dynamic: " in output, output
    (clone / ZONE).write_text(zone)

    # the last good copy lost: rebuilt from what the primary serves, without the client's TXT
    for copy in (sandbox.root / "state").rglob("example.com*"):
        copy.unlink()
    push(sandbox, "Move www", {ZONE: zone.replace(WWW, "www     IN A    192.0.2.93")})
    code, output = apply(sandbox)
    assert code == 0, output
    assert "www.example.com. A" in output
    assert "_acme-challenge" not in output  # the plan shows git's change only
    everywhere(sandbox, ACME, "TXT", ['"token-1"'])


def test_a_dynamic_key_the_host_lacks_is_refused(acme: demo.Demo) -> None:
    sandbox = acme
    toml = (sandbox.root / "clone" / "reconciler.toml").read_text()
    other = DYNAMIC.replace('key = "acme-key"', 'key = "other-key"')
    push(sandbox, "A key the host does not have", {"reconciler.toml": toml + other})
    code, output = apply(sandbox)
    assert code == 1, output
    assert "[dynamic.\"example.com\"] key 'other-key'" in output
    assert "no key named 'other-key'" in output


def test_a_zone_turned_dynamic_and_back_with_changes_in_the_same_commits(acme: demo.Demo) -> None:
    """[dynamic] added together with a change of the zone (named holds it static until the
    include changes), then taken away together with another change: git's content is
    served each time, and once the zone is static again the client's record is gone."""
    sandbox = acme
    clone = sandbox.root / "clone"
    toml = (clone / "reconciler.toml").read_text()
    zone = (clone / ZONE).read_text()
    push(
        sandbox,
        "Dynamic names, and www moves",
        {"reconciler.toml": toml + DYNAMIC, ZONE: zone.replace(WWW, "www     IN A    192.0.2.94")},
    )
    code, output = apply(sandbox)
    assert code == 0, output
    everywhere(sandbox, "www.example.com.", "A", ["192.0.2.94"])
    added = nsupdate(sandbox, f'update add {ACME} 60 IN TXT "token-1"')
    assert added.returncode == 0, added.stdout + added.stderr
    everywhere(sandbox, ACME, "TXT", ['"token-1"'])

    push(
        sandbox,
        "No dynamic names any more, and www moves again",
        {"reconciler.toml": toml, ZONE: zone.replace(WWW, "www     IN A    192.0.2.95")},
    )
    code, output = apply(sandbox)
    assert code == 0, output
    everywhere(sandbox, "www.example.com.", "A", ["192.0.2.95"])
    everywhere(sandbox, ACME, "TXT", [])
    refused = nsupdate(sandbox, f'update add {ACME} 60 IN TXT "token-2"')
    assert refused.returncode != 0, refused.stdout + refused.stderr
