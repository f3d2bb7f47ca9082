"""Doctor's inputs: command-line endpoints, which zones and which servers to ask.

`from_repo` and `from_host` are the entry points cli/doctor.py calls.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import dns.exception
import dns.name
import dns.resolver

from reconciler.apply.state import load_state
from reconciler.bind.keys import read_key_file
from reconciler.check.inspect import inspect
from reconciler.config.host import HostConfig
from reconciler.config.repo import CONFIG_FILE, RepoConfig, Server
from reconciler.doctor.facts import _served_serial, gather
from reconciler.doctor.findings import evaluate
from reconciler.doctor.values import Endpoint, Options, Report, targets_of
from reconciler.errors import ConfigError, Problem, ReconcilerError, ValidationError
from reconciler.model.names import address_port
from reconciler.source.repo import open_repo

# --- options from the command line -----------------------------------------------------------


def parse_endpoint(text: str, what: str = "--parent") -> Endpoint:
    """`ADDR`, `ADDR:PORT`, `[V6ADDR]:PORT` or a bare IPv6 address; port 53 by default."""
    return Endpoint(*address_port(text, what))


def parse_server(text: str) -> Server:
    """`NAME=ADDR[:PORT]` for `--server`: a server to ask, matched to NS names by NAME."""
    name, sep, where = text.partition("=")
    if not sep or not name.strip():
        raise ConfigError(f"--server {text!r}: expected NAME=ADDR[:PORT]")
    try:
        endpoint = parse_endpoint(where)
    except ConfigError:
        raise ConfigError(
            f"--server {text!r}: expected NAME=ADDR[:PORT] with an IP address and a port 1-65535"
        ) from None
    return Server(name.strip().rstrip(".").lower(), endpoint.address, endpoint.port)


def make_resolver(
    endpoint: Endpoint | None, timeout: float, parents_given: bool
) -> dns.resolver.Resolver | None:
    """The resolver doctor may ask: the one at `endpoint` when given; else none when parent
    servers are given (a private setup: nothing but the named servers is asked); else the
    system's (/etc/resolv.conf). Timeouts are bounded."""
    if endpoint is None and parents_given:
        return None
    if endpoint is None:
        try:
            resolver = dns.resolver.Resolver()
        except dns.exception.DNSException as exc:
            raise ConfigError(f"no system resolver ({exc}): pass --resolver or --parent") from None
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [endpoint.address]
        resolver.port = endpoint.port
    resolver.timeout = timeout
    resolver.lifetime = 3 * timeout
    return resolver


# --- which zones and servers ------------------------------------------------------------------


def _pick(zones: Collection[str], wanted: str | None, where: str) -> tuple[str, ...]:
    if wanted is None:
        return tuple(sorted(zones))
    name = wanted.lower().rstrip(".")
    if name not in zones:
        have = ", ".join(sorted(zones)) or "none"
        raise ReconcilerError(f"zone {name} is not {where} (have: {have})")
    return (name,)


def from_repo(repo_dir: Path, rev: str | None, zone: str | None, options: Options) -> Report:
    """Doctor for the zones and servers of a zone repo (`rev`; None: the working tree, or
    HEAD for a bare repo)."""
    repo = open_repo(repo_dir)
    if rev is None and repo.bare:
        rev = "HEAD"
    found = inspect(repo, rev, only=())
    _config_ok(found.problems)
    zones = _pick(found.zone_paths, zone, "in the repo")
    where = f"{Path(repo_dir).absolute()} at {found.snapshot.label}"  # "." says nothing
    return diagnose(zones, set(found.zone_paths), found.config, options, where)


def from_host(host: HostConfig, zone: str | None, options: Options) -> Report:
    """Doctor for what the daemon deployed: the zones state.json records (else the branch
    head's) and the servers of reconciler.toml at the last applied commit; the serials it
    recorded and the transfer key are used too."""
    state = load_state(host.state_dir)
    repo = open_repo(host.repo)
    rev = state.last_applied or host.branch
    found = inspect(repo, rev, only=())
    _config_ok(found.problems)
    known = set(state.zones) or set(found.zone_paths)
    zones = _pick(known, zone, "deployed")
    key, note = None, ""
    if options.key is None:
        try:
            key = read_key_file(host.transfer_key_file)
        except ReconcilerError as exc:
            note = f"the transfer key was not read ({exc})"
    options = replace(
        options,
        key=options.key or key,
        key_note=note,
        recorded={**{z: s.serial for z, s in state.zones.items()}, **options.recorded},
    )
    label = f"deployed {rev[:12]}" if state.last_applied else f"{host.branch} (nothing applied)"
    return diagnose(zones, known | set(found.zone_paths), found.config, options, label)


def _config_ok(problems: Iterable[Problem]) -> None:
    """Refuse to guess servers from an invalid reconciler.toml (the defaults are not them)."""
    bad = [p for p in problems if p.file == CONFIG_FILE and p.severity == "error"]
    if bad:
        raise ValidationError(bad)


def diagnose(
    zones: Sequence[str],
    repo_zones: Collection[str],
    config: RepoConfig,
    options: Options,
    source_label: str,
) -> Report:
    """Ask, evaluate, report: doctor for `zones` on the servers of `config`."""
    targets = targets_of(config, options.extra)
    options = replace(options, signed=frozenset(z for z in zones if config.dnssec.signed(z)))
    facts = gather(zones, repo_zones, targets, options, config.tsig_key)
    parents: set[str] = set()
    for zone_facts in facts.zone.values():
        parents |= {endpoint.label for endpoint, _answer in zone_facts.parents}
    serials = {z: _served_serial(facts.server.get((z, targets[0].name)), z) for z in facts.zones}
    return Report(
        source=source_label,
        zones=tuple(zones),
        servers=targets,
        parents=tuple(sorted(parents)),
        findings=evaluate(facts, options),
        serials=serials,
    )
