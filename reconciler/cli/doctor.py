"""`reconciler doctor`: the operator's dig walk, automated (reconciler/doctor/)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli import report
from reconciler.cli.options import EXIT_INVALID, EXIT_OK, FORMAT, Edge
from reconciler.config.host import load_host_config
from reconciler.errors import ReconcilerError


def register(main: click.Group, edge: Edge) -> None:
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
        help="The resolver that finds parent servers and outside MX targets "
        "(default: the system's).",
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
    @edge
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
