"""`reconciler demo`: a primary and two secondaries on loopback, a zone repo, the daemon."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import log
from reconciler.cli import report
from reconciler.cli.options import EXIT_OK, Edge
from reconciler.errors import ReconcilerError


def register(main: click.Group, edge: Edge) -> None:
    @main.command("demo")
    @click.option(
        "--dir",
        "directory",
        type=click.Path(file_okay=False),
        help="Where to set the demo up (default: a new temporary folder).",
    )
    @click.option("--detach", is_flag=True, help="Leave it running and return (needs --dir).")
    @click.option("--stop", "stop_it", is_flag=True, help="Stop the demo running in --dir.")
    @edge
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
            click.echo(
                f"stopped {ended}{stopped.servers} name server(s) of the demo in {directory}"
            )
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
            log.configure(json=False, level="info")
            watcher = daemon.Daemon(sandbox.root / "daemon.toml")  # made before Ctrl-C is offered
            click.echo(
                "\nThe daemon is watching the repo: each push is reconciled here. "
                "Ctrl-C stops the daemon and the name servers.\n"
            )
            watcher.run()  # until Ctrl-C or TERM
            click.echo("\nstopping ...")
        except KeyboardInterrupt:
            click.echo("\nstopping ...")
        finally:
            if not detach:
                sandbox.servers.stop_all()
                (sandbox.root / demo.RECORD).unlink(missing_ok=True)
        return EXIT_OK
