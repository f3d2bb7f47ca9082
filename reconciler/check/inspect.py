"""Everything `apply` would check for one revision, with nothing deployed.

`inspect` reads the revision (py), validates reconciler.toml and
host/policy.toml, loads and renders the zones (zonefiles.py, render.py), runs BIND's strict
checks (checkzone.py), ours (rules.py, mail/) and named's load-time limits (limits.py: the
primary's, read from its named.conf, or reconciler.toml's), sets aside what reconciler.toml
waives (waive.py), and returns an `Inspection` value:
every problem at once, plus each valid zone's canonical form. Called by
`check` and `plan` in cli/main.py, and by the reconcile step.
"""

from __future__ import annotations

import posixpath
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

import git

from reconciler.check import mail
from reconciler.check import rules as checks
from reconciler.check.checkzone import Progress, check_zones
from reconciler.check.conflimits import cached_primary_limits
from reconciler.check.dnssec import policy_problems, signed_limits, unknown_signed
from reconciler.check.dynamic import dynamic_in_git
from reconciler.check.expansion import HOST_LIMIT, REPO_LIMIT
from reconciler.check.limits import load_limits
from reconciler.check.locate import Locator, zone_folder
from reconciler.check.waive import Waived, apply_waivers
from reconciler.check.zonefiles import load_zone, zone_files, zone_name
from reconciler.config.policy import read_policy
from reconciler.config.repo import CONFIG_FILE, DEFAULT, RepoConfig, parse_repo_config
from reconciler.config.tomlfile import utf8_text
from reconciler.errors import Problem, ReconcilerError, ValidationError
from reconciler.model.limits import Limits
from reconciler.model.snapshot import Snapshot
from reconciler.model.zone import CanonicalZone, ZoneText
from reconciler.source.repo import read_file, read_snapshot

POLICY_FILE = "host/policy.toml"


@dataclass(frozen=True)
class Inspection:
    snapshot: Snapshot
    config: RepoConfig
    zone_paths: dict[str, str]  # every zone in the revision: name -> file
    zones: dict[str, CanonicalZone]  # the inspected, valid zones
    problems: tuple[Problem, ...]
    waived: tuple[Waived, ...] = ()  # problems of rules a zone waives in reconciler.toml

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors


def _lenient_vars(text: str) -> dict[str, object]:
    """[vars] of an invalid reconciler.toml, so templates still render and report."""
    try:
        variables = tomllib.loads(text).get("vars", {})
    except tomllib.TOMLDecodeError:
        return {}
    return variables if isinstance(variables, dict) else {}


def read_config(repo: git.Repo, rev: str | None) -> tuple[RepoConfig, list[Problem]]:
    """reconciler.toml at `rev` and what is wrong with it.

    When it is missing or invalid, the defaults (with its [vars], so templates still
    render and report) stand in, and the problems say why.
    """
    text, problems = utf8_text(CONFIG_FILE, read_file(repo, rev, CONFIG_FILE))
    if text is None and not problems:
        return DEFAULT, [Problem(CONFIG_FILE, "missing: run 'reconciler init' or add it")]
    if text is None:
        return DEFAULT, problems
    try:
        return parse_repo_config(text), problems
    except ValidationError as exc:
        return replace(DEFAULT, variables=_lenient_vars(text)), [*problems, *exc.problems]


def load_limits_of(named_conf: Path | None, config: RepoConfig) -> tuple[Limits, list[Problem]]:
    """The limits named loads zones under: the primary's when its named.conf is given and
    readable, else [limits] in reconciler.toml (with a warning saying why)."""
    if named_conf is None:
        return Limits(config.limits), []
    try:
        return cached_primary_limits(named_conf), []
    except ReconcilerError as exc:
        return Limits(config.limits), [
            Problem(
                str(named_conf),
                f"cannot read the primary's limits ({exc}); checked against "
                f"{config.limits.source} instead",
                severity="warning",
            )
        ]


def inspect(
    repo: git.Repo,
    rev: str | None,
    only: Collection[str] | None = None,
    own_checks: bool = True,
    named_conf: Path | None = None,
    max_records: int | None = None,
    progress: Progress | None = None,
    canonical_forms: bool = True,
) -> Inspection:
    """Check revision `rev` (None: the working tree); `only`: just these zones' files.

    `own_checks=False` leaves out the checks BIND does not make: for a revision
    already deployed, whose canonical form is all that is wanted. `named_conf`: the
    primary's, whose load-time limits then apply instead of reconciler.toml's [limits].
    `max_records`: the host's ceiling (daemon.toml [check] max_records), which
    reconciler.toml's [safety] max_records may lower but not raise. `progress` hears of
    each zone as BIND's check of it ends (check/checkzone.py). `canonical_forms=False`:
    the caller wants the problems, not named-checkzone's dump of each zone (`check`), so
    zones BIND loads cleanly may be checked together in one BIND process (checkzone.py).
    """
    config, problems = read_config(repo, rev)
    snapshot = read_snapshot(
        repo, rev, [config.zones_dir], [POLICY_FILE], config.safety.max_zone_bytes
    )
    policy, found = utf8_text(POLICY_FILE, snapshot.text_of(POLICY_FILE))
    problems += found
    if policy is not None:
        try:
            problems += read_policy(policy, POLICY_FILE)[1]  # its warnings
        except ValidationError as exc:
            problems += exc.problems

    if own_checks:
        problems += policy_problems(config.dnssec)
    for path, entry in snapshot.files.items():
        if entry.symlink:
            problems.append(Problem(path, "is a symlink; nothing under the zones folder may be"))
    paths, found = zone_files(snapshot, config.zones_dir)
    problems += found
    texts: list[ZoneText] = []
    for name, path in paths.items():
        if only is not None and name not in only:
            continue
        if snapshot.files[path].symlink:
            continue
        zone, found = load_zone(
            snapshot, config.zones_dir, name, path, config.variables, config.safety.max_zone_bytes
        )
        problems += found
        if zone is not None:
            texts.append(zone)

    records, source = config.safety.max_records, REPO_LIMIT
    if max_records is not None and max_records < records:
        records, source = max_records, HOST_LIMIT
    results = check_zones(
        texts,
        snapshot,
        config.zones_dir,
        max_records=records,
        limit_source=source,
        progress=progress,
        canonical_forms=canonical_forms,
    )
    files = zone_folder(snapshot, config.zones_dir)
    valid: list[checks.Zone] = []
    for result in results:
        problems += mail.long_strings(result.zone, result.problems)
        if result.canonical is not None:
            where = Locator(result.zone, files, config.zones_dir)
            valid.append(checks.Zone(result.zone, result.canonical, where))
    waived: list[Waived] = []
    if own_checks:
        problems += checks.run_all(valid)
        limits, found = load_limits_of(named_conf, config)
        problems += found
        limits = signed_limits(limits, config.dnssec, [z.text.name for z in valid])
        for checked_zone in valid:
            problems += load_limits(checked_zone, limits.of(checked_zone.text.name))
        problems += mail.run(valid)
        problems += dynamic_in_git(valid, config.dynamic)
        problems += unknown_signed(config.dnssec, set(paths))
        checked = {z.text.name for z in valid}
        problems, waived = apply_waivers(problems, config.waivers, set(paths), checked)
    return Inspection(
        snapshot=snapshot,
        config=config,
        zone_paths=paths,
        zones={z.text.name: z.canonical for z in valid},
        problems=tuple(problems),
        waived=tuple(waived),
    )


def zones_touched(paths: Collection[str], zones_dir: str) -> set[str] | None:
    """Zones whose own file changed among `paths`; None (every zone) when a shared file
    (an include, a template piece, reconciler.toml) changed."""
    touched = set()
    for path in paths:
        name = zone_name(path)
        if name and posixpath.dirname(path) == zones_dir:
            touched.add(name)
        elif path.startswith(zones_dir + "/") or path == CONFIG_FILE:
            return None
    return touched
