"""Zone-name rules: one function that check and deploy both apply. Pure.

A zone's name is its file's name, and deploy writes it into named.conf, the catalog,
rndc's arguments and file names of its own (`<zone>.zone`, its journal, the temp file
of an atomic write). So `zone_name_problem` allows only what all of them can carry:
labels of ASCII letters, digits, `-` and `_` (an internationalized name is written
as its A-label, `xn--...`), no label that starts or ends with `-` (it would read
as an option), at most 63 characters a label and `MAX_LENGTH` in all, and none of
the names the reconciler generates itself (`RESERVED`). check/zonefiles.py refuses
such a zone file; bind/conf.py refuses to write it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

import dns.exception
import dns.name

from reconciler.errors import ConfigError

# A TSIG key's name as named.conf, rndc and reconciler.toml carry it (no trailing dot).
KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}\Z")  # \Z: no newline after
DEFAULT_KEY_NAME = "transfer-key"  # [transfer] tsig_key when reconciler.toml names none
DEFAULT_BRANCH = "main"  # the branch the daemon follows when daemon.toml names none
TEMPLATE_DIR = "host"  # in the zone repo: host/policy.toml and overrides of the host templates

CATALOG = "catalog.invalid"  # the catalog zone (RFC 9432) the reconciler writes for the secondaries
RESERVED = {CATALOG: "the catalog zone the reconciler generates"}

# The longest file named after a zone is an atomic write's temp file,
# `.<zone>.zone.XXXXXXXX.tmp` (atomic.py): 19 characters more, within 255 (NAME_MAX).
MAX_LENGTH = 255 - len("..zone.XXXXXXXX.tmp")
_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
_ALLOWED = re.compile(r"[A-Za-z0-9_.-]")


def zone_name_problem(name: str) -> str | None:
    """What keeps `name` (no trailing dot) from being a zone of the repo; None if nothing."""
    problem = name_problem(name)
    if problem:
        return problem
    reserved = RESERVED.get(name.lower())
    if reserved:
        return f"{name} is {reserved}; no zone of the repo may have its name"
    return None


def name_problem(name: str) -> str | None:
    """What keeps `name` from being written into named.conf and file names; None if nothing."""
    if not isinstance(name, str) or not name:
        return "a zone name cannot be empty"
    if not name.isascii():
        return _idn_problem(name)
    bad = sorted({c for c in name if not _ALLOWED.match(c)})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return f"zone names may have only letters, digits, '-', '_' and dots, not {shown}"
    if len(name) > MAX_LENGTH:
        return (
            f"the name is {len(name)} characters, over {MAX_LENGTH} (the files named after "
            "a zone must fit in 255 bytes)"
        )
    for label in name.split("."):
        if not label:
            return "the name has an empty label (two dots in a row, or a leading dot)"
        if len(label) > 63:
            return f"the label {label[:20]}... is {len(label)} characters, over 63"
        if not _LABEL.match(label):
            return f"the label {label!r} starts or ends with '-'"
    return None


def checked_zone_name(name: str) -> str:
    """A zone name, validated for use in named.conf and the catalog; no trailing dot."""
    bare = name[:-1] if isinstance(name, str) and name.endswith(".") else name
    problem = name_problem(bare)
    if problem:
        raise ConfigError(f"invalid zone name {name!r}: {problem}")
    return bare


def _idn_problem(name: str) -> str:
    try:
        a_label = dns.name.from_unicode(name).to_text(omit_final_dot=True)
    except (dns.exception.DNSException, UnicodeError, ValueError):
        return "a zone name must be ASCII (an internationalized name is written as its A-label)"
    return f"an internationalized name is written as its A-label: {a_label}"


def address_port(text: str, what: str) -> tuple[str, int]:
    """`ADDR`, `ADDR:PORT`, `[V6ADDR]:PORT` or a bare IPv6 address; port 53 by default."""
    value = text.strip()
    address, port = value, "53"
    if value.startswith("["):
        address, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ("53" if not rest else "x")
    elif value.count(":") == 1:
        address, port = value.split(":")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ConfigError(f"{what} {text!r}: {address!r} is not an IP address") from None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"{what} {text!r}: the port must be 1-65535")
    return address, int(port)


def touches_host(paths: Iterable[str]) -> bool:
    """Whether a change to `paths` concerns the host half (a file in the repo's host folder)."""
    return any(path.startswith(f"{TEMPLATE_DIR}/") for path in paths)
