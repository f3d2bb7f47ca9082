"""The command line: the only module that prints and picks exit codes.

Maps the typed errors to exit codes (DESIGN.md's table) and renders results as
text or JSON. Every other module returns values or raises.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

import click

from . import log, report, source
from .check import inspect, zones_touched
from .errors import ReconcilerError, ValidationError
from .init import init_repo
from .plan import ALLOW_TRAILER, make_plan

EXIT_OK, EXIT_INVALID, EXIT_ROLLED_BACK, EXIT_UNSAFE, EXIT_UNCONFIRMED = 0, 1, 2, 3, 4
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
            code = 70
        sys.exit(code)

    return wrapper


@click.group()
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
    repo = init_repo(Path(directory))
    click.echo(f"created zone repository {directory} (commit {repo.head.commit.hexsha[:12]})")
    click.echo(f"next: edit {directory}/zones/, then 'reconciler -C {directory} check'")
    return EXIT_OK


@main.command("check")
@click.argument("rev", required=False)
@click.option("--base", help="A revision already proven good: check only what changed since.")
@FORMAT
@click.pass_obj
@_edge
def check_command(repo_dir: Path, rev: str | None, base: str | None, fmt: str) -> int:
    """Check REV (default: the working tree) as apply would; nothing is deployed."""
    repo = source.open_repo(repo_dir)
    only = None
    if base is not None:
        head = inspect(repo, rev, only=())
        changed = source.changed_paths(repo, base, rev)
        only = zones_touched(changed, head.zone_paths, head.config.zones_dir)
    result = inspect(repo, rev, only=only)
    if fmt == "json":
        click.echo(json.dumps(report.check_json(result), indent=2))
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
@click.pass_obj
@_edge
def plan_command(
    repo_dir: Path, base: str | None, head: str | None, fmt: str, allow_unsafe: bool
) -> int:
    """Show the record-level change per zone, the serials to serve and a safety verdict."""
    repo = source.open_repo(repo_dir)
    if head is not None:
        source.resolve(repo, head)
    if base is None:
        base = "HEAD" if head is None else _parent(repo, head)
    after_all = inspect(repo, head, only=())
    before = None
    only = set(after_all.zone_paths)
    if base is not None:
        before_all = inspect(repo, base, only=())
        changed = source.changed_paths(repo, base, head)
        every = {**before_all.zone_paths, **after_all.zone_paths}
        only = zones_touched(changed, every, after_all.config.zones_dir)
        before = inspect(repo, base, only=only)
    after = inspect(repo, head, only=only)
    allowed = allow_unsafe or ALLOW_TRAILER.lower() in after.snapshot.message.lower()
    plan = make_plan(
        before.zones if before else {},
        after.zones,
        base_label=before.snapshot.label if before else "(empty)",
        head_label=after.snapshot.label,
        safety=after.config.safety,
        scheme=after.config.serial_scheme,
        now=datetime.now(UTC),
        allow_unsafe=allowed,
        problems=after.problems,
        invalid=(only & set(after.zone_paths)) - set(after.zones),
    )
    if fmt == "json":
        click.echo(json.dumps(plan.to_dict(), indent=2))
    elif fmt == "markdown":
        click.echo(report.plan_markdown(plan))
    else:
        click.echo(report.plan_text(plan))
    if plan.verdict == "invalid":
        return EXIT_INVALID
    return EXIT_UNSAFE if plan.verdict == "unsafe" else EXIT_OK


def _parent(repo: Any, rev: str) -> str | None:
    commit = source.resolve(repo, rev)
    return commit.parents[0].hexsha if commit.parents else None


if __name__ == "__main__":
    main()
