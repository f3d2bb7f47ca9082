"""Shared fixtures: a real zone repository made by `reconciler init`, and a CLI runner; and
how `make test`'s workers (pytest-xdist, `--dist loadgroup`) share the tests out."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import git
import pytest
from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.devtools.init import init_repo
from tests.daemonsite import site  # noqa: F401 - the daemon on the demo sandbox, for every module

GOOD_ZONE = """$TTL 3600
@       IN SOA ns1 hostmaster ( 1 1800 900 1209600 1800 )
@       IN NS  ns1
@       IN NS  ns2
@       IN MX  10 mail
ns1     IN A   192.0.2.1
ns2     IN A   192.0.2.2
mail    IN A   192.0.2.25
www     IN A   192.0.2.80
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class ZoneRepo:
    path: Path
    repo: git.Repo

    def write(self, relative: str, text: str | bytes) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")
        return target

    def commit(self, message: str) -> str:
        self.repo.git.add(A=True)
        self.repo.git.commit("-q", "--allow-empty", "-m", message)
        return self.repo.head.commit.hexsha

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(main, ["-C", str(self.path), *args])
        return Result(result.exit_code, result.stdout, result.stderr)


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):  # how make test's workers share the tests out
        from tests.workers import Units

        config.pluginmanager.register(Units(), "reconciler-test-units")


@pytest.fixture(autouse=True)
def unit_is_pure(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked `unit` starts no program and opens no socket: the pure tier stays pure.

    `make unit` runs only these; whatever needs BIND, git or the network is functional.
    """
    if request.node.get_closest_marker("unit") is None:
        yield
        return

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError(
            f"a unit test may not start a program or open a socket ({request.node.nodeid}); "
            "leave the `unit` marker off it"
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", refused)
        patch.setattr(socket, "socket", refused)
        yield


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets an empty checkzone cache of its own."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("RECONCILER_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def zone_repo(tmp_path: Path) -> ZoneRepo:
    path = tmp_path / "zones-repo"
    repo = init_repo(path)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test Operator")
        config.set_value("user", "email", "operator@example.com")
    return ZoneRepo(path, repo)
