"""What a push can make `check` do is bounded: records, templates, BIND's tools.

Each input here once grew named-checkzone past 4 GB, hung the checker holding the
GIL or raised a MemoryError/RecursionError that the daemon retried forever (issue 9
item 5). Now each is refused as invalid, one line naming the file and the limit.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .conftest import GOOD_ZONE, ZoneRepo

ZONE = "zones/example.org.zone"
TEMPLATE = "zones/example.org.zone.j2"


def _zone(extra: str) -> Callable[[ZoneRepo], None]:
    return lambda r: r.write(ZONE, GOOD_ZONE + extra)


LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"


def _template(extra: str) -> Callable[[ZoneRepo], None]:
    return lambda r: r.write(TEMPLATE, GOOD_ZONE + extra)


def _include_bomb(r: ZoneRepo) -> None:
    """Thirty pieces, each including the next one twice: 2**30 records from 31 lines."""
    for level in range(30):
        r.write(f"zones/bomb/p{level}", f"$INCLUDE bomb/p{level + 1}\n$INCLUDE bomb/p{level + 1}\n")
    r.write("zones/bomb/p30", "h IN A 192.0.2.1\n")
    r.write(ZONE, GOOD_ZONE + "$INCLUDE bomb/p0\n")


def _include_chain(r: ZoneRepo) -> None:
    """A chain of 3,000 pieces, each including the next: deeper than Python's recursion."""
    for level in range(3000):
        r.write(f"zones/chain/p{level}", f"$INCLUDE chain/p{level + 1}\n")
    r.write("zones/chain/p3000", "h IN A 192.0.2.1\n")
    r.write(ZONE, GOOD_ZONE + "$INCLUDE chain/p0\n")


# (case, setup, file:line prefix expected, words expected in the message)
BOMBS = [
    (
        "$GENERATE 1-2147483647",
        _zone("$GENERATE 1-2147483647 h$ IN A 192.0.2.1\n"),
        f"{ZONE}:10: example.org",
        "over the limit of 1000000 records ([safety] max_records in reconciler.toml)",
    ),
    (
        "$GENERATE 1-3000000",
        _zone("$GENERATE 1-3000000 h$ IN A 192.0.2.1\n"),
        f"{ZONE}:10: example.org",
        "over the limit of 1000000 records ([safety] max_records in reconciler.toml)",
    ),
    (
        "many $GENERATE lines",
        _zone("".join(f"$GENERATE 1-400000 h{n}-$ IN A 192.0.2.1\n" for n in range(3))),
        f"{ZONE}:",
        "over the limit of 1000000 records",
    ),
    (
        "$INCLUDE doubling",
        _include_bomb,
        f"{ZONE}:10: example.org",
        "over the limit of 1000000 records",
    ),
    (
        "power tower template",
        _template('x IN TXT "{{ 10**(10**10) }}"\n'),
        TEMPLATE,
        "the CPU time limit of 10 s",
    ),
    (
        "nested range loops",
        _template(
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
        ),
        TEMPLATE,
        "the CPU time limit of 10 s",
    ),
    (
        "ten gigabyte string",
        _template("x IN TXT \"{{ 'a'*10**10 }}\"\n"),
        TEMPLATE,
        "the memory limit of",
    ),
    (
        "output of a loop",
        _template(
            "{% for a in range(100000) %}{% for b in range(100000) %}"
            "h{{ a }}-{{ b }} IN TXT {{ '\"x\" ' * 1000 }}\n{% endfor %}{% endfor %}"
        ),
        TEMPLATE,
        "over the limit of 67108864 bytes ([safety] max_zone_bytes",
    ),
    (
        "template including itself",
        _template('{% include "example.org.zone.j2" %}\n'),
        TEMPLATE,
        "nest too deeply",
    ),
]


@pytest.mark.parametrize("case,setup,where,words", BOMBS, ids=[b[0] for b in BOMBS])
def test_a_bomb_is_refused_with_the_limit_it_hit(
    zone_repo: ZoneRepo, case: str, setup, where: str, words: str
) -> None:
    setup(zone_repo)
    result = zone_repo.run("check")
    assert result.code == 1, result.out + result.err
    assert "Traceback" not in result.out + result.err
    errors = [line for line in result.out.splitlines() if words in line]
    assert len(errors) == 1, f"not one line with {words!r} in:\n{result.out}{result.err}"
    assert errors[0].startswith(where), errors[0]
    assert result.out.splitlines()[-1].startswith("invalid: working tree")


def test_a_long_include_chain_is_checked_not_a_recursion_error(zone_repo: ZoneRepo) -> None:
    _include_chain(zone_repo)
    result = zone_repo.run("check")
    assert "Traceback" not in result.out + result.err
    assert "RecursionError" not in result.out + result.err
    assert "recursion" not in (result.out + result.err).lower()


def test_records_are_counted_after_expansion_too(zone_repo: ZoneRepo) -> None:
    """A limit lowered in reconciler.toml counts what BIND expanded, cached or not."""
    zone_repo.write(ZONE, GOOD_ZONE + "$GENERATE 1-50 h$ IN A 192.0.2.1\n")
    assert zone_repo.run("check").code == 0
    config = zone_repo.path / "reconciler.toml"
    text = config.read_text()
    assert "\nmax_records = 1000000\n" in text  # the template shows the default
    config.write_text(text.replace("\nmax_records = 1000000\n", "\nmax_records = 40\n"))
    result = zone_repo.run("check")
    assert result.code == 1, result.out
    (line,) = [x for x in result.out.splitlines() if "max_records" in x]
    assert line.startswith(f"{ZONE}:10: example.org: ")
    assert "58 records, over the limit of 40 records" in line


def test_an_include_loop_through_two_pieces_is_refused(zone_repo: ZoneRepo) -> None:
    """Zone includes a and b, a includes b, b includes a: followed once each, and a loop."""
    zone_repo.write("zones/loop/a", "$INCLUDE loop/b\n")
    zone_repo.write("zones/loop/b", "$INCLUDE loop/a\n")
    zone_repo.write(ZONE, GOOD_ZONE + "$INCLUDE loop/a\n$INCLUDE loop/b\n")
    result = zone_repo.run("check")
    assert result.code == 1, result.out + result.err
    loops = [line for line in result.out.splitlines() if "includes itself" in line]
    assert loops == [
        "zones/loop/b:1: example.org: $INCLUDE from zones/loop/a:1: $INCLUDE loop/a includes itself"
    ], result.out


def test_the_hosts_ceiling_on_records_is_not_raised_by_the_repo(zone_repo: ZoneRepo) -> None:
    """reconciler.toml may lower the record limit; only daemon.toml raises it on a host."""
    config = zone_repo.path / "reconciler.toml"
    config.write_text(config.read_text().replace("max_records = 1000000", "max_records = 10000"))
    zone_repo.write(ZONE, GOOD_ZONE + "$GENERATE 1-5000 h$ IN A 192.0.2.1\n")
    host = zone_repo.path.parent / "daemon.toml"
    host.write_text(
        '[repo]\npath = "repo"\n[bind]\nzone_dir = "z"\ninclude_file = "z.conf"\n'
        '[rndc]\nkey_file = "rndc.key"\n[tsig]\nkey_file = "t.key"\n[state]\ndir = "s"\n'
        "[check]\nmax_records = 1000\n"
    )
    assert zone_repo.run("check").code == 0  # a workstation: the repo's limit
    result = zone_repo.run("check", "--config", str(host))  # the primary: the host's too
    assert result.code == 1, result.out
    (line,) = [x for x in result.out.splitlines() if "over the limit" in x]
    assert line.startswith(f"{ZONE}:10: example.org: 5008 records, over the limit of 1000")
    assert "([check] max_records in daemon.toml)" in line
