"""deploy/compose.yaml: docker-compose accepts it, and started for real it serves a push.

The file is validated with `docker-compose config`, then brought up as it is (with one
override: its network is `internal`, no route out) from the image `make image` builds: the
primary makes its keys, the secondary copies the transfer key and configures itself with
`bind-config --format json`, both become healthy (the image's HEALTHCHECK), the daemon runs
as the unprivileged `reconciler` of group `bind`, and a push to the primary's bare repo is
served by the secondary.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import docker
import docker.errors
import pytest
from docker.models.containers import Container

from integration import images
from integration.images import IMAGE

pytestmark = pytest.mark.without_topology

COMPOSE = Path(__file__).resolve().parent.parent / "deploy" / "compose.yaml"
ENTRYPOINT = COMPOSE.parent / "docker" / "entrypoint.py"
T = TypeVar("T")


def compose(*args: str, files: tuple[Path, ...] = ()) -> subprocess.CompletedProcess[str]:
    program = shutil.which("docker-compose")
    if program is None:
        reason = "docker-compose is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: this is a failure, not a skip)", pytrace=False)
        pytest.skip(reason)
    named = [arg for file in (COMPOSE, *files) for arg in ("-f", str(file))]
    return subprocess.run([program, *named, *args], capture_output=True, text=True)


def test_docker_compose_accepts_the_file() -> None:
    run = compose("config", "-q")
    assert run.returncode == 0, run.stderr
    services = compose("config", "--services")
    assert sorted(services.stdout.split()) == ["ns2", "primary"], services.stdout


def test_the_services_use_the_image_and_roles_the_entrypoint_knows() -> None:
    text = compose("config").stdout
    images_named = set(re.findall(r"^\s+image: (\S+)$", text, re.MULTILINE))
    assert images_named == {f"{IMAGE}:latest"}, images_named
    roles = set(re.findall(r"^\s+command:\n\s+- (\w+)$", text, re.MULTILINE))
    assert roles == {"primary", "secondary"}, text
    for role in roles:
        assert f'role == "{role}"' in ENTRYPOINT.read_text()
    # the secondary copies the key from the volume the primary writes it to
    assert "tsig:/etc/bind/tsig" in COMPOSE.read_text()
    assert "tsig:/run/primary-tsig:ro" in COMPOSE.read_text()


# --- started for real -----------------------------------------------------------------------

PROJECT = "dnsr-compose"  # one at a time on a machine: the integration lock is held
# The test's network leads nowhere. (docker-compose 1.x replaces a network whole: the
# override repeats the file's subnet.)
INTERNAL = """networks:
  dns:
    internal: true
    ipam:
      config:
        - subnet: 172.30.54.0/24
"""
TOPOLOGY = """[primary]
name = "ns1"
address = "172.30.54.10"
port = 53

[[secondary]]
name = "ns2"
address = "172.30.54.11"
port = 53

"""
# The operator's first push, in the primary: a repo from the template naming these servers.
FIRST_PUSH = """set -e
reconciler init /root/work >/dev/null
cd /root/work
python3 -c '
import sys
from pathlib import Path
path = Path("reconciler.toml")
text = path.read_text()
start, end = text.index("[primary]"), text.index("# Zone transfers")
path.write_text(text[:start] + sys.stdin.read() + text[end:])
' <<'TOML'
{topology}TOML
git -c user.name=Compose -c user.email=compose@example.test commit -qam 'Serve from ns1, ns2'
git remote add origin /srv/git/zones.git
git push -q origin main
"""
MOVE_WWW = """set -e
cd /root/work
sed -i 's/^www     IN A    192.0.2.10/www     IN A    192.0.2.99/' zones/example.com.zone
git -c user.name=Compose -c user.email=compose@example.test commit -qam 'Move www'
git push -q origin main
"""
HEALTHZ = (
    "import urllib.request as u; print(u.urlopen('http://127.0.0.1:9153/healthz').read().decode())"
)
WAIT = 300.0  # seconds any one awaited state may take (a cold start makes keys, transfers)


def wait_for(check: Callable[[], T], what: str, limit: float = WAIT) -> T:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"gave up waiting for {what}")


@dataclass
class Up:
    primary: Container
    ns2: Container

    @staticmethod
    def run(container: Container, *argv: str) -> tuple[int, str]:
        code, out = container.exec_run(list(argv))
        return code, out.decode(errors="replace")

    def soa(self, container: Container, zone: str) -> int | None:
        code, out = self.run(container, "dig", "+short", "@127.0.0.1", zone, "SOA")
        fields = out.split()
        return int(fields[2]) if code == 0 and len(fields) == 7 else None

    def a(self, container: Container, name: str) -> str:
        return self.run(container, "dig", "+short", "@127.0.0.1", name, "A")[1].strip()


def health(container: Container) -> str:
    container.reload()
    return str((container.attrs["State"].get("Health") or {}).get("Status"))


@pytest.fixture(scope="module")
def up(
    suite_locked: None, docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Up]:
    client = docker_client  # conftest's: no engine is a skip, or with CI=true a failure
    try:
        images.ensure_image(client)  # dns-reconciler:latest, the image the file names
    except images.ImageError as exc:
        pytest.fail(str(exc), pytrace=False)
    override = tmp_path_factory.mktemp("compose") / "internal.yaml"
    override.write_text(INTERNAL)
    files = (override,)
    compose("-p", PROJECT, "down", "-v", "--remove-orphans", files=files)  # a run cut short
    started = compose("-p", PROJECT, "up", "-d", files=files)
    label = {"label": f"com.docker.compose.project={PROJECT}"}
    try:
        assert started.returncode == 0, started.stderr
        found = {
            c.labels["com.docker.compose.service"]: c for c in client.containers.list(filters=label)
        }
        assert sorted(found) == ["ns2", "primary"], found
        yield Up(found["primary"], found["ns2"])
    finally:
        logs = images.BUILD / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for container in client.containers.list(all=True, filters=label):
            service = container.labels.get("com.docker.compose.service", container.name)
            (logs / f"compose-{service}.log").write_bytes(container.logs())
        down = compose("-p", PROJECT, "down", "-v", "--remove-orphans", files=files)
        assert down.returncode == 0, down.stderr


@pytest.fixture(scope="module")
def first_push(up: Up) -> int:
    """The operator's first push (until then the primary serves nothing, and its /healthz
    says why); the serial of example.com that ns2 then serves."""
    code, out = up.run(up.primary, "sh", "-c", FIRST_PUSH.format(topology=TOPOLOGY))
    assert code == 0, out
    served = wait_for(lambda: up.soa(up.primary, "example.com"), "example.com on the primary")
    wait_for(lambda: up.soa(up.ns2, "example.com") == served, "example.com's serial on ns2")
    return served


def test_compose_up_is_healthy_and_the_daemon_is_not_root(up: Up, first_push: int) -> None:
    for container in (up.primary, up.ns2):
        wait_for(lambda c=container: health(c) == "healthy", f"{container.name} healthy")
    code, pid = up.run(up.primary, "cat", "/run/reconciler/daemon.pid")
    assert code == 0, pid
    code, who = up.run(up.primary, "ps", "-o", "user:32=,group:32=", "-p", pid.strip())
    assert who.split() == ["reconciler", "bind"], who
    code, groups = up.run(up.primary, "id", "-nG", "reconciler")
    assert groups.split() == ["bind"], groups
    code, named = up.run(up.primary, "ps", "-C", "named", "-o", "user:32=")
    assert named.split() == ["bind"], named
    code, answer = up.run(up.primary, "python3", "-c", HEALTHZ)
    assert (code, answer.strip()) == (0, "ok"), answer


def test_a_push_through_compose_reaches_the_secondary(up: Up, first_push: int) -> None:
    assert up.a(up.ns2, "www.example.com") == "192.0.2.10"
    code, out = up.run(up.primary, "sh", "-c", MOVE_WWW)
    assert code == 0, out
    wait_for(lambda: up.a(up.ns2, "www.example.com") == "192.0.2.99", "the new www on ns2")
    later = up.soa(up.ns2, "example.com")
    assert later is not None and later > first_push
    code, notes = up.run(
        up.primary, "git", "-C", "/srv/git/zones.git", "log", "--notes=reconciler", "-1"
    )
    assert "reconciler: confirmed" in notes, notes
