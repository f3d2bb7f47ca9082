"""One reconcile: a commit turned into zones the primary serves and every
secondary has transferred, or refused, or rolled back to the last good state.

The steps (README, "How apply works"): read and gate the commit, select the zones whose
content changed, check them (check/inspect.py), plan serials and safety (model/plan.py),
write atomically, reload per zone, confirm on the primary by SOA query (not
by rndc's exit code), confirm every secondary, record state and a git note;
on a load failure restore the last good files with serials moved forward.
Returns an `Outcome` value; raises only for trouble with the environment.
Called by `apply` and `rollback` in cli/main.py, and by the daemon.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import git
import structlog

from reconciler.apply.state import State, ZoneState, good_copy, load_state, locked, save_state
from reconciler.atomic import write_atomic
from reconciler.bind import probe
from reconciler.bind.catalog import CATALOG, catalog_zone_text
from reconciler.bind.conf import primary_include
from reconciler.bind.keys import read_key_file
from reconciler.bind.namedlog import load_failure_reason
from reconciler.bind.rndc import Rndc
from reconciler.bind.tools import checkconf
from reconciler.check.inspect import Inspection, inspect, zones_touched
from reconciler.config.host import HostConfig
from reconciler.config.repo import RepoConfig, Server
from reconciler.errors import BindError, Problem
from reconciler.model.outcome import Note, Outcome, Status
from reconciler.model.plan import ALLOW_TRAILER, Plan, make_plan
from reconciler.model.serial import add, is_newer, next_serial
from reconciler.model.zone import CanonicalZone
from reconciler.source.repo import add_note, changed_paths, is_ancestor, open_repo, resolve
from reconciler.source.signatures import verify_signature


@dataclass
class _Run:
    """What one reconcile works with; mutable only inside this module."""

    host: HostConfig
    repo: git.Repo
    target: str
    state: State
    now: datetime
    log: structlog.stdlib.BoundLogger
    config: RepoConfig | None = None
    rndc: Rndc | None = None

    def servers(self) -> tuple[Server, tuple[Server, ...]]:
        assert self.config is not None
        return self.config.primary, self.config.secondaries


def apply(
    host: HostConfig,
    rev: str | None = None,
    *,
    allow_unsafe: bool = False,
    allow_non_descendant: bool = False,
    now: datetime | None = None,
    lock: bool = True,
) -> Outcome:
    """Reconcile the primary and its secondaries to `rev` (default: the branch head).

    `lock=False` when the caller (the daemon) already holds the state folder's lock.
    """
    repo = open_repo(host.repo)
    target = resolve(repo, rev or host.branch).hexsha
    log = structlog.get_logger().bind(commit=target[:12])
    with locked(host.state_dir) if lock else nullcontext():
        run = _Run(host, repo, target, load_state(host.state_dir), now or datetime.now(UTC), log)
        outcome = _apply(run, allow_unsafe, allow_non_descendant or host.allow_non_descendant)
    log.info("reconcile finished", status=outcome.status.value, reason=outcome.reason)
    return outcome


def _apply(run: _Run, allow_unsafe: bool, allow_non_descendant: bool) -> Outcome:
    last = run.state.last_applied
    if (
        last
        and last != run.target
        and not allow_non_descendant
        and not is_ancestor(run.repo, last, run.target)
    ):
        reason = (
            f"commit {run.target[:12]} is not a descendant of the last applied commit "
            f"{last[:12]} (a force-push?); pass --allow-non-descendant to apply it anyway"
        )
        return _refuse(run, Status.REFUSED, reason)
    if run.host.require_signed_commits:
        unsigned = verify_signature(
            run.repo,
            run.target,
            gpg_home=run.host.gpg_home,
            allowed_signers=run.host.allowed_signers,
        )
        if unsigned:
            return _refuse(run, Status.REFUSED, f"commit {run.target[:12]}: {unsigned}")
    run.state = replace(run.state, last_attempted=run.target)
    save_state(run.host.state_dir, run.state)

    head_all = inspect(run.repo, run.target, only=())
    run.config = head_all.config
    wanted = _zones_to_check(run, head_all)
    head = inspect(run.repo, run.target, only=wanted) if wanted else head_all
    if not head.ok:
        first = head.errors[0] if head.errors else None
        return _refuse(run, Status.INVALID, f"invalid: {first}", head.problems)
    run.config = head.config
    mismatch = _key_mismatch(run.host, run.config)
    if mismatch:
        return _refuse(run, Status.INVALID, f"invalid: {mismatch}")
    run.rndc = Rndc(
        run.host.rndc_server,
        run.host.rndc_port,
        run.host.rndc_key_file,
        conf_dir=run.host.state_dir,
    )

    removed = set(run.state.zones) - set(head_all.zone_paths)
    base = {z: _good(run, z) for z in wanted | removed if good_copy(run.host.state_dir, z).exists()}
    served = {z: _served(run, z) for z in base}
    trailer = ALLOW_TRAILER.lower() in head.snapshot.message.lower()
    plan = make_plan(
        base,
        {z: head.zones[z] for z in wanted},
        base_label=(last or "(nothing)")[:12],
        head_label=run.target[:12],
        safety=run.config.safety,
        scheme=run.config.serial_scheme,
        now=run.now,
        served=served,
        allow_unsafe=allow_unsafe or trailer,
        problems=head.problems,
    )
    if plan.verdict == "unsafe":
        reason = "unsafe: " + "; ".join(plan.unsafe_reasons)
        return _refuse(run, Status.UNSAFE, reason, plan=plan)
    if not plan.zones:
        if not _config_current(run, set(run.state.zones)):
            _write_config(run, set(run.state.zones))
            run.rndc.reconfig()
        return _finish(run, plan, {}, set(), unchanged=True)
    return _deploy(run, plan, head)


def _key_mismatch(host: HostConfig, config: RepoConfig) -> str | None:
    """The TSIG key named in reconciler.toml must be the one in the host's key file."""
    held = read_key_file(host.transfer_key_file).name.rstrip(".")
    wanted = (config.tsig_key or "transfer-key").rstrip(".")
    if held == wanted:
        return None
    return (
        f"reconciler.toml: [transfer] tsig_key is '{wanted}' but {host.transfer_key_file} "
        f"holds the key '{held}'"
    )


def _zones_to_check(run: _Run, head_all: Inspection) -> set[str]:
    """Zones whose files changed since the last applied commit, and any not served yet."""
    everything = set(head_all.zone_paths)
    last = run.state.last_applied
    if not last:
        return everything
    changed = changed_paths(run.repo, last, run.target)
    touched = zones_touched(changed, head_all.config.zones_dir)
    if touched is None:  # a shared file changed
        return everything
    missing = {
        z
        for z in everything
        if z not in run.state.zones or not good_copy(run.host.state_dir, z).exists()
    }
    return (touched & everything) | missing


def _good(run: _Run, zone: str) -> CanonicalZone:
    text = good_copy(run.host.state_dir, zone).read_text(encoding="utf-8")
    return CanonicalZone(zone, tuple(line for line in text.splitlines() if line))


def _served(run: _Run, zone: str) -> int:
    """The serial the primary serves now; the recorded one when it does not answer."""
    primary, _ = run.servers()
    live = probe.soa_serial(primary.address, primary.port, zone, timeout=run.host.query_timeout)
    recorded = run.state.zones[zone].serial if zone in run.state.zones else None
    if live is None:
        return recorded if recorded is not None else 0
    if recorded is not None and is_newer(recorded, live):
        return recorded  # a serial was attempted past what is served: never reuse it
    return live


def _deploy(run: _Run, plan: Plan, head: Inspection) -> Outcome:
    zones = {
        z.zone: head.zones[z.zone].with_serial(z.serial_after)
        for z in plan.zones
        if z.serial_after is not None
    }
    removed = {z.zone for z in plan.zones if z.action == "remove"}
    added = {z.zone for z in plan.zones if z.action == "add"}
    offset = _log_offset(run.host)
    _write(run, zones, removed, reconfigure=bool(added or removed))
    failed = _confirm_primary(run, zones, offset)
    if failed:
        reason = _failure_reason(run, failed, offset)
        return _rollback(run, plan, zones, reason)
    lagging = _confirm_secondaries(run, {z: c.serial for z, c in zones.items()})
    return _finish(run, plan, zones, removed, lagging=lagging)


def _write(
    run: _Run, zones: dict[str, CanonicalZone], removed: set[str], reconfigure: bool
) -> None:
    host = run.host
    host.zone_dir.mkdir(parents=True, exist_ok=True)
    for name, zone in sorted(zones.items()):
        write_atomic(_zone_file(host, name), zone.text())
        run.log.info("zone written", zone=name, serial=zone.serial, stage="write")
    assert run.rndc is not None
    if reconfigure:
        members = (set(run.state.zones) | set(zones)) - removed
        _write_config(run, members)
        run.rndc.reconfig()
        run.rndc.reload(CATALOG)
        for name in removed:
            _zone_file(host, name).unlink(missing_ok=True)
    for name in sorted(set(zones) & set(run.state.zones)):
        run.rndc.reload(name)
        run.log.info("zone reload requested", zone=name, stage="reload")


def _include_text(run: _Run, members: set[str]) -> str:
    host, (_, secondaries) = run.host, run.servers()
    assert run.config is not None
    return primary_include(
        {z: _zone_file(host, z) for z in sorted(members)},
        secondaries,
        run.config.tsig_key or "transfer-key",
        host.zone_dir / f"{CATALOG}.zone",
        host.transfer_key_file if host.include_key else None,
    )


def _config_current(run: _Run, members: set[str]) -> bool:
    try:
        return run.host.include_file.read_text(encoding="utf-8") == _include_text(run, members)
    except OSError:
        return False


def _write_config(run: _Run, members: set[str]) -> None:
    """The catalog zone (serial moved on) and the primary's include, checked before use."""
    host, (primary, _) = run.host, run.servers()
    live = probe.soa_serial(primary.address, primary.port, CATALOG, timeout=host.query_timeout)
    current = run.state.catalog_serial
    if live is not None and is_newer(live, current):
        current = live
    serial = add(current, 1)
    run.state = replace(run.state, catalog_serial=serial)
    write_atomic(host.zone_dir / f"{CATALOG}.zone", catalog_zone_text(sorted(members), serial))
    try:
        previous: str | None = host.include_file.read_text(encoding="utf-8")
    except OSError:
        previous = None
    write_atomic(host.include_file, _include_text(run, members))
    # The include stands alone as a config when it includes the key it names.
    checked = host.named_conf or (host.include_file if host.include_key else None)
    complaints = checkconf(checked) if checked else []
    if complaints:
        if previous is not None:
            write_atomic(host.include_file, previous)
        raise BindError(f"{checked}: " + "; ".join(complaints))


def _zone_file(host: HostConfig, zone: str) -> Path:
    return host.zone_dir / f"{zone}.zone"


def _confirm_primary(run: _Run, zones: dict[str, CanonicalZone], offset: int = 0) -> list[str]:
    """Zones the primary does not serve at the new serial by the deadline.

    Gives up on a zone at once when named's log (after byte `offset`) says it refused it.
    """
    primary, _ = run.servers()
    failed = []
    end = time.monotonic() + run.host.primary_deadline
    for name, zone in sorted(zones.items()):
        while True:
            seen = probe.soa_serial(
                primary.address, primary.port, name, timeout=run.host.query_timeout
            )
            if seen == zone.serial:
                break
            refused = (
                run.host.log_file is not None
                and load_failure_reason(run.host.log_file, name, offset) is not None
            )
            if refused or time.monotonic() >= end:
                failed.append(name)
                run.log.warning(
                    "primary did not load the zone",
                    zone=name,
                    want=zone.serial,
                    serving=seen,
                    stage="confirm",
                )
                break
            time.sleep(0.1)
    return failed


def _confirm_secondaries(run: _Run, serials: dict[str, int]) -> tuple[str, ...]:
    """Every secondary must serve each serial before the deadline; NOTIFY again halfway."""
    _, secondaries = run.servers()
    assert run.rndc is not None
    rndc = run.rndc
    end = time.monotonic() + run.host.deadline
    lagging = []
    for server in secondaries:
        for name, serial in sorted(serials.items()):
            nudge: Callable[[], None] = lambda name=name: _notify(rndc, name)  # noqa: E731
            seen = probe.wait_for_serial(
                server.address,
                server.port,
                name,
                serial,
                max(end - time.monotonic(), 0.2),
                halfway=nudge,
            )
            if seen is None or (seen != serial and not is_newer(seen, serial)):
                lagging.append(f"{server.name}: {name} serves {seen} (want {serial})")
                run.log.warning(
                    "secondary lags",
                    zone=name,
                    server=server.name,
                    want=serial,
                    serving=seen,
                    stage="confirm",
                )
    return tuple(lagging)


def _notify(rndc: Rndc, zone: str) -> None:
    with suppress(BindError):  # the deadline decides; a failed nudge is not a failure
        rndc.notify(zone)


def _log_offset(host: HostConfig) -> int:
    try:
        return host.log_file.stat().st_size if host.log_file else 0
    except OSError:
        return 0


def _failure_reason(run: _Run, failed: list[str], offset: int) -> str:
    reasons = []
    for zone in failed:
        why = load_failure_reason(run.host.log_file, zone, offset) if run.host.log_file else None
        if why is None and run.rndc is not None:
            try:
                why = run.rndc.zonestatus(zone).splitlines()[0]
            except (BindError, IndexError):
                why = None
        reasons.append(f"{zone}: named did not load it" + (f" ({why})" if why else ""))
    return "; ".join(reasons)


def _rollback(run: _Run, plan: Plan, attempted: dict[str, CanonicalZone], reason: str) -> Outcome:
    """Serve the last good files again, every serial moved past the attempted one."""
    run.log.error("rolling back", reason=reason, stage="rollback")
    restored: dict[str, CanonicalZone] = {}
    for zone_plan in plan.zones:
        name = zone_plan.zone
        if not good_copy(run.host.state_dir, name).exists():
            continue
        tried = attempted[name].serial if name in attempted else run.state.zones[name].serial
        serial = next_serial(
            tried, run.config.serial_scheme if run.config else "increment", run.now
        )
        restored[name] = _good(run, name).with_serial(serial)
    new = {z.zone for z in plan.zones if z.action == "add"}
    removed = {z.zone for z in plan.zones if z.action == "remove"}
    offset = _log_offset(run.host)
    _write(run, restored, new, reconfigure=bool(new or removed))
    for name in new:
        _zone_file(run.host, name).unlink(missing_ok=True)
    _confirm_primary(run, restored, offset)
    lagging = _confirm_secondaries(run, {z: c.serial for z, c in restored.items()})
    zones = dict(run.state.zones)
    for name, zone in restored.items():
        zones[name] = replace(zones[name], serial=zone.serial)
    run.state = replace(
        run.state,
        zones=zones,
        lagging=lagging,
        last_failure={"commit": run.target, "reason": reason},
    )
    save_state(run.host.state_dir, run.state)
    _note(run, Status.ROLLED_BACK, reason, {n: z.serial for n, z in restored.items()}, lagging)
    return Outcome(
        Status.ROLLED_BACK,
        run.target,
        plan,
        {n: z.serial for n, z in restored.items()},
        lagging,
        f"commit {run.target[:12]} rolled back: {reason}",
    )


def _finish(
    run: _Run,
    plan: Plan,
    zones: dict[str, CanonicalZone],
    removed: set[str],
    lagging: tuple[str, ...] = (),
    unchanged: bool = False,
) -> Outcome:
    """Record success: good copies, state, git note."""
    if unchanged and run.state.lagging:
        # A secondary that was down loads its old copy and may wait a whole SOA
        # refresh interval: NOTIFY again now rather than halfway to the deadline.
        recheck = {z: run.state.zones[z].serial for z in run.state.zones}
        assert run.rndc is not None
        for name in recheck:
            _notify(run.rndc, name)
        lagging = _confirm_secondaries(run, recheck)
    states = dict(run.state.zones)
    for name, zone in zones.items():
        good = good_copy(run.host.state_dir, name)
        good.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(good, zone.text())
        states[name] = ZoneState(zone.serial, zone.content_hash, run.target)
    for name in removed:
        states.pop(name, None)
        good_copy(run.host.state_dir, name).unlink(missing_ok=True)
    run.state = replace(
        run.state,
        zones=states,
        last_applied=run.target,
        lagging=lagging,
        last_failure=None if not lagging else run.state.last_failure,
    )
    save_state(run.host.state_dir, run.state)
    served = {n: z.serial for n, z in zones.items()}
    status = Status.UNCONFIRMED if lagging else Status.UNCHANGED if unchanged else Status.CONFIRMED
    _note(run, status, None, served, lagging)
    reason = "secondaries lag: " + "; ".join(lagging) if lagging else None
    return Outcome(status, run.target, plan, served, lagging, reason)


def _refuse(
    run: _Run,
    status: Status,
    reason: str,
    problems: tuple[Problem, ...] = (),
    plan: Plan | None = None,
) -> Outcome:
    run.state = replace(
        run.state, last_attempted=run.target, last_failure={"commit": run.target, "reason": reason}
    )
    save_state(run.host.state_dir, run.state)
    _note(run, status, reason, {}, ())
    return Outcome(status, run.target, plan, {}, (), reason, problems)


def _note(
    run: _Run, status: Status, reason: str | None, served: dict[str, int], lagging: tuple[str, ...]
) -> None:
    note = Note(status, run.now, reason, served, lagging)
    try:
        add_note(run.repo, run.target, note.text())
    except git.GitCommandError as exc:
        run.log.warning("could not write the git note", error=str(exc).splitlines()[0])
