"""The plan's mail marks for a few changed names (model/plan.py `mark_mail`): whether a name
is an MX target is found with `str.find` in the dump (model/mail.py `mx_targets_among`); it
must mark exactly what the pass over every MX line of both revisions marks."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model.mail import mail_kind, mx_hosts
from reconciler.model.plan import _MX_LINE, Change, RRset, mark_mail
from reconciler.model.zone import CanonicalZone

pytestmark = pytest.mark.unit

NAMES = ["mail", "Mail", "mx1", "www", "_25._tcp.mail", "_25._tcp.mx1", "mta-sts", "a.mail", "@"]
ORIGIN = "example.com."


def absolute(name: str) -> str:
    return ORIGIN if name == "@" else f"{name}.{ORIGIN}"


def every_mx_line(changes: list[Change], zones: list[CanonicalZone]) -> tuple[Change, ...]:
    """The marks as the full pass gives them (the way taken for many changed names)."""
    hosts: set[str] = set()
    for zone in zones:
        hosts |= mx_hosts(m[1] for m in _MX_LINE.finditer(zone.dump))
    marked = []
    for change in changes:
        rdatas = [*(change.before.rdatas if change.before else ()),
                  *(change.after.rdatas if change.after else ())]  # fmt: skip
        kind = mail_kind(change.owner, change.rtype, rdatas, hosts)
        marked.append(replace(change, mail=kind) if kind else change)
    return tuple(marked)


mx = st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES + ["."]), st.sampled_from(["\t", " "]))
zone_lines = st.lists(mx, max_size=6).map(
    lambda rows: CanonicalZone.from_lines(
        "example.com",
        [f"{ORIGIN}\t300\tIN\tSOA\tns. h. 1 2 3 4 5"]
        + [
            f"{absolute(owner)}{gap}300{gap}IN{gap}MX{gap}10{gap}"
            + ("." if target == "." else absolute(target))
            for owner, target, gap in rows
        ]
        + [f"{absolute(n)}\t300\tIN\tA\t192.0.2.1" for n in NAMES[:3]],
    )
)
change = st.builds(
    lambda name, rtype: Change(absolute(name), rtype, None, RRset(300, ("192.0.2.9",))),
    st.sampled_from(NAMES),
    st.sampled_from(["A", "AAAA", "CNAME", "TLSA", "TXT"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(change, max_size=5), zone_lines, st.one_of(st.none(), zone_lines))
def test_a_few_names_are_marked_as_the_pass_over_every_mx_line_marks_them(
    changes: list[Change], after: CanonicalZone, before: CanonicalZone | None
) -> None:
    zones = [z for z in (before, after) if z is not None]
    assert mark_mail(changes, before, after) == every_mx_line(changes, zones)


def test_an_address_of_an_mx_host_is_marked_and_a_name_that_only_ends_like_one_is_not() -> None:
    zone = CanonicalZone.from_lines(
        "example.com",
        [
            "example.com.\t300\tIN\tMX\t10 Mail.Example.com.",
            "xmail.example.com.\t300\tIN\tCNAME\tmail.example.com.",
        ],
    )
    mail = Change("mail.example.com.", "A", None, RRset(300, ("192.0.2.1",)))
    other = Change("xmail.example.com.", "A", None, RRset(300, ("192.0.2.2",)))
    marked = mark_mail([mail, other], None, zone)
    assert [c.mail for c in marked] == [every_mx_line([mail], [zone])[0].mail, None]
    assert marked[0].mail is not None
