"""The pure core, with values only: plan, our own check rules, load limits, config parsing,
the reports. No BIND, no git, no network (the `unit` marker makes that a rule:
tests/conftest.py refuses a program or a socket here)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from reconciler.check.limits import load_limits
from reconciler.check.rules import Zone, run_all
from reconciler.cli import report
from reconciler.config.repo import parse_repo_config
from reconciler.errors import ValidationError
from reconciler.model.limits import LoadLimits
from reconciler.model.plan import Safety, make_plan
from reconciler.model.zone import CanonicalZone, ZoneText, soa_with_serial

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SOA = "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. {} 1800 900 1209600 300"


def canonical(serial: int, *records: str, name: str = "example.com") -> CanonicalZone:
    base = [
        SOA.format(serial),
        f"{name}. 3600 IN NS ns1.{name}.",
        f"{name}. 3600 IN NS ns2.{name}.",
        f"ns1.{name}. 3600 IN A 192.0.2.1",
        f"ns2.{name}. 3600 IN A 192.0.2.2",
    ]
    return CanonicalZone.from_lines(name, sorted([*base, *records]))


def zone(text: str, *records: str) -> Zone:
    return Zone(ZoneText("example.com", "zones/example.com.zone", text), canonical(1, *records))


def plan(base: dict[str, CanonicalZone], head: dict[str, CanonicalZone], **kw: object):  # type: ignore[no-untyped-def]
    options: dict[str, object] = {
        "base_label": "base",
        "head_label": "head",
        "safety": Safety(),
        "scheme": "increment",
        "now": NOW,
    }
    return make_plan(base, head, **(options | kw))  # type: ignore[arg-type]


WWW = "www.example.com. 3600 IN A 192.0.2.80"
WWW2 = "www.example.com. 3600 IN A 192.0.2.81"


# plan


def test_a_serial_only_change_is_no_change() -> None:
    result = plan({"example.com": canonical(1, WWW)}, {"example.com": canonical(9, WWW)})
    assert result.zones == () and result.unchanged == ("example.com",)


def test_a_changed_record_is_one_rrset_change_and_the_serial_moves_on() -> None:
    result = plan({"example.com": canonical(5, WWW)}, {"example.com": canonical(5, WWW2)})
    (zone_plan,) = result.zones
    (change,) = zone_plan.changes
    assert (change.owner, change.rtype, change.kind) == ("www.example.com.", "A", "change")
    assert change.before and change.before.rdatas == ("192.0.2.80",)
    assert change.after and change.after.rdatas == ("192.0.2.81",)
    assert (zone_plan.serial_before, zone_plan.serial_after) == (5, 6)


def test_the_served_serial_wins_over_the_files() -> None:
    result = plan(
        {"example.com": canonical(5, WWW)},
        {"example.com": canonical(5, WWW2)},
        served={"example.com": 1000},
    )
    assert result.zones[0].serial_after == 1001


def test_the_serial_wraps_under_rfc_1982() -> None:
    result = plan(
        {"example.com": canonical(2**32 - 9, WWW)},
        {"example.com": canonical(2**32 - 9, WWW2)},
        served={"example.com": 2**32 - 1},
    )
    assert result.zones[0].serial_after == 0


def test_a_files_serial_newer_than_the_served_one_is_a_floor() -> None:
    """5 is newer than 4,000,000,000 under RFC 1982 (it is 294,967,301 ahead)."""
    result = plan(
        {"example.com": canonical(5, WWW)},
        {"example.com": canonical(5, WWW2)},
        served={"example.com": 4_000_000_000},
    )
    assert result.zones[0].serial_after == 5


def test_a_new_zone_starts_from_its_files_serial() -> None:
    result = plan({}, {"example.com": canonical(2026120100, WWW)})
    assert result.zones[0].action == "add"
    assert result.zones[0].serial_after == 2026120100


def test_the_daemon_plans_a_zone_added_or_removed_whole_by_its_counts() -> None:
    """itemise=False (the daemon prints no plan): the same zones, actions, serials, counts and
    verdict, without a Change per RRset of a zone added or deleted whole."""
    records = [f"h{i}.example.com. 3600 IN A 192.0.2.{i}" for i in range(20)]
    base = {
        "example.net": canonical(1, name="example.net"),
        "example.org": canonical(1, WWW, name="example.org"),
    }
    head = {"example.com": canonical(7, *records), "example.org": canonical(1, name="example.org")}
    full, counted = plan(base, head), plan(base, head, itemise=False)
    assert [z.zone for z in counted.zones] == ["example.com", "example.net", "example.org"]
    for whole, short in zip(full.zones, counted.zones, strict=True):
        assert replace(whole, changes=short.changes) == short
        assert short.changes == whole.changes if short.zone == "example.org" else not short.changes
    assert len(full.zones[0].changes) == 24 and full.zones[0].records_after == 25  # NS: one set
    assert counted.unsafe_reasons == full.unsafe_reasons and counted.verdict == "unsafe"


def test_deleting_a_zone_and_changing_the_apex_ns_are_unsafe() -> None:
    records = [f"h{i}.example.com. 3600 IN A 192.0.2.{i}" for i in range(20)]
    base = {
        "example.com": canonical(1, *records),
        "example.net": canonical(1, name="example.net"),
    }
    head = {"example.com": canonical(1, *records, "example.com. 3600 IN NS ns3.example.org.")}
    result = plan(base, head)
    assert result.verdict == "unsafe"
    assert any("changes the apex NS set" in r for r in result.unsafe_reasons)
    assert any(r.startswith("example.net: deletes the zone") for r in result.unsafe_reasons)
    assert plan(base, head, allow_unsafe=True).verdict == "allowed"


def test_a_large_change_is_unsafe_and_a_looser_limit_is_itself_unsafe() -> None:
    old = [f"h{i}.example.com. 3600 IN A 192.0.2.{i}" for i in range(20)]
    new = [f"h{i}.example.com. 3600 IN A 198.51.100.{i}" for i in range(20)]
    base, head = {"example.com": canonical(1, *old)}, {"example.com": canonical(1, *new)}
    assert any("deletes or changes 20 of 25" in r for r in plan(base, head).unsafe_reasons)
    loose = Safety(max_change_percent=100.0)
    result = plan(base, head, proposed=loose)
    assert any("raises [safety] max_change_percent from 30 to 100" in r for r in result.loosens)


def test_the_soa_serial_rewrite_has_one_normal_form() -> None:
    spaced = "Example.COM.  3600 IN SOA ns1.example.com.  hostmaster.example.com. 7 1800 900 1 2"
    assert soa_with_serial(spaced, "-") == soa_with_serial(SOA.format(7), "-").replace(
        "300", "2"
    ).replace("1209600", "1")
    assert canonical(1, WWW).content_hash == canonical(99, WWW).content_hash
    assert canonical(1, WWW).content_hash != canonical(1, WWW2).content_hash
    assert canonical(1, WWW).with_serial(42).serial == 42


# the reports


def test_the_plan_prints_as_text_markdown_and_json() -> None:
    result = plan({"example.com": canonical(5, WWW)}, {"example.com": canonical(5, WWW2)})
    text = report.plan_text(result)
    assert "example.com" in text and "192.0.2.81" in text
    markdown = report.plan_markdown(result)
    assert markdown.startswith("<!-- dns-reconciler") or "dns-reconciler plan" in markdown
    assert "`www.example.com.`" in markdown
    data = json.loads(json.dumps(result.to_dict()))
    assert data["zones"][0]["serial_after"] == 6


# our own rules and the load limits


def test_a_name_that_repeats_the_zone_is_a_warning_not_an_error() -> None:
    text = (
        "$TTL 3600\n@ IN SOA ns1 hostmaster 1 1800 900 1209600 300\nwww IN CNAME host.example.com\n"
    )
    found = run_all([zone(text, "www.example.com. 3600 IN CNAME host.example.com.example.com.")])
    assert [(p.severity, p.line) for p in found] == [("warning", 3)]
    assert "missing trailing dot" in found[0].message


def test_soa_timers_out_of_order_are_reported_with_their_line() -> None:
    bad = CanonicalZone.from_lines(
        "example.com",
        ("example.com. 3600 IN SOA ns1.example.com. h.example.com. 1 300 900 100 300",),
    )
    text = "$TTL 3600\n@ IN SOA ns1 h 1 300 900 100 300\n"
    found = run_all([Zone(ZoneText("example.com", "zones/example.com.zone", text), bad)])
    assert found and all(p.line == 2 for p in found)


def test_an_rrset_over_the_limit_is_refused_at_the_line_past_the_limit() -> None:
    lines = [f"big IN A 192.0.2.{i}" for i in range(1, 5)]
    text = "$TTL 3600\n@ IN SOA ns1 h 1 1800 900 1209600 300\n" + "\n".join(lines) + "\n"
    records = [f"big.example.com. 3600 IN A 192.0.2.{i}" for i in range(1, 5)]
    found = load_limits(zone(text, *records), LoadLimits(max_records_per_type=3))
    assert len(found) == 1
    assert found[0].line == 6 and found[0].severity == "error"
    assert "must not exceed 3" in found[0].message or "3" in found[0].message


# config parsing


def test_reconciler_toml_is_read_into_values() -> None:
    config = parse_repo_config(
        '[primary]\nname = "ns1.example.com"\naddress = "192.0.2.1"\n'
        '[[secondary]]\nname = "ns2.example.com"\naddress = "192.0.2.2"\n'
        '[safety]\nmax_change_percent = 50\n[serial]\nscheme = "date"\n'
    )
    assert config.primary and config.primary.address == "192.0.2.1"
    assert [s.name for s in config.secondaries] == ["ns2.example.com"]
    assert config.safety.max_change_percent == 50 and config.serial_scheme == "date"


def test_every_problem_of_reconciler_toml_is_collected_with_its_line() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_repo_config('[safety]\nmax_change_percent = "lots"\n[serial]\nscheme = "weekly"\n')
    problems = caught.value.problems
    assert {p.line for p in problems} >= {2, 4}
    assert any("max_change_percent must be a number" in p.message for p in problems)
    assert any("'weekly' is not one of" in p.message for p in problems)
    assert all(p.file == "reconciler.toml" for p in problems)


def test_mail_problems_find_their_lines_in_one_scan_of_the_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each mail problem names its line; the zone's text is read once for all of them, not
    once per problem (a large zone with many problems would be read again for each)."""
    from reconciler.check import locate
    from reconciler.check.mail.common import find_line
    from reconciler.model.zone import parse_line

    owners = [f"t{i}" for i in range(5)]
    text = "$TTL 3600\n@ IN SOA ns1 h 1 1800 900 1209600 300\n" + "".join(
        f'{o} IN TXT "v=spf1 -all"\n' for o in owners
    )
    records = [f't{i}.example.com. 3600 IN TXT "v=spf1 -all"' for i in range(5)]
    checked = zone(text, *records)
    scans = []
    real = locate._logical_lines
    monkeypatch.setattr(locate, "_logical_lines", lambda t: scans.append(t) or real(t))
    found = [find_line(checked, parse_line(r)) for r in records]
    assert found == [3, 4, 5, 6, 7]
    assert len(scans) == 1


def test_the_rules_hold_a_record_only_where_a_rule_reads_it() -> None:
    """A large zone's A, AAAA and CNAME records are read, not held one object each; a CNAME
    whose target lacks its final dot is held, and warned about."""
    plain = [f"h{i}.example.com. 3600 IN A 192.0.2.{i % 250}" for i in range(300)]
    plain += [f"c{i}.example.com. 3600 IN CNAME h{i}.example.com." for i in range(300)]
    odd = "w.example.com. 3600 IN CNAME h1.example.com.example.com."
    text = "$TTL 3600\n@ IN SOA ns1 h 1 1800 900 1209600 300\nw IN CNAME h1.example.com\n"
    checked = zone(text, *plain, odd)
    held = {(r.owner, r.rtype) for r in checked.records}
    assert ("w.example.com.", "CNAME") in held
    assert not any(rtype in ("A", "CNAME") and owner != "w.example.com." for owner, rtype in held)
    assert len(checked.records) == 4  # the SOA, the apex NS set (2) and the odd CNAME
    [warning] = [p for p in run_all([checked]) if "trailing dot" in p.message]
    assert warning.record == "w.example.com. CNAME" and warning.line == 3
