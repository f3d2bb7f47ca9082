"""TLSA (RFC 6698, RFC 7671; for SMTP RFC 7672): DANE certificate associations.

Usage 0-3, selector 0-1, matching type 0-2; the data is as long as the matching type needs
(SHA-256: 32 bytes, SHA-512: 64) or, for type 0, a whole DER certificate (selector 0) or
public key (selector 1). The owner is `_PORT._PROTO.HOST`. For SMTP (port 25) the PKIX usages
0 and 1 are unusable (RFC 7672 3.1.3): a warning. Pure.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_der_public_key

from reconciler.check.mail.common import Mail, problem
from reconciler.check.rules import Zone
from reconciler.errors import Problem
from reconciler.model.mail import labels
from reconciler.model.rules import Rule
from reconciler.model.zone import Record

USAGES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}
SELECTORS = {0: "certificate", 1: "public key"}
DIGEST_BYTES = {1: 32, 2: 64}  # SHA-256, SHA-512
_PORT = re.compile(r"^_([0-9]{1,5})$")
_PROTOCOLS = ("_tcp", "_udp", "_sctp")


def data_problem(selector: int, matching: int, data: bytes) -> str:
    """What is wrong with the association data ("" when nothing)."""
    if matching in DIGEST_BYTES:
        wanted = DIGEST_BYTES[matching]
        if len(data) != wanted:
            name = "SHA-256" if matching == 1 else "SHA-512"
            return (
                f"matching type {matching} ({name}) needs {wanted} bytes ({2 * wanted} hex "
                f"digits), the data has {len(data)}"
            )
        return ""
    try:
        if selector == 0:
            x509.load_der_x509_certificate(data)
        else:
            load_der_public_key(data)
    except ValueError:
        return (
            f"matching type 0 holds the whole {SELECTORS[selector]} in DER; the data does not "
            "parse as one"
        )
    return ""


def _owner_problem(owner: str) -> tuple[str, int | None]:
    parts = labels(owner)
    port = _PORT.match(parts[0]) if parts else None
    if not port or len(parts) < 3 or parts[1] not in _PROTOCOLS or not 0 < int(port[1]) < 65536:
        return (
            f"TLSA at {owner} is not at _PORT._PROTO.HOST (e.g. _25._tcp.mail.example.com.)",
            None,
        )
    return "", int(port[1])


def check(mail: Mail) -> list[Problem]:
    problems: list[Problem] = []
    for zone in mail.zones:
        for owner, records in mail.of(zone, "TLSA"):
            wrong, port = _owner_problem(owner)
            if wrong:
                problems.append(problem(zone, Rule.TLSA_OWNER, wrong, records[0], "warning"))
            for record in records:
                problems += _one(zone, record, port)
    return problems


def _one(zone: Zone, record: Record, port: int | None) -> list[Problem]:
    fields = record.rdata.split()
    if len(fields) < 4 or not all(f.isdigit() for f in fields[:3]):
        return []  # BIND would not have loaded it
    usage, selector, matching = (int(f) for f in fields[:3])
    wrong = []
    if usage not in USAGES:
        wrong.append(f"usage {usage} is not 0-3")
    if selector not in SELECTORS:
        wrong.append(f"selector {selector} is not 0-1")
    if matching not in (0, *DIGEST_BYTES):
        wrong.append(f"matching type {matching} is not 0-2")
    if wrong:
        return [problem(zone, Rule.TLSA_PARAMS, f"TLSA {'; '.join(wrong)}", record)]
    out = []
    if port == 25 and usage in (0, 1):
        out.append(
            problem(
                zone,
                Rule.TLSA_PARAMS,
                f"TLSA usage {usage} ({USAGES[usage]}) is unusable for SMTP (RFC 7672 3.1.3): "
                "use 3 (DANE-EE) or 2 (DANE-TA)",
                record,
                "warning",
            )
        )
    try:
        data = bytes.fromhex("".join(fields[3:]))
    except ValueError:
        return out
    found = data_problem(selector, matching, data)
    if found:
        out.append(problem(zone, Rule.TLSA_DATA, f"TLSA {found}", record))
    return out
