"""`reconciler plan`: record-level diff on real git commits, serials, safety verdict."""

from __future__ import annotations

import json

import pytest

from reconciler.model.plan import Safety, loosened

from .conftest import GOOD_ZONE, ZoneRepo

ZONE = "zones/example.org.zone"
MANY = GOOD_ZONE + "".join(f"h{i} IN A 192.0.2.{100 + i}\n" for i in range(12))


def _base(zone_repo: ZoneRepo, text: str = GOOD_ZONE) -> str:
    zone_repo.write(ZONE, text)
    return zone_repo.commit("add example.org")


def test_reformat_only_shows_no_change(zone_repo: ZoneRepo) -> None:
    _base(zone_repo)
    reformatted = (
        "; reordered, relative names spelled out, other serial\n"
        + "\n".join(
            reversed(
                GOOD_ZONE.replace("( 1 ", "( 7 ")
                .replace("mail\n", "mail.example.org.\n")
                .splitlines()[1:]
            )
        )
        + "\n$TTL 3600\n"
    )
    zone_repo.write(ZONE, "$TTL 3600\n" + reformatted)
    result = zone_repo.run("plan", "--format", "json")
    assert result.code == 0, result.out + result.err
    plan = json.loads(result.out)
    assert plan["zones"] == []
    assert plan["unchanged"] == ["example.com", "example.net", "example.org"]
    assert plan["verdict"] == "safe"


def test_added_removed_changed_records(zone_repo: ZoneRepo) -> None:
    base = _base(zone_repo)
    zone_repo.write(
        ZONE,
        GOOD_ZONE.replace("www     IN A   192.0.2.80\n", "").replace(
            "mail    IN A   192.0.2.25", "mail    IN A   192.0.2.26"
        )
        + "ftp IN AAAA 2001:db8::21\n",
    )
    head = zone_repo.commit("move mail, drop www, add ftp")
    result = zone_repo.run("plan", "--base", base, "--head", head)
    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    assert lines[0] == f"plan {base[:12]} -> {head[:12]}"
    # mail is the MX host: moving it changes mail delivery, and the plan says so
    assert lines[1] == "changes mail delivery: example.org (address of an MX host)"
    assert lines[3] == "  1 added, 1 removed, 1 changed RRset(s); 8 -> 8 records"
    assert lines[4:] == [
        "  + ftp.example.org. AAAA",
        "      + ftp.example.org. 3600 AAAA 2001:db8::21",
        "  ~ mail.example.org. A  (mail: address of an MX host)",
        "      - mail.example.org. 3600 A 192.0.2.25",
        "      + mail.example.org. 3600 A 192.0.2.26",
        "  - www.example.org. A",
        "      - www.example.org. 3600 A 192.0.2.80",
        "unchanged: 2 zone(s)",  # example.com and example.net: their files did not change
        "zones/example.org.zone:5: example.org: example.org. MX: warning: example.org receives "
        "mail (MX) but has no DMARC record: receivers cannot tell forged mail from "
        "example.org's own; add e.g. "
        '`_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.org"` '
        "[dmarc-missing]",
        "verdict: safe",
    ]


def test_serial_comes_from_the_scheme_and_the_file_is_a_floor(zone_repo: ZoneRepo) -> None:
    text = (zone_repo.path / "reconciler.toml").read_text()
    zone_repo.write("reconciler.toml", text.replace('scheme = "date"', 'scheme = "increment"'))
    base = _base(zone_repo, GOOD_ZONE.replace("( 1 ", "( 41 "))
    zone_repo.write(ZONE, GOOD_ZONE.replace("( 1 ", "( 41 ") + "new IN A 192.0.2.7\n")
    plan = json.loads(zone_repo.run("plan", "--base", base, "--format", "json").out)
    assert [(z["zone"], z["serial_before"], z["serial_after"]) for z in plan["zones"]] == [
        ("example.org", 41, 42)
    ]
    zone_repo.write(ZONE, GOOD_ZONE.replace("( 1 ", "( 500 ") + "new IN A 192.0.2.7\n")
    plan = json.loads(zone_repo.run("plan", "--base", base, "--format", "json").out)
    assert plan["zones"][0]["serial_after"] == 500


def test_large_change_is_unsafe_unless_allowed(zone_repo: ZoneRepo) -> None:
    base = _base(zone_repo, MANY)
    zone_repo.write(ZONE, GOOD_ZONE)
    head = zone_repo.commit("drop all twelve hosts")
    result = zone_repo.run("plan", "--base", base, "--head", head)
    assert result.code == 3, result.out
    assert "  UNSAFE: deletes or changes 12 of 20 records (60%, limit 30%)" in result.out
    assert "Reconciler-Allow: unsafe" in result.out.splitlines()[-1]
    assert zone_repo.run("plan", "--base", base, "--head", head, "--allow-unsafe").code == 0
    zone_repo.write(ZONE, GOOD_ZONE + "x IN A 192.0.2.1\n")
    head = zone_repo.commit("drop the hosts, add x\n\nReconciler-Allow: unsafe")
    result = zone_repo.run("plan", "--base", base, "--head", head)
    assert result.code == 0, result.out
    assert result.out.splitlines()[-1].startswith("verdict: unsafe but allowed")


@pytest.mark.parametrize(
    "message",
    [
        "Reconciler-Allow: unsafe in the subject is no trailer",
        "drop the hosts\n\nWe said Reconciler-Allow: unsafe in prose.\n\nSigned-off-by: a <a@b>",
        "drop the hosts\n\nReconciler-Allow: unsafe\n\nand a paragraph after it",
        "drop the hosts\n\nReconciler-Allow: maybe",
    ],
)
def test_the_allow_trailer_counts_only_as_a_git_trailer(zone_repo: ZoneRepo, message: str) -> None:
    base = _base(zone_repo, MANY)
    zone_repo.write(ZONE, GOOD_ZONE)
    head = zone_repo.commit(message)
    result = zone_repo.run("plan", "--base", base, "--head", head)
    assert result.code == 3, result.out


def test_the_allow_trailer_among_other_trailers(zone_repo: ZoneRepo) -> None:
    base = _base(zone_repo, MANY)
    zone_repo.write(ZONE, GOOD_ZONE)
    head = zone_repo.commit(
        "drop the hosts\n\nSigned-off-by: a <a@b>\nreconciler-allow: Unsafe\nCo-authored-by: c"
    )
    assert zone_repo.run("plan", "--base", base, "--head", head).code == 0


def test_six_of_twenty_is_within_the_limit(zone_repo: ZoneRepo) -> None:
    base = _base(zone_repo, MANY)
    zone_repo.write(ZONE, GOOD_ZONE + "".join(f"h{i} IN A 192.0.2.{100 + i}\n" for i in range(6)))
    result = zone_repo.run("plan", "--base", base)
    assert result.code == 0, result.out
    assert result.out.splitlines()[-1] == "verdict: safe"


def test_apex_ns_change_and_zone_deletion_are_unsafe(zone_repo: ZoneRepo) -> None:
    base = _base(zone_repo)
    zone_repo.write(ZONE, GOOD_ZONE + "@ IN NS ns3\nns3 IN A 192.0.2.3\n")
    result = zone_repo.run("plan", "--base", base, "--format", "json")
    assert result.code == 3
    assert json.loads(result.out)["unsafe"] == ["example.org: changes the apex NS set"]
    (zone_repo.path / ZONE).unlink()
    result = zone_repo.run("plan", "--base", base, "--format", "json")
    assert result.code == 3
    plan = json.loads(result.out)
    assert plan["unsafe"] == ["example.org: deletes the zone (8 records)"]
    assert plan["zones"][0]["action"] == "remove"


def test_invalid_head_exits_1_with_check_messages(zone_repo: ZoneRepo) -> None:
    base = _base(zone_repo)
    zone_repo.write(ZONE, GOOD_ZONE + "www IN CNAME mail\n")
    result = zone_repo.run("plan", "--base", base)
    assert result.code == 1
    assert f"{ZONE}:10: example.org: www.example.org.: CNAME and other data" in result.out
    assert "zone example.org: remove" not in result.out
    assert result.out.splitlines()[-1].startswith("verdict: invalid")


def test_new_zone_and_template_change(zone_repo: ZoneRepo) -> None:
    base = zone_repo.repo.head.commit.hexsha
    _base(zone_repo)
    text = (zone_repo.path / "reconciler.toml").read_text()
    zone_repo.write(
        "reconciler.toml",
        text.replace(
            'preference = 10, host = "mail.example.com."',
            'preference = 20, host = "mail.example.com."',
        ),
    )
    head = zone_repo.commit("new zone; template MX preference 20")
    plan = json.loads(zone_repo.run("plan", "--base", base, "--head", head, "--format", "json").out)
    by_zone = {z["zone"]: z for z in plan["zones"]}
    assert set(by_zone) == {"example.org", "example.net"}
    assert by_zone["example.org"]["action"] == "add"
    assert by_zone["example.org"]["serial_before"] is None
    (mx,) = by_zone["example.net"]["changes"]
    assert (mx["owner"], mx["rtype"], mx["kind"]) == ("example.net.", "MX", "change")
    assert mx["before"]["rdatas"] == ["10 mail.example.com."]
    assert mx["after"]["rdatas"] == ["20 mail.example.com."]
    assert plan["unchanged"] == ["example.com"]


def test_markdown_is_a_pull_request_comment(zone_repo: ZoneRepo) -> None:
    base = _base(zone_repo)
    zone_repo.write(ZONE, GOOD_ZONE + 'ftp IN TXT "a|b"\n')
    result = zone_repo.run("plan", "--base", base, "--format", "markdown")
    assert result.code == 0, result.out
    # The hidden marker first: CI finds and updates its one comment by it.
    assert result.out.startswith("<!-- dns-reconciler-plan -->\n### dns-reconciler plan ✅ safe\n")
    assert '| ➕ | `ftp.example.org.` | 3600 | TXT | `"a\\|b"` |' in result.out
    assert result.out.rstrip().endswith("**Verdict:** safe")


def test_plan_of_unknown_revision_is_one_line(zone_repo: ZoneRepo) -> None:
    result = zone_repo.run("plan", "--head", "nope")
    assert result.code == 1
    assert result.err.strip() == f"error: revision 'nope' does not exist in {zone_repo.path}"


def test_changes_that_affect_mail_are_marked_in_json(zone_repo: ZoneRepo) -> None:
    """MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, the MX hosts' addresses and SMTP TLSA are mail;
    a TXT that is not SPF, another host's address or a web server's TLSA are not."""
    base = _base(zone_repo)
    digest = "ab" * 32
    zone_repo.write(
        ZONE,
        GOOD_ZONE.replace("@       IN MX  10 mail\n", "@       IN MX  20 mail\n")
        + '@ IN TXT "v=spf1 mx -all"\n@ IN TXT "site-verification=1"\n'
        + 's1._domainkey IN TXT "v=DKIM1; p="\n_dmarc IN TXT "v=DMARC1; p=none"\n'
        + '_mta-sts IN TXT "v=STSv1; id=1"\nmta-sts IN A 192.0.2.8\n'
        + '_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:t@example.org"\n'
        + f"_25._tcp.mail IN TLSA 3 1 1 {digest}\n_443._tcp.www IN TLSA 3 1 1 {digest}\n"
        + "web IN A 192.0.2.81\n",
    )
    head = zone_repo.commit("mail policy")
    plan = json.loads(zone_repo.run("plan", "--base", base, "--head", head, "--format", "json").out)
    assert plan["affects_mail"] is True
    (zone,) = plan["zones"]
    marks = {(c["owner"], c["rtype"]): c["mail"] for c in zone["changes"]}
    assert marks == {
        ("example.org.", "MX"): "MX",
        ("example.org.", "TXT"): "SPF",
        ("s1._domainkey.example.org.", "TXT"): "DKIM",
        ("_dmarc.example.org.", "TXT"): "DMARC",
        ("_mta-sts.example.org.", "TXT"): "MTA-STS",
        ("mta-sts.example.org.", "A"): "MTA-STS",
        ("_smtp._tls.example.org.", "TXT"): "TLS-RPT",
        ("_25._tcp.mail.example.org.", "TLSA"): "TLSA of an MX host",
        ("_443._tcp.www.example.org.", "TLSA"): None,
        ("web.example.org.", "A"): None,
    }
    assert zone["mail"] == [
        "MX",
        "SPF",
        "DKIM",
        "DMARC",
        "MTA-STS",
        "TLS-RPT",
        "TLSA of an MX host",
    ]
    zone_repo.write(ZONE, GOOD_ZONE + "web IN A 192.0.2.81\n")
    other = zone_repo.commit("a web server")
    plan = json.loads(
        zone_repo.run("plan", "--base", base, "--head", other, "--format", "json").out
    )
    assert plan["affects_mail"] is False and plan["zones"][0]["mail"] == []
    text = zone_repo.run("plan", "--base", base, "--head", other).out
    assert "changes mail delivery" not in text and "(mail:" not in text


def test_raising_any_safety_limit_is_a_loosening() -> None:
    limits = Safety()
    assert loosened(limits, limits) == ()
    assert loosened(limits, Safety(min_records=5, max_change_percent=10.0)) == ()  # tighter
    assert loosened(limits, Safety(min_records=1000, max_records=2_000_000)) == (
        "reconciler.toml: raises [safety] min_records from 10 to 1000 (a looser safety limit)",
        "reconciler.toml: raises [safety] max_records from 1000000 to 2000000"
        " (a looser safety limit)",
    )
