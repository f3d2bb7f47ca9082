"""Writing to the primary and confirming what the servers serve.

`Deployer` holds what one reconcile needs to change the primary: it writes zone files
atomically (setting aside a journal named no longer holds first), keeps the generated
include and the catalog zone the reconciler's own (regenerated from the member zones and
verified by their own content before every load, never trusted from disk), reloads,
and confirms by SOA query on the primary and on every secondary. When rndc fails after a
write, no zone file is left newer than its journal. Called by the reconcile step.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import dns.rrset
import structlog

from reconciler.apply.dynamic import held_records, with_records
from reconciler.apply.served import OnPrimary, Presence, file_serial, survey
from reconciler.atomic import write_atomic
from reconciler.bind import probe
from reconciler.bind.catalog import CATALOG, catalog_zone_text
from reconciler.bind.conf import primary_include
from reconciler.bind.dnssec import inline_serials, signature, zone_keys
from reconciler.bind.journal import discard_journal, journal_end, journal_fits
from reconciler.bind.namedlog import load_failure_reason, log_since
from reconciler.bind.rndc import Rndc
from reconciler.bind.tools import checkconf
from reconciler.config.host import HostConfig
from reconciler.config.repo import RepoConfig, Server
from reconciler.errors import BindError, ConfigError
from reconciler.model.serial import add, is_newer, latest
from reconciler.model.zone import CanonicalZone

SIGNED_COPY = (".signed", ".signed.jnl")  # what named keeps of a zone it signs inline
# Zones NOTIFYed again at most per reconcile: one second of named's default notify-rate (20).
RENOTIFY_MAX = 20


def zone_file(host: HostConfig, zone: str) -> Path:
    """Where the primary's file of `zone` is (the catalog zone's too)."""
    return host.zone_dir / f"{zone}.zone"


@dataclass
class Deployer:
    """The primary as one reconcile changes it; `catalog_serial` is the last one written."""

    host: HostConfig
    config: RepoConfig
    rndc: Rndc
    log: structlog.stdlib.BoundLogger
    catalog_serial: int
    # zone -> the serial of the signed zone the primary was confirmed to serve (inline signing)
    signed: dict[str, int] = field(default_factory=dict)
    _keys: dict[str, dns.rrset.RRset] = field(default_factory=dict)  # the primary's DNSKEYs
    renotified: set[str] = field(default_factory=set)  # zones `rndc notify` was sent for

    def signs(self, zone: str) -> bool:
        """named signs `zone` inline (the catalog zone never)."""
        return zone != CATALOG and self.config.dnssec.signed(zone)

    # --- zone files -----------------------------------------------------------------------

    def write(
        self,
        zones: Mapping[str, CanonicalZone],
        members: set[str],
        added: Collection[str] = (),
        removed: Collection[str] = (),
        fresh: Collection[str] = (),
    ) -> None:
        """Write `zones`, make the include and catalog list `members`, and load it all.

        `added` zones are loaded by `rndc reconfig` (the others by `rndc reload ZONE`);
        `removed` zones' files and journals go once named has dropped them; `fresh` zones
        are not held by named (added, or not loaded), so their old journals go first.
        """
        self.host.zone_dir.mkdir(parents=True, exist_ok=True)
        # A dynamic zone named holds is written frozen, after the include (apply/dynamic.py).
        dynamic = {
            name
            for name in zones
            if self.config.dynamic.of(name) and name not in added and name not in fresh
        }
        for name, zone in sorted(zones.items()):
            if name in dynamic:
                continue
            path = zone_file(self.host, name)
            if name in fresh:
                self._set_aside(path, name, "named does not hold the zone")
            write_atomic(path, zone.text())
            self.log.info("zone written", zone=name, serial=zone.serial, stage="write")
        try:
            if added or removed:
                self.configure(members)
            else:
                self.ensure_config(members)
            for name in sorted(removed):
                path = zone_file(self.host, name)
                path.unlink(missing_ok=True)
                discard_journal(path)
                for signed in SIGNED_COPY:  # inline signing's copy; the keys stay
                    path.with_name(path.name + signed).unlink(missing_ok=True)
                self.log.info("zone removed", zone=name, stage="write")
            for name in sorted(dynamic):
                self._write_frozen(name, zones[name])
            for name in sorted(set(zones) - set(added) - dynamic):
                self.rndc.reload(name)
                self.log.info("zone reload requested", zone=name, stage="reload")
        except BindError:
            # named may be down (then nobody holds these journals) or out of rndc's reach:
            # either way no zone file is left newer than its journal for named to trip on.
            for name, zone in zones.items():
                path = zone_file(self.host, name)
                if name in dynamic:
                    continue  # its journal holds what clients added: named keeps it
                if not journal_fits(path, zone.serial):
                    self._set_aside(path, name, "rndc failed after the zone was written")
            raise

    def _write_frozen(self, name: str, zone: CanonicalZone) -> None:
        """Freeze the dynamic zone, write git's content with the records its clients added,
        thaw it. A client's update that moved the serial past `zone`'s since the primary
        was asked makes this a temporary failure: the retry plans past it."""
        rules = self.config.dynamic.of(name)
        assert rules is not None
        path = zone_file(self.host, name)
        self.rndc.freeze(name)
        try:
            self._wait_dumped(name, path)
            held, serial = held_records(path, rules)
            if not is_newer(zone.serial, serial):
                raise BindError(
                    f"{name}: a dynamic update moved the serial to {serial} during the "
                    f"reconcile (planned {zone.serial}); trying again"
                )
            write_atomic(path, with_records(zone, held).text())
            self.log.info(
                "zone written",
                zone=name,
                serial=zone.serial,
                dynamic_records=len(held),
                stage="write",
            )
        finally:
            self.rndc.thaw(name)
        self.log.info("zone thawed", zone=name, stage="reload")

    def _wait_dumped(self, name: str, path: Path) -> None:
        """named writes a frozen zone's file after `rndc freeze` returns: wait until the file
        has the serial named serves, and no dump of named's is under way beside it."""
        primary = self.config.primary
        end = time.monotonic() + self.host.primary_deadline
        pause = probe.FIRST_POLL
        while True:
            live = probe.soa_serial(
                primary.address, primary.port, name, timeout=self.host.query_timeout
            )
            dumping = any(path.parent.glob(f"{path.name}-*"))
            if live is not None and file_serial(path) == live and not dumping:
                return
            if time.monotonic() >= end:
                raise BindError(f"{name}: named did not write the frozen zone to {path}")
            time.sleep(pause)
            pause = probe.next_pause(pause)

    def _set_aside(self, path: Path, zone: str, why: str) -> None:
        gone = discard_journal(path)
        if gone:
            self.log.warning("journal set aside", zone=zone, files=gone, why=why, stage="write")

    # --- the include and the catalog zone ---------------------------------------------------

    def include_text(self, members: set[str]) -> str:
        secondaries = self.config.secondaries
        return primary_include(
            {z: zone_file(self.host, z) for z in sorted(members)},
            secondaries,
            self.config.tsig_key,
            zone_file(self.host, CATALOG),
            self.host.transfer_key_file if self.host.include_key else None,
            self.config.dnssec,
            self.host.keys,
            self.config.dynamic,
            self.host.update_key_file,
        )

    def catalog_now(self) -> OnPrimary:
        """The catalog zone on the primary and on disk, asked now."""
        primary = self.config.primary
        files = {CATALOG: zone_file(self.host, CATALOG)}
        return survey(primary, files, self.host.query_timeout)[CATALOG]

    def ensure_config(self, members: set[str]) -> None:
        """Rewrite and load the include and the catalog unless both are exactly what
        `members` make and named serves the catalog from its file as it is."""
        catalog = self.catalog_now()
        written: str | None
        include: str | None
        try:
            written = zone_file(self.host, CATALOG).read_text(encoding="utf-8")
            include = self.host.include_file.read_text(encoding="utf-8")
        except OSError:
            written = include = None
        expected = (
            catalog_zone_text(sorted(members), catalog.file) if catalog.file is not None else None
        )
        if catalog.in_step and written == expected and include == self.include_text(members):
            return
        self.log.warning(
            "catalog zone or include not as generated: regenerating",
            catalog=catalog.presence.value,
            serving=catalog.live,
            file_serial=catalog.file,
            stage="write",
        )
        self.configure(members, catalog)

    def configure(self, members: set[str], catalog: OnPrimary | None = None) -> None:
        """Write the catalog (serial past every one seen) and the include, check the include,
        `rndc reconfig`, reload the catalog, and confirm the primary serves it."""
        catalog = catalog or self.catalog_now()
        path = zone_file(self.host, CATALOG)
        floors = [catalog.live, catalog.file, self.catalog_serial]
        if catalog.presence is not Presence.SERVED:
            with suppress(BindError):
                floors.append(journal_end(path))
            self._set_aside(path, CATALOG, "named does not hold the catalog zone")
        serial = add(latest(floors) or 0, 1)
        self._write_include(members)
        write_atomic(path, catalog_zone_text(sorted(members), serial))
        self.catalog_serial = serial
        offset = self.log_offset()
        self.rndc.reconfig()
        self.rndc.reload(CATALOG)
        if self.confirm_primary({CATALOG: serial}, offset):
            raise BindError(f"the primary does not serve the catalog zone {CATALOG} at {serial}")

    def _key_directory(self) -> None:
        """The key directory, made (when missing) with the zone folder's group and mode
        0770: named, in that group, writes the keys there (it writes its journals there)."""
        keys = self.host.keys
        if keys.is_dir():
            return
        keys.mkdir(parents=True)
        with suppress(OSError):  # a group we are not in: named's owner must set it
            os.chown(keys, -1, self.host.zone_dir.stat().st_gid)
        keys.chmod(0o770)

    def _write_include(self, members: set[str]) -> None:
        host = self.host
        if any(self.config.dnssec.signed(zone) for zone in members):
            # named writes the zones' keys there; the folder is never in git
            try:
                self._key_directory()
            except OSError as exc:
                raise ConfigError(
                    f"the DNSSEC key directory {host.keys} cannot be created ({exc.strerror}): "
                    "create it, writable by named ([dnssec] key_directory in daemon.toml)"
                ) from None
        try:
            previous: str | None = host.include_file.read_text(encoding="utf-8")
        except OSError:
            previous = None
        write_atomic(host.include_file, self.include_text(members))
        # The include stands alone as a config when it includes the key it names.
        checked = host.named_conf or (host.include_file if host.include_key else None)
        complaints = checkconf(checked) if checked else []
        if complaints:
            if previous is not None:
                write_atomic(host.include_file, previous)
            raise BindError(f"{checked}: " + "; ".join(complaints))

    # --- confirming ---------------------------------------------------------------------------

    def confirm_primary(self, serials: Mapping[str, int], offset: int) -> list[str]:
        """Zones the primary does not serve at their new serial by the deadline.

        All zones are asked together (one batch of SOA queries a round), polled often at
        first and less as the wait goes on. Gives up on a zone at once when named's log
        (after byte `offset`) says it refused it; the log is read again only when it grew,
        and a zone's failure looked for only when the log says some zone was not loaded.
        """
        primary = self.config.primary
        failed = []
        end = time.monotonic() + self.host.primary_deadline
        pending = dict(sorted(serials.items()))
        pause, logged, failures = probe.FIRST_POLL, -1, ""
        while pending:
            began = time.monotonic()
            asks = [probe.Ask(primary.address, primary.port, name) for name in pending]
            answers = probe.soa_many(asks, timeout=self.host.query_timeout)
            over = time.monotonic() >= end
            size = self.log_offset()
            if size != logged:  # read once a round, and only when named logged more
                failures, logged = self._failures_since(offset), size
            for (name, serial), answer in zip(list(pending.items()), answers, strict=True):
                seen = answer.served if answer is not None else None
                if self.signs(name) and self._signed_loaded(name, serial, seen):
                    del pending[name]
                    continue
                if seen == serial and not self.signs(name):
                    del pending[name]
                    continue
                refused = (
                    f"zone {name.lower()}" in failures
                    and self.host.log_file is not None
                    and load_failure_reason(self.host.log_file, name, offset) is not None
                )
                if refused or over:
                    del pending[name]
                    failed.append(name)
                    self.log.warning(
                        "primary did not load the zone",
                        zone=name,
                        want=serial,
                        serving=seen,
                        stage="confirm",
                    )
            if pending:
                time.sleep(max(min(pause, end - time.monotonic()), 0.0))
                pause = probe.next_pause(pause, time.monotonic() - began)
        return sorted(failed)

    def _failures_since(self, offset: int) -> str:
        """named's log after byte `offset`, in lower case, when it says a zone was not
        loaded; else "" (then no zone's failure is looked for: `load_failure_reason` reads
        the log once for each zone it is asked about)."""
        if self.host.log_file is None:
            return ""
        text = log_since(self.host.log_file, offset).lower()
        return text if "not loaded due to errors" in text else ""

    def _signed_loaded(self, zone: str, serial: int, seen: int | None) -> bool:
        """named loaded the unsigned `serial` (rndc zonestatus) and answers from a signed
        zone not older (RFC 1982) whose SOA RRSIG validates with the zone's DNSKEYs; the
        signed serial is kept in `signed`."""
        if seen is None or not (seen == serial or is_newer(seen, serial)):
            return False
        try:
            serials = inline_serials(self.rndc.zonestatus(zone))
        except BindError:
            return False
        if serials is None or serials[0] != serial:
            return False
        primary, timeout = self.config.primary, self.host.query_timeout
        keys = zone_keys(primary.address, primary.port, zone, timeout)
        if keys is None:
            return False
        if signature(primary.address, primary.port, zone, zone, "SOA", keys, timeout).problem:
            return False
        self._keys[zone] = keys
        self.signed[zone] = seen
        return True

    def _bad_signature(self, server: Server, zone: str) -> str | None:
        """Why `server`'s SOA of a signed zone does not validate with the primary's keys."""
        keys = self._keys.get(zone)
        if keys is None:
            primary = self.config.primary
            keys = zone_keys(primary.address, primary.port, zone, self.host.query_timeout)
        if keys is None:
            return "the primary serves no DNSKEY to validate it with"
        timeout = self.host.query_timeout
        return signature(server.address, server.port, zone, zone, "SOA", keys, timeout).problem

    def confirm_secondaries(self, serials: Mapping[str, int]) -> tuple[str, ...]:
        """Every secondary must serve each serial before the deadline, all asked together
        (probe.wait_for_serials); halfway, NOTIFY again for the zones still waiting
        (`renotify`).

        For a signed zone: the signed serial the primary was confirmed at (or a newer one),
        with an SOA RRSIG that validates with the primary's DNSKEYs; asked again until the
        deadline while it does not (a secondary may be applying a catalog update).
        """
        secondaries = self.config.secondaries
        wanted: dict[tuple[int, str], tuple[probe.Ask, int]] = {}
        for at, server in enumerate(secondaries):
            for name, unsigned in sorted(serials.items()):
                serial = self.signed.get(name, unsigned) if self.signs(name) else unsigned
                wanted[(at, name)] = (probe.Ask(server.address, server.port, name), serial)
        bad: dict[tuple[int, str], str] = {}  # a signed zone's signature that did not validate

        def validates(key: tuple[int, str], seen: int) -> bool:
            at, name = key
            problem = self._bad_signature(secondaries[at], name) if self.signs(name) else None
            if problem:
                bad[key] = problem  # asked again: a catalog update may be under way there
            else:
                bad.pop(key, None)
            return problem is None

        found = probe.wait_for_serials(
            wanted,
            self.host.deadline,
            halfway=lambda keys: self.renotify(z for _, z in keys),
            accept=validates,
        )
        lagging = []
        for (at, name), (_, serial) in wanted.items():
            server, seen = secondaries[at], found[(at, name)]
            if seen is None or (seen != serial and not is_newer(seen, serial)):
                lagging.append(f"{server.name}: {name} serves {seen} (want {serial})")
                self.log.warning(
                    "secondary lags",
                    zone=name,
                    server=server.name,
                    want=serial,
                    serving=seen,
                    stage="confirm",
                )
            elif (at, name) in bad:
                lagging.append(f"{server.name}: {name}: {bad[(at, name)]}")
                self.log.warning(
                    "secondary serves a bad signature",
                    zone=name,
                    server=server.name,
                    problem=bad[(at, name)],
                    stage="confirm",
                )
        return tuple(lagging)

    def behind(self, serials: Mapping[str, int]) -> set[str]:
        """The zones of `serials` some secondary does not serve at that serial (or a newer
        one) now: one batch of SOA queries."""
        asks = [
            (probe.Ask(server.address, server.port, name), serial)
            for server in self.config.secondaries
            for name, serial in sorted(serials.items())
        ]
        answers = probe.soa_many([ask for ask, _ in asks], timeout=self.host.query_timeout)
        found = set()
        for (ask, serial), answer in zip(asks, answers, strict=True):
            seen = answer.served if answer is not None else None
            if seen is None or (seen != serial and not is_newer(seen, serial)):
                found.add(ask.zone)
        return found

    def renotify(self, zones: Iterable[str]) -> list[str]:
        """`rndc notify` once for each of `zones` not yet notified again in this reconcile,
        unless more than `RENOTIFY_MAX` are waiting: then named's rate-limited NOTIFY queue
        (`notify-rate`) is what they wait for, and more NOTIFYs would only queue behind it
        (and hold back the next change's). The zones notified."""
        waiting = sorted(set(zones) - self.renotified)
        if not waiting:
            return []
        if len(waiting) > RENOTIFY_MAX:
            self.log.info(
                "not sending NOTIFY again: named's NOTIFY queue is draining",
                zones=len(waiting),
                stage="confirm",
            )
            self.renotified.update(waiting)
            return []
        for name in waiting:
            self.notify(name)
        self.renotified.update(waiting)
        self.log.info("NOTIFY sent again", zones=waiting, stage="confirm")
        return waiting

    def notify(self, zone: str) -> None:
        with suppress(BindError):  # the deadline decides; a failed nudge is not a failure
            self.rndc.notify(zone)

    def log_offset(self) -> int:
        """named's log size now: what a reload logs comes after it."""
        try:
            return self.host.log_file.stat().st_size if self.host.log_file else 0
        except OSError:
            return 0
