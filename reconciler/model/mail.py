"""Which records decide whether mail is delivered: the names and how to tell them.

One place for the facts `check` (check/mail/) and `plan` (the "affects mail" marker) share:
the owner names of DMARC, DKIM, MTA-STS and TLS-RPT records, how an SPF record starts, the
TLSA names of SMTP, and how a TXT record's strings read in BIND's canonical form. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from enum import StrEnum

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT

DMARC_LABEL = "_dmarc"
DKIM_LABEL = "_domainkey"
MTA_STS_LABEL = "_mta-sts"
MTA_STS_HOST = "mta-sts"  # the host that serves the policy file (RFC 8461 3.3)
TLS_RPT_LABELS = ("_smtp", "_tls")
SMTP_TLSA_LABELS = ("_25", "_tcp")
SPF_VERSION = "v=spf1"


class MailKind(StrEnum):
    """Why a record matters to mail delivery; the value is what `plan` shows."""

    MX = "MX"
    SPF = "SPF"
    DKIM = "DKIM"
    DMARC = "DMARC"
    MTA_STS = "MTA-STS"
    TLS_RPT = "TLS-RPT"
    TLSA = "TLSA of an MX host"
    ADDRESS = "address of an MX host"


def labels(name: str) -> list[str]:
    """The labels of an absolute name, lower case, without the root."""
    return [label for label in name.lower().rstrip(".").split(".") if label]


_PLAIN_STRINGS = re.compile(r'\s*(?:"[^"\\]*"\s*)+')  # quoted strings, no escapes
_PLAIN_STRING = re.compile(r'"([^"\\]*)"')


def txt_strings(rdata: str) -> tuple[bytes, ...] | None:
    """The character-strings of a TXT record in presentation form; None if it does not parse.

    BIND's canonical form quotes every string: without a backslash they are read as they
    are (a zone of many TXT records is not parsed record by record with dnspython).
    """
    if rdata.isascii() and _PLAIN_STRINGS.fullmatch(rdata):
        found = tuple(text.encode() for text in _PLAIN_STRING.findall(rdata))
        if all(len(text) <= 255 for text in found):
            return found
    try:
        parsed = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, rdata)
    except (dns.exception.DNSException, ValueError):
        return None
    assert isinstance(parsed, dns.rdtypes.ANY.TXT.TXT)
    return tuple(parsed.strings)


def txt_text(rdata: str) -> str:
    """A TXT record's strings joined as SPF, DKIM and DMARC read them: with nothing between."""
    strings = txt_strings(rdata)
    if strings is None:
        return ""
    return b"".join(strings).decode("utf-8", errors="replace")


def is_spf(text: str) -> bool:
    """RFC 7208 4.5: the record starts with "v=spf1" followed by a space or nothing."""
    return text[:6].lower() == SPF_VERSION and (len(text) == 6 or text[6] == " ")


def mx_hosts(mx_rdatas: Iterable[str]) -> set[str]:
    """The targets of MX records ("10 mail.example.com."), lower case; not the null MX."""
    found = set()
    for rdata in mx_rdatas:
        fields = rdata.split()
        if len(fields) == 2 and fields[1] != ".":
            found.add(fields[1].lower())
    return found


def host_asked(owner: str, rtype: str) -> str | None:
    """The MX target (absolute, lower case) whose being one decides `mail_kind` of this
    RRset: the owner of an address or CNAME, the host of an SMTP TLSA; None for the rest."""
    parts = labels(owner)
    if rtype in ("A", "AAAA", "CNAME"):
        return ".".join(parts) + "."
    if rtype == "TLSA" and tuple(parts[:2]) == SMTP_TLSA_LABELS:
        return ".".join(parts[2:]) + "."
    return None


def mx_targets_among(dump: str, hosts: Collection[str]) -> set[str]:
    """Those of `hosts` (absolute, lower case) that an MX record of BIND's dump (one record a
    line, `owner ttl class MX pref target`) names: the lines ending in each name are found by
    `str.find` over the dump in lower case (made once), not by reading every line."""
    low, found = dump.lower(), set()
    for host in hosts:
        if host == ".":
            continue  # the null MX names no host
        start = 0
        while (hit := low.find(host + "\n", start)) >= 0:
            start = hit + 1
            if hit and low[hit - 1] in " \t":
                fields = low[low.rfind("\n", 0, hit) + 1 : hit + len(host)].split()
                if len(fields) == 6 and fields[3] == "mx" and fields[5] == host:
                    found.add(host)
                    break
    return found


def mail_kind(
    owner: str, rtype: str, rdatas: Iterable[str], hosts: Collection[str]
) -> MailKind | None:
    """Why the RRset `owner`/`rtype` (with these records) matters to mail, or None.

    `hosts` are the zone's MX targets: their addresses and their SMTP TLSA records matter.
    """
    parts = labels(owner)
    absolute = ".".join(parts) + "."
    if rtype == "MX":
        return MailKind.MX
    if rtype == "TXT":
        if parts[:1] == [DMARC_LABEL]:
            return MailKind.DMARC
        if DKIM_LABEL in parts[1:]:
            return MailKind.DKIM
        if parts[:1] == [MTA_STS_LABEL]:
            return MailKind.MTA_STS
        if tuple(parts[:2]) == TLS_RPT_LABELS:
            return MailKind.TLS_RPT
        if any(is_spf(txt_text(rdata)) for rdata in rdatas):
            return MailKind.SPF
        return None
    if rtype == "SPF":
        return MailKind.SPF
    if rtype == "TLSA":
        host = ".".join(parts[2:]) + "."
        return MailKind.TLSA if tuple(parts[:2]) == SMTP_TLSA_LABELS and host in hosts else None
    if rtype in ("A", "AAAA", "CNAME"):
        if absolute in hosts:
            return MailKind.ADDRESS
        if parts[:1] == [MTA_STS_HOST]:
            return MailKind.MTA_STS
    return None
