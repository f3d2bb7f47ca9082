"""`reconciler dnssec status`: each signed zone's keys, their states and the next step."""

from __future__ import annotations

import click

from reconciler.cli import report
from reconciler.cli.options import CONFIG, EXIT_OK, FORMAT, Edge
from reconciler.config.host import load_host_config


def register(main: click.Group, edge: Edge) -> None:
    @main.group("dnssec")
    def dnssec_group() -> None:
        """The signed zones' keys (BIND signs; the DS at the parent is the operator's step)."""

    @dnssec_group.command("status")
    @click.argument("zone", required=False)
    @CONFIG
    @FORMAT
    @edge
    def dnssec_status_command(zone: str | None, config_path: str, fmt: str) -> int:
        """Each signed zone's keys and their states (rndc dnssec -status), and the next step."""
        from reconciler.apply import keys

        zones = keys.gather(load_host_config(config_path), zone)
        if fmt == "json":
            click.echo(report.json_text({"zones": [z.to_dict() for z in zones]}))
        else:
            click.echo(report.dnssec_status_text(zones))
        return EXIT_OK
