"""check/zonefiles.py's `$INCLUDE` scan, which reads only lines with a `$` in a plain
text, against reading every line: the same lines and files for generated texts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.check.zonefiles import _directives

pytestmark = pytest.mark.unit

LINES = [
    "www IN A 192.0.2.1",
    "",
    "  ",
    "; $INCLUDE commented.zone",
    "$TTL 3600",
    "$INCLUDE a.zone",
    '  $include\t"b.zone" example.',
    "$INCLUDE c.zone ; a comment",
    "x ; $INCLUDE d.zone",
    "$INCLUDE;e.zone",
    'txt TXT "$INCLUDE f.zone"',
    "$GENERATE 1-5 h$ A 192.0.2.$",
    "$$INCLUDE g.zone",
]
ODD = ["\r", "\x0b", "\x1c", "\x85", "\xa0", "é", "\u2028"]


def reference(text: str) -> list[tuple[int, str]]:
    pattern = re.compile(r"^\s*\$INCLUDE\s+(\S+)", re.IGNORECASE)
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        match = pattern.match(line.split(";", 1)[0])
        if match:
            found.append((number, match.group(1).strip('"')))
    return found


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(LINES),
            st.text(alphabet=list(' \t;$"IiNnCcLlUuDdEe.z'), max_size=14),
            st.sampled_from(ODD),
        ),
        max_size=30,
    ),
    st.booleans(),
)
def test_the_includes_are_the_ones_every_line_gives(parts: list[str], newline: bool) -> None:
    text = "\n".join(parts) + ("\n" if newline else "")
    assert list(_directives(text)) == reference(text)


def test_a_large_plain_zone() -> None:
    text = "$TTL 1\n" + "".join(f"h{n} A 1\n" for n in range(50_000)) + "$INCLUDE x.zone\n"
    assert list(_directives(text)) == reference(text) == [(50_002, "x.zone")]
