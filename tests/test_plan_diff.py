"""The plan's diff of two canonical zones, as large zones get it: only differing lines are
normalised (issue 13). It must find exactly the RRset changes that normalising every line
of both sides finds, whatever the case, spacing, TTLs and serials of the lines."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from random import Random

import dns.exception
import dns.rdata
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model.mail import txt_strings
from reconciler.model.plan import RRset, _key, _normal, diff_lines, differing, whole_zone
from reconciler.model.zone import CanonicalZone

OWNERS = ["a.example.", "A.example.", "b.example.", "mail.example.", "example."]
RECORDS = [
    "{o} {t} IN A 192.0.2.{n}",
    "{o}  {t}  IN  A  192.0.2.{n}",
    '{o} {t} IN TXT "v=spf1 -all" "{n}"',
    "{o} {t} IN MX 10 mail.example.",
    "example. {t} IN SOA ns.example. h.example. {n} 1800 900 1209600 1800",
]
line = st.builds(
    lambda form, owner, ttl, n: RECORDS[form].format(o=owner, t=ttl, n=n),
    st.integers(0, len(RECORDS) - 1),
    st.sampled_from(OWNERS),
    st.sampled_from([300, 3600]),
    st.integers(1, 4),
)


def reference(before: tuple[str, ...], after: tuple[str, ...]) -> dict[tuple[str, str], tuple]:
    """Every line of both sides normalised, grouped by owner and type: the RRsets that differ."""
    sides = []
    for lines in (before, after):
        grouped: dict[tuple[str, str], set[tuple[int, str]]] = defaultdict(set)
        for normal in _normal(lines):
            parts = normal.split(None, 4)
            grouped[_key(normal)].add((int(parts[1]), parts[4]))
        sides.append(
            {
                k: RRset(min(t for t, _ in v), tuple(sorted(d for _, d in v)))
                for k, v in grouped.items()
            }
        )
    keys = set(sides[0]) | set(sides[1])
    return {
        k: (sides[0].get(k), sides[1].get(k)) for k in keys if sides[0].get(k) != sides[1].get(k)
    }


@settings(max_examples=400, deadline=None)
@given(st.lists(line, max_size=12), st.lists(line, max_size=12))
def test_diff_of_differing_lines_is_the_diff_of_all_lines(
    before: list[str], after: list[str]
) -> None:
    gone, came, kept, same = differing(tuple(before), tuple(after))
    found = {(c.owner, c.rtype): (c.before, c.after) for c in diff_lines(gone, came, kept, same)}
    assert found == reference(tuple(before), tuple(after))


def test_one_changed_record_among_many_is_the_only_change() -> None:
    before = tuple(f"h{i}.example. 3600 IN A 10.0.{i // 250}.{i % 250}" for i in range(5000))
    after = before[:2500] + ("h2500.example. 3600 IN A 192.0.2.1",) + before[2501:]
    gone, came, kept, same = differing(before, after)
    assert (len(gone), len(came), len(kept), len(same)) == (1, 1, 0, 0)  # nothing else held
    [change] = diff_lines(gone, came, kept, same)
    assert (change.owner, change.rtype) == ("h2500.example.", "A")
    assert change.before == RRset(3600, ("10.0.10.0",))
    assert change.after == RRset(3600, ("192.0.2.1",))


def old_differing(
    before: tuple[str, ...], after: tuple[str, ...]
) -> tuple[set[str], set[str], set[str], set[str]]:
    """The diff before issue 13's walk side by side: both sides whole as sets."""
    old_raw, new_raw = set(before), set(after)
    kept = old_raw & new_raw
    old, new = _normal(tuple(old_raw - kept)), _normal(tuple(new_raw - kept))
    same = old & new
    return old - same, new - same, kept, same


def changes(gone: set[str], came: set[str], kept: Collection[str], same: set[str]) -> list:
    return [(c.owner, c.rtype, c.before, c.after) for c in diff_lines(gone, came, kept, same)]


@settings(max_examples=400, deadline=None)
@given(st.sets(line, max_size=40), st.sets(line, max_size=40), st.randoms())
def test_the_walk_side_by_side_plans_as_the_sets_of_both_sides_did(
    before: set[str], after: set[str], random: Random
) -> None:
    """Two revisions in one order (as BIND dumps both): the same plan as holding both whole,
    as CanonicalZones or as collections, and only the lines of owners that changed kept."""
    order = sorted(before | after)
    random.shuffle(order)
    old_side = tuple(x for x in order if x in before)
    new_side = tuple(x for x in order if x in after)
    gone, came, kept, same = old_differing(old_side, new_side)
    want = changes(gone, came, kept, same)
    assert changes(*differing(old_side, new_side)) == want
    zones = (
        CanonicalZone.from_lines("example", old_side),
        CanonicalZone.from_lines("example", new_side),
    )
    found = differing(*zones)
    assert changes(*found) == want
    owners = {x.split()[0].lower() for x in gone | came}
    assert all(x.split()[0].lower() in owners for x in found[2])


def dnspython_strings(rdata: str) -> tuple[bytes, ...] | None:
    try:
        return tuple(dns.rdata.from_text("IN", "TXT", rdata).strings)  # type: ignore[attr-defined]
    except (dns.exception.DNSException, ValueError):
        return None


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from('ab =;"\\\x00é~-'), max_size=12).map(
            lambda t: '"' + t + '"'
        )
        | st.text(alphabet="abc=", min_size=1, max_size=5),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([" ", "  ", "\t"]),
)
def test_txt_strings_read_as_dnspython_reads_them(strings: list[str], space: str) -> None:
    # The plan marks SPF records among every changed TXT; BIND's quoted strings without
    # escapes are read without dnspython, everything else with it: the same either way.
    rdata = space.join(strings)
    assert txt_strings(rdata) == dnspython_strings(rdata)
    assert txt_strings('"' + "x" * 256 + '"') is None


def canonical_key(line: str) -> tuple[list[str], str]:
    """BIND's order for these lines: owners by their labels from the root, an RRset's lines
    together (its types in an order of its own, not the alphabet's)."""
    fields = line.split()
    return fields[0].lower().split(".")[::-1], fields[3][::-1]


@settings(max_examples=400, deadline=None)
@given(st.sets(line, max_size=40), st.booleans(), st.booleans())
def test_a_zone_added_or_removed_whole_plans_as_the_diff_of_its_lines(
    lines: set[str], added: bool, in_bind_order: bool
) -> None:
    """A new (or deleted) zone is read in one walk of its dump, not as sets of its lines: the
    same changes as `diff_lines`; in another order than BIND's it is left to `diff_lines`."""
    order = sorted(lines, key=canonical_key) if in_bind_order else sorted(lines)
    zone = CanonicalZone.from_lines("example", order)
    want = diff_lines(*(differing((), zone) if added else differing(zone, ())))
    found = whole_zone(zone, added)
    one_spelling = len({x.split()[0] for x in lines}) == len({x.split()[0].lower() for x in lines})
    if in_bind_order and one_spelling:  # as BIND dumps a zone: one walk
        assert found is not None
    assert found is None or found == want
