"""`reconciler host audit|plan|apply`: the host half's commands.

The policy is host/policy.toml (and any template overrides in host/) of the zone repo that
daemon.toml names, at `--rev` (default: the branch head), or of a folder (`--policy DIR`).
Exit codes: audit 0 in policy, 1 drift, 2 something could not be read; plan 0 (1 invalid);
apply 0 applied or nothing to do, 1 invalid or refused by a validator, 2 rolled back,
3 refused (it would lock the operators out). Registered on the main group by cli/main.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reconciler.cli import hostreport, report
from reconciler.cli.options import CONFIG, Edge
from reconciler.config.host import HostConfig, HostSettings, load_host_config
from reconciler.host.plan import HostPlan, review_plan
from reconciler.host.render import Traits, render
from reconciler.host.session import Session, open_session
from reconciler.host.source import PolicySource, from_folder, from_repo
from reconciler.source.repo import open_repo


def load_source(host: HostConfig, rev: str | None, policy_dir: str | None) -> PolicySource:
    if policy_dir is not None:
        return from_folder(Path(policy_dir))
    return from_repo(open_repo(host.repo), rev or host.branch)


def context(config_path: str, rev: str | None, policy_dir: str | None) -> Session:
    host = load_host_config(config_path)
    return open_session(host, load_source(host, rev, policy_dir))


def review(repo: Any, base: str, head: str | None) -> HostPlan:
    """The host section of `reconciler plan`: host/ rendered at base and at head (None: the
    working tree), for a systemd host with daemon.toml's default paths."""
    settings, traits = HostSettings(), Traits(journal=True)
    before, after = from_repo(repo, base), from_repo(repo, head)
    return review_plan(
        render(before.policy, settings, traits, before.overrides),
        render(after.policy, settings, traits, after.overrides),
        before.policy,
        after.policy,
        before.label,
        after.label,
    )


def _options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            CONFIG,
            click.option(
                "--rev", help="The repo revision whose host/ to use (default: the branch head)."
            ),
            click.option(
                "--policy",
                "policy_dir",
                type=click.Path(file_okay=False, exists=True),
                help="A folder with policy.toml (and NAME.j2 overrides) to use instead.",
            ),
        ]
    ):
        func = option(func)
    return func


def register(main: click.Group, edge: Edge) -> None:
    @main.group("host")
    def host_group() -> None:
        """The primary host against host/policy.toml: audit, plan, apply."""

    @host_group.command("audit")
    @_options
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
    @edge
    def audit_command(config_path: str, rev: str | None, policy_dir: str | None, fmt: str) -> int:
        """Read the live host and report, per item, in policy or drift (found / wanted)."""
        ctx = context(config_path, rev, policy_dir)
        result = ctx.audit()
        if fmt == "json":
            click.echo(report.json_text({"policy": ctx.source.label, **result.to_dict()}))
        else:
            click.echo(hostreport.audit_text(result, ctx.source.label))
        return result.exit_code

    @host_group.command("plan")
    @_options
    @click.option(
        "--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text"
    )
    @edge
    def plan_command(config_path: str, rev: str | None, policy_dir: str | None, fmt: str) -> int:
        """What `host apply` would change: a diff of each managed file, and the commands."""
        plan = context(config_path, rev, policy_dir).plan()
        if fmt == "json":
            click.echo(report.json_text({**plan.to_dict(), "changes": not plan.empty}))
        elif fmt == "markdown":
            click.echo(hostreport.plan_markdown(plan))
        else:
            click.echo(hostreport.plan_text(plan))
        return 0

    @host_group.command("apply")
    @_options
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
    @edge
    def apply_command(config_path: str, rev: str | None, policy_dir: str | None, fmt: str) -> int:
        """Make the host match the policy: check, write, reload, verify; revert on failure."""
        outcome = context(config_path, rev, policy_dir).apply()
        if fmt == "json":
            click.echo(report.json_text(outcome.to_dict()))
        else:
            click.echo(hostreport.apply_text(outcome))
            for problem in outcome.problems:
                click.echo(str(problem), err=True)
        return outcome.exit_code
