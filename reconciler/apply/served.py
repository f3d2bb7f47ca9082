"""What the primary serves now: asked, never guessed.

Before a reconcile plans anything it asks the primary, by SOA query, about every zone it
might hold (the state's, the commit's, the generated include's, the files in the zone
folder) and the catalog, in one batch (probe.soa_many): served (with which serial),
configured but not loaded, or absent. When named does not answer, nothing is planned or
written (a temporary failure); what it cannot hold then (a journal that no longer fits its
zone file) is set aside first, so that named starts cleanly. A zone the primary serves
whose last good copy is gone is fetched back by AXFR (TSIG-signed) in BIND's canonical
form. Called by the reconcile step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from reconciler.bind import probe
from reconciler.bind.dnssec import inline_serials, unsigned
from reconciler.bind.journal import discard_journal, has_journal, journal_fits
from reconciler.bind.keys import Key
from reconciler.bind.rndc import Rndc
from reconciler.bind.tools import canonical_dump
from reconciler.config.repo import Server
from reconciler.errors import BindError, ConfigError, TransferRefused
from reconciler.model.names import checked_zone_name
from reconciler.model.serial import is_serial
from reconciler.model.zone import CanonicalZone

TRIES = 3  # an unanswered SOA query is asked again before named counts as not answering
AXFR_TIMEOUT = 120.0
_INCLUDED_ZONE = re.compile(r'^zone "([^"]+)"', re.MULTILINE)


class Presence(Enum):
    """Whether the primary's named holds a zone."""

    SERVED = "served"  # it answers with the zone's SOA, with authority
    UNLOADED = "unloaded"  # configured, but not loaded (SERVFAIL): a load failed
    ABSENT = "absent"  # not configured (REFUSED, or an answer from another zone)

    @property
    def configured(self) -> bool:
        return self is not Presence.ABSENT


@dataclass(frozen=True)
class OnPrimary:
    """One zone on the primary: what named holds and what the zone file on disk says."""

    zone: str
    presence: Presence
    live: int | None  # the serial named loaded (None unless served)
    file: int | None  # the SOA serial in the zone file on disk (None: no file, or no SOA)
    # The serial named answers with: for a zone it signs inline, the signed zone's (BIND
    # moves it on its own when it re-signs); else `live`.
    signed: int | None = None

    @property
    def in_step(self) -> bool:
        """named serves the zone from its file as the file is now."""
        return self.presence is Presence.SERVED and self.file == self.live


def file_serial(path: Path) -> int | None:
    """The SOA serial of a zone file: read off its SOA line when the reconciler wrote it
    (one record per line), else as BIND reads the file (an operator's own file, with a
    multi-line SOA, `$ORIGIN` or `$TTL`, that named serves before the first apply)."""
    quick = _soa_line_serial(path)
    if quick is not None or not path.name.endswith(".zone"):
        return quick
    try:
        lines = canonical_dump(path.name[: -len(".zone")], path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, BindError, ConfigError):
        return None
    soa = next((line for line in lines if line.split()[3:4] == ["SOA"]), None)
    return CanonicalZone.from_lines("", (soa,)).serial if soa else None


def _soa_line_serial(path: Path) -> int | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                tokens = line.split(";", 1)[0].split()
                if "SOA" in tokens[:4]:
                    at = tokens.index("SOA") + 3
                    value = tokens[at] if at < len(tokens) else ""
                    return int(value) if value.isdigit() and is_serial(int(value)) else None
    except OSError:
        return None
    return None


def included_zones(include_file: Path) -> set[str]:
    """The zones named in the generated include (the catalog zone among them)."""
    try:
        text = include_file.read_text(encoding="utf-8")
    except OSError:
        return set()
    return set(_valid(_INCLUDED_ZONE.findall(text)))


def filed_zones(zone_dir: Path) -> set[str]:
    """The zones that have a file `ZONE.zone` in the zone folder."""
    try:
        names = [p.name[: -len(".zone")] for p in zone_dir.iterdir() if p.name.endswith(".zone")]
    except OSError:
        return set()
    return set(_valid(names))


def _valid(names: Iterable[str]) -> Iterable[str]:
    for name in names:
        try:
            yield checked_zone_name(name).lower()
        except ConfigError:
            continue


def _presence(answer: probe.Soa) -> tuple[Presence, int | None]:
    if answer.served is not None:
        return Presence.SERVED, answer.served
    if answer.rcode == "SERVFAIL":
        return Presence.UNLOADED, None
    return Presence.ABSENT, None


def survey(primary: Server, files: Mapping[str, Path], timeout: float) -> dict[str, OnPrimary]:
    """Ask the primary about each zone of `files` (zone -> its file on disk), in one batch
    of SOA queries (probe.soa_many: each asked up to `TRIES` times).

    Raises BindError, after setting aside every journal that no longer fits its zone file
    (named is not answering, so it holds none), when named does not answer at all.
    """
    zones = sorted(files)
    asks = [probe.Ask(primary.address, primary.port, zone) for zone in zones]
    answers = probe.soa_many(asks, timeout=timeout, tries=TRIES)
    silent = [zone for zone, answer in zip(zones, answers, strict=True) if answer is None]
    if silent:
        set_aside_stale_journals(files.values())
        raise BindError(
            f"named does not answer on the primary ({primary.address} port {primary.port}) "
            f"for {silent[0]}: nothing was written; trying again later"
        )
    found = {}
    for zone, answer in zip(zones, answers, strict=True):
        assert answer is not None
        presence, live = _presence(answer)
        found[zone] = OnPrimary(zone, presence, live, file_serial(files[zone]), live)
    return found


def with_inline_serials(found: Mapping[str, OnPrimary], rndc: Rndc) -> dict[str, OnPrimary]:
    """`found` with, for each zone named signs inline, the unsigned serial it loaded as
    `live` (from `rndc zonestatus`): the SOA query gave the signed zone's. Only zones whose
    answered serial is not their file's are asked; rndc failing leaves a zone as it was."""
    result = dict(found)
    for zone, on in found.items():
        if on.presence is not Presence.SERVED or on.live == on.file:
            continue
        try:
            serials = inline_serials(rndc.zonestatus(zone))
        except BindError:
            continue
        if serials is not None:
            result[zone] = replace(on, live=serials[0], signed=on.live)
    return result


def set_aside_stale_journals(zone_files: Iterable[Path]) -> list[str]:
    """Remove each journal that does not end at its zone file's serial; the files removed.

    Only while named does not hold these zones (down, or the zones unloaded): named would
    refuse such a zone at its next start ("journal out of sync with zone").
    """
    removed: list[str] = []
    for zone_file in zone_files:
        if has_journal(zone_file) and not journal_fits(zone_file, file_serial(zone_file)):
            removed += discard_journal(zone_file)
    return removed


def secondary_serials(
    secondaries: Iterable[Server], zones: Iterable[str], timeout: float
) -> dict[str, list[int]]:
    """The serials the secondaries still serve for `zones` (those that answer), in one batch."""
    asks = [probe.Ask(s.address, s.port, zone) for zone in sorted(set(zones)) for s in secondaries]
    found: dict[str, list[int]] = {}
    for ask, answer in zip(asks, probe.soa_many(asks, timeout=timeout), strict=True):
        if answer is not None and answer.served is not None:
            found.setdefault(ask.zone, []).append(answer.served)
    return found


def served_copy(primary: Server, zone: str, key: Key) -> CanonicalZone:
    """The zone as the primary serves it, by TSIG-signed AXFR, in BIND's canonical form;
    of a zone named signs inline, without what signing added (the file it loads)."""
    records = unsigned(probe.axfr(primary.address, primary.port, zone, key, timeout=AXFR_TIMEOUT))
    return CanonicalZone.from_lines(zone, canonical_dump(zone, "\n".join(records) + "\n"))


def served_zones(primary: Server, zones: Iterable[str], key: Key) -> dict[str, CanonicalZone]:
    """What the primary serves of `zones` (for `plan --served`), in parallel; a zone it
    refuses to transfer (not served there) is left out. Raises TransferError when named
    cannot be reached."""

    def fetch(zone: str) -> CanonicalZone | None:
        try:
            return served_copy(primary, zone, key)
        except TransferRefused:
            return None

    names = sorted(set(zones))
    with ThreadPoolExecutor(max_workers=4) as pool:
        copies = list(pool.map(fetch, names))
    return {zone: copy for zone, copy in zip(names, copies, strict=True) if copy is not None}
