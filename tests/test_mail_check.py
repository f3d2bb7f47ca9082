"""`reconciler check` on mail records: a corpus of good and bad SPF, DKIM, DMARC, MTA-STS,
TLS-RPT, CAA, TLSA and MX records, each in a zone of its own in one real repo, checked by
one real `reconciler check --format json` (named-checkzone first, then the mail rules).

Each case says which named rules it must set off, with what severity and on which of its
lines; a good case must set off none. Keys are made here with `cryptography`; nothing is
mocked. Also: include targets in another zone of the repo, strings over 255 bytes, waivers.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from reconciler.model.rules import Rule

from .conftest import ZoneRepo

HEADER = """$TTL 3600
@       IN SOA ns1 hostmaster 1 1800 900 1209600 1800
@       IN NS  ns1
ns1     IN A   192.0.2.1
"""
FIRST = HEADER.count("\n") + 1  # the line of a case's first record

# Included across zones: _spf (1 lookup of its own: none), _big (9 lookups), _none (no SPF).
SHARED = (
    HEADER
    + '_spf    IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n'
    + '_big    IN TXT "v=spf1 '
    + " ".join(f"a:h{i}.example.org" for i in range(9))
    + ' -all"\n'
    + '_none   IN TXT "hello"\n'
)


def _spki(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _strings(text: str, size: int = 200) -> str:
    """`text` as quoted strings of at most `size` bytes, as a zone file holds a long key."""
    return " ".join(f'"{text[i : i + size]}"' for i in range(0, len(text), size))


RSA_2048 = rsa.generate_private_key(65537, 2048).public_key()
RSA_1024 = rsa.generate_private_key(65537, 1024).public_key()
RSA_512 = rsa.RSAPublicNumbers(65537, (1 << 511) | secrets.randbits(511) | 1).public_key()
KEY_2048 = _spki(RSA_2048)
KEY_PKCS1 = base64.b64encode(
    RSA_2048.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
).decode()
KEY_ED25519 = base64.b64encode(
    ed25519.Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
).decode()
KEY_EC = _spki(ec.generate_private_key(ec.SECP256R1()).public_key())
SHA256 = "ab" * 32
SPKI_HEX = base64.b64decode(KEY_2048).hex()


@dataclass(frozen=True)
class Case:
    """Records of one zone (after HEADER) and the (rule, severity, line in `records`) found."""

    name: str
    records: str
    expected: tuple[tuple[Rule, str, int], ...] = ()


def bad(name: str, records: str, *found: tuple[Rule, str, int]) -> Case:
    return Case(name, records, found)


def good(name: str, records: str) -> Case:
    return Case(name, records)


E, W = "error", "warning"
ELEVEN = " ".join(f"a:h{i}.example.org" for i in range(11))
TEN = " ".join(f"a:h{i}.example.org" for i in range(10))

CASES = [
    # --- SPF ---
    good("spf-basic", '@ IN TXT "v=spf1 mx a ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"\n'),
    good("spf-include-repo", '@ IN TXT "v=spf1 include:_spf.shared.example ~all"\n'),
    good("spf-split-with-space", '@ IN TXT "v=spf1 ip4:192.0.2.1 " "ip4:192.0.2.2 -all"\n'),
    good("spf-split-in-a-term", '@ IN TXT "v=spf1 include:_spf.sha" "red.example -all"\n'),
    good("spf-macro", '@ IN TXT "v=spf1 exists:%{i}._spf.example.org a/24 mx//64 -all"\n'),
    good("spf-redirect", '@ IN TXT "v=spf1 redirect=_spf.shared.example"\n'),
    good("spf-ten-lookups", f'@ IN TXT "v=spf1 {TEN} -all"\n'),
    good("spf-not-spf", '@ IN TXT "google-site-verification=abc"\n@ IN TXT "v=spf1 -all"\n'),
    bad(
        "spf-two-records",
        '@ IN TXT "v=spf1 mx -all"\n@ IN TXT "v=spf1 ip4:192.0.2.1 -all"\n',
        (Rule.SPF_MULTIPLE, E, 2),
    ),
    bad(
        "spf-unknown-mechanism",
        '@ IN TXT "v=spf1 inclde:_spf.example.org -all"\n',
        (Rule.SPF_SYNTAX, E, 1),
    ),
    bad("spf-bad-ip4", '@ IN TXT "v=spf1 ip4:192.0.2.300 -all"\n', (Rule.SPF_SYNTAX, E, 1)),
    bad("spf-bad-prefix", '@ IN TXT "v=spf1 ip6:2001:db8::/129 -all"\n', (Rule.SPF_SYNTAX, E, 1)),
    bad("spf-include-no-domain", '@ IN TXT "v=spf1 include: -all"\n', (Rule.SPF_SYNTAX, E, 1)),
    bad(
        "spf-include-single-label",
        '@ IN TXT "v=spf1 include:localhost -all"\n',
        (Rule.SPF_SYNTAX, E, 1),
    ),
    bad(
        "spf-modifier-not-mechanism",
        '@ IN TXT "v=spf1 include=_spf.example.org -all"\n',
        (Rule.SPF_SYNTAX, E, 1),
    ),
    bad(
        "spf-redirect-twice",
        '@ IN TXT "v=spf1 redirect=a.example.org redirect=b.example.org"\n',
        (Rule.SPF_SYNTAX, E, 1),
    ),
    bad("spf-bad-version", '@ IN TXT "v=spf1x mx -all"\n', (Rule.SPF_SYNTAX, E, 1)),
    bad(
        "spf-split-joins-terms",
        '@ IN TXT "v=spf1 ip4:192.0.2.1" "ip4:192.0.2.2 -all"\n',
        (Rule.SPF_SPLIT, E, 1),
    ),
    bad("spf-split-after-version", '@ IN TXT "v=spf1" "mx -all"\n', (Rule.SPF_SPLIT, E, 1)),
    bad("spf-eleven-lookups", f'@ IN TXT "v=spf1 {ELEVEN} -all"\n', (Rule.SPF_LOOKUPS, E, 1)),
    bad(
        "spf-lookups-through-include",
        '@ IN TXT "v=spf1 mx a include:_big.shared.example -all"\n',
        (Rule.SPF_LOOKUPS, E, 1),
    ),
    bad(
        "spf-lookups-outside",
        f'@ IN TXT "v=spf1 {TEN} include:_spf.google.com -all"\n',
        (Rule.SPF_LOOKUPS, E, 1),
    ),
    bad(
        "spf-include-without-spf",
        '@ IN TXT "v=spf1 include:_none.shared.example -all"\n',
        (Rule.SPF_INCLUDE, E, 1),
    ),
    bad(
        "spf-include-loop",
        '@ IN TXT "v=spf1 include:_a.spf-include-loop.test -all"\n'
        '_a IN TXT "v=spf1 include:spf-include-loop.test -all"\n',
        (Rule.SPF_INCLUDE, E, 1),
        (Rule.SPF_INCLUDE, E, 2),
    ),
    bad("spf-plus-all", '@ IN TXT "v=spf1 mx +all"\n', (Rule.SPF_PASS_ALL, W, 1)),
    bad("spf-bare-all", '@ IN TXT "v=spf1 mx all"\n', (Rule.SPF_PASS_ALL, W, 1)),
    bad("spf-ptr", '@ IN TXT "v=spf1 ptr -all"\n', (Rule.SPF_PTR, W, 1)),
    bad("spf-after-all", '@ IN TXT "v=spf1 -all mx"\n', (Rule.SPF_IGNORED, W, 1)),
    bad(
        "spf-redirect-with-all",
        '@ IN TXT "v=spf1 mx -all redirect=_spf.shared.example"\n',
        (Rule.SPF_IGNORED, W, 1),
    ),
    # --- DKIM ---
    good(
        "dkim-rsa-2048",
        f's1._domainkey IN TXT ( "v=DKIM1; k=rsa; "\n    {_strings("p=" + KEY_2048)} )\n',
    ),
    good("dkim-rsa-pkcs1", f"s1._domainkey IN TXT {_strings('k=rsa; p=' + KEY_PKCS1)}\n"),
    good("dkim-ed25519", f's1._domainkey IN TXT "v=DKIM1; k=ed25519; p={KEY_ED25519}"\n'),
    good("dkim-key-with-spaces", f"s1._domainkey IN TXT {_strings('p=' + KEY_2048, 64)}\n"),
    bad("dkim-revoked", 's1._domainkey IN TXT "v=DKIM1; k=rsa; p="\n', (Rule.DKIM_REVOKED, W, 1)),
    bad(
        "dkim-rsa-1024",
        f's1._domainkey IN TXT "v=DKIM1; p={_spki(RSA_1024)}"\n',
        (Rule.DKIM_KEY_SIZE, W, 1),
    ),
    bad(
        "dkim-rsa-512",
        f's1._domainkey IN TXT "v=DKIM1; p={_spki(RSA_512)}"\n',
        (Rule.DKIM_KEY_SIZE, E, 1),
    ),
    bad(
        "dkim-truncated",
        f's1._domainkey IN TXT "v=DKIM1; p={KEY_2048[:200]}"\n',
        (Rule.DKIM_KEY, E, 1),
    ),
    bad(
        "dkim-not-base64",
        f's1._domainkey IN TXT "v=DKIM1; p={KEY_2048[:100]}!{KEY_2048[101:200]}"\n',
        (Rule.DKIM_KEY, E, 1),
    ),
    bad(
        "dkim-ed25519-is-rsa",
        f"s1._domainkey IN TXT {_strings('v=DKIM1; k=ed25519; p=' + KEY_2048)}\n",
        (Rule.DKIM_KEY, E, 1),
    ),
    bad("dkim-ec-as-rsa", f's1._domainkey IN TXT "v=DKIM1; p={KEY_EC}"\n', (Rule.DKIM_KEY, E, 1)),
    bad(
        "dkim-version-not-first",
        f's1._domainkey IN TXT "k=rsa; v=DKIM1; p={KEY_ED25519}"\n',
        (Rule.DKIM_SYNTAX, E, 1),
    ),
    bad(
        "dkim-version-wrong",
        f's1._domainkey IN TXT "v=DKIM2; k=ed25519; p={KEY_ED25519}"\n',
        (Rule.DKIM_SYNTAX, E, 1),
    ),
    bad(
        "dkim-key-type-unknown",
        f's1._domainkey IN TXT "v=DKIM1; k=dsa; p={KEY_ED25519}"\n',
        (Rule.DKIM_SYNTAX, E, 1),
    ),
    bad("dkim-no-key", 's1._domainkey IN TXT "v=DKIM1; k=rsa"\n', (Rule.DKIM_SYNTAX, E, 1)),
    bad(
        "dkim-pasted-as-two-records",
        f's1._domainkey IN TXT "v=DKIM1; k=rsa; p={KEY_2048[:200]}"\n'
        f's1._domainkey IN TXT "{KEY_2048[200:]}"\n',
        (Rule.DKIM_KEY, E, 1),
        (Rule.DKIM_MULTIPLE, E, 2),
        (Rule.DKIM_SYNTAX, E, 2),
    ),
    # --- DMARC ---
    good(
        "dmarc-every-tag",
        '_dmarc IN TXT "v=DMARC1; p=reject; sp=quarantine; pct=50; '
        "rua=mailto:a@example.org,mailto:b@example.org!10m; ruf=mailto:f@example.org; "
        'adkim=s; aspf=r; fo=0:1:d:s; rf=afrf; ri=86400"\n',
    ),
    good(
        "dmarc-with-mx", '@ IN MX 10 mail\nmail IN A 192.0.2.25\n_dmarc IN TXT "v=DMARC1; p=none"\n'
    ),
    good("dmarc-null-mx-needs-none", "@ IN MX 0 .\n"),
    bad("dmarc-policy-typo", '_dmarc IN TXT "v=DMARC1; p=rejct"\n', (Rule.DMARC_POLICY, E, 1)),
    bad(
        "dmarc-no-policy",
        '_dmarc IN TXT "v=DMARC1; rua=mailto:a@example.org"\n',
        (Rule.DMARC_POLICY, E, 1),
    ),
    bad(
        "dmarc-subdomain-policy",
        '_dmarc IN TXT "v=DMARC1; p=none; sp=deny"\n',
        (Rule.DMARC_POLICY, E, 1),
    ),
    bad("dmarc-pct", '_dmarc IN TXT "v=DMARC1; p=none; pct=101"\n', (Rule.DMARC_SYNTAX, E, 1)),
    bad(
        "dmarc-alignment", '_dmarc IN TXT "v=DMARC1; p=none; adkim=x"\n', (Rule.DMARC_SYNTAX, E, 1)
    ),
    bad("dmarc-version-later", '_dmarc IN TXT "p=reject; v=DMARC1"\n', (Rule.DMARC_SYNTAX, E, 1)),
    bad(
        "dmarc-rua-not-uri",
        '_dmarc IN TXT "v=DMARC1; p=none; rua=reports@example.org"\n',
        (Rule.DMARC_URI, E, 1),
    ),
    bad(
        "dmarc-unknown-tag",
        '_dmarc IN TXT "v=DMARC1; p=none; pc=50"\n',
        (Rule.DMARC_UNKNOWN_TAG, W, 1),
    ),
    bad(
        "dmarc-two-records",
        '_dmarc IN TXT "v=DMARC1; p=none"\n_dmarc IN TXT "v=DMARC1; p=reject"\n',
        (Rule.DMARC_MULTIPLE, E, 2),
    ),
    bad("dmarc-missing", "@ IN MX 10 mail\nmail IN A 192.0.2.25\n", (Rule.DMARC_MISSING, W, 1)),
    # --- MTA-STS and TLS-RPT ---
    good(
        "mta-sts-good",
        '_mta-sts IN TXT "v=STSv1; id=20261125T1200"\nmta-sts IN A 192.0.2.80\n',
    ),
    bad(
        "mta-sts-bad-id",
        '_mta-sts IN TXT "v=STSv1; id=2026-11-25"\nmta-sts IN A 192.0.2.80\n',
        (Rule.MTA_STS, E, 1),
    ),
    bad(
        "mta-sts-no-id",
        '_mta-sts IN TXT "v=STSv1;"\nmta-sts IN A 192.0.2.80\n',
        (Rule.MTA_STS, E, 1),
    ),
    bad(
        "mta-sts-two",
        '_mta-sts IN TXT "v=STSv1; id=a1"\n_mta-sts IN TXT "v=STSv1; id=b2"\n'
        "mta-sts IN A 192.0.2.80\n",
        (Rule.MTA_STS, E, 2),
    ),
    bad(
        "mta-sts-no-host",
        '_mta-sts IN TXT "v=STSv1; id=20261125"\n',
        (Rule.MTA_STS_HOST, W, 1),
    ),
    good(
        "tls-rpt-good",
        '_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tls@example.org,https://r.example.org/tls"\n',
    ),
    bad(
        "tls-rpt-bad-uri",
        '_smtp._tls IN TXT "v=TLSRPTv1; rua=tls@example.org"\n',
        (Rule.TLS_RPT, E, 1),
    ),
    bad("tls-rpt-no-rua", '_smtp._tls IN TXT "v=TLSRPTv1;"\n', (Rule.TLS_RPT, E, 1)),
    bad(
        "tls-rpt-version",
        '_smtp._tls IN TXT "v=TLSRPTv2; rua=mailto:tls@example.org"\n',
        (Rule.TLS_RPT, E, 1),
    ),
    # --- CAA ---
    good(
        "caa-good",
        '@ IN CAA 0 issue "letsencrypt.org; validationmethods=dns-01"\n'
        '@ IN CAA 0 issuewild ";"\n'
        '@ IN CAA 0 iodef "mailto:security@example.org"\n'
        '@ IN CAA 128 issue "pki.goog"\n',
    ),
    bad("caa-critical-typo", '@ IN CAA 128 isue "letsencrypt.org"\n', (Rule.CAA_TAG, E, 1)),
    bad("caa-typo", '@ IN CAA 0 isue "letsencrypt.org"\n', (Rule.CAA_TAG, W, 1)),
    bad("caa-issuer", '@ IN CAA 0 issue "lets encrypt"\n', (Rule.CAA_VALUE, E, 1)),
    bad("caa-parameter", '@ IN CAA 0 issue "letsencrypt.org; x"\n', (Rule.CAA_VALUE, E, 1)),
    bad("caa-iodef", '@ IN CAA 0 iodef "security@example.org"\n', (Rule.CAA_VALUE, E, 1)),
    # --- TLSA ---
    good("tlsa-dane-ee", f"_25._tcp.mail IN TLSA 3 1 1 {SHA256}\nmail IN A 192.0.2.25\n"),
    good("tlsa-whole-key", f"_25._tcp.mail IN TLSA 3 1 0 {SPKI_HEX}\n"),
    good("tlsa-sha512", f"_443._tcp.www IN TLSA 2 0 2 {SHA256 * 2}\n"),
    bad(
        "tlsa-short-digest", f"_25._tcp.mail IN TLSA 3 1 1 {SHA256[:60]}\n", (Rule.TLSA_DATA, E, 1)
    ),
    bad("tlsa-sha512-short", f"_25._tcp.mail IN TLSA 3 1 2 {SHA256}\n", (Rule.TLSA_DATA, E, 1)),
    bad("tlsa-whole-garbage", "_25._tcp.mail IN TLSA 3 0 0 00112233\n", (Rule.TLSA_DATA, E, 1)),
    bad("tlsa-usage", f"_25._tcp.mail IN TLSA 4 1 1 {SHA256}\n", (Rule.TLSA_PARAMS, E, 1)),
    bad("tlsa-matching", f"_25._tcp.mail IN TLSA 3 1 3 {SHA256}\n", (Rule.TLSA_PARAMS, E, 1)),
    bad("tlsa-pkix-for-smtp", f"_25._tcp.mail IN TLSA 1 1 1 {SHA256}\n", (Rule.TLSA_PARAMS, W, 1)),
    bad("tlsa-owner", f"tlsa IN TLSA 3 1 1 {SHA256}\n", (Rule.TLSA_OWNER, W, 1)),
    # --- null MX ---
    good("null-mx-alone", '@ IN MX 0 .\n@ IN TXT "v=spf1 -all"\n'),
    bad(
        "null-mx-mixed",
        '@ IN MX 0 .\n@ IN MX 10 mail\nmail IN A 192.0.2.25\n_dmarc IN TXT "v=DMARC1; p=reject"\n',
        (Rule.NULL_MX, E, 1),
    ),
    bad("null-mx-preference", "@ IN MX 10 .\n", (Rule.NULL_MX, E, 1)),
]


@dataclass
class Checked:
    repo: ZoneRepo
    code: int
    problems: list[dict]


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    """One repo with a zone per case (and shared.example), checked once."""
    from reconciler.devtools.init import init_repo

    path = tmp_path_factory.mktemp("mail") / "repo"
    repo = ZoneRepo(path, init_repo(path))
    for zone in (path / "zones").glob("example.*"):
        zone.unlink()
    repo.write("zones/shared.example.zone", SHARED)
    for case in CASES:
        repo.write(f"zones/{case.name}.test.zone", HEADER + case.records)
    result = repo.run("check", "--format", "json")
    return Checked(repo, result.code, json.loads(result.out)["problems"])


def test_the_corpus_covers_every_rule_good_and_bad() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)
    fired = {rule for case in CASES for rule, _s, _l in case.expected}
    assert fired == set(Rule), f"rules without a bad case: {set(Rule) - fired}"
    families = {str(rule).split("-")[0] for rule in Rule}
    for family in families:
        assert any(c.name.startswith(family) and not c.expected for c in CASES), family


def test_bind_accepts_every_case(checked: Checked) -> None:
    """Every record is valid DNS: what is wrong is only what the mail rules find.

    (The template's reconciler.toml names example.net, which this repo has not kept: that
    warning is about the configuration, not about a record.)"""
    records = [p for p in checked.problems if p["file"] != "reconciler.toml"]
    assert [p for p in records if not p["rule"]] == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(checked: Checked, case: Case) -> None:
    zone = f"{case.name}.test"
    found = sorted(
        (p["rule"], p["severity"], p["line"] - FIRST + 1)
        for p in checked.problems
        if p["zone"] == zone
    )
    assert found == sorted((str(r), s, line) for r, s, line in case.expected), [
        p["message"] for p in checked.problems if p["zone"] == zone
    ]
    for problem in (p for p in checked.problems if p["zone"] == zone):
        assert problem["file"] == f"zones/{zone}.zone"
        assert problem["message"]


def test_messages_say_what_is_wrong(checked: Checked) -> None:
    def message(zone: str, rule: Rule) -> str:
        (found,) = [
            p["message"]
            for p in checked.problems
            if p["zone"] == f"{zone}.test" and p["rule"] == rule
        ]
        return str(found)

    assert message("spf-lookups-through-include", Rule.SPF_LOOKUPS) == (
        "SPF needs 12 DNS lookups, over the limit of 10 (receivers give permerror): mx 1, "
        "a 1, include:_big.shared.example 10"
    )
    assert message("spf-lookups-outside", Rule.SPF_LOOKUPS).endswith(
        "include:_spf.google.com 1; counted as 1 each, their own lookups unknown here: "
        "_spf.google.com."
    )
    assert message("spf-split-joins-terms", Rule.SPF_SPLIT) == (
        "strings 1 and 2 are joined without a space: 'ip4:192.0.2.1' + 'ip4:192.0.2.2' reads "
        "as 'ip4:192.0.2.1ip4:192.0.2.2'; end string 1 with a space"
    )
    loops = sorted(
        p["message"]
        for p in checked.problems
        if p["zone"] == "spf-include-loop.test" and p["rule"] == Rule.SPF_INCLUDE
    )
    assert loops == [
        "SPF include loop: _a.spf-include-loop.test. -> spf-include-loop.test. -> "
        "_a.spf-include-loop.test.",
        "SPF include loop: spf-include-loop.test. -> _a.spf-include-loop.test. -> "
        "spf-include-loop.test.",
    ]
    assert message("dmarc-policy-typo", Rule.DMARC_POLICY) == (
        "DMARC p=rejct is not one of none, quarantine, reject (receivers ignore the record)"
    )
    assert "the key is revoked (empty p=)" in message("dkim-revoked", Rule.DKIM_REVOKED)
    assert "has 512 bits" in message("dkim-rsa-512", Rule.DKIM_KEY_SIZE)
    assert "has 1024 bits" in message("dkim-rsa-1024", Rule.DKIM_KEY_SIZE)
    assert "does not parse as an RSA public key" in message("dkim-truncated", Rule.DKIM_KEY)
    assert "needs 32 bytes (64 hex digits), the data has 30" in message(
        "tlsa-short-digest", Rule.TLSA_DATA
    )


def test_check_text_names_file_line_and_rule(checked: Checked) -> None:
    result = checked.repo.run("check")
    assert result.code == 1
    line = next(text for text in result.out.splitlines() if "dmarc-policy-typo" in text)
    assert line == (
        f"zones/dmarc-policy-typo.test.zone:{FIRST}: dmarc-policy-typo.test: "
        "_dmarc.dmarc-policy-typo.test. TXT: DMARC p=rejct is not one of none, quarantine, "
        "reject (receivers ignore the record) [dmarc-policy]"
    )


# --- strings over 255 bytes --------------------------------------------------------------------


def test_a_string_over_255_bytes_is_explained(zone_repo: ZoneRepo) -> None:
    long = "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(30)) + " -all"
    zone_repo.write("zones/example.org.zone", HEADER + f'@ IN TXT "{long}"\n')
    result = zone_repo.run("check")
    assert result.code == 1
    assert (
        f"zones/example.org.zone:{FIRST}: example.org: a quoted string of {len(long)} bytes: one "
        "string holds at most 255; split it into several in one record" in result.out
    )


# --- waivers -----------------------------------------------------------------------------------


def _waive(zone_repo: ZoneRepo, table: str) -> None:
    text = (zone_repo.path / "reconciler.toml").read_text()
    zone_repo.write("reconciler.toml", text + "\n" + table)


def test_a_waived_rule_does_not_fail_and_says_why(zone_repo: ZoneRepo) -> None:
    zone_repo.write("zones/example.org.zone", HEADER + f'@ IN TXT "v=spf1 {ELEVEN} -all"\n')
    assert zone_repo.run("check").code == 1
    _waive(zone_repo, '[waive."example.org"]\nspf-lookups = "our provider flattens it"\n')
    result = zone_repo.run("check")
    assert result.code == 0, result.out
    assert result.out.splitlines()[0].endswith("[spf-lookups] (waived: our provider flattens it)")
    assert result.out.splitlines()[0].startswith(f"zones/example.org.zone:{FIRST}: example.org")
    report = json.loads(zone_repo.run("check", "--format", "json").out)
    assert report["ok"] is True and report["errors"] == 0
    assert [(w["rule"], w["reason"]) for w in report["waived"]] == [
        ("spf-lookups", "our provider flattens it")
    ]


def test_a_waiver_only_waives_its_zone_and_rule(zone_repo: ZoneRepo) -> None:
    records = f'@ IN TXT "v=spf1 {ELEVEN} +all"\n'
    zone_repo.write("zones/example.org.zone", HEADER + records)
    zone_repo.write("zones/example.info.zone", HEADER + records)
    _waive(zone_repo, '[waive."example.org"]\nspf-pass-all = "a test domain"\n')
    report = json.loads(zone_repo.run("check", "--format", "json").out)
    kept = sorted((p["zone"], p["rule"]) for p in report["problems"])
    assert kept == [
        ("example.info", "spf-lookups"),
        ("example.info", "spf-pass-all"),
        ("example.org", "spf-lookups"),
    ]
    assert [(w["zone"], w["rule"]) for w in report["waived"]] == [("example.org", "spf-pass-all")]


def test_waivers_that_waive_nothing_are_warned(zone_repo: ZoneRepo) -> None:
    _waive(
        zone_repo,
        '[waive."example.com"]\nspf-ptr = "we use ptr"\n\n'
        '[waive."gone.example"]\ndmarc-missing = "old"\n',
    )
    result = zone_repo.run("check")
    assert result.code == 0, result.out
    lines = (zone_repo.path / "reconciler.toml").read_text().splitlines()
    ptr, gone = lines.index('spf-ptr = "we use ptr"') + 1, lines.index('dmarc-missing = "old"') + 1
    assert result.out.splitlines() == [
        f'reconciler.toml:{ptr}: warning: [waive."example.com"] spf-ptr: waives nothing '
        "(example.com passes the rule): remove the waiver",
        f'reconciler.toml:{gone}: warning: [waive."gone.example"] dmarc-missing: there is no '
        "zone gone.example in the repo: remove the waiver",
        "ok: working tree: 2 zone(s) valid, 2 warning(s)",
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[waive."example.com"]\nspf-lookup = "x"\n',
            "unknown rule 'spf-lookup' (did you mean spf-lookups?)",
        ),
        ('[waive."example.com"]\nspf-lookups = " "\n', "spf-lookups needs a reason"),
        (
            '[waive.example.com]\nspf-lookups = "x"\n',
            "[waive.example.com] reads as zone 'example': quote a zone name with dots: "
            '[waive."example.com"]',
        ),
    ],
)
def test_bad_waivers_are_errors_with_a_line(zone_repo: ZoneRepo, table: str, message: str) -> None:
    _waive(zone_repo, table)
    result = zone_repo.run("check")
    assert result.code == 1
    lines = (zone_repo.path / "reconciler.toml").read_text().splitlines()
    header = max(i for i, text in enumerate(lines) if text.startswith("[waive")) + 1
    found = next(text for text in result.out.splitlines() if text.startswith("reconciler.toml"))
    assert found.startswith(f"reconciler.toml:{header}") or found.startswith(
        f"reconciler.toml:{header + 1}"
    )
    assert message in found


# --- the template ------------------------------------------------------------------------------


def test_the_template_carries_mail_records_that_pass(zone_repo: ZoneRepo) -> None:
    result = zone_repo.run("check")
    assert result.out.splitlines() == ["ok: working tree: 2 zone(s) valid"]
    text = (zone_repo.path / "zones" / "example.com.zone").read_text()
    assert '@       IN TXT  "v=spf1 mx -all"' in text
    assert "mail2026._domainkey IN TXT" in text and "_dmarc  IN TXT" in text
    assert "PRIVATE KEY" not in text
    # the checks do read them: break each and see it named
    broken = text.replace("cQIDAQAB", "cQIDAQA").replace("p=quarantine", "p=quarantin")
    zone_repo.write("zones/example.com.zone", broken.replace("mx -all", "mx +all"))
    rules = {
        p["rule"] for p in json.loads(zone_repo.run("check", "--format", "json").out)["problems"]
    }
    assert rules == {"dkim-key", "dmarc-policy", "spf-pass-all"}


def test_the_template_dkim_key_is_a_2048_bit_rsa_key() -> None:
    from reconciler.check.mail.dkim import key_problem
    from reconciler.devtools.init import template_dir
    from reconciler.model.zone import ZoneText  # noqa: F401  (the template is plain text)

    text = (template_dir() / "zones" / "example.com.zone").read_text()
    start = text.index("mail2026._domainkey")
    block = text[start : text.index(")", start)]
    key = "".join(part for part in block.split('"')[1::2]).split("p=", 1)[1]
    assert key_problem("rsa", base64.b64decode(key)) == ("", "", 2048)


def test_the_readme_lists_every_rule() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## What `check` checks", 1)[1].split("\n## ", 1)[0]
    for rule in Rule:
        assert f"`{rule}`" in section, rule
