"""DKIM key records (RFC 6376 3.6.1, RFC 8463): `SELECTOR._domainkey.DOMAIN` TXT.

One key record per selector; a tag list whose `v=`, if given, is first and `DKIM1`; `k=`
rsa (the default) or ed25519; `p=` base64 of a public key of that type: an RSA key in
SubjectPublicKeyInfo (or bare PKCS#1) form of at least 1024 bits (RFC 8301; under 2048 a
warning), an Ed25519 key of 32 bytes. An empty `p=` revokes the selector's key. Pure.
"""

from __future__ import annotations

import binascii
import re

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from reconciler.check.mail.common import Mail, in_file_order, problem, tag_list
from reconciler.check.rules import Zone
from reconciler.errors import Problem
from reconciler.model.mail import DKIM_LABEL, labels, txt_text
from reconciler.model.rules import Rule
from reconciler.model.zone import Record

KEY_TYPES = ("rsa", "ed25519")
RSA_MINIMUM = 1024  # RFC 8301 3.2: verifiers must not accept shorter keys
RSA_ADVISED = 2048
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def selector(owner: str) -> str | None:
    """The selector of a DKIM key name (`s1` of `s1._domainkey.example.com.`); None if not."""
    parts = labels(owner)
    if DKIM_LABEL not in parts[1:]:
        return None
    return ".".join(parts[: parts.index(DKIM_LABEL)])


def key_problem(kind: str, data: bytes) -> tuple[str, str, int | None]:
    """What is wrong with key bytes of type `kind`: (rule, message, RSA bits); "" if nothing."""
    if kind == "ed25519":
        if len(data) != 32:
            return Rule.DKIM_KEY, f"is {len(data)} bytes, an Ed25519 key is 32 (RFC 8463)", None
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(data)
        except ValueError:
            return Rule.DKIM_KEY, "is not an Ed25519 public key", None
        return "", "", None
    try:
        key = load_der_public_key(data)
    except (ValueError, TypeError):
        return (
            Rule.DKIM_KEY,
            "does not parse as an RSA public key (truncated, or pasted with a piece missing?)",
            None,
        )
    if not isinstance(key, rsa.RSAPublicKey):
        kind = "an EC key" if isinstance(key, ec.EllipticCurvePublicKey) else "another kind of key"
        return Rule.DKIM_KEY, f"is {kind}, not an RSA key (k=rsa)", None
    return "", "", key.key_size


def check(mail: Mail) -> list[Problem]:
    problems: list[Problem] = []
    for zone in mail.zones:
        for owner, records in mail.of(zone, "TXT"):
            name = selector(owner)
            if name is None or not name:
                continue
            records = in_file_order(zone, records) if len(records) > 1 else records
            for extra in records[1:]:
                problems.append(
                    problem(
                        zone,
                        Rule.DKIM_MULTIPLE,
                        f"{len(records)} TXT records at DKIM selector {name}: verifiers read "
                        "one of them; put the key in one record (one record may hold several "
                        'quoted strings: "v=DKIM1; k=rsa; p=MIIB..." "...rest of the key")',
                        extra,
                    )
                )
            for record in records:
                problems += _one(zone, name, record)
    return problems


def _one(zone: Zone, name: str, record: Record) -> list[Problem]:
    text = txt_text(record.rdata)
    where = f"DKIM selector {name}"
    tags, wrong = tag_list(text)
    if wrong:
        return [problem(zone, Rule.DKIM_SYNTAX, f"{where}: not a DKIM tag list: {wrong}", record)]
    values = {tag.lower(): value for tag, value in tags}
    if "v" in values and (tags[0][0].lower() != "v" or values["v"] != "DKIM1"):
        wrong = (
            f"v= must be the first tag (the first is {tags[0][0]}=)"
            if tags[0][0].lower() != "v"
            else f"v={values['v']}: the version is DKIM1"
        )
        return [problem(zone, Rule.DKIM_SYNTAX, f"{where}: {wrong}", record)]
    kind = values.get("k", "rsa").lower()
    if kind not in KEY_TYPES:
        return [
            problem(
                zone,
                Rule.DKIM_SYNTAX,
                f"{where}: k={values['k']} is not a key type verifiers know "
                f"({', '.join(KEY_TYPES)})",
                record,
            )
        ]
    if "p" not in values:
        return [problem(zone, Rule.DKIM_SYNTAX, f"{where}: no p= (the public key)", record)]
    encoded = re.sub(r"\s+", "", values["p"])
    if not encoded:
        return [
            problem(
                zone,
                Rule.DKIM_REVOKED,
                f"{where}: the key is revoked (empty p=): mail signed with this selector fails "
                "DKIM; remove the record once no such mail is on its way",
                record,
                "warning",
            )
        ]
    if not _BASE64.match(encoded) or len(encoded) % 4:
        return [
            problem(
                zone,
                Rule.DKIM_KEY,
                f"{where}: p= is not base64 ({len(encoded)} characters"
                + ("" if _BASE64.match(encoded) else ", with characters base64 does not use")
                + "): a line break or a quote pasted into the key?",
                record,
            )
        ]
    data = binascii.a2b_base64(encoded)
    rule, message, bits = key_problem(kind, data)
    if rule:
        return [problem(zone, Rule(rule), f"{where}: p= {message}", record)]
    if bits is not None and bits < RSA_MINIMUM:
        return [
            problem(
                zone,
                Rule.DKIM_KEY_SIZE,
                f"{where}: the RSA key has {bits} bits: verifiers ignore keys under "
                f"{RSA_MINIMUM} bits (RFC 8301); make a {RSA_ADVISED}-bit key",
                record,
            )
        ]
    if bits is not None and bits < RSA_ADVISED:
        return [
            problem(
                zone,
                Rule.DKIM_KEY_SIZE,
                f"{where}: the RSA key has {bits} bits; {RSA_ADVISED} is the advice, and some "
                "receivers distrust shorter keys",
                record,
                "warning",
            )
        ]
    return []
