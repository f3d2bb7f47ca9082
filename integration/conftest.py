"""Fixtures of the integration suite: Docker, the image, the topology, a clean slate per test.

Without a Docker engine the suite is skipped with the reason, except in CI (CI=true),
where that is a failure: the suite must run there. The topology is made once per session
(integration/topology.py) and removed at the end even when a test fails; every test
starts from the branch head served everywhere, with every container running.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from integration import images
from integration.topology import Topology, remove_leftovers, suite_lock

LOGS = images.BUILD / "logs"


def _noter(config: pytest.Config) -> Callable[[str], None]:
    """Print progress past pytest's capture: a cold image build takes a minute or two."""
    capture = config.pluginmanager.getplugin("capturemanager")

    def note(message: str) -> None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(f"\n[integration] {message}", file=sys.stderr, flush=True)

    return note


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        reason = f"the integration suite needs a Docker engine, and none answers: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: this is a failure, not a skip)", pytrace=False)
        pytest.skip(f"{reason} (in CI, with CI=true, this fails instead)")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def suite_locked() -> Iterator[None]:
    """This run holds the machine's integration lock (once per session: flock is per open
    file, so taking it twice in one process would wait on itself)."""
    with suite_lock():
        yield


@pytest.fixture(scope="session")
def topology(
    docker_client: docker.DockerClient, suite_locked: None, request: pytest.FixtureRequest
) -> Iterator[Topology]:
    _note = _noter(request.config)
    removed = remove_leftovers(docker_client)
    if removed:
        _note(f"removed leftovers of an earlier run: {', '.join(removed)}")
    started = time.monotonic()
    try:
        image = images.ensure_image(docker_client, _note)
    except images.ImageError as exc:
        pytest.fail(str(exc), pytrace=False)
    _note(f"image {image.short_id} ready in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    running = Topology(docker_client, image)
    try:
        running.start()
        _note(f"topology up and converged in {time.monotonic() - started:.0f} s")
        yield running
    finally:
        try:
            running.save_logs(LOGS)
            _note(f"container logs saved in {LOGS.relative_to(Path.cwd())}")
        except ValueError:
            _note(f"container logs saved in {LOGS}")
        finally:
            running.teardown()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "without_topology: the test needs no containers (and no Docker engine)"
    )


@pytest.fixture(autouse=True)
def baseline(request: pytest.FixtureRequest) -> Topology | None:
    """Every container running, no fault left over, the branch head served everywhere."""
    if request.node.get_closest_marker("without_topology"):
        return None
    topology: Topology = request.getfixturevalue("topology")
    topology.restore()
    assert topology.daemon_log is not None
    topology.daemon_log.skip_to_end()
    return topology
