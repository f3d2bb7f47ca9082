"""Zones as operators write them: `check` accepts what BIND accepts, and every message has its line.

Each zone here is also given to strict `named-checkzone` itself, so that "accepted" means
"accepted by BIND, with the same records", not "accepted by our reading of it".
"""

from __future__ import annotations

import json
import re
import subprocess

import dns.message
import dns.query
import pytest

from reconciler.bind import probe
from reconciler.check.checkzone import STRICT
from reconciler.devtools.init import commit_all

from .conftest import GOOD_ZONE, ZoneRepo
from .daemonsite import Site, wait_until

ZONE = "zones/example.org.zone"
LINE = re.compile(r"^(zones/\S+):(\d+): example\.org: ")

ORIGIN_DOT = """$ORIGIN .
$TTL 3600
example.org IN SOA ns1.example.org. hostmaster.example.org. (
        2024010101 ; serial
        1800 900 1209600 1800 )
        NS ns1.example.org.
        NS ns2.example.org.
        MX 10 mail.example.org.
$ORIGIN example.org.
ns1     A 192.0.2.1
ns2     A 192.0.2.2
mail.example.org. A 192.0.2.25
$ORIGIN sub.example.org.
host    A 192.0.2.30
$ORIGIN org.
www.example AAAA 2001:db8::80
$ORIGIN example.org.
@       TXT "v=spf1 mx -all"
_dmarc  TXT "v=DMARC1; p=none"
"""


def _records(repo: ZoneRepo) -> set[str]:
    """The records `plan` would serve for example.org, as `owner TYPE rdata`."""
    result = repo.run("plan", "--format", "json")
    assert result.code == 0, result.out + result.err
    (zone,) = [z for z in json.loads(result.out)["zones"] if z["zone"] == "example.org"]
    return {
        f"{c['owner']} {c['rtype']} {r}"
        for c in zone["changes"]
        for r in c["after"]["rdatas"]
        if c["rtype"] != "SOA"
    }


def _bind_records(repo: ZoneRepo, text: bytes) -> set[str]:
    """What strict named-checkzone itself makes of the same text (SOA left out)."""
    (repo.path / "bind.zone").write_bytes(text)
    run = subprocess.run(
        ["named-checkzone", *STRICT, "-D", "-o", "-", "example.org", "bind.zone"],
        cwd=repo.path,
        capture_output=True,
    )
    (repo.path / "bind.zone").unlink()
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    records = set()
    for line in run.stdout.decode().splitlines():
        owner, _ttl, _class, rtype, rdata = line.split(None, 4)
        if rtype != "SOA":
            records.add(f"{owner} {rtype} {' '.join(rdata.split())}")
    return records


def test_origin_dot_style_is_accepted_with_every_record_where_bind_puts_it(
    zone_repo: ZoneRepo,
) -> None:
    zone_repo.write(ZONE, ORIGIN_DOT)
    result = zone_repo.run("check")
    assert result.code == 0, result.out
    assert "example.org" not in result.out  # not even a warning
    served = _records(zone_repo)
    assert served == _bind_records(zone_repo, ORIGIN_DOT.encode())
    assert {
        "host.sub.example.org. A 192.0.2.30",
        "www.example.org. AAAA 2001:db8::80",
        "mail.example.org. A 192.0.2.25",
        'example.org. TXT "v=spf1 mx -all"',
    } <= served


def test_an_origin_dot_zone_pushed_to_the_daemon_reaches_every_secondary(site: Site) -> None:
    daemon = site.start()
    (site.root / "clone" / ZONE).write_text(ORIGIN_DOT)
    sha = commit_all(site.clone, "example.org, written in BIND's classic style")
    site.clone.git.push("-q", "origin", "main")  # through the pre-receive hook's check
    event = daemon.wait_event(
        lambda e: e.get("component") == "daemon" and e.get("commit") == sha[:12] and "status" in e,
        "the reconcile of the new zone",
    )
    assert event["status"] == "confirmed", event
    servers = site.sandbox.servers.all()

    def everywhere() -> list[int | None] | None:  # secondaries learn it from the catalog
        serials = [probe.soa_serial(s.address, s.port, "example.org", 1.0) for s in servers]
        return serials if None not in serials and len(set(serials)) == 1 else None

    wait_until(everywhere, "every server to serve example.org")
    for server in servers:
        for name, rtype, expected in [
            ("host.sub.example.org", "A", ["192.0.2.30"]),
            ("www.example.org", "AAAA", ["2001:db8::80"]),
            ("example.org", "MX", ["10 mail.example.org."]),
        ]:
            query = dns.message.make_query(name, rtype)
            response = dns.query.udp(query, server.address, port=server.port, timeout=2)
            answer = sorted(r.to_text() for rrset in response.answer for r in rrset)
            assert answer == expected, (server.name, name, rtype, answer)


def test_named_compilezone_output_is_accepted(zone_repo: ZoneRepo) -> None:
    zone_repo.write(ZONE, GOOD_ZONE)
    original = _records(zone_repo)
    (zone_repo.path / "in.zone").write_text(GOOD_ZONE)
    for style in ("relative", "full"):
        compiled = subprocess.run(
            ["named-compilezone", "-s", style, "-o", "-", "example.org", "in.zone"],
            cwd=zone_repo.path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert style == "full" or compiled.startswith("$ORIGIN .\n")
        zone_repo.write(ZONE, compiled)
        result = zone_repo.run("check")
        assert result.code == 0, f"{style}:\n{result.out}"
        assert _records(zone_repo) == original


def test_out_of_zone_data_is_an_error_with_its_line(zone_repo: ZoneRepo) -> None:
    zone_repo.write("zones/common/more.inc", "ok A 192.0.2.7\nwww.example.com. A 192.0.2.8\n")
    zone_repo.write(
        ZONE,
        GOOD_ZONE + "$ORIGIN example.com.\nstray A 192.0.2.9\n$INCLUDE common/more.inc\n",
    )
    result = zone_repo.run("check")
    assert result.code == 1, result.out
    errors = [line for line in result.out.splitlines() if "out-of-zone data" in line]
    assert [e.split(": out-of-zone")[0] for e in errors] == [
        f"{ZONE}:11: example.org: stray.example.com.",
        "zones/common/more.inc:1: example.org: ok.example.com.",
        "zones/common/more.inc:2: example.org: www.example.com.",
    ]
    assert "not in zone example.org" in errors[0]


def test_latin1_and_stray_bytes_load_as_bind_loads_them(zone_repo: ZoneRepo) -> None:
    text = (
        b"; Zone f\xfcr M\xfcller (Latin-1)\n"
        + GOOD_ZONE.encode()
        + b'note IN TXT "caf\xe9 \xff" ; \xe9t\xe9\n'
        + b'utf8 IN TXT "caf\xc3\xa9"\n'
    )
    zone_repo.write(ZONE, text)
    result = zone_repo.run("check")
    assert result.code == 0, result.out
    served = _records(zone_repo)
    assert served == _bind_records(zone_repo, text)
    assert 'note.example.org. TXT "caf\\233 \\255"' in served
    assert 'utf8.example.org. TXT "caf\\195\\169"' in served


def test_a_template_keeps_its_bytes_too(zone_repo: ZoneRepo) -> None:
    zone_repo.write("zones/common/latin1.j2", b'piece IN TXT "pi\xe8ce"\n')
    zone_repo.write(
        "zones/example.org.zone.j2",
        GOOD_ZONE.encode() + b'note IN TXT "{{ zone }} caf\xe9"\n{% include "common/latin1.j2" %}',
    )
    result = zone_repo.run("check")
    assert result.code == 0, result.out
    served = _records(zone_repo)
    assert 'note.example.org. TXT "example.org caf\\233"' in served
    assert 'piece.example.org. TXT "pi\\232ce"' in served


def test_a_name_repeating_the_zone_is_a_warning_not_an_error(zone_repo: ZoneRepo) -> None:
    zone_repo.write(ZONE, GOOD_ZONE + "alias IN CNAME www.example.org.example.org.\n")
    result = zone_repo.run("check")
    assert result.code == 0, result.out
    assert (
        f"{ZONE}:10: example.org: alias.example.org. CNAME: warning: "
        "www.example.org.example.org. repeats the zone name: missing trailing dot? "
        "(write www.example.org.)"
    ) in result.out.splitlines()


def _errors(result_out: str) -> list[str]:
    return [line for line in result_out.splitlines() if not line.startswith("invalid:")]


def test_cname_and_other_data_at_the_apex_is_reported_once(zone_repo: ZoneRepo) -> None:
    # named-checkzone prints this one once per RRset at the apex: three times here
    zone_repo.write(
        ZONE,
        "$TTL 3600\n@ IN SOA ns1 hostmaster ( 1 1800 900 1209600 1800 )\n  NS ns1\n"
        "  MX 10 ns1\nns1 A 192.0.2.1\n@ CNAME www\nwww A 192.0.2.2\n",
    )
    result = zone_repo.run("check")
    assert result.code == 1
    assert _errors(result.out) == [f"{ZONE}:6: example.org: example.org.: CNAME and other data"], (
        result.out
    )
    assert result.out.splitlines()[-1] == "invalid: working tree: 1 error(s), 0 warning(s)"


@pytest.mark.parametrize(
    "directive,message",
    [
        ("$GENERATE 9--10 host$ A 192.0.2.$", "$GENERATE: invalid range '9--10'"),
        ("$GENERATE 1-3/0 host$ A 192.0.2.$", "$GENERATE: "),
        ("$GENERATE 1-3 host$ A 300.1.1.$", "$GENERATE: near '300.1.1.1': bad dotted quad"),
        ("$GENERATE 1-3 host$ BOGUS x", "$GENERATE: "),
        ("$GENERATE 1-3", "unexpected end of"),
    ],
    ids=["range", "step 0", "bad rdata", "bad type", "short"],
)
def test_generate_errors_name_the_directive_line(
    zone_repo: ZoneRepo, directive: str, message: str
) -> None:
    zone_repo.write(
        ZONE, GOOD_ZONE + "mid IN A 192.0.2.99\n" + directive + "\nend IN A 192.0.2.1\n"
    )
    result = zone_repo.run("check")
    assert result.code == 1
    errors = _errors(result.out)
    assert len(errors) == 1, result.out
    assert errors[0].startswith(f"{ZONE}:11: example.org: "), errors[0]
    assert message in errors[0]


def test_a_generate_line_that_clashes_is_one_problem(zone_repo: ZoneRepo) -> None:
    zone_repo.write(
        ZONE, GOOD_ZONE + "$GENERATE 1-50 host$ A 192.0.2.$\n$GENERATE 1-50 host$ CNAME www\n"
    )
    result = zone_repo.run("check")
    assert result.code == 1
    assert _errors(result.out) == [
        f"{ZONE}:11: example.org: host1.example.org.: CNAME and other data "
        "(and 49 more name(s) from this line)"
    ], result.out


ZONE_LEVEL = [
    (
        "no SOA",
        GOOD_ZONE.replace("@       IN SOA ns1 hostmaster ( 1 1800 900 1209600 1800 )\n", ""),
        None,
        f"{ZONE}:2: example.org: example.org. SOA: no SOA record at the zone apex",
    ),
    (
        "no NS",
        GOOD_ZONE.replace("@       IN NS  ns1\n@       IN NS  ns2\n", ""),
        None,
        f"{ZONE}:2: example.org: example.org. NS: no NS records at the zone apex",
    ),
    (
        "bad $TTL",
        GOOD_ZONE + "$TTL 1x\nlate IN A 192.0.2.4\n",
        None,
        f"{ZONE}:10: example.org: bad $TTL: a number of seconds, or units like 1h30m or 1W2D",
    ),
    (
        "bad $TTL in an include",
        GOOD_ZONE + "$INCLUDE common/ttl.inc\n",
        ("zones/common/ttl.inc", "; pieces\n$TTL forever\nx IN A 192.0.2.4\n"),
        "zones/common/ttl.inc:2: example.org: bad $TTL",
    ),
    (
        "MX to a CNAME in an include",
        GOOD_ZONE + "$INCLUDE common/mx.inc\n",
        ("zones/common/mx.inc", "alias IN CNAME mail\n\n@ IN MX 20 alias\n"),
        "zones/common/mx.inc:3: example.org: example.org. MX: MX target alias.example.org. "
        "is a CNAME (illegal)",
    ),
    (
        "NS below a DNAME",
        GOOD_ZONE + "@ IN DNAME example.net.\n",
        None,
        f"{ZONE}:3: example.org: example.org. NS: NS target ns1.example.org. is below a DNAME",
    ),
    (
        "$ORIGIN . without the zone",
        "$ORIGIN .\n$TTL 60\nexample.com IN SOA ns1.example.com. h.example.com. 1 2 3 4 5\n",
        None,
        f"{ZONE}:3: example.org: example.com.: out-of-zone data",
    ),
]


@pytest.mark.parametrize("case,text,include,expected", ZONE_LEVEL, ids=[c[0] for c in ZONE_LEVEL])
def test_messages_about_the_zone_have_a_line(
    zone_repo: ZoneRepo, case: str, text: str, include: tuple[str, str] | None, expected: str
) -> None:
    if include:
        zone_repo.write(*include)
    zone_repo.write(ZONE, text)
    result = zone_repo.run("check")
    assert result.code == 1
    assert any(line.startswith(expected) for line in result.out.splitlines()), result.out


BROKEN = [
    "www IN A 192.0.2.999",
    "www IN MX 10",
    'www IN TXT "unterminated',
    "www IN CH A 192.0.2.1",
    "$ORIGIN a..b.",
    "$ORIGIN",
    "a" * 70 + " IN A 192.0.2.1",
    "www IN A 192.0.2.1 extra",
    "$FOO bar",
    "$INCLUDE nothere.inc",
    "www 1x A 192.0.2.1",
    "www SOA ns1 hostmaster 1 2 3 4 5",
    "@ SOA ns1 hostmaster 2 2 3 4 5",
    "x.*.w IN A 192.0.2.1",
    "www IN CNAME a\nwww IN CNAME b",
    '@ IN TXT ( "a" ) )',
    "srv IN SRV 0 0 1 alias\nalias IN CNAME www",
    "bad_name IN A 192.0.2.1",
    "caa IN CAA 0 issue",
]


@pytest.mark.parametrize("extra", BROKEN)
def test_every_message_has_file_line_zone(zone_repo: ZoneRepo, extra: str) -> None:
    zone_repo.write(ZONE, GOOD_ZONE + extra + "\n")
    result = zone_repo.run("check")
    assert result.code == 1, result.out
    problems = _errors(result.out)
    assert problems, result.out
    for line in problems:
        assert LINE.match(line), line
    assert len(problems) == len(set(problems)), result.out
