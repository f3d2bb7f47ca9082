"""The named rules of `check`: what each one checks, by a stable name a zone can waive.

A `Problem` made by one of these rules carries its name (`Problem.rule`); reconciler.toml's
`[waive."ZONE"]` table names a rule and gives the reason (config/repo.py), and `check`
then reports the problem as waived instead of failing on it (check/inspect.py). The names
are an interface: they appear in output, in JSON and in reconciler.toml, so they never change.
What each one checks is the README's list ("What `check` checks"); the rules themselves
are in check/mail/. Pure.
"""

from __future__ import annotations

from enum import StrEnum


class Rule(StrEnum):
    """Every named rule; the value is the name a user writes."""

    SPF_MULTIPLE = "spf-multiple"
    SPF_SYNTAX = "spf-syntax"
    SPF_SPLIT = "spf-split"
    SPF_LOOKUPS = "spf-lookups"
    SPF_INCLUDE = "spf-include"
    SPF_PASS_ALL = "spf-pass-all"
    SPF_PTR = "spf-ptr"
    SPF_IGNORED = "spf-ignored"
    DKIM_SYNTAX = "dkim-syntax"
    DKIM_MULTIPLE = "dkim-multiple"
    DKIM_KEY = "dkim-key"
    DKIM_KEY_SIZE = "dkim-key-size"
    DKIM_REVOKED = "dkim-revoked"
    DMARC_SYNTAX = "dmarc-syntax"
    DMARC_MULTIPLE = "dmarc-multiple"
    DMARC_POLICY = "dmarc-policy"
    DMARC_URI = "dmarc-uri"
    DMARC_UNKNOWN_TAG = "dmarc-unknown-tag"
    DMARC_MISSING = "dmarc-missing"
    MTA_STS = "mta-sts"
    MTA_STS_HOST = "mta-sts-host"
    TLS_RPT = "tls-rpt"
    CAA_TAG = "caa-tag"
    CAA_VALUE = "caa-value"
    TLSA_PARAMS = "tlsa-params"
    TLSA_DATA = "tlsa-data"
    TLSA_OWNER = "tlsa-owner"
    NULL_MX = "null-mx"
