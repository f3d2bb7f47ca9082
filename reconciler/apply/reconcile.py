"""One reconcile: a commit turned into zones the primary serves and every
secondary has transferred, or refused, or rolled back to the last good state.

The steps (README, "How apply works"), each a function below: gate the commit, ask
the primary what it serves (served.py: never guessed), select and check the zones
(check/inspect.py), take each zone's last good state (the good copy, else what the
primary serves), plan serials past every serial seen and judge safety with the last
applied commit's limits (model/plan.py), then write, load and confirm (deploy.py),
and record state and a git note; on a load failure restore the last good files with
serials moved forward, never removing a zone that was served before. Zones whose file
or serial on the primary is not the last good state (an attempt cut short) are
rewritten too. Returns an `Outcome` value; raises only for trouble with the
environment. Called by `apply` and `rollback` in cli/main.py, and by the daemon.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import nullcontext, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import git
import structlog

from reconciler.apply.deploy import Deployer, zone_file
from reconciler.apply.dynamic import without_dynamic
from reconciler.apply.refusal import refusal
from reconciler.apply.served import (
    OnPrimary,
    Presence,
    file_serial,
    filed_zones,
    included_zones,
    secondary_serials,
    served_copy,
    survey,
    with_inline_serials,
)
from reconciler.apply.state import State, ZoneState, good_copy, load_state, locked, save_state
from reconciler.atomic import write_atomic
from reconciler.bind.catalog import CATALOG
from reconciler.bind.dnssec import parents_ds
from reconciler.bind.journal import journal_end
from reconciler.bind.keys import read_key_file
from reconciler.bind.namedlog import load_failure
from reconciler.bind.rndc import Rndc
from reconciler.check.inspect import Inspection, inspect, read_config, zones_touched
from reconciler.config.host import HostConfig
from reconciler.config.repo import RepoConfig
from reconciler.errors import BindError, ConfigError, Problem
from reconciler.model.dnssec import breaking_ds
from reconciler.model.names import zone_name_problem
from reconciler.model.outcome import Note, Outcome, Status
from reconciler.model.plan import Plan, allows_unsafe, make_plan
from reconciler.model.serial import latest, next_serial
from reconciler.model.zone import CanonicalZone
from reconciler.source.repo import (
    HOST_LINE,
    add_note,
    changed_paths,
    is_ancestor,
    open_repo,
    resolve,
)
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
    deployer: Deployer | None = None
    restore: frozenset[str] = frozenset()  # zones to write again whatever the primary says
    itemise: bool = True  # a Change per RRset of a zone added or removed whole (make_plan)

    @property
    def deploy(self) -> Deployer:
        assert self.deployer is not None
        return self.deployer

    @property
    def repo_config(self) -> RepoConfig:
        assert self.config is not None
        return self.config


@dataclass(frozen=True)
class _Baseline:
    """Where this attempt starts: what the primary held, and each zone's last good state."""

    on_primary: dict[str, OnPrimary]  # every zone the primary might hold, and the catalog
    before: frozenset[str]  # zones served before the attempt: a rollback keeps every one
    removed: frozenset[str]  # zones served before that the commit no longer has
    vanished: frozenset[str]  # zones only the state remembers: nothing of them is left
    unsettled: frozenset[str]  # served zones whose file or serial is not the last good state
    base: dict[str, CanonicalZone]  # the last good content of the zones looked at
    floors: dict[str, int]  # per zone: a serial the next one must be newer than


def apply(
    host: HostConfig,
    rev: str | None = None,
    *,
    allow_unsafe: bool = False,
    allow_non_descendant: bool = False,
    now: datetime | None = None,
    lock: bool = True,
    restore: Collection[str] = (),
    itemise: bool = True,
) -> Outcome:
    """Reconcile the primary and its secondaries to `rev` (default: the branch head).

    `lock=False` when the caller (the daemon) already holds the state folder's lock.
    `restore`: zones the primary serves otherwise than their last good state (drift,
    apply/drift.py): written again with a serial past the served one, as an attempt cut
    short would be, even when named's serial still matches the state's.
    `itemise=False` (the daemon, which prints no plan): a zone added or removed whole is
    planned by its counts, not a Change per RRset (a million of them for a large zone).
    """
    repo = open_repo(host.repo)
    target = resolve(repo, rev or host.branch).hexsha
    log = structlog.get_logger().bind(commit=target[:12])
    with locked(host.state_dir) if lock else nullcontext():
        run = _Run(host, repo, target, load_state(host.state_dir), now or datetime.now(UTC), log)
        run.restore = frozenset(restore)
        run.itemise = itemise
        outcome = _apply(run, allow_unsafe, allow_non_descendant or host.allow_non_descendant)
    log.info("reconcile finished", status=outcome.status.value, reason=outcome.reason)
    return outcome


def _apply(run: _Run, allow_unsafe: bool, allow_non_descendant: bool) -> Outcome:
    refusal = _gate(run, allow_non_descendant)
    if refusal is not None:
        return refusal
    run.state = replace(run.state, last_attempted=run.target)
    save_state(run.host.state_dir, run.state)

    ceiling = run.host.max_records  # what reconciler.toml may not raise on this host
    head_all = inspect(run.repo, run.target, only=(), max_records=ceiling)
    run.config = head_all.config
    host = run.host
    rndc = Rndc(host.rndc_server, host.rndc_port, host.rndc_key_file, conf_dir=host.state_dir)
    on_primary = with_inline_serials(_ask_primary(run, head_all), rndc)
    wanted = _zones_to_check(run, head_all, on_primary)
    named_conf = run.host.named_conf  # its load-time limits apply, not reconciler.toml's
    head = (
        inspect(run.repo, run.target, wanted, named_conf=named_conf, max_records=ceiling)
        if wanted
        else head_all
    )
    refusal = _validate(run, head)
    if refusal is not None:
        return refusal
    run.config = head.config
    run.deployer = Deployer(run.host, run.config, rndc, run.log, run.state.catalog_serial)

    baseline = _baseline(run, head_all, on_primary, wanted)
    plan = _plan(run, baseline, head, wanted, allow_unsafe)
    if plan.verdict == "unsafe":
        reason = "unsafe: " + "; ".join(plan.unsafe_reasons)
        return _refuse(run, Status.UNSAFE, reason, plan=plan)
    repairs = _repairs(run, baseline, plan, head)
    if not plan.zones and not repairs:
        run.deploy.ensure_config(set(baseline.before))
        return _finish(run, plan, {}, set(baseline.vanished), unchanged=True)
    return _deploy(run, plan, head, baseline, repairs)


# --- gate, ask, select, check ------------------------------------------------------------------


def _gate(run: _Run, allow_non_descendant: bool) -> Outcome | None:
    """Refuse a commit that does not descend from the last applied one, or is not signed."""
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
    return None


def _ask_primary(run: _Run, head_all: Inspection) -> dict[str, OnPrimary]:
    """What the primary holds of every zone it might hold, and of the catalog zone.

    Raises BindError (nothing written) when named does not answer.
    """
    host = run.host
    names = (
        set(run.state.zones)
        | set(head_all.zone_paths)
        | included_zones(host.include_file)
        | filed_zones(host.zone_dir)
    )
    files = {name: zone_file(host, name) for name in names if _deployable(name)}
    files[CATALOG] = zone_file(host, CATALOG)
    return survey(run.repo_config.primary, files, host.query_timeout)


def _deployable(name: str) -> bool:
    """A zone name deploy can write a file for (check refuses the others, with their line)."""
    return zone_name_problem(name) is None  # the one rule: model/names.py


def _unsettled(run: _Run, found: OnPrimary | None) -> bool:
    """The primary does not serve the zone's last good state from its file as it is."""
    if found is None or not found.in_step or found.zone in run.restore:
        return True
    recorded = run.state.zones.get(found.zone)
    return recorded is not None and recorded.serial != found.live


def _zones_to_check(run: _Run, head_all: Inspection, on_primary: dict[str, OnPrimary]) -> set[str]:
    """Zones whose files changed since the last applied commit, any not served yet or not
    served as last recorded, and any whose last good copy is gone."""
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
        if z not in run.state.zones
        or not good_copy(run.host.state_dir, z).exists()
        or _unsettled(run, on_primary.get(z))
    }
    return (touched & everything) | missing


def _validate(run: _Run, head: Inspection) -> Outcome | None:
    """Refuse an invalid commit (a zone named like the catalog among them: check refuses it,
    model/names.py) or a TSIG key the host lacks."""
    if not head.ok:
        first = head.errors[0] if head.errors else None
        return _refuse(run, Status.INVALID, f"invalid: {first}", head.problems)
    mismatch = _key_mismatch(run.host, head.config) or _update_keys_missing(run.host, head.config)
    if mismatch:
        return _refuse(run, Status.INVALID, f"invalid: {mismatch}")
    return None


def _key_mismatch(host: HostConfig, config: RepoConfig) -> str | None:
    """The TSIG key named in reconciler.toml must be the one in the host's key file."""
    held = read_key_file(host.transfer_key_file).name.rstrip(".")
    wanted = config.tsig_key.rstrip(".")
    if held == wanted:
        return None
    return (
        f"reconciler.toml: [transfer] tsig_key is '{wanted}' but {host.transfer_key_file} "
        f"holds the key '{held}'"
    )


def _update_keys_missing(host: HostConfig, config: RepoConfig) -> str | None:
    """Every key of reconciler.toml's [dynamic] must be in daemon.toml's [dynamic] key_file."""
    for dynamic in config.dynamic.zones:
        where = f"reconciler.toml: [dynamic.\"{dynamic.zone}\"] key '{dynamic.key}'"
        if host.update_key_file is None:
            return f"{where}: daemon.toml has no [dynamic] key_file holding it"
        try:
            read_key_file(host.update_key_file, dynamic.key)
        except ConfigError as exc:
            return f"{where}: {exc}"
    return None


# --- the last good state, the plan, the repairs -------------------------------------------------


def _baseline(
    run: _Run, head_all: Inspection, on_primary: dict[str, OnPrimary], wanted: set[str]
) -> _Baseline:
    """What was served before, each zone's last good content, and the serials to go past."""
    held = {z for z, found in on_primary.items() if found.presence.configured and z != CATALOG}
    recorded = set(run.state.zones)
    unsettled = {z for z in held | recorded if _unsettled(run, on_primary.get(z))}
    looked_at = wanted | (held | recorded) - set(head_all.zone_paths) | unsettled
    base = {}
    for zone in sorted(looked_at & (held | recorded)):
        copy = _last_good(run, zone, on_primary.get(zone))
        if copy is not None:
            base[zone] = copy
    vanished = recorded - held - set(base) - set(head_all.zone_paths)
    before = (held | recorded) - vanished
    return _Baseline(
        on_primary=on_primary,
        before=frozenset(before),
        removed=frozenset(before - set(head_all.zone_paths)),
        vanished=frozenset(vanished),
        unsettled=frozenset(unsettled - vanished),
        base=base,
        floors=_floors(run, on_primary, looked_at),
    )


def _last_good(run: _Run, zone: str, found: OnPrimary | None) -> CanonicalZone | None:
    """The zone's last good copy; when it is gone, what the primary serves (by AXFR), else
    the zone file on disk, written again as the good copy."""
    path = good_copy(run.host.state_dir, zone)
    if path.exists():
        return _read_zone(zone, path.read_text(encoding="utf-8"))
    if found is not None and found.presence is Presence.SERVED:
        key = read_key_file(run.host.transfer_key_file)
        copy = served_copy(run.repo_config.primary, zone, key)
        if found.live is not None:  # a signed zone's AXFR carries the signed serial
            copy = copy.with_serial(found.live)
        source = "AXFR from the primary"
    elif file_serial(zone_file(run.host, zone)) is not None:
        copy = _read_zone(zone, zone_file(run.host, zone).read_text(encoding="utf-8"))
        source = "the zone file on the primary"
    else:
        return None
    copy = without_dynamic(copy, run.repo_config.dynamic)  # what clients added is not git's
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, copy.text())
    if zone not in run.state.zones:
        serial = found.live if found is not None and found.live is not None else copy.serial
        entry = ZoneState(serial, copy.content_hash, run.state.last_applied or "")
        run.state = replace(run.state, zones={**run.state.zones, zone: entry})
    run.log.warning("last good copy rebuilt", zone=zone, source=source, stage="plan")
    return copy


def _read_zone(zone: str, text: str) -> CanonicalZone:
    return CanonicalZone.from_dump(zone, text)


def _floors(run: _Run, on_primary: dict[str, OnPrimary], zones: set[str]) -> dict[str, int]:
    """For each zone, the newest serial anyone may have seen: what the primary serves, its
    file, the state's record, a removed zone's last serial and, where the primary does not
    serve the zone, its journal and what the secondaries still serve."""
    unserved = {
        z for z in zones if z not in on_primary or on_primary[z].presence is not Presence.SERVED
    }
    config = run.repo_config
    held = secondary_serials(config.secondaries, unserved, run.host.query_timeout)
    floors = {}
    for zone in zones:
        found = on_primary.get(zone)
        recorded = run.state.zones.get(zone)
        seen: list[int | None] = [
            found.live if found else None,
            found.file if found else None,
            found.signed if found else None,  # a signed zone's: past it, BIND serves ours
            recorded.serial if recorded else None,
            run.state.retired.get(zone),
            *held.get(zone, []),
        ]
        if zone in unserved:
            with suppress(BindError):
                seen.append(journal_end(zone_file(run.host, zone)))
        floor = latest(seen)
        if floor is not None:
            floors[zone] = floor
    return floors


def _plan(
    run: _Run, baseline: _Baseline, head: Inspection, wanted: set[str], allow_unsafe: bool
) -> Plan:
    """The diff against the last good state, judged by the last applied commit's [safety]
    limits (a commit that loosens them is itself unsafe: it cannot judge itself)."""
    compared = wanted | baseline.removed
    config = run.repo_config
    last = run.state.last_applied
    base_config = read_config(run.repo, last)[0] if last else config
    dnssec = (base_config.dnssec, config.dnssec)
    held = parents_ds(
        run.host.ds_parents, breaking_ds(*dnssec, baseline.base), run.host.query_timeout
    )
    return make_plan(
        {z: copy for z, copy in baseline.base.items() if z in compared},
        {z: head.zones[z] for z in wanted},
        base_label=(last or "(nothing)")[:12],
        head_label=run.target[:12],
        safety=base_config.safety,
        proposed=config.safety,
        scheme=config.serial_scheme,
        now=run.now,
        served=baseline.floors,
        allow_unsafe=allow_unsafe or allows_unsafe(head.snapshot.trailers),
        problems=head.problems,
        dnssec=dnssec,
        parent_ds=held,
        itemise=run.itemise,
    )


def _repairs(
    run: _Run, baseline: _Baseline, plan: Plan, head: Inspection
) -> dict[str, CanonicalZone]:
    """Unsettled zones the plan leaves alone: their content again, with a serial past all."""
    planned = {z.zone for z in plan.zones}
    repairs = {}
    for zone in sorted(baseline.unsettled - planned - baseline.removed):
        content = head.zones.get(zone)
        if content is None:
            continue
        floor = baseline.floors.get(zone)
        serial = (
            next_serial(floor, run.repo_config.serial_scheme, run.now)
            if floor is not None
            else content.serial
        )
        repairs[zone] = content.with_serial(serial)
        found = baseline.on_primary.get(zone)
        run.log.warning(
            "zone to be written again",
            zone=zone,
            named=found.presence.value if found else None,
            serving=found.live if found else None,
            file_serial=found.file if found else None,
            stage="plan",
        )
    return repairs


# --- deploy, roll back, record -------------------------------------------------------------------


def _deploy(
    run: _Run,
    plan: Plan,
    head: Inspection,
    baseline: _Baseline,
    repairs: dict[str, CanonicalZone],
) -> Outcome:
    zones = {
        z.zone: head.zones[z.zone].with_serial(z.serial_after)
        for z in plan.zones
        if z.serial_after is not None
    } | repairs
    removed = {z.zone for z in plan.zones if z.action == "remove"}
    added = {z.zone for z in plan.zones if z.action == "add"} - baseline.before
    members = (set(baseline.before) | set(zones)) - removed
    offset = run.deploy.log_offset()
    run.deploy.write(zones, members, added, removed, added | _unheld(baseline, zones))
    failed = run.deploy.confirm_primary({z: c.serial for z, c in zones.items()}, offset)
    if failed:
        why = _refusals(run, {z: zones[z] for z in failed}, head, offset)
        attempted = {z: c.serial for z, c in zones.items()}
        return _rollback(run, plan, baseline, attempted, why)
    lagging = run.deploy.confirm_secondaries({z: c.serial for z, c in zones.items()})
    answered = {z: found.signed for z, found in baseline.on_primary.items() if found.signed}
    return _finish(
        run, plan, zones, removed | baseline.vanished, lagging=lagging, answered=answered
    )


def _unheld(baseline: _Baseline, zones: dict[str, CanonicalZone]) -> set[str]:
    """Zones named does not hold now (not loaded, or not configured): nobody has their journal."""
    return {
        z
        for z in zones
        if z not in baseline.on_primary or baseline.on_primary[z].presence is not Presence.SERVED
    }


def _refusals(
    run: _Run, failed: dict[str, CanonicalZone], head: Inspection, offset: int
) -> tuple[str, tuple[Problem, ...]]:
    """Why named did not load each zone: a Problem at the repo's line when its log says,
    else what rndc zonestatus says; and the reason in one line."""
    reasons, problems = [], []
    for zone, attempted in sorted(failed.items()):
        log = run.host.log_file
        failure = load_failure(log, zone, offset) if log else None
        path = head.zone_paths.get(zone)
        if failure is not None and path is not None:
            written = zone_file(run.host, zone)
            problem = refusal(zone, failure, written, attempted, path, head.snapshot.text_of(path))
            problems.append(problem)
            reasons.append(str(problem))
            continue
        why = failure.text if failure else None
        if why is None and run.deploy.signs(zone):
            why = (
                "named loaded it but serves no copy signed with valid RRSIGs: can named "
                f"write its key directory {run.host.keys}? `rndc dnssec -status {zone}`, "
                "and named's log (category dnssec)"
            )
        if why is None:
            try:
                why = run.deploy.rndc.zonestatus(zone).splitlines()[0]
            except (BindError, IndexError):
                why = None
        reasons.append(f"{zone}: named did not load it" + (f" ({why})" if why else ""))
    return "; ".join(reasons), tuple(problems)


def _rollback(
    run: _Run,
    plan: Plan,
    baseline: _Baseline,
    attempted: dict[str, int],
    why: tuple[str, tuple[Problem, ...]],
) -> Outcome:
    """Serve the last good files again, every serial moved past the attempted one; remove
    only the zones this attempt added, never one that was served before."""
    reason, problems = why
    run.log.error("rolling back", reason=reason, stage="rollback")
    dropped = {z.zone for z in plan.zones if z.action == "remove"}
    restored: dict[str, CanonicalZone] = {}
    for name in sorted(set(attempted) | dropped):
        base = baseline.base.get(name)
        if base is None:
            continue
        past = latest([attempted.get(name), baseline.floors.get(name)])
        scheme = run.repo_config.serial_scheme
        serial = next_serial(past, scheme, run.now) if past is not None else base.serial
        restored[name] = base.with_serial(serial)
    new = {z.zone for z in plan.zones if z.action == "add"} - baseline.before
    readded = dropped & set(restored)
    offset = run.deploy.log_offset()
    run.deploy.write(
        restored, set(baseline.before), readded, new, readded | _unheld(baseline, restored)
    )
    run.deploy.confirm_primary({n: z.serial for n, z in restored.items()}, offset)
    lagging = run.deploy.confirm_secondaries({n: z.serial for n, z in restored.items()})
    zones = dict(run.state.zones)
    for name, zone in restored.items():
        if name in zones:
            zones[name] = replace(zones[name], serial=zone.serial)
        else:
            zones[name] = ZoneState(zone.serial, zone.content_hash, run.state.last_applied or "")
    run.state = replace(
        run.state,
        zones=zones,
        catalog_serial=run.deploy.catalog_serial,
        lagging=lagging,
        last_failure={"commit": run.target, "reason": reason},
    )
    save_state(run.host.state_dir, run.state)
    served = {n: z.serial for n, z in restored.items()}
    signed = _signed(run, served)
    _note(run, Status.ROLLED_BACK, reason, served, lagging, signed)
    return Outcome(
        Status.ROLLED_BACK,
        run.target,
        plan,
        served,
        lagging,
        f"commit {run.target[:12]} rolled back: {reason}",
        problems,
        signed,
    )


def _finish(
    run: _Run,
    plan: Plan,
    zones: dict[str, CanonicalZone],
    removed: set[str],
    lagging: tuple[str, ...] = (),
    unchanged: bool = False,
    answered: Mapping[str, int] | None = None,
) -> Outcome:
    """Record success: good copies, state, git note. `answered`: the serial the primary
    answered each zone with before (a signed zone's), kept for a removed zone."""
    answered = answered or {}
    caught_up = unchanged and bool(run.state.lagging)  # then it is a confirmation, not "unchanged"
    if caught_up:
        # A secondary that was down loads its old copy and may wait a whole SOA
        # refresh interval: NOTIFY again now rather than halfway to the deadline, for the
        # zones a secondary is behind on (asked in one batch), never a storm of them.
        recheck = {z: run.state.zones[z].serial for z in run.state.zones}
        run.deploy.renotify(run.deploy.behind(recheck))
        lagging = run.deploy.confirm_secondaries(recheck)
    states = dict(run.state.zones)
    retired = dict(run.state.retired)
    for name, zone in zones.items():
        good = good_copy(run.host.state_dir, name)
        good.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(good, zone.text())
        states[name] = ZoneState(zone.serial, zone.content_hash, run.target)
        retired.pop(name, None)
    for name in removed:
        gone = states.pop(name, None)
        if gone is not None:  # past the signed serial too: the world saw that one
            retired[name] = latest([gone.serial, answered.get(name)]) or gone.serial
        good_copy(run.host.state_dir, name).unlink(missing_ok=True)
    run.state = replace(
        run.state,
        zones=states,
        retired=retired,
        catalog_serial=run.deploy.catalog_serial,
        last_applied=run.target,
        lagging=lagging,
        last_failure=None if not lagging else run.state.last_failure,
    )
    save_state(run.host.state_dir, run.state)
    served = {n: z.serial for n, z in zones.items()}
    status = (
        Status.UNCONFIRMED
        if lagging
        else Status.UNCHANGED
        if unchanged and not caught_up
        else Status.CONFIRMED
    )
    signed = _signed(run, served)
    _note(run, status, None, served, lagging, signed)
    reason = "secondaries lag: " + "; ".join(lagging) if lagging else None
    return Outcome(status, run.target, plan, served, lagging, reason, signed=signed)


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


def _signed(run: _Run, served: dict[str, int]) -> dict[str, int]:
    """The signed serial the primary was confirmed at, for each served zone named signs."""
    return {z: run.deploy.signed[z] for z in sorted(served) if z in run.deploy.signed}


def _note(
    run: _Run,
    status: Status,
    reason: str | None,
    served: dict[str, int],
    lagging: tuple[str, ...],
    signed: dict[str, int] | None = None,
) -> None:
    note = Note(status, run.now, reason, served, lagging, signed or {})
    try:
        add_note(run.repo, run.target, note.text(), keep=HOST_LINE)
    except git.GitCommandError as exc:
        run.log.warning("could not write the git note", error=str(exc).splitlines()[0])
