"""`reconciler doctor`'s mail walk against real named processes on 127.0.0.1.

example.org has four MX hosts whose addresses have a good PTR (mx1), no PTR (mx2), a PTR
to another name that does not point back (mx3) and a PTR to another name that does (mx4).
The reverse zone 2.0.192.in-addr.arpa is answered three ways: from the repo (the primary
serves it), from a configured server only, and through `--resolver` (a named of our own
standing in for a resolver, which also serves example.net's SPF include). Every run passes
`--parent`, so nothing but these servers on 127.0.0.1 is asked. Nothing asserts on time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.devtools.sandbox import ADDRESS, ServerProcess

from .conftest import ZoneRepo
from .test_doctor import QUIET, SOA, line, start_named

ORG = """$TTL 3600
@      IN SOA ns1 hostmaster 7 1800 900 1209600 300
@      IN NS  ns1
@      IN MX  10 mx1
@      IN MX  20 mx2
@      IN MX  30 mx3
@      IN MX  40 mx4
@      IN TXT ( "v=spf1 mx include:_spf.example.org "
         "include:_spf.example.net include:_gone.example.net -all" )
_spf   IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"
ns1    IN A   192.0.2.53
mx1    IN A   192.0.2.25
mx2    IN A   192.0.2.26
mx3    IN A   192.0.2.27
mx4    IN A   192.0.2.28
other  IN A   192.0.2.99
relay  IN A   192.0.2.28
"""
REVERSE_ZONE = "2.0.192.in-addr.arpa"
REVERSE = """$TTL 3600
@  IN SOA ns1.example.org. hostmaster.example.org. 1 1800 900 1209600 300
@  IN NS  ns1.example.org.
25 IN PTR mx1.example.org.
27 IN PTR other.example.org.
28 IN PTR relay.example.org.
"""
NET = (
    "$TTL 3600\n@ IN SOA ns1.example.org. hostmaster.example.org. 1 1800 900 1209600 300\n"
    '@ IN NS ns1.example.org.\n_spf IN TXT "v=spf1 '
    + " ".join(f"a:h{i}.example.net" for i in range(9))
    + ' -all"\n'
)
Start = Callable[..., ServerProcess]


@pytest.fixture
def named(tmp_path: Path) -> Iterator[Start]:
    """Start nameservers of our own for one test; all stopped after it."""
    started: list[ServerProcess] = []

    def start(name: str, zones: dict[str, str], options: str = QUIET) -> ServerProcess:
        started.append(start_named(tmp_path, name, zones, options))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def _repo(zone_repo: ZoneRepo, primary: ServerProcess, zones: dict[str, str]) -> None:
    for path in (zone_repo.path / "zones").glob("example.*"):
        path.unlink()
    for zone, text in zones.items():
        zone_repo.write(f"zones/{zone}.zone", text)
    zone_repo.write(
        "reconciler.toml",
        f'[primary]\nname = "ns1"\naddress = "{ADDRESS}"\nport = {primary.port}\n',
    )


def _doctor(zone_repo: ZoneRepo, parent: ServerProcess, *args: str) -> str:
    result = zone_repo.run("doctor", "example.org", "--parent", f"{ADDRESS}:{parent.port}", *args)
    assert result.code == 1, result.out + result.err  # mx2 and mx3 are problems
    return result.out


def _reverse_lines(source: str) -> list[str]:
    """The four reverse-DNS findings, with the server that answered."""
    return [
        f"  ok       mail        192.0.2.25 (mx1.example.org.): PTR mx1.example.org. ({source}): "
        "forward-confirmed reverse DNS",
        f"  problem  mail        192.0.2.26 (mx2.example.org.): no PTR record ({source} answers "
        "for the reverse name): large receivers refuse or junk mail from an address without "
        "reverse DNS; fix: add a PTR mx2.example.org. for 192.0.2.26 in its reverse zone (or "
        "have whoever holds 192.0.2.26, e.g. the hosting provider, set it)",
        f"  problem  mail        192.0.2.27 (mx3.example.org.): PTR other.example.org. ({source}), "
        "not mx3.example.org., and it does not point back (other.example.org. has 192.0.2.99): "
        "the reverse DNS is not forward-confirmed, and large receivers refuse or junk such mail; "
        "fix: make the PTR of 192.0.2.27 mx3.example.org.",
        f"  warning  mail        192.0.2.28 (mx4.example.org.): PTR relay.example.org. ({source}), "
        "which has 192.0.2.28: forward-confirmed, but not the MX name mx4.example.org.; fix: let "
        "the mail server greet (EHLO) as relay.example.org., or make the PTR of 192.0.2.28 "
        "mx4.example.org.",
    ]


def _parent(named: Start) -> ServerProcess:
    glue = "example.org. IN NS ns1.example.org.\nns1.example.org. IN A 192.0.2.53\n"
    return named("tld", {"org": "$TTL 3600\n" + SOA + glue})


def test_reverse_dns_from_a_reverse_zone_in_the_repo(zone_repo: ZoneRepo, named: Start) -> None:
    zones = {"example.org": ORG, REVERSE_ZONE: REVERSE}
    primary = named("ns1", zones)
    _repo(zone_repo, primary, zones)
    out = _doctor(zone_repo, _parent(named))
    found = [line(out, f"192.0.2.{n} (mx") for n in (25, 26, 27, 28)]
    assert found == _reverse_lines("the primary ns1")
    assert out.splitlines()[-1].endswith("2 problem(s), 1 warning(s): NOT healthy")


def test_reverse_dns_from_a_configured_server(zone_repo: ZoneRepo, named: Start) -> None:
    """The reverse zone is not in the repo, but the primary serves it."""
    primary = named("ns1", {"example.org": ORG, REVERSE_ZONE: REVERSE})
    _repo(zone_repo, primary, {"example.org": ORG})
    out = _doctor(zone_repo, _parent(named))
    found = [line(out, f"192.0.2.{n} (mx") for n in (25, 26, 27, 28)]
    assert found == _reverse_lines("ns1")


def test_reverse_dns_and_spf_through_the_resolver(zone_repo: ZoneRepo, named: Start) -> None:
    primary = named("ns1", {"example.org": ORG})
    resolver = named("resolver", {REVERSE_ZONE: REVERSE, "example.net": NET})
    _repo(zone_repo, primary, {"example.org": ORG})
    parent = _parent(named)
    out = _doctor(zone_repo, parent, "--resolver", f"{ADDRESS}:{resolver.port}")
    found = [line(out, f"192.0.2.{n} (mx") for n in (25, 26, 27, 28)]
    assert found == _reverse_lines("the resolver")
    # the include outside the repo is followed through the resolver: 9 lookups of its own
    assert line(out, "SPF of example.org needs") == (
        "  problem  mail        SPF of example.org needs 13 DNS lookups, over the limit of 10 "
        "(mx 1, include:_spf.example.org 1, include:_spf.example.net 10, "
        "include:_gone.example.net 1): receivers give permerror and SPF fails for all of "
        "example.org's mail; fix: replace include: targets with the ip4:/ip6: ranges they "
        "stand for, or drop those no longer used"
    )
    assert line(out, "_gone.example.net. has no SPF") == (
        "  problem  mail        SPF of example.org: include:_gone.example.net: "
        "_gone.example.net. has no SPF record (receivers give permerror); fix: fix the "
        "target's SPF record, or drop the include"
    )


def test_without_a_resolver_what_is_outside_is_named_not_guessed(
    zone_repo: ZoneRepo, named: Start
) -> None:
    primary = named("ns1", {"example.org": ORG})
    _repo(zone_repo, primary, {"example.org": ORG})
    out = zone_repo.run("doctor", "example.org", "--parent", f"{ADDRESS}:{_parent(named).port}").out
    assert line(out, "192.0.2.26 (mx2") == (
        "  note     mail        192.0.2.26 (mx2.example.org.): reverse DNS not checked: its "
        "reverse zone is neither in the repo nor on the configured servers, and no resolver is "
        "asked (with --parent, only --resolver ADDR is)"
    )
    assert line(out, "SPF of example.org needs") == (
        "  ok       mail        SPF of example.org needs 4 of the 10 DNS lookups it may (mx 1, "
        "include:_spf.example.org 1, include:_spf.example.net 1, include:_gone.example.net 1)"
    )
    assert line(out, "not followed") == (
        "  note     mail        SPF include targets not followed (counted as 1 each): "
        "_spf.example.net., _gone.example.net.: outside the repo's zones, and no resolver is "
        "asked (with --parent, only --resolver ADDR is); fix: pass --resolver ADDR to follow them"
    )
    assert line(out, "DMARC") == "  ok       mail        DMARC of example.org: p=reject"


def test_dmarc_missing_and_the_mx_set_on_every_server(zone_repo: ZoneRepo, named: Start) -> None:
    text = ORG.replace('_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"\n', "")
    primary = named("ns1", {"example.org": text})
    same = named("ns2", {"example.org": text})
    other = named("ns3", {"example.org": text.replace("MX  40 mx4", "MX  40 mx1")})
    _repo(zone_repo, primary, {"example.org": text})
    out = zone_repo.run(
        "doctor", "example.org", "--parent", f"{ADDRESS}:{_parent(named).port}",
        "--server", f"ns2={ADDRESS}:{same.port}", "--server", f"ns3={ADDRESS}:{other.port}",
    ).out  # fmt: skip
    assert line(out, "DMARC") == (
        "  warning  mail        example.org receives mail but has no DMARC record: receivers "
        "cannot tell forged mail from example.org's own; fix: add `_dmarc IN TXT \"v=DMARC1; "
        'p=none; rua=mailto:dmarc-reports@example.org"`, then move to p=quarantine'
    )
    assert line(out, "the same MX set") == (
        "  ok       mail        the same MX set with authority from ns1, ns2"
    )
    assert line(out, "gives the MX set") == (
        f"  problem  mail        ns3 {ADDRESS}:{other.port}: gives the MX set 10 mx1.example.org., "
        "20 mx2.example.org., 30 mx3.example.org., 40 mx1.example.org., the primary 10 "
        "mx1.example.org., 20 mx2.example.org., 30 mx3.example.org., 40 mx4.example.org.: "
        "senders that ask ns3 deliver elsewhere; fix: see servers and transfers: ns3 serves "
        "another copy of example.org"
    )
