"""What the commands share: exit codes, the --format and --config options, the edge type.

The README's table of exit codes is this module's; `Status` carries the reconcile's own.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from reconciler.model.outcome import Status

# The edge every command runs through (cli/main.py): errors to one line and an exit code.
Edge = Callable[[Callable[..., int | None]], Callable[..., None]]

EXIT_OK = 0
EXIT_INVALID = Status.INVALID.exit_code  # also: any error of ours (one line on stderr)
EXIT_BUSY = 5  # the daemon (or another apply) holds the state folder's lock
EXIT_INTERNAL = 70  # a bug: an exception that is not one of ours
FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format."
)
CONFIG = click.option(
    "--config",
    "config_path",
    default="/etc/reconciler/daemon.toml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The host's daemon.toml.",
)
