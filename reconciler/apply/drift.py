"""Drift: what the primary serves, compared with the content last applied from git.

For every zone of the state, the primary's copy (AXFR with the TSIG key, in BIND's
canonical form) is compared with the last good copy, record by record, the SOA serial
left out. A record changed by hand (a file edited and reloaded, `rndc freeze`/`thaw`)
or by an unexpected dynamic update is drift; the differing records are its diff
(`-` applied from git, `+` served instead). Records named's signing adds (RRSIG, NSEC,
NSEC3, NSEC3PARAM, DNSKEY, CDS, CDNSKEY, TYPE65534) are not git's, and neither is what
an `ignored` predicate says (the seam for names that may be updated dynamically).
The report is kept in the state folder (`drift.json`) for `status`, /metrics and
/healthz. Called by the daemon (serve/daemon.py), which restores git's content when
daemon.toml says `[drift] action = "restore"`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.apply.served import served_copy
from reconciler.apply.state import State, good_copy
from reconciler.atomic import write_atomic
from reconciler.bind.dnssec import SIGNING_TYPES
from reconciler.bind.keys import Key
from reconciler.config.repo import Server
from reconciler.errors import ReconcilerError, TransferRefused
from reconciler.model.zone import CanonicalZone, parse_line

DRIFT_FILE = "drift.json"
SHOWN = 20  # differing records shown per zone; the rest are counted
_WORKERS = 4

Ignored = Callable[[str, str, str], bool]  # (zone, owner, type): not git's to compare


def nothing_ignored(zone: str, owner: str, rtype: str) -> bool:
    return False


@dataclass(frozen=True)
class ZoneDrift:
    """One zone the primary serves otherwise than git's content last applied."""

    zone: str
    applied_serial: int
    served_serial: int | None  # None: the primary does not serve the zone
    diff: tuple[str, ...]  # "- record" (applied, not served), "+ record" (served, not applied)
    more: int = 0  # differing records left out of `diff`

    def summary(self) -> str:
        served = "not served" if self.served_serial is None else f"serial {self.served_serial}"
        count = len(self.diff) + self.more
        return f"{self.zone}: {count} record(s) differ from git ({served})"


@dataclass(frozen=True)
class DriftReport:
    checked_at: str  # ISO 8601, UTC
    checked: tuple[str, ...]  # the zones compared
    drifted: tuple[ZoneDrift, ...]
    unread: tuple[str, ...] = ()  # "zone: why" for zones whose transfer failed

    def to_dict(self) -> dict[str, object]:
        return {
            "checked_at": self.checked_at,
            "checked": list(self.checked),
            "drifted": [{**asdict(z), "diff": list(z.diff)} for z in self.drifted],
            "unread": list(self.unread),
        }

    @staticmethod
    def from_dict(data: dict[str, object]) -> DriftReport:
        drifted = data.get("drifted")
        return DriftReport(
            str(data.get("checked_at", "")),
            tuple(str(z) for z in _list(data.get("checked"))),
            tuple(
                ZoneDrift(
                    str(z["zone"]),
                    int(z["applied_serial"]),
                    None if z.get("served_serial") is None else int(z["served_serial"]),
                    tuple(str(line) for line in z.get("diff", [])),
                    int(z.get("more", 0)),
                )
                for z in _list(drifted)
                if isinstance(z, dict)
            ),
            tuple(str(u) for u in _list(data.get("unread"))),
        )


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def compare(
    zone: str, applied: CanonicalZone, served: CanonicalZone | None, ignored: Ignored
) -> ZoneDrift | None:
    """The drift of one zone (None: the primary serves git's content). Pure."""
    mine = _comparable(zone, applied, ignored)
    theirs = _comparable(zone, served, ignored) if served is not None else {}
    gone = sorted(line for key, line in mine.items() if key not in theirs)
    new = sorted(line for key, line in theirs.items() if key not in mine)
    if not gone and not new:
        return None
    diff = [f"- {line}" for line in gone] + [f"+ {line}" for line in new]
    return ZoneDrift(
        zone,
        applied.serial,
        served.serial if served is not None else None,
        tuple(diff[:SHOWN]),
        max(len(diff) - SHOWN, 0),
    )


def _comparable(zone: str, copy: CanonicalZone, ignored: Ignored) -> dict[str, str]:
    """Each record by its text with the SOA serial left out, and the record as it is."""
    found = {}
    for line in copy.lines():
        record = parse_line(line)
        if record.rtype in SIGNING_TYPES or ignored(zone, record.owner, record.rtype):
            continue
        key = line
        if record.rtype == "SOA":
            fields = record.rdata.split()
            fields[2] = "0"
            key = f"{record.owner} {record.ttl} SOA {' '.join(fields)}"
        found[key] = _shown(line)
    return found


def _shown(line: str) -> str:
    """A canonical line with single spaces between its fields (BIND aligns with tabs)."""
    fields = line.split(None, 4)
    return " ".join(fields)


def find_drift(
    state_dir: Path,
    state: State,
    primary: Server,
    key: Key,
    ignored: Ignored = nothing_ignored,
    now: datetime | None = None,
) -> DriftReport:
    """Compare every zone of `state` served by `primary` with its last good copy."""
    zones = sorted(z for z in state.zones if good_copy(state_dir, z).exists())

    def one(zone: str) -> ZoneDrift | str | None:
        text = good_copy(state_dir, zone).read_text(encoding="utf-8")
        applied = CanonicalZone.from_dump(zone, text)
        try:
            served: CanonicalZone | None = served_copy(primary, zone, key)
        except TransferRefused:
            served = None  # not served (or the key refused: a drift of its own)
        except ReconcilerError as exc:
            return f"{zone}: {exc}"
        return compare(zone, applied, served, ignored)

    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        results = list(pool.map(one, zones))
    when = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    return DriftReport(
        when,
        tuple(zones),
        tuple(r for r in results if isinstance(r, ZoneDrift)),
        tuple(r for r in results if isinstance(r, str)),
    )


def save_drift(state_dir: Path, report: DriftReport) -> None:
    write_atomic(state_dir / DRIFT_FILE, json.dumps(report.to_dict(), indent=2) + "\n")


def load_drift(state_dir: Path) -> DriftReport | None:
    """The last drift report the daemon kept; None when there is none (or it is unreadable)."""
    try:
        data = json.loads((state_dir / DRIFT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        return DriftReport.from_dict(data) if isinstance(data, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def drift_notes(report: DriftReport | None) -> tuple[str, ...]:
    """One line per drifted zone, for /healthz."""
    return tuple(z.summary() for z in report.drifted) if report else ()


def zones_of(report: DriftReport) -> Iterable[str]:
    return (z.zone for z in report.drifted)
