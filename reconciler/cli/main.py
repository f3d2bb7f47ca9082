"""The command line: the group, the edge that maps typed errors to exit codes, and the
commands a push or the daemon's host runs (init, check, apply, run, rollback, status,
install-hooks, nudge).

The other commands live in their own modules of cli/ (plan, doctor, bind-config, demo,
dnssec, host, import), each with a `register(main, edge)`, loaded when named: the hooks'
`check` and `nudge` start on every push and do not pay for them. Only cli/ prints.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import click

from reconciler.apply.state import StateLocked
from reconciler.cli import completion, progress, report
from reconciler.cli.options import (
    CONFIG,
    EXIT_BUSY,
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    FORMAT,
)
from reconciler.config.host import HostConfig, load_host_config
from reconciler.errors import ReconcilerError, ValidationError
from reconciler.model.names import DEFAULT_BRANCH
from reconciler.source.repo import changed_paths, open_repo, parent_of
from reconciler.version import VERSION

if TYPE_CHECKING:
    from reconciler.model.outcome import Outcome

# Each command imports what only it needs when it runs: `check` in the pre-receive hook and
# `nudge` in post-receive start on every push, and must not pay for the daemon, the doctor
# or the host half. The groups of other modules are loaded when named (_Commands).
# Nothing on their path logs (tests/test_startup.py): without -v they do not even load
# structlog (and with it rich and asyncio), which log.configure would.
UNLOGGED = frozenset({"check", "nudge"})


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

    LAZY = {
        "plan": "reconciler.cli.plan",
        "dnssec": "reconciler.cli.dnssec",
        "bind-config": "reconciler.cli.bindconfig",
        "demo": "reconciler.cli.demo",
        "doctor": "reconciler.cli.doctor",
        "host": "reconciler.cli.host",
        "import": "reconciler.cli.adopt",
    }

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
    if verbose or ctx.invoked_subcommand not in UNLOGGED:
        from reconciler import log

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
    host = _host_config(config_path)
    named_conf = host.named_conf if host else None
    ceiling = host.max_records if host else None  # the host's, on the primary (the hook)
    with progress.Bar("checking", progress.wanted(fmt), progress.MANY) as bar:
        result = inspect(
            repo,
            rev,
            only=only,
            named_conf=named_conf,
            max_records=ceiling,
            progress=bar.feed(),
            canonical_forms=False,  # the verdict only: many zones in one BIND process
        )
    if fmt == "json":
        click.echo(report.json_text(report.check_json(result)))
    else:
        click.echo("\n".join(report.check_text(result)))
    return EXIT_OK if result.ok else EXIT_INVALID


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

    host = _host_config(config_path)
    outcome = reconcile.apply(
        host, rev, allow_unsafe=allow_unsafe, allow_non_descendant=allow_non_descendant
    )
    return _print_outcome(outcome, fmt)


@overload
def _host_config(config_path: str) -> HostConfig: ...
@overload
def _host_config(config_path: str | None) -> HostConfig | None: ...
def _host_config(config_path: str | None) -> HostConfig | None:
    """daemon.toml (None without one), and the check cache it names and shares
    (check/cache.py); without one, the reader's own cache."""
    from reconciler.check import cache

    host = load_host_config(config_path) if config_path else None
    cache.configure(host.cache_dir if host else None, host.cache_writers if host else ())
    return host


@main.command("run")
@CONFIG
@click.option("-v", "--verbose", "debug_log", is_flag=True, help="Log debug events too.")
@_edge
def run_command(config_path: str, debug_log: bool) -> int:
    """The daemon: watch the repo and reconcile every new commit (JSON logs on stderr)."""
    from reconciler import log
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

    host = _host_config(config_path)
    if rev is None:
        last = load_state(host.state_dir).last_applied
        if last is None:
            raise ReconcilerError("nothing applied yet: nothing to roll back")
        parent = parent_of(open_repo(host.repo), last)
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
    watched = hooks.daemon_watches(Path(repo_path), config)
    after = "the daemon sees each on its own" if watched else "the daemon is nudged after each"
    click.echo(f"pushes to {branch} are checked with {program} before they are accepted; {after}")
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


completion.register(main)  # reconciler completion bash|zsh|fish (cli/completion.py)
