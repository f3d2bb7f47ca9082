"""`reconciler import`: the command line of adopt/importer.py (registered by cli/main.py).

A progress bar on stderr while zones are read, only on a terminal and never with
`--format json`; then the zones, the servers found, notes and what `check` says.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reconciler.adopt.importer import Imported, Request, run_import
from reconciler.adopt.stage import next_steps, stage
from reconciler.bind.keys import read_key_file
from reconciler.cli import progress, report
from reconciler.config.host import load_host_config
from reconciler.config.repo import Server
from reconciler.doctor import parse_endpoint, parse_server


def register(main: click.Group, edge: Callable[..., Any]) -> None:
    @main.command("import")
    @click.argument("directory", type=click.Path(file_okay=False))
    @click.argument("zones", nargs=-1)
    @click.option(
        "--primary",
        default="127.0.0.1",
        show_default=True,
        metavar="[NAME=]ADDR[:PORT]",
        help="Where the primary's named answers (AXFR); written as [primary].",
    )
    @click.option(
        "--key-file",
        type=click.Path(dir_okay=False),
        help="The TSIG key file for AXFR; only the key's name goes into reconciler.toml.",
    )
    @click.option(
        "--named-conf",
        type=click.Path(dir_okay=False),
        help="The primary's named.conf: its primary zones (when none are named) and also-notify.",
    )
    @click.option(
        "--from-files",
        is_flag=True,
        help="Copy the zone files named.conf names (the operator's own form), not AXFR.",
    )
    @click.option(
        "--secondary",
        "secondaries",
        multiple=True,
        metavar="NAME=ADDR[:PORT]",
        help="A secondary (repeatable); given, none are looked for.",
    )
    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="The primary's daemon.toml: also write its zone files and include, loading "
        "nothing, for a takeover without a gap.",
    )
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
    @edge
    def import_command(
        directory: str,
        zones: tuple[str, ...],
        primary: str,
        key_file: str | None,
        named_conf: str | None,
        from_files: bool,
        secondaries: tuple[str, ...],
        config_path: str | None,
        fmt: str,
    ) -> int:
        """A new zone repo in DIRECTORY, in one commit, from a primary that runs already.

        ZONES by AXFR with --key-file, or every primary zone of --named-conf; with
        --from-files, the zone files --named-conf names.
        """
        if from_files and not named_conf:
            raise click.UsageError("--from-files needs --named-conf")
        request = Request(
            target=Path(directory),
            primary=_primary(primary),
            zones=zones,
            named_conf=Path(named_conf) if named_conf else None,
            key=read_key_file(Path(key_file)) if key_file else None,
            from_files=from_files,
            secondaries=tuple(parse_server(s) for s in secondaries),
        )
        with progress.Bar("importing", progress.wanted(fmt)) as bar:
            imported = run_import(request, bar.feed())
        steps: list[str] = []
        if config_path:
            host = load_host_config(config_path)
            staged = stage(host, imported)
            steps = next_steps(host, staged, [z.zone for z in imported.zones])
        if fmt == "json":
            click.echo(report.json_text({**imported.to_dict(), "staged": steps}))
        else:
            click.echo("\n".join(_text(imported, Path(directory), key_file) + steps))
        errors = [p for p in imported.problems if p.severity == "error"]
        return 1 if errors else 0


def _primary(text: str) -> Server:
    name, sep, where = text.rpartition("=")
    endpoint = parse_endpoint(where, "--primary")
    return Server(name.strip().rstrip(".") if sep else "", endpoint.address, endpoint.port)


def _text(imported: Imported, directory: Path, key_file: str | None) -> list[str]:
    lines = [
        f"imported {len(imported.zones)} zone(s) into {directory} (commit {imported.commit[:12]})"
    ]
    width = max((len(z.zone) for z in imported.zones), default=0)
    lines += [f"  {z.zone:<{width}}  serial {z.serial:<10}  {z.source}" for z in imported.zones]
    topology = imported.topology
    primary = topology.primary
    lines.append(f"primary: {primary.name} {primary.address} port {primary.port}")
    lines.append(
        "secondaries: "
        + (
            ", ".join(f"{s.name} {s.address} port {s.port}" for s in topology.secondaries)
            or "none found"
        )
    )
    lines.append(f"tsig key: {topology.key_name} (the secret stays in its key file)")
    lines += [f"note: {note}" for note in imported.notes]
    lines += [str(problem) for problem in imported.problems]
    errors = [p for p in imported.problems if p.severity == "error"]
    if errors:
        lines.append(f"check: {len(errors)} problem(s) to fix before apply (the commit is made)")
    else:
        key = key_file or "KEYFILE"
        lines.append(f"next: reconciler -C {directory} plan --served --key-file {key}")
    return lines
