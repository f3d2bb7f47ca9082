"""The daemon's drift check: at start and every `[drift] interval` (daemon.toml).

Compares what the primary serves with the last applied content (apply/drift.py), logs
each drifted zone with its diff, keeps the report for `status` and /metrics, and with
`[drift] action = "restore"` serves git's content again: the last applied commit is
reconciled with the drifted zones written again past the served serial, then compared
once more. The names `[dynamic]` (reconciler.toml at the last applied commit) lets an
RFC 2136 client update are left out. Runs in the daemon's worker, between reconciles
(the state lock is held). Called by serve/daemon.py.
"""

from __future__ import annotations

import structlog

from reconciler.apply import reconcile
from reconciler.apply.drift import DriftReport, find_drift, load_drift, save_drift
from reconciler.apply.state import load_state
from reconciler.bind import probe
from reconciler.bind.keys import read_key_file
from reconciler.check.inspect import read_config
from reconciler.config.host import HostConfig
from reconciler.source.repo import open_repo


def check(host: HostConfig, log: structlog.stdlib.BoundLogger) -> DriftReport | None:
    """One check (and restore, when asked); None before anything was applied.

    Raises ReconcilerError when the state, the repo or the key cannot be read, or the
    restoring reconcile fails.
    """
    report = _compare(host, log)
    if report is None or not report.drifted or host.drift_action != "restore":
        return report
    state = load_state(host.state_dir)
    assert state.last_applied is not None  # _compare found it
    zones = sorted(z.zone for z in report.drifted)
    outcome = reconcile.apply(host, state.last_applied, lock=False, restore=zones, itemise=False)
    log.warning(
        "drift restored" if outcome.status.healthy else "drift not restored",
        zones=zones,
        status=outcome.status.value,
        served=outcome.served,
        reason=outcome.reason,
        stage="drift",
    )
    return _compare(host, log)


def _compare(host: HostConfig, log: structlog.stdlib.BoundLogger) -> DriftReport | None:
    state = load_state(host.state_dir)
    if state.last_applied is None:
        return None
    config = read_config(open_repo(host.repo), state.last_applied)[0]
    primary = config.primary
    first = next(iter(sorted(state.zones)), None)
    if first is not None and (
        probe.query(primary.address, primary.port, first, "SOA", timeout=host.query_timeout) is None
    ):
        # Transfers from a primary that does not answer would hold the worker (and the next
        # push) for their whole timeout: the check waits for the next interval instead.
        log.warning("drift not checked: the primary does not answer", zone=first, stage="drift")
        return load_drift(host.state_dir)
    key = read_key_file(host.transfer_key_file)
    # The names reconciler.toml's [dynamic] lets an RFC 2136 client update are not git's.
    report = find_drift(host.state_dir, state, config.primary, key, config.dynamic.is_dynamic)
    save_drift(host.state_dir, report)
    for zone in report.drifted:
        log.warning(
            "drift",
            zone=zone.zone,
            applied_serial=zone.applied_serial,
            served_serial=zone.served_serial,
            diff=list(zone.diff),
            more=zone.more,
            action=host.drift_action,
            stage="drift",
        )
    for item in report.unread:
        log.warning("drift not checked", error=item, stage="drift")
    if not report.drifted:
        log.info("no drift", zones=len(report.checked), stage="drift")
    return report
