"""The commands the git hooks run on every push start without what they do not use.

pre-receive runs `reconciler check` and post-receive `reconciler nudge`: each push pays for
their start, so they must not import the daemon, the reconcile, the doctor or the host half
(issue 13). Other commands still find everything (`--help` lists the lazily loaded groups).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ZoneRepo

HEAVY = [
    "reconciler.apply.reconcile",
    "reconciler.serve.daemon",
    "reconciler.doctor",
    "reconciler.cli.host",
    "reconciler.host.audit",
    "reconciler.cli.adopt",
    "reconciler.devtools.demo",
    "watchdog.observers",
    "prometheus_client",
    "structlog",  # nothing they run logs; with it come rich and asyncio
]

RUN = """
import json, sys
from reconciler.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "loaded": sorted(m for m in sys.modules)}), file=sys.stderr)
"""


def loaded(*argv: str) -> tuple[int, set[str]]:
    run = subprocess.run([sys.executable, "-c", RUN, *argv], capture_output=True, text=True)
    found = json.loads(run.stderr.strip().splitlines()[-1])
    return found["code"], set(found["loaded"])


def test_check_as_the_hook_runs_it_imports_nothing_it_does_not_use(zone_repo: ZoneRepo) -> None:
    head = zone_repo.repo.head.commit.hexsha
    code, modules = loaded("-C", str(zone_repo.path), "check", "--base", head, head)
    assert code == 0
    assert "reconciler.check.inspect" in modules  # it did check
    assert [m for m in HEAVY if m in modules] == []


def test_nudge_imports_nothing_it_does_not_use(tmp_path: Path) -> None:
    code, modules = loaded("nudge", "--config", str(tmp_path / "missing.toml"))
    assert code == 1  # no daemon.toml: one line, exit 1
    assert [m for m in HEAVY + ["reconciler.check.inspect"] if m in modules] == []


def test_help_still_lists_every_command() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "reconciler.cli", "--help"], capture_output=True, text=True
    )
    commands = run.stdout.split("Commands:")[1].split()
    for name in ("check", "plan", "apply", "run", "doctor", "host", "import", "completion"):
        assert name in commands


def test_plan_of_zones_alone_does_not_load_the_host_half(zone_repo: ZoneRepo) -> None:
    base = zone_repo.repo.head.commit.hexsha
    zone = zone_repo.path / "zones" / "example.com.zone"
    zone_repo.write("zones/example.com.zone", zone.read_text() + "new IN A 192.0.2.7\n")
    head = zone_repo.commit("one record more")
    code, modules = loaded("-C", str(zone_repo.path), "plan", "--base", base, "--head", head)
    assert code == 0
    assert "reconciler.model.plan" in modules  # it did plan
    assert [
        m for m in ("reconciler.cli.host", "reconciler.host.audit", "jinja2") if m in modules
    ] == []
