"""`reconciler bind-config`: the configuration a secondary needs (BIND or Knot DNS)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli import report
from reconciler.cli.options import EXIT_OK, FORMAT, Edge
from reconciler.errors import ReconcilerError, ValidationError
from reconciler.source.repo import open_repo


def register(main: click.Group, edge: Edge) -> None:
    @main.command("bind-config")
    @click.option(
        "--secondary", "name", required=True, help="The secondary's name in reconciler.toml."
    )
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
    @edge
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
