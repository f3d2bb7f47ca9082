"""check/zoneread.py against BIND's own dump: wherever it reads a zone, its lines are
`named-checkzone -D`'s, byte for byte and in BIND's order; whatever it does not read
fully, it refuses (and BIND reads the zone instead).

The differential tests run the real named-checkzone on the corpus, the template and
zones hypothesis makes; the refusals are pure (`unit`).
"""

from __future__ import annotations

import string
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.bind.tools import tool
from reconciler.check import zoneread
from reconciler.check.checkzone import STRICT
from reconciler.model.zone import CanonicalZone, ZoneText, decode

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
# Only the dump is compared: BIND's checks decide validity, not this reader.
LENIENT = ["-i", "none", "-k", "ignore", "-n", "ignore", "-m", "ignore", "-M", "ignore"]
LENIENT += ["-S", "ignore", "-r", "ignore"]


def _dump(zone: str, text: str, options: list[str] = LENIENT) -> tuple[str, ...] | None:
    """named-checkzone -D's lines for `text`; None when BIND does not load it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "zone")
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        run = subprocess.run(
            [tool("named-checkzone"), *options, "-D", "-o", "-", zone, str(path)],
            capture_output=True,
        )
    if run.returncode != 0:
        return None
    return tuple(filter(None, run.stdout.decode("utf-8", "replace").splitlines()))


def _read(zone: str, text: str) -> CanonicalZone | None:
    return zoneread.read(ZoneText(zone, f"zones/{zone}.zone", text))


def _corpus_name(data: bytes) -> str:
    first = data.split(b"\n", 1)[0].decode("ascii", "replace")
    return first[len("; zone ") :].strip() if first.startswith("; zone ") else "example.org"


def test_every_zone_of_the_corpus_it_reads_is_bind_s_dump_byte_for_byte() -> None:
    cases = [(_corpus_name(p.read_bytes()), p) for p in sorted(CORPUS.glob("*.zone"))]
    cases.append(("example.com", ROOT / "repo-template" / "zones" / "example.com.zone"))
    same = 0
    for zone, path in cases:
        text = decode(path.read_bytes())
        read = _read(zone, text)
        if read is None:
            continue
        bind = _dump(zone, text, STRICT)
        if bind is None:
            continue  # BIND refuses it: the reader is never asked (checkzone.py)
        assert tuple(read.lines()) == bind, path.name
        same += 1
    assert same >= 12  # the reader reads the common forms, or the fast path is never taken


_LABEL = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=12)
_TOKEN_CHARS = string.ascii_letters + string.digits + "=.:/+-_@!#%&*,<>?[]^`{|}~"
_QUOTED = st.text(_TOKEN_CHARS + " ;()$'", max_size=40).map(lambda s: f'"{s}"')
_BARE = st.text(_TOKEN_CHARS, min_size=1, max_size=20).filter(lambda s: s[0] != "$")
_TTL = st.one_of(
    st.integers(0, 2**31 - 1).map(str),
    st.sampled_from(["1h", "1H30m", "2d", "1w2d3h4m5s", "90s", "10M"]),
)
_IPV4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
_IPV6 = st.sampled_from(
    [
        "2001:db8::1",
        "2001:DB8:0:0:0:0:0:1",
        "2001:db8:0:1:0:0:0:1",
        "fe80::",
        "::1",
        "::",
        "2001:db8:0:0:1::1",
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
        "1:2:3:4:5:6:7:8",
        "::ffff:1:2",
    ]
)


@st.composite
def _name(draw: st.DrawFn) -> str:
    labels = draw(st.lists(_LABEL, min_size=1, max_size=3))
    if draw(st.booleans()):
        return ".".join(labels)  # relative
    return ".".join(labels) + ".example.com."


@st.composite
def _record(draw: st.DrawFn) -> str:
    owner = draw(st.one_of(st.just("@"), st.just(""), _name(), st.just("*.wild")))
    rtype = draw(st.sampled_from(["A", "AAAA", "NS", "MX", "TXT", "SRV", "CAA", "PTR"]))
    data = {
        "A": _IPV4,
        "AAAA": _IPV6,
        "NS": _name(),
        "PTR": _name(),
        "MX": st.tuples(st.integers(0, 65535), _name()).map(lambda t: f"{t[0]} {t[1]}"),
        "TXT": st.lists(st.one_of(_QUOTED, _BARE), min_size=1, max_size=3).map(" ".join),
        "SRV": st.tuples(*[st.integers(0, 65535)] * 3, _name()).map(
            lambda t: " ".join(map(str, t))
        ),
        "CAA": st.tuples(
            st.integers(0, 255),
            st.sampled_from(["issue", "issuewild", "iodef", "Issue"]),
            st.one_of(_QUOTED, _BARE),
        ).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
    }[rtype]
    ttl = draw(st.one_of(st.just(""), _TTL))
    klass = draw(st.sampled_from(["", "IN", "in"]))
    middle = draw(st.sampled_from([[ttl, klass], [klass, ttl]]))
    text = draw(data)
    if draw(st.booleans()):
        text = f"( {text}\n  ) ; a comment"
    return "\t".join([owner or "", *filter(None, middle), rtype, text])


@st.composite
def _zone(draw: st.DrawFn) -> str:
    lines = [
        "$TTL " + draw(_TTL),
        "@ IN SOA ns1 hostmaster ( 1 1800 900 1209600 1800 )",
        "@ IN NS ns1",
        "ns1 IN A 192.0.2.1",
    ]
    for record in draw(st.lists(_record(), max_size=12)):
        if draw(st.integers(0, 9)) == 0:
            lines.append("$ORIGIN " + draw(st.sampled_from(["sub", "Example.COM.", "a.b"])))
        lines.append(record)
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_zone())
def test_wherever_it_reads_a_zone_its_lines_are_bind_s(text: str) -> None:
    read = _read("example.com", text)
    bind = _dump("example.com", text)
    if read is not None and bind is not None:
        assert tuple(read.lines()) == bind


MIXED = """$TTL 1h
@\tIN SOA ns1.Example.COM. HostMaster ( 2024010101 ; serial
\t\t2h 15M 2w 1d ) ; timers in units
\tNS ns1
\tNS NS2.example.com.
\tMX 20 mail
\tMX 10 Mail
@\tTXT "v=spf1 mx -all"
\tTXT "b" "a;b" unquoted
\tCAA 0 issue "letsencrypt.org"
ns1 300 IN A 192.0.2.3
NS2\tin 300 AAAA 2001:DB8::0:1
Mail IN A 192.0.2.25
mail IN A 192.0.2.24
_sip._tcp IN SRV 10 5 5060 mail
*.wild IN A 192.0.2.99
$ORIGIN Sub.Example.COM.
www IN CNAME @
@ IN A 192.0.2.7
"""


def test_a_zone_of_every_form_it_reads_is_bind_s_dump() -> None:
    read = _read("example.com", MIXED)
    assert read is not None
    assert tuple(read.lines()) == _dump("example.com", MIXED)


BASE = (
    "$TTL 3600\n@ IN SOA ns1 hostmaster 1 1800 900 1209600 1800\n@ IN NS ns1\nns1 IN A 192.0.2.1\n"
)


@pytest.mark.unit
def test_a_plain_zone_is_read() -> None:
    read = _read("example.com", BASE + "www 300 IN A 192.0.2.80\n")
    assert read is not None
    assert [r.owner for r in read.records()] == [
        "example.com.",
        "example.com.",
        "ns1.example.com.",
        "www.example.com.",
    ]
    assert tuple(read.lines())[-1] == "www.example.com.\t\t\t      300 IN A\t\t192.0.2.80"


@pytest.mark.unit
@pytest.mark.parametrize(
    "extra",
    [
        "$INCLUDE common/hosts.inc\n",
        "$GENERATE 1-10 host$ A 192.0.2.$\n",
        'txt IN TXT "a \\"quoted\\" word"\n',
        "esc\\.aped IN A 192.0.2.9\n",
        "www IN CH A 192.0.2.9\n",
        "www IN HINFO PC Linux\n",
        "www IN TYPE1 \\# 4 C0000209\n",
        "www 300 IN A 192.0.2.9\nwww 600 IN A 192.0.2.10\n",  # TTLs differ in one RRset
        "www IN A 192.0.2.9\nwww IN A 192.0.2.9\n",  # a duplicate
        "www.example.org. IN A 192.0.2.9\n",  # out of zone
        "www IN A 192.0.2.09\n",
        "www IN AAAA ::192.0.2.1\n",
        'txt IN TXT "caf\u00e9"\n',
        'txt IN TXT "never closed\n',
        "www IN A ( 192.0.2.9\n",
        "www 1h30 IN A 192.0.2.9\n",
        "www IN\n",
    ],
)
def test_what_it_does_not_read_fully_is_refused(extra: str) -> None:
    assert _read("example.com", BASE + extra) is None


@pytest.mark.unit
def test_a_record_without_ttl_and_without_default_is_refused() -> None:
    text = "@ IN SOA ns1 hostmaster 1 1800 900 1209600 1800\n@ IN NS ns1\n"
    assert _read("example.com", text) is None


@pytest.mark.unit
def test_comments_may_hold_anything() -> None:
    assert _read("example.com", BASE + '; caf\u00e9 \\ "\nwww IN A 192.0.2.8 ; \u00e9\n')
