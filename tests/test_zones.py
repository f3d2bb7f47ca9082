"""Rendering templates in the sandbox, the include rules and the line locator (pure units)."""

from __future__ import annotations

import pytest

from reconciler.check.locate import Locator, absolute, locate
from reconciler.check.zonefiles import load_zone, zone_name
from reconciler.model.snapshot import FileEntry, Snapshot
from reconciler.model.zone import CanonicalZone, ZoneText

SOA = "@ IN SOA ns1 hostmaster 1 1800 900 1209600 1800\n"


def _snapshot(files: dict[str, str]) -> Snapshot:
    entries = {p: FileEntry(p, len(t.encode()), t.encode()) for p, t in files.items()}
    return Snapshot("test", files=entries)


def _load(
    text: str,
    name: str = "example.org",
    extra: dict[str, str] | None = None,
    variables: dict[str, object] | None = None,
):
    path = f"zones/{name}.zone.j2"
    snapshot = _snapshot({path: text, **(extra or {})})
    return load_zone(snapshot, "zones", name, path, variables or {}, 10_000)


def test_template_renders_with_variables_and_shared_includes() -> None:
    zone, problems = _load(
        "$TTL {{ ttl }}\n" + SOA + '{% include "common/ns.j2" %}\nwww IN A 192.0.2.1\n',
        extra={"zones/common/ns.j2": "{% for n in ns %}@ IN NS {{ n }}\n{% endfor %}"},
        variables={"ttl": 300, "ns": ["ns1.example.org.", "ns2.example.org."]},
    )
    assert problems == []
    assert zone is not None and zone.rendered
    assert "@ IN NS ns1.example.org.\n@ IN NS ns2.example.org.\n" in zone.text
    assert zone.text.startswith("$TTL 300\n")


@pytest.mark.parametrize(
    "template,line,words",
    [
        ("$TTL 1\n" + SOA + "x IN TXT \"{{ ''.__class__.__mro__ }}\"\n", 3, "sandbox"),
        ("$TTL 1\n" + SOA + "{{ missing }}\n", 3, "'missing' is undefined"),
        ("$TTL 1\n" + SOA + "{% for x in %}\n", 3, "template syntax"),
        ("$TTL 1\n" + SOA + '{% include "../../etc/passwd" %}\n', 3, "template error"),
        ("$TTL 1\n" + SOA + "{{ range(10**9) | list | length }}\n", 3, "sandbox"),
    ],
    ids=["attribute trick", "undefined", "syntax", "include outside", "huge range"],
)
def test_template_problems_name_the_line(template: str, line: int, words: str) -> None:
    zone, problems = _load(template)
    assert zone is None
    (problem,) = problems
    assert problem.file == "zones/example.org.zone.j2"
    assert problem.line == line
    assert words in problem.message


def test_include_rules() -> None:
    path = "zones/example.org.zone"
    snapshot = Snapshot(
        "t",
        files={
            path: FileEntry(path, 1, b"$TTL 1\n$INCLUDE sub/../common/a.inc\n$INCLUDE sub/link\n"),
            "zones/common/a.inc": FileEntry("zones/common/a.inc", 1, b"$INCLUDE /etc/shadow\n"),
            "zones/sub/link": FileEntry("zones/sub/link", 0, None, symlink=True),
        },
    )
    zone, problems = load_zone(snapshot, "zones", "example.org", path, {}, 10_000)
    assert zone is None
    assert [(p.file, p.line, p.record, p.message) for p in problems] == [
        (
            "zones/common/a.inc",
            1,
            f"$INCLUDE from {path}:2",
            "$INCLUDE /etc/shadow is outside the zones/ folder",
        ),
        (
            "zones/sub/link",
            None,
            f"$INCLUDE from {path}:3",
            "is a symlink; zone files and includes must be regular files",
        ),
    ]


def test_zone_name_from_file_name() -> None:
    assert zone_name("zones/Example.COM.zone") == "example.com"
    assert zone_name("zones/example.net.zone.j2") == "example.net"
    assert zone_name("zones/common/shared.j2") is None


def test_locate_follows_origin_and_continuation_lines() -> None:
    text = (
        "$TTL 1\n@ SOA a b 1 2 3 4 5\n  NS ns1\n$ORIGIN sub.example.org.\nwww A 1.2.3.4\n"
        "  MX 10 mail.example.org.\n"
    )
    assert locate(text, "example.org.", "example.org.", "NS") == 3
    assert locate(text, "example.org.", "www.sub.example.org.", "A") == 5
    assert locate(text, "example.org.", "www.sub.example.org.", "MX", "mail.example.org.") == 6
    assert locate(text, "example.org.", "nothing.example.org.") is None
    assert absolute("@", "example.org.") == "example.org."
    assert absolute("WWW", "example.org.") == "www.example.org."


def test_serial_replacement_keeps_content_hash() -> None:
    zone = CanonicalZone.from_lines(
        "example.org",
        (
            "example.org. 300 IN SOA ns1.example.org. h.example.org. 7 1800 900 1209600 1800",
            "example.org. 300 IN NS ns1.example.org.",
        ),
    )
    moved = zone.with_serial(4294967295)
    assert moved.serial == 4294967295 and zone.serial == 7
    assert moved.content_hash == zone.content_hash
    assert list(moved.lines())[1] == list(zone.lines())[1]


def test_locator_reads_master_files_as_bind_does() -> None:
    text = (
        "$ORIGIN .\n"
        "$TTL 1h\n"
        "example.org IN SOA ns1.example.org. h.example.org. (\n"
        "    1 ; serial ( not a paren )\n"
        "    2 3 4 5 )\n"
        '        TXT "semi; colon" "(paren" \\; x\n'
        "$ORIGIN example.org.\n"
        "Caf\\233 A 192.0.2.1\n"
        '  TXT ")"\n'
        "$INCLUDE common/piece.inc sub.example.org.\n"
        "$GENERATE 1-9 host$ CNAME ns${1,2,d}\n"
        "after 300 IN A 192.0.2.2\n"
    )
    zone = ZoneText("example.org", "zones/example.org.zone", text)
    files = {"zones/common/piece.inc": b"; piece\nwww A 192.0.2.3\n  AAAA 2001:db8::3\n"}
    where = Locator(zone, files, "zones")
    assert where.find("example.org", "SOA") == ("zones/example.org.zone", 3)
    assert where.find("example.org.", "TXT") == ("zones/example.org.zone", 6)
    assert where.find("CAF\\233.example.org", "A") == ("zones/example.org.zone", 8)
    assert where.find("caf\\233.example.org.", "TXT") == ("zones/example.org.zone", 9)
    assert where.find("www.sub.example.org.", "AAAA") == ("zones/common/piece.inc", 3)
    assert where.find("host7.example.org.", "CNAME", "ns08.example.org.") == (
        "zones/example.org.zone",
        11,
    )
    assert where.find("after.example.org.", "A") == ("zones/example.org.zone", 12)
    assert where.first_record() == ("zones/example.org.zone", 3)
    assert where.bad_ttl() is None
    assert Locator(ZoneText("x.org", "z", "$TTL 1y\n"), {}, "").bad_ttl() == ("z", 1)
