"""`reconciler plan`: the record-level change per zone, its serials and its verdict."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli import progress, report
from reconciler.cli.options import EXIT_INVALID, EXIT_OK, Edge
from reconciler.config.host import load_host_config
from reconciler.errors import Problem, ValidationError
from reconciler.model.names import address_port, touches_host
from reconciler.model.outcome import Status
from reconciler.source.repo import changed_paths, open_repo, parent_of, resolve

if TYPE_CHECKING:
    from reconciler.check.inspect import Inspection
    from reconciler.host.plan import HostPlan
    from reconciler.model.plan import Plan


def register(main: click.Group, edge: Edge) -> None:
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
    @edge
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
        from reconciler.model.dnssec import breaking_ds
        from reconciler.model.plan import allows_unsafe, make_plan

        repo = open_repo(repo_dir)
        if head is not None:
            resolve(repo, head)
        if served:
            return _plan_served(repo, head, fmt, allow_unsafe, key_file, config_path)
        if base is None:
            base = "HEAD" if head is None else parent_of(repo, head)
        before = None
        only: set[str] | None = None
        host_plan = None
        host_problems: tuple[Problem, ...] = ()
        if base is not None:
            zones_dir = read_config(repo, head)[0].zones_dir
            changed = changed_paths(repo, base, head)
            only = zones_touched(changed, zones_dir)
            if touches_host(changed):  # the host section of the same comment
                from reconciler.cli import host  # the host half loads only when asked

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
    if host_plan:
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
