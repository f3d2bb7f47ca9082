"""deploy/compose.yaml: docker-compose accepts it, and it runs what the image offers.

The file is not started here (the suite's own topology is the proof that the image works);
`docker-compose config` validates it without a Docker engine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from integration.images import IMAGE

pytestmark = pytest.mark.without_topology

COMPOSE = Path(__file__).resolve().parent.parent / "deploy" / "compose.yaml"
ENTRYPOINT = COMPOSE.parent / "docker" / "entrypoint.py"


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    program = shutil.which("docker-compose")
    if program is None:
        reason = "docker-compose is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: this is a failure, not a skip)", pytrace=False)
        pytest.skip(reason)
    return subprocess.run(
        [program, "-f", str(COMPOSE), *args], capture_output=True, text=True, timeout=60
    )


def test_docker_compose_accepts_the_file() -> None:
    run = compose("config", "-q")
    assert run.returncode == 0, run.stderr
    services = compose("config", "--services")
    assert sorted(services.stdout.split()) == ["ns2", "primary"], services.stdout


def test_the_services_use_the_image_and_roles_the_entrypoint_knows() -> None:
    text = compose("config").stdout
    images = set(re.findall(r"^\s+image: (\S+)$", text, re.MULTILINE))
    assert images == {f"{IMAGE}:latest"}, images
    roles = set(re.findall(r"^\s+command:\n\s+- (\w+)$", text, re.MULTILINE))
    assert roles == {"primary", "secondary"}, text
    for role in roles:
        assert f'role == "{role}"' in ENTRYPOINT.read_text()
    # the secondary copies the key from the volume the primary writes it to
    assert "tsig:/etc/bind/tsig" in COMPOSE.read_text()
    assert "tsig:/run/primary-tsig:ro" in COMPOSE.read_text()
