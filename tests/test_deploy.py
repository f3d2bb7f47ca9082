"""deploy/: the example daemon.toml and the systemd unit agree with the code and each other.

The example must parse with the real parser and name every key it accepts; the
unit may write only where the example config says the daemon writes, and must
let it write everywhere it does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.config.host import _SCHEMA, HostConfig, parse_host_config
from reconciler.errors import ValidationError

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
EXAMPLE = DEPLOY / "daemon.toml.example"
UNIT = DEPLOY / "reconciler.service"


def example() -> HostConfig:
    return parse_host_config(EXAMPLE.read_text(), str(EXAMPLE), Path("/etc/reconciler"))


def unit_settings() -> dict[str, list[str]]:
    """Key -> every value it is given (systemd allows some keys more than once)."""
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_example_parses_and_names_every_key() -> None:
    config = example()
    assert config.repo == Path("/srv/git/zones.git")
    assert config.state_dir == Path("/var/lib/reconciler/state")
    assert config.include_key is True and config.require_signed_commits is False
    sections = re.split(r"^\[(\w+)\]$", EXAMPLE.read_text(), flags=re.MULTILINE)
    tables = dict(zip(sections[1::2], sections[2::2], strict=True))
    assert set(tables) == set(_SCHEMA)
    for table, keys in _SCHEMA.items():
        for key in keys:  # set with a comment, or shown commented out (url: pull mode)
            assert re.search(rf"^(# )?{key} = .+  # ", tables[table], re.MULTILINE), (table, key)


def test_unit_writes_only_where_the_daemon_writes() -> None:
    config = example()
    writable = {
        config.zone_dir,
        config.include_file.parent,  # atomic writes put a temp file beside the include
        config.state_dir,
        config.repo,  # git notes
    }
    paths = {Path(p.lstrip("-+")) for v in unit_settings()["ReadWritePaths"] for p in v.split()}
    assert paths, "no ReadWritePaths"
    assert paths <= writable, paths - writable
    assert writable <= paths, writable - paths


def test_unit_runs_the_daemon_with_the_example_config_under_systemd_supervision() -> None:
    settings = unit_settings()
    (command,) = settings["ExecStart"]
    assert command.endswith(" run --config /etc/reconciler/daemon.toml")
    assert settings["Type"] == ["notify"] and settings["WatchdogSec"] == ["60"]
    assert settings["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert settings["CapabilityBoundingSet"] == [""]
    assert settings["ProtectSystem"] == ["strict"]


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: `make test` installs it (Debian: systemd)"
    reconciler = Path(sys.executable).absolute().parent / "reconciler"
    unit = tmp_path / "reconciler.service"  # ExecStart must exist: point it at this one
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/reconciler", str(reconciler)))
    run = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "reconciler.service" not in run.stderr, run.stderr


def test_booleans_are_accepted_only_where_the_schema_wants_them() -> None:
    base = (
        '[repo]\npath = "r"\n[bind]\nzone_dir = "z"\ninclude_file = "i"\ninclude_key = false\n'
        '[tsig]\nkey_file = "t"\n[state]\ndir = "s"\n'
        "[gates]\nrequire_signed_commits = true\n"
    )
    config = parse_host_config(base + '[rndc]\nkey_file = "k"\n', "daemon.toml", Path("/x"))
    assert config.include_key is False and config.require_signed_commits is True
    with pytest.raises(ValidationError, match=r"\[rndc\] port must be an integer, got bool"):
        parse_host_config(base + '[rndc]\nkey_file = "k"\nport = true\n', "daemon.toml", Path("/"))
