"""One version, from the package metadata: `--version`, every JSON output and /metrics."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import click
from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.version import VERSION
from tests.daemonsite import Site, metrics_of

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = Path(sys.executable).parent / "reconciler"


def test_version_is_the_package_metadata_and_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert VERSION == metadata.version("dns-reconciler") == declared
    for flag in ("--version", "-V"):
        run = subprocess.run([str(PROGRAM), flag], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert run.stdout == f"reconciler, version {declared}\n"


def _json_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> set[str]:
    """Every command of the CLI with a `--format` that offers json."""
    found = set()
    context = click.Context(group)
    for name in group.list_commands(context):  # loads the groups the CLI loads when named
        command = group.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            found |= _json_commands(command, (*prefix, name))
            continue
        for param in command.params:
            if "--format" in getattr(param, "opts", ()) and "json" in param.type.choices:  # type: ignore[attr-defined]
                found.add(" ".join((*prefix, name)))
    return found


def test_every_json_output_and_the_metrics_carry_the_version(site: Site) -> None:
    clone, config = str(site.root / "clone"), str(site.config)
    bare = site.root / "other.git"
    servers = site.sandbox.servers
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    runs = {
        "check": ["-C", clone, "check"],
        "plan": ["-C", clone, "plan", "--base", "HEAD"],
        "apply": ["apply", "--config", config],
        "rollback": ["rollback", "--config", config, "--to", "HEAD"],
        "status": ["status", "--config", config],
        "bind-config": ["-C", clone, "bind-config", "--secondary", "ns2"],
        "install-hooks": ["install-hooks", str(bare)],
        "nudge": ["nudge", "--config", config],
        "doctor": ["doctor", "--config", config, "--timeout", "0.5"],
        "dnssec status": ["dnssec", "status", "--config", config],
        "host audit": ["host", "audit", "--config", config, "--policy", f"{clone}/host"],
        "host plan": ["host", "plan", "--config", config, "--policy", f"{clone}/host"],
        "import": [
            "import",
            str(site.root / "imported"),
            "example.com",
            "--key-file",
            str(servers.transfer_key_file),
            "--primary",
            f"ns1={servers.primary.address}:{servers.primary.port}",
        ],
    }
    # `host apply` changes the live host (sshd, nftables): it runs in a container only
    # (integration/), so here its JSON is only seen to go through report.json_text.
    host = main.get_command(click.Context(main), "host")  # loaded when named
    apply_host = host.commands["apply"]  # type: ignore[union-attr]
    assert "report.json_text(" in inspect.getsource(apply_host.callback)
    wanted = set(runs) | {"host apply"}
    assert wanted == _json_commands(main), "a command with --format json is not tried here"
    for command, args in runs.items():
        result = CliRunner().invoke(main, [*args, "--format", "json"])
        try:
            output = json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"{command}: {result.stdout!r} {result.stderr!r}") from exc
        assert output["reconciler_version"] == VERSION, command

    site.start()
    build = {k: v for k, v in metrics_of(site).items() if k[0] == "reconciler_build_info"}
    assert build == {("reconciler_build_info", (("version", VERSION),)): 1.0}
