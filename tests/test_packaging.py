"""The release artifacts, installed as a user would: not the source checkout, no extras.

`python -m build` makes the sdist and, from it, the wheel (what `make dist` does) out of a
copy of the source; `twine check` passes; the wheel is installed into a fresh virtualenv
with `pip install` from `build/wheelhouse` (`make wheelhouse`: the runtime dependencies,
nothing else, so offline) and every command runs from there, the demo included.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from reconciler.cli.main import main
from reconciler.version import VERSION

ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = ROOT / "build" / "wheelhouse"
SOURCES = ("reconciler", "repo-template", "deploy", "pyproject.toml", "README.md")
SHARE = "share/dns-reconciler"
SHIPPED = (  # what the wheel carries besides the package: data files under <prefix>/share
    "repo-template/reconciler.toml",
    "repo-template/zones/example.com.zone",
    "repo-template/zones/example.net.zone.j2",
    "repo-template/zones/common/shared.j2",
    "repo-template/host/policy.toml",
    "repo-template/README.md",
    "repo-template/.gitlab-ci.yml",
    "repo-template/.pre-commit-config.yaml",
    "repo-template/.github/workflows/dns-reconciler.yml",
    "deploy/hooks/pre-receive",
    "deploy/hooks/post-receive",
    "deploy/reconciler.service",
    "deploy/daemon.toml.example",
    "deploy/prometheus/alerts.yml",
    "deploy/grafana/dns-reconciler.json",
)
IDENTITY = ("-c", "user.name=Test Operator", "-c", "user.email=operator@example.com")


@dataclass(frozen=True)
class Installed:
    dist: Path
    venv: Path
    home: Path  # a working folder outside the checkout, so nothing imports from it

    @property
    def program(self) -> str:
        return str(self.venv / "bin" / "reconciler")

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run(
            [*args], capture_output=True, text=True, cwd=cwd or self.home, env=env
        )

    def reconciler(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(self.program, *args)


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in ("__pycache__", ".mypy_cache") or n.endswith(".egg-info")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    if not (WHEELHOUSE / ".made").exists():
        pytest.fail(f"{WHEELHOUSE} is missing: `make wheelhouse` makes it", pytrace=False)
    top = tmp_path_factory.mktemp("packaging")
    source = top / "source"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=_ignore, symlinks=True)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    for name in ("CHANGELOG.md", "MANIFEST.in"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    dist = top / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
        cwd=top,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    venv = top / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, cwd=top)
    (wheel,) = dist.glob("dns_reconciler-*.whl")
    pip = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(WHEELHOUSE),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        cwd=top,
    )
    assert pip.returncode == 0, pip.stderr
    home = top / "work"
    home.mkdir()
    yield Installed(dist, venv, home)


def test_dist_is_an_sdist_and_a_wheel_that_twine_accepts(installed: Installed) -> None:
    (sdist,) = installed.dist.glob(f"dns_reconciler-{VERSION}.tar.gz")
    (wheel,) = installed.dist.glob(f"dns_reconciler-{VERSION}-py3-none-any.whl")
    twine = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert twine.returncode == 0, twine.stdout + twine.stderr
    assert twine.stdout.count("PASSED") == 2, twine.stdout
    data = f"dns_reconciler-{VERSION}.data/data/{SHARE}"
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    assert {f"{data}/{name}" for name in SHIPPED} <= in_wheel, sorted(in_wheel)
    assert "reconciler/host/templates/nftables.nft.j2" in in_wheel
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert set(SHIPPED) | {"CHANGELOG.md", "README.md"} <= in_sdist


def test_no_extras_no_docker_and_every_command_runs(installed: Installed) -> None:
    python = str(installed.venv / "bin" / "python")
    where = installed.run(python, "-c", "import reconciler; print(reconciler.__file__)")
    assert where.stdout.startswith(str(installed.venv)), where.stdout  # not the checkout
    docker = installed.run(python, "-c", "import docker")
    assert "No module named 'docker'" in docker.stderr, docker.stderr
    version = installed.reconciler("--version")
    assert version.stdout == f"reconciler, version {VERSION}\n", version.stderr

    def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
        context = click.Context(group)  # list_commands: the lazily loaded ones too
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            yield (*path, name)
            if isinstance(command, click.Group):
                yield from commands(command, (*path, name))

    every = list(commands(main))
    assert len(every) > 15, every
    for path in every:
        helped = installed.reconciler(*path, "--help")
        assert helped.returncode == 0, (path, helped.stderr)
        assert helped.stdout.startswith(f"Usage: reconciler {' '.join(path)} "), helped.stdout


def test_init_check_plan_and_hooks_from_the_wheel(installed: Installed) -> None:
    home = installed.home
    made = installed.reconciler("init", str(home / "zones"))
    assert made.returncode == 0, made.stderr
    for name in SHIPPED:
        if name.startswith("repo-template/"):
            assert (home / "zones" / name.removeprefix("repo-template/")).is_file(), name
    checked = installed.reconciler("-C", str(home / "zones"), "check")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok: working tree: 2 zone(s) valid"), checked.stdout
    zone = home / "zones" / "zones" / "example.com.zone"
    zone.write_text(zone.read_text().replace("192.0.2.10", "192.0.2.99", 1))
    planned = installed.reconciler("-C", str(home / "zones"), "plan", "--format", "json")
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert [z["zone"] for z in plan["zones"]] == ["example.com"], plan
    assert plan["verdict"] == "safe" and plan["reconciler_version"] == VERSION

    installed.run("git", "init", "-q", "--bare", str(home / "bare.git"))
    hooks = installed.reconciler("install-hooks", str(home / "bare.git"))
    assert hooks.returncode == 0, hooks.stderr
    hook = (home / "bare.git" / "hooks" / "pre-receive").read_text()
    assert installed.program in hook, hook  # the installed reconciler, not the checkout's
    templates = installed.run(
        str(installed.venv / "bin" / "python"),
        "-c",
        "from reconciler.host.render import package_templates; "
        "print(' '.join(sorted(package_templates())))",
    )
    assert templates.stdout.split() == [
        "chrony.sources.j2",
        "fail2ban.local.j2",
        "named-options.conf.j2",
        "nftables.nft.j2",
        "sshd_config.j2",
    ], templates.stderr


def test_the_demo_from_the_wheel_serves_a_push(installed: Installed) -> None:
    root = installed.home / "demo"
    started = installed.reconciler("demo", "--dir", str(root), "--detach")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "confirmed:" in started.stdout, started.stdout
        clone = root / "clone"
        zone = clone / "zones" / "example.com.zone"
        zone.write_text(zone.read_text().replace("192.0.2.10", "192.0.2.77", 1))
        committed = installed.run("git", *IDENTITY, "commit", "-qam", "Move www", cwd=clone)
        assert committed.returncode == 0, committed.stderr
        pushed = installed.run("git", "push", "-q", "origin", "main", cwd=clone)
        assert pushed.returncode == 0, pushed.stderr  # pre-receive ran the installed check
        wanted = installed.run("git", "rev-parse", "HEAD", cwd=clone).stdout.strip()
        status: dict[str, object] = {}
        for _ in range(600):  # the demo's daemon reconciles the push; a bounded wait
            shown = installed.reconciler(
                "status", "--config", str(root / "daemon.toml"), "--format", "json"
            )
            status = json.loads(shown.stdout) if shown.returncode == 0 else {}
            if status.get("deployed") == wanted and status.get("converged"):
                break
            time.sleep(0.1)
        assert status.get("deployed") == wanted and status.get("converged"), status
        log = (root / "daemon.log").read_text()
        assert '"event": "reconciled"' in log
    finally:
        stopped = installed.reconciler("demo", "--dir", str(root), "--stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith("stopped the daemon (pid "), stopped.stdout
