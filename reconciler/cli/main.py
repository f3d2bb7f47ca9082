"""The command line: the only module that prints and picks exit codes.

Maps the typed errors to exit codes (the README's table) and renders results as
text or JSON. Every other module returns values or raises.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler import log
from reconciler.apply.state import StateLocked
from reconciler.cli import completion, progress, report
from reconciler.config.host import load_host_config
from reconciler.errors import Problem, ReconcilerError, ValidationError
from reconciler.model.names import DEFAULT_BRANCH, address_port
from reconciler.model.outcome import Status
from reconciler.source.repo import changed_paths, open_repo, resolve
from reconciler.version import VERSION

if TYPE_CHECKING:
    from reconciler.check.inspect import Inspection
    from reconciler.host.plan import HostPlan
    from reconciler.model.outcome import Outcome
    from reconciler.model.plan import Plan

# Each command imports what only it needs when it runs: `check` in the pre-receive hook and
# `nudge` in post-receive start on every push, and must not pay for the daemon, the doctor
# or the host half. The groups of other modules are loaded when named (_Commands).

EXIT_OK = 0
EXIT_INVALID = Status.INVALID.exit_code  # also: any error of ours (one line on stderr)
EXIT_BUSY = 5  # the daemon (or another apply) holds the state folder's lock
EXIT_INTERNAL = 70  # a bug: an exception that is not one of ours
FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format."
)


def _edge(func: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command; map errors to one line and an exit code, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = func(*args, **kwargs) or EXIT_OK
        except ValidationError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            code = EXIT_INVALID
        except StateLocked as exc:
            command = click.get_current_context().info_name or ""
            click.echo(f"error: {exc}{_through_the_daemon(exc, command)}", err=True)
            code = EXIT_BUSY
        except ReconcilerError as exc:
            click.echo(f"error: {exc}", err=True)
            code = EXIT_INVALID
        except KeyboardInterrupt:
            code = 130
        except Exception as exc:  # the last edge: one line, not a traceback
            if click.get_current_context().find_root().params.get("debug"):
                raise
            click.echo(
                f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
                err=True,
            )
            code = EXIT_INTERNAL
        sys.exit(code)

    return wrapper


def _through_the_daemon(exc: StateLocked, command: str) -> str:
    """What to do instead when the daemon holds the lock: go through it, or stop it."""
    if exc.holder != "daemon" or command not in ("apply", "rollback"):
        return ""
    stop = "or stop the daemon (systemctl stop reconciler) and run this again"
    if command == "rollback":
        return (
            "; it serves the branch head: to roll back through it, push a revert "
            f"(git revert <commit> && git push), {stop}"
        )
    return (
        "; it applies every push itself: push what you want served (git push; to go "
        f"back, git revert <commit> && git push), {stop}"
    )


class _Commands(click.Group):
    """Commands registered by other modules, loaded only when named or listed."""

    LAZY = {"host": "reconciler.cli.host", "import": "reconciler.cli.adopt"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        for name in self.LAZY:
            self._load(name)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> None:
        if name in self.LAZY and name not in self.commands:
            importlib.import_module(self.LAZY[name]).register(self, _edge)


@click.group(cls=_Commands)
@click.version_option(VERSION, "-V", "--version", prog_name="reconciler")
@click.option(
    "-C",
    "--repo",
    default=".",
    type=click.Path(file_okay=False),
    help="The zone repository (default: the current directory).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (to stderr).")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.pass_context
def main(ctx: click.Context, repo: str, verbose: bool, debug: bool) -> None:
    """GitOps for a BIND primary nameserver and the host it runs on."""
    log.configure(json=False, verbose=verbose)
    ctx.obj = Path(repo)


@main.command("init")
@click.argument("directory", type=click.Path(file_okay=False))
@_edge
def init_command(directory: str) -> int:
    """Create a new zone repository in DIRECTORY from the template."""
    from reconciler.devtools.init import init_repo

    repo = init_repo(Path(directory))
    click.echo(f"created zone repository {directory} (commit {repo.head.commit.hexsha[:12]})")
    click.echo(f"next: edit {directory}/zones/, then 'reconciler -C {directory} check'")
    return EXIT_OK


@main.command("check")
@click.argument("rev", required=False)
@click.option("--base", help="A revision already proven good: check only what changed since.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="On the primary: its daemon.toml, to check against the limits of its named.conf.",
)
@FORMAT
@click.pass_obj
@_edge
def check_command(
    repo_dir: Path, rev: str | None, base: str | None, config_path: str | None, fmt: str
) -> int:
    """Check REV (default: the working tree) as apply would; nothing is deployed."""
    from reconciler.check.inspect import inspect, read_config, zones_touched

    repo = open_repo(repo_dir)
    only = None
    if base is not None:
        zones_dir = read_config(repo, rev)[0].zones_dir
        only = zones_touched(changed_paths(repo, base, rev), zones_dir)
    host = load_host_config(config_path) if config_path else None
    named_conf = host.named_conf if host else None
    ceiling = host.max_records if host else None  # the host's, on the primary (the hook)
    with progress.Bar("checking", progress.wanted(fmt), progress.MANY) as bar:
        result = inspect(
            repo, rev, only=only, named_conf=named_conf, max_records=ceiling, progress=bar.feed()
        )
    if fmt == "json":
        click.echo(report.json_text(report.check_json(result)))
    else:
        click.echo("\n".join(report.check_text(result)))
    return EXIT_OK if result.ok else EXIT_INVALID


@main.command("plan")
@click.option(
    "--base",
    help="The revision deployed now (default: HEAD, or HEAD's parent when --head is given).",
)
@click.option("--head", help="The revision to plan for (default: the working tree).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    help="Output format.",
)
@click.option("--allow-unsafe", is_flag=True, help="Accept changes over the safety limits.")
@click.option(
    "--served",
    is_flag=True,
    help="Plan against what the primary serves (AXFR with the TSIG key), not a revision.",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False),
    help="With --served: the TSIG key file (default: daemon.toml's, with --config).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="With --served: the host's daemon.toml, for its TSIG key file.",
)
@click.option(
    "--parent",
    "parents",
    multiple=True,
    metavar="ADDR[:PORT]",
    help="A server of the parent zone, asked for the DS before signing is turned off or the "
    "algorithm changes (repeatable).",
)
@click.pass_obj
@_edge
def plan_command(
    repo_dir: Path,
    base: str | None,
    head: str | None,
    fmt: str,
    allow_unsafe: bool,
    served: bool,
    key_file: str | None,
    config_path: str | None,
    parents: tuple[str, ...],
) -> int:
    """Show the record-level change per zone, the serials to serve and a safety verdict."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from reconciler.bind.dnssec import parents_ds
    from reconciler.check.inspect import inspect, read_config, zones_touched
    from reconciler.cli import host
    from reconciler.model.dnssec import breaking_ds
    from reconciler.model.plan import allows_unsafe, make_plan

    repo = open_repo(repo_dir)
    if head is not None:
        resolve(repo, head)
    if served:
        return _plan_served(repo, head, fmt, allow_unsafe, key_file, config_path)
    if base is None:
        base = "HEAD" if head is None else _parent(repo, head)
    before = None
    only: set[str] | None = None
    host_plan = None
    host_problems: tuple[Problem, ...] = ()
    if base is not None:
        zones_dir = read_config(repo, head)[0].zones_dir
        changed = changed_paths(repo, base, head)
        only = zones_touched(changed, zones_dir)
        if host.touches_host(changed):  # the host section of the same comment
            try:
                host_plan = host.review(repo, base, head)
            except ValidationError as exc:  # a template that does not render: invalid
                host_problems = exc.problems
        with (
            progress.Bar("planning", progress.wanted(fmt), progress.MANY) as bar,
            ThreadPoolExecutor(max_workers=1) as pool,  # base and head side by side
        ):
            other = open_repo(repo_dir)  # a git.Repo is not shared between threads
            pending = pool.submit(inspect, other, base, only, False, progress=bar.feed())
            after = inspect(repo, head, only=only, progress=bar.feed())
            before = pending.result()
    else:
        with progress.Bar("planning", progress.wanted(fmt), progress.MANY) as bar:
            after = inspect(repo, head, only=only, progress=bar.feed())
    allowed = allow_unsafe or allows_unsafe(after.snapshot.trailers)
    dnssec = (before.config.dnssec if before else after.config.dnssec, after.config.dnssec)
    endpoints = [address_port(p, "--parent") for p in parents]
    at_parent = parents_ds(endpoints, breaking_ds(*dnssec, before.zones if before else ()), 1.0)
    plan = make_plan(
        before.zones if before else {},
        after.zones,
        base_label=before.snapshot.label if before else "(empty)",
        head_label=after.snapshot.label,
        safety=before.config.safety if before else after.config.safety,  # the base judges
        scheme=after.config.serial_scheme,
        now=datetime.now(UTC),
        allow_unsafe=allowed,
        proposed=after.config.safety,
        problems=after.problems + tuple(p for p in host_problems if p not in after.problems),
        invalid=set(after.zone_paths if only is None else only & set(after.zone_paths))
        - set(after.zones),
        untouched=set() if only is None or before is None else _untouched(before, after, only),
        dnssec=dnssec,
        parent_ds=at_parent,
    )
    return _print_plan(plan, fmt, host_plan)


def _print_plan(plan: Plan, fmt: str, host_plan: HostPlan | None = None) -> int:
    from reconciler.cli import hostreport

    if fmt == "json":
        extra = {"host": host_plan.to_dict()} if host_plan else {}
        click.echo(report.json_text({**plan.to_dict(), **extra}))
    elif fmt == "markdown":
        click.echo(report.plan_markdown(plan))
        if host_plan:
            click.echo("\n" + hostreport.plan_markdown(host_plan))
    else:
        click.echo(report.plan_text(plan))
        if host_plan:
            click.echo(hostreport.plan_text(host_plan))
    if plan.verdict == "invalid":
        return EXIT_INVALID
    return Status.UNSAFE.exit_code if plan.verdict == "unsafe" else EXIT_OK


def _plan_served(
    repo: Any,
    head: str | None,
    fmt: str,
    allow_unsafe: bool,
    key_file: str | None,
    config_path: str | None,
) -> int:
    """The plan of `head` against what the primary of its reconciler.toml serves now."""
    from datetime import UTC, datetime

    from reconciler.apply.served import served_zones
    from reconciler.bind.keys import read_key_file
    from reconciler.check.inspect import inspect
    from reconciler.model.plan import allows_unsafe, make_plan

    if key_file is None and config_path is None:
        raise click.UsageError("--served needs --key-file or --config (for the TSIG key)")
    path = Path(key_file) if key_file else load_host_config(str(config_path)).transfer_key_file
    after = inspect(repo, head)
    primary = after.config.primary
    before = served_zones(primary, after.zone_paths, read_key_file(path))
    plan = make_plan(
        before,
        after.zones,
        base_label=f"served by {primary.name}",
        head_label=after.snapshot.label,
        safety=after.config.safety,
        scheme=after.config.serial_scheme,
        now=datetime.now(UTC),
        served={zone: copy.serial for zone, copy in before.items()},
        allow_unsafe=allow_unsafe or allows_unsafe(after.snapshot.trailers),
        problems=after.problems,
        invalid=set(after.zone_paths) - set(after.zones),
    )
    return _print_plan(plan, fmt)


def _untouched(before: Inspection, after: Inspection, only: set[str]) -> set[str]:
    """Zones in both revisions whose files did not change: unchanged, not checked again."""
    return (set(before.zone_paths) & set(after.zone_paths)) - only


def _parent(repo: Any, rev: str) -> str | None:
    commit = resolve(repo, rev)
    return commit.parents[0].hexsha if commit.parents else None


CONFIG = click.option(
    "--config",
    "config_path",
    default="/etc/reconciler/daemon.toml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The host's daemon.toml.",
)


def _print_outcome(outcome: Outcome, fmt: str) -> int:
    if fmt == "json":
        click.echo(report.json_text(outcome.to_dict()))
    else:
        click.echo(report.outcome_text(outcome))
    return outcome.exit_code


@main.command("apply")
@click.argument("rev", required=False)
@CONFIG
@click.option("--allow-unsafe", is_flag=True, help="Accept changes over the safety limits.")
@click.option(
    "--allow-non-descendant",
    is_flag=True,
    help="Apply a commit that does not descend from the last applied one.",
)
@FORMAT
@_edge
def apply_command(
    rev: str | None, config_path: str, allow_unsafe: bool, allow_non_descendant: bool, fmt: str
) -> int:
    """Reconcile to REV (default: the branch head): serve, confirm, or roll back."""
    from reconciler.apply import reconcile

    host = load_host_config(config_path)
    outcome = reconcile.apply(
        host, rev, allow_unsafe=allow_unsafe, allow_non_descendant=allow_non_descendant
    )
    return _print_outcome(outcome, fmt)


@main.command("run")
@CONFIG
@click.option("-v", "--verbose", "debug_log", is_flag=True, help="Log debug events too.")
@_edge
def run_command(config_path: str, debug_log: bool) -> int:
    """The daemon: watch the repo and reconcile every new commit (JSON logs on stderr)."""
    from reconciler.serve import daemon

    log.configure(json=True, verbose=True, level="debug" if debug_log else "info")
    daemon.Daemon(Path(config_path)).run()
    return EXIT_OK


@main.command("rollback")
@click.option(
    "--to",
    "rev",
    help="The commit to serve again (default: the parent of the last applied commit).",
)
@CONFIG
@click.option("--allow-unsafe", is_flag=True, help="Accept changes over the safety limits.")
@FORMAT
@_edge
def rollback_command(rev: str | None, config_path: str, allow_unsafe: bool, fmt: str) -> int:
    """Serve an earlier commit's content again, with serials moved forward."""
    from reconciler.apply import reconcile
    from reconciler.apply.state import load_state

    host = load_host_config(config_path)
    if rev is None:
        last = load_state(host.state_dir).last_applied
        if last is None:
            raise ReconcilerError("nothing applied yet: nothing to roll back")
        parent = _parent(open_repo(host.repo), last)
        if parent is None:
            raise ReconcilerError(f"{last[:12]} has no parent; name a commit with --to")
        rev = parent
    outcome = reconcile.apply(host, rev, allow_unsafe=allow_unsafe, allow_non_descendant=True)
    return _print_outcome(outcome, fmt)


@main.command("status")
@CONFIG
@FORMAT
@_edge
def status_command(config_path: str, fmt: str) -> int:
    """Deployed commit, each zone's serial on every server (asked live), last failure."""
    from reconciler.apply import status
    from reconciler.cli import hostreport
    from reconciler.serve.hostwatch import read_summary

    host = load_host_config(config_path)
    result = status.gather(host)
    audited = read_summary(host) if host.host.mode != "off" else None
    if fmt == "json":
        click.echo(report.json_text({**result.to_dict(), "host": audited}))
    else:
        click.echo(report.status_text(result))
        if audited is not None:
            click.echo(hostreport.status_text(audited))
    return EXIT_OK


@main.group("dnssec")
def dnssec_group() -> None:
    """The signed zones' keys (BIND signs; the DS at the parent is the operator's step)."""


@dnssec_group.command("status")
@click.argument("zone", required=False)
@CONFIG
@FORMAT
@_edge
def dnssec_status_command(zone: str | None, config_path: str, fmt: str) -> int:
    """Each signed zone's keys and their states (rndc dnssec -status), and the next step."""
    from reconciler.apply import keys

    zones = keys.gather(load_host_config(config_path), zone)
    if fmt == "json":
        click.echo(report.json_text({"zones": [z.to_dict() for z in zones]}))
    else:
        click.echo(report.dnssec_status_text(zones))
    return EXIT_OK


@main.command("bind-config")
@click.option("--secondary", "name", required=True, help="The secondary's name in reconciler.toml.")
@click.option(
    "--software",
    type=click.Choice(["bind", "knot"]),
    default="bind",
    show_default=True,
    help="The secondary's name server: BIND (named.conf pieces) or Knot DNS (a knot.conf).",
)
@click.option(
    "--key-file",
    default=None,
    help="Where the TSIG key file is on the secondary "
    "[default: /etc/bind/transfer.key; Knot: /etc/knot/transfer.key.conf].",
)
@click.option(
    "--zone-dir",
    default=None,
    help="Where the secondary keeps the zones it learns from the catalog "
    "[default: /var/cache/bind/catalog; Knot: /var/lib/knot].",
)
@click.option(
    "--min-update-interval",
    type=click.IntRange(min=0),
    default=None,
    help="Seconds between two applied catalog updates (BIND's default: 5).",
)
@click.option("--rev", default=None, help="Read reconciler.toml at this revision.")
@FORMAT
@click.pass_obj
@_edge
def bind_config_command(
    repo_dir: Path,
    name: str,
    software: str,
    key_file: str | None,
    zone_dir: str | None,
    min_update_interval: int | None,
    rev: str | None,
    fmt: str,
) -> int:
    """Print the BIND configuration a secondary needs (primaries, TSIG, catalog zone)."""
    from reconciler.bind.conf import secondary_config
    from reconciler.bind.knot import knot_config
    from reconciler.check.inspect import read_config

    config, invalid = read_config(open_repo(repo_dir), rev)
    if invalid:
        raise ValidationError(invalid)
    names = [s.name for s in config.secondaries]
    if name not in names:
        raise ReconcilerError(
            f"reconciler.toml: no secondary named '{name}' (have: {', '.join(names) or 'none'})"
        )
    if software == "knot":
        if min_update_interval is not None:
            raise ReconcilerError(
                "--min-update-interval is BIND's; Knot applies catalog changes at once"
            )
        secondary = next(s for s in config.secondaries if s.name == name)
        knot = knot_config(
            config.primary,
            secondary,
            config.tsig_key,
            Path(key_file or "/etc/knot/transfer.key.conf"),
            Path(zone_dir or "/var/lib/knot"),
        )
        if fmt == "json":
            click.echo(
                report.json_text(
                    {
                        "secondary": name,
                        "software": "knot",
                        "primary": knot.primary,
                        "key_file": str(knot.key_file),
                        "zone_dir": str(knot.storage),
                        "knot_conf": knot.config,
                    }
                )
            )
        else:
            click.echo(knot.text(), nl=False)
        return EXIT_OK
    piece = secondary_config(
        config.primary,
        config.tsig_key,
        Path(key_file or "/etc/bind/transfer.key"),
        Path(zone_dir or "/var/cache/bind/catalog"),
        min_update_interval=min_update_interval,
    )
    if fmt == "json":
        click.echo(
            report.json_text(
                {
                    "secondary": name,
                    "software": "bind",
                    "primary": piece.primary,
                    "key_file": str(piece.key_file),
                    "zone_dir": str(piece.zone_dir),
                    "top_level": piece.top_level,
                    "options": piece.options,
                }
            )
        )
    else:
        click.echo(piece.text())
    return EXIT_OK


@main.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Where to set the demo up (default: a new temporary folder).",
)
@click.option("--detach", is_flag=True, help="Leave it running and return (needs --dir).")
@click.option("--stop", "stop_it", is_flag=True, help="Stop the demo running in --dir.")
@_edge
def demo_command(directory: str | None, detach: bool, stop_it: bool) -> int:
    """A primary and two secondaries on loopback, a zone repo, one apply: try it."""
    import tempfile

    from reconciler.apply import status
    from reconciler.devtools import demo
    from reconciler.serve import daemon

    if (detach or stop_it) and not directory:
        raise ReconcilerError("--detach and --stop need --dir DIR")
    if stop_it:
        stopped = demo.stop(Path(directory or "."))
        ended = f"the daemon (pid {stopped.daemon}) and " if stopped.daemon else ""
        click.echo(f"stopped {ended}{stopped.servers} name server(s) of the demo in {directory}")
        return EXIT_OK
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="reconciler-demo-"))
    click.echo(f"starting a primary and two secondaries in {root} ...")
    sandbox = demo.setup(root.resolve())
    try:
        click.echo(report.outcome_text(sandbox.outcome))
        click.echo("")
        click.echo(report.status_text(status.gather(sandbox.host)))
        click.echo("")
        click.echo(report.demo_text(sandbox))
        if detach:
            pid = demo.start_daemon(sandbox.root)
            click.echo(
                f"\nthe daemon runs in the background (pid {pid}, log "
                f"{sandbox.root / 'daemon.log'}); stop it all with: "
                f"reconciler demo --dir {root} --stop"
            )
            return sandbox.outcome.exit_code
        click.echo(
            "\nThe daemon is watching the repo: each push is reconciled here. "
            "Ctrl-C stops the daemon and the name servers.\n"
        )
        log.configure(json=False, level="info")
        daemon.Daemon(sandbox.root / "daemon.toml").run()  # until Ctrl-C or TERM
        click.echo("\nstopping ...")
    except KeyboardInterrupt:
        click.echo("\nstopping ...")
    finally:
        if not detach:
            sandbox.servers.stop_all()
            (sandbox.root / demo.RECORD).unlink(missing_ok=True)
    return EXIT_OK


@main.command("install-hooks")
@click.argument("repo_path", metavar="REPO", type=click.Path(file_okay=False))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="The daemon.toml post-receive nudges (default: /etc/reconciler/daemon.toml).",
)
@click.option(
    "--branch", help="The branch pushes are checked on (default: the config's branch, or main)."
)
@click.option("--reconciler", "program", help="The reconciler the hooks run (default: this one).")
@click.option("--force", is_flag=True, help="Replace hooks that dns-reconciler did not write.")
@FORMAT
@_edge
def install_hooks_command(
    repo_path: str,
    config_path: str | None,
    branch: str | None,
    program: str | None,
    force: bool,
    fmt: str,
) -> int:
    """Install the pre-receive check and post-receive nudge into the bare repo REPO."""
    from reconciler.serve import hooks

    config = Path(config_path) if config_path else None
    if branch is None:
        branch = load_host_config(config).branch if config else DEFAULT_BRANCH
    program = program or hooks.default_program()
    written = hooks.install_hooks(Path(repo_path), program, config, branch, force=force)
    if fmt == "json":
        installed = {"installed": [str(p) for p in written], "reconciler": program}
        click.echo(report.json_text({**installed, "branch": branch}))
        return EXIT_OK
    for path in written:
        click.echo(f"installed {path}")
    click.echo(
        f"pushes to {branch} are checked with {program} before they are accepted; "
        "the daemon is nudged after each"
    )
    return EXIT_OK


@main.command("nudge")
@CONFIG
@FORMAT
@_edge
def nudge_command(config_path: str, fmt: str) -> int:
    """Ask the daemon to reconcile now (the post-receive hook); exit 0 even if it is down."""
    from reconciler.serve import hooks

    result = hooks.nudge(load_host_config(config_path).http_listen)
    where = f"the daemon at {result.address}"
    if fmt == "json":
        click.echo(report.json_text({"address": result.address, "status": result.status}))
    elif result.status is not None and 200 <= result.status < 300:
        click.echo(f"nudged {where}")
    elif result.answered:
        click.echo(f"{where} answered HTTP {result.status}; it will see the push on its own")
    else:
        click.echo(f"{where} did not answer; it will see the push on its own")
    return EXIT_OK


@main.command("doctor")
@click.argument("zone", required=False)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="The host's daemon.toml: check what is deployed (default: the zone repo of -C).",
)
@click.option(
    "--rev",
    help="The repo revision whose zones and servers to check (default: the "
    "working tree; HEAD for a bare repo). Not with --config.",
)
@click.option(
    "--parent",
    "parents",
    multiple=True,
    metavar="ADDR[:PORT]",
    help="A server of the parent zone (repeatable). Then no resolver is asked.",
)
@click.option(
    "--server",
    "servers",
    multiple=True,
    metavar="NAME=ADDR[:PORT]",
    help="Ask this server too, or at this address (repeatable); NAME is matched to NS names.",
)
@click.option(
    "--resolver",
    metavar="ADDR[:PORT]",
    help="The resolver that finds parent servers and outside MX targets (default: the system's).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.05, max=30),
    help="Seconds per query (default: 1, or daemon.toml's query_timeout).",
)
@click.option(
    "--expiry-warning",
    type=click.FloatRange(min=0),
    default=7.0,
    show_default=True,
    help="Days: an RRSIG that expires sooner is a warning.",
)
@click.option(
    "--expiry-problem",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Days: an RRSIG that expires sooner is a problem.",
)
@FORMAT
@click.pass_obj
@_edge
def doctor_command(
    repo_dir: Path,
    zone: str | None,
    config_path: str | None,
    rev: str | None,
    parents: tuple[str, ...],
    servers: tuple[str, ...],
    resolver: str | None,
    timeout: float | None,
    expiry_warning: float,
    expiry_problem: float,
    fmt: str,
) -> int:
    """Check delegation, glue, every nameserver, DNSSEC, mail, exposure and transfers, live."""
    from reconciler import doctor

    if config_path and rev:
        raise ReconcilerError(
            "--rev reads the zone repo of -C; with --config the deployed commit is checked"
        )
    host = load_host_config(config_path) if config_path else None
    seconds = timeout if timeout is not None else (host.query_timeout if host else 1.0)
    endpoints = tuple(doctor.parse_endpoint(p) for p in parents)
    options = doctor.Options(
        timeout=seconds,
        parents=endpoints,
        extra=tuple(doctor.parse_server(s) for s in servers),
        resolver=doctor.make_resolver(
            doctor.parse_endpoint(resolver, "--resolver") if resolver else None,
            seconds,
            parents_given=bool(endpoints),
        ),
        expiry_warning=expiry_warning * 86400,
        expiry_problem=expiry_problem * 86400,
    )
    if host is not None:
        result = doctor.from_host(host, zone, options)
    else:
        result = doctor.from_repo(repo_dir, rev, zone, options)
    click.echo(report.json_text(result.to_dict()) if fmt == "json" else result.text())
    return EXIT_OK if result.healthy else EXIT_INVALID


completion.register(main)  # reconciler completion bash|zsh|fish (cli/completion.py)
