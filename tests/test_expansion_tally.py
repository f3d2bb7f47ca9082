"""The fast count of check/expansion.py (`_tally`) against the line-by-line one.

`_tally` counts plain stretches of a zone in C and reads only directives and lines
with parentheses in Python; it must give what `_contributions` adds up to, and the
same biggest line, for any text: generated texts of record, blank, comment,
directive and parenthesised lines, and odd characters that send it the plain way.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.check.expansion import Count, _contributions, _includes, _tally, _target

pytestmark = pytest.mark.unit

ZONES = "zones"
TOTALS = {"zones/sub.zone": 7, "zones/big.zone": 3000}

LINES = [
    "www IN A 192.0.2.1",
    "host-1 300 IN AAAA 2001:db8::1",
    "",
    "   ",
    "\t",
    "; a comment",
    "  ; indented comment (",
    "$TTL 3600",
    "$ORIGIN example.",
    "$GENERATE 1-10 h$ A 192.0.2.$",
    "$generate 5-2000/3 h$ A 192.0.2.1",
    "$GENERATE 9-1 h$ A 192.0.2.1",
    "$INCLUDE sub.zone",
    '$include "big.zone" example.',
    "$INCLUDE /etc/passwd",
    "$INCLUDE\tsub.zone example.",
    "$InClUdE ../zones/big.zone",
    "$ 1",
    "$1 IN A 192.0.2.1",
    " $GENERATE 1-5 x A 192.0.2.1",
    "@ IN SOA ns1 hostmaster (",
    "  1 1800 900",
    "  1209600 1800 )",
    "@ IN SOA ns1 hostmaster ( 1 2 3 4 5 )",
    'txt IN TXT "(" "no paren"',
    'txt IN TXT "\\"(" ( "a"',
    "x IN A 192.0.2.1 ; (",
    "y IN TXT \\( z",
    "((",
    ")",
    "))",
    " ) ",
]
ODD = ["\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "é"]

lines = st.lists(
    st.one_of(
        st.sampled_from(LINES),
        st.text(alphabet=list(' \t;$()"\\aA1'), max_size=12),
        st.sampled_from(ODD),
    ),
    max_size=40,
)


def reference(text: str) -> Count:
    records, biggest = 0, Count(0, None, "", 0)
    for number, adds, what in _contributions(text, ZONES, TOTALS):
        records += adds
        if what and adds > biggest.adds:
            biggest = Count(0, number, what, adds)
    return Count(records, biggest.line, biggest.what, biggest.adds)


@settings(max_examples=3000, deadline=None)
@given(lines, st.booleans())
def test_the_fast_count_is_the_line_by_line_count(parts: list[str], newline: bool) -> None:
    text = "\n".join(parts) + ("\n" if newline else "")
    assert _tally(text, ZONES, TOTALS) == reference(text)


def reference_includes(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        match = re.match(r"^\$INCLUDE[ \t]+(\S+)", line, re.IGNORECASE)
        if match:
            target = _target(ZONES, match.group(1).strip('"'))
            if target is not None and target in TOTALS:
                found.append(target)
    return found


@settings(max_examples=1000, deadline=None)
@given(lines, st.booleans())
def test_the_includes_are_found_as_line_by_line(parts: list[str], newline: bool) -> None:
    text = "\n".join(parts) + ("\n" if newline else "")
    assert list(_includes(text, ZONES, TOTALS)) == reference_includes(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "a A 1",
        "$TTL 1\n@ SOA a b (\n 1 2\n 3 4 5 )\nwww A 1\n\n; c\nx A 2\n",
        "$GENERATE 1-3000000 h$ A 1\n$INCLUDE big.zone\nwww A 1\n",
        "@ SOA a b (\n$GENERATE 1-9 h$ A 1\n)\nwww A 1\n   ",
        "www A 1\r\nx A 2\r\n",
    ],
)
def test_known_texts(text: str) -> None:
    assert _tally(text, ZONES, TOTALS) == reference(text)


def test_a_plain_million_line_zone() -> None:
    text = "$TTL 3600\n@ SOA a b ( 1 2\n 3 4 5 )\n" + "".join(f"h{n} A 1\n" for n in range(100_000))
    assert _tally(text, ZONES, TOTALS) == reference(text) == Count(100_001, None, "", 0)
