"""The git server hooks, with real git pushes into a real bare repository.

A bare repo cloned from a `reconciler init` repository gets the hooks with
`reconciler install-hooks` (so they run the venv's reconciler); pushes from
the clone then go through pre-receive (`reconciler check` on git's quarantined
objects) and post-receive (`reconciler nudge`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import git
import pytest
from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.devtools import demo
from reconciler.devtools.init import commit_all
from reconciler.errors import ReconcilerError
from reconciler.serve.hooks import default_program, install_hooks

from .conftest import GOOD_ZONE, ZoneRepo

ZONE = "zones/example.com.zone"
WWW = "www     IN A    192.0.2.10"
VENV_RECONCILER = Path(sys.executable).absolute().parent / "reconciler"


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


@dataclass
class Server:
    bare: Path
    clone: ZoneRepo

    def head(self, branch: str = "main") -> str:
        return _git(self.bare, "rev-parse", branch).stdout.strip()

    def push(self, *refs: str) -> subprocess.CompletedProcess[str]:
        return _git(self.clone.path, "push", "origin", *(refs or ("main",)))

    def edit(self, change: str, message: str) -> str:
        path = self.clone.path / ZONE
        self.clone.write(ZONE, path.read_text().replace(WWW, change))
        return self.clone.commit(message)


def install(bare: Path, *args: str) -> None:
    result = CliRunner().invoke(main, ["install-hooks", str(bare), *args])
    assert result.exit_code == 0, result.output


@pytest.fixture
def server(zone_repo: ZoneRepo, tmp_path: Path) -> Server:
    bare = tmp_path / "zones.git"
    assert _git(tmp_path, "clone", "-q", "--bare", str(zone_repo.path), str(bare)).returncode == 0
    install(bare)
    zone_repo.repo.create_remote("origin", str(bare))
    return Server(bare, zone_repo)


def test_hooks_run_the_venvs_reconciler(server: Server) -> None:
    for name in ("pre-receive", "post-receive"):
        hook = server.bare / "hooks" / name
        assert os.access(hook, os.X_OK)
        assert f"\nRECONCILER={VENV_RECONCILER}\n" in hook.read_text()


def test_good_push_is_accepted(server: Server) -> None:
    sha = server.edit("www     IN A    192.0.2.11", "Move www")
    pushed = server.push()
    assert pushed.returncode == 0, pushed.stderr
    assert server.head() == sha
    assert "remote: ok: " in pushed.stderr


def test_push_with_a_bad_zone_is_rejected_with_file_and_line(server: Server) -> None:
    before = server.head()
    text = (server.clone.path / ZONE).read_text() + "www IN CNAME mail\n"
    server.clone.write(ZONE, text)
    bad = server.clone.commit("Break example.com")
    line = len(text.splitlines())
    pushed = server.push()
    assert pushed.returncode != 0
    expected = f"remote: {ZONE}:{line}: example.com: www.example.com.: CNAME and other data"
    assert expected in pushed.stderr, pushed.stderr
    assert "pre-receive hook declined" in pushed.stderr
    assert server.head() == before
    assert _git(server.bare, "cat-file", "-e", bad).returncode != 0  # quarantine dropped


def test_only_changed_zones_are_checked_after_the_first_push(server: Server) -> None:
    base = server.head()
    sha = server.edit("www     IN A    192.0.2.12", "Move www")
    pushed = server.push()
    assert pushed.returncode == 0, pushed.stderr
    assert f"remote: ok: {sha[:12]}: 1 zone(s) valid" in pushed.stderr  # example.net not read
    assert server.head() != base


def test_the_hook_reads_the_zones_it_checks_and_what_they_include_and_no_other_file(
    server: Server, tmp_path: Path
) -> None:
    others = [f"zones/other{i}.example.zone" for i in range(4)]
    for path in others:
        server.clone.write(path, GOOD_ZONE)
    server.clone.write("zones/common/extra.inc", "extra IN A 192.0.2.77\n")
    server.clone.write("zones/common/unused.inc", "unused IN A 192.0.2.78\n")
    server.clone.commit("Four more zones, two include files")
    assert server.push().returncode == 0
    # The git the hook's GitPython runs: what each `git cat-file --batch` is asked is logged.
    real, log, tools = shutil.which("git"), tmp_path / "objects.log", tmp_path / "bin"
    tools.mkdir()
    (tools / "git").write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" --batch "*) tee -a "{log}" | "{real}" "$@"; exit $? ;; esac\n'
        f'exec "{real}" "$@"\n'
    )
    (tools / "git").chmod(0o755)
    sha = server.edit("www     IN A    192.0.2.16\n$INCLUDE common/extra.inc", "Move www")
    pushed = subprocess.run(
        ["git", "push", "origin", "main"],
        cwd=server.clone.path,
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_PYTHON_GIT_EXECUTABLE": str(tools / "git")},
        check=False,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert f"remote: ok: {sha[:12]}: 1 zone(s) valid" in pushed.stderr
    asked = set(log.read_text().split())
    for path in [ZONE, "zones/common/extra.inc"]:  # the zone checked and what it includes
        assert _git(server.bare, "rev-parse", f"{sha}:{path}").stdout.strip() in asked, path
    unreached = ["zones/common/unused.inc", "zones/common/shared.j2"]
    for path in [*others, "zones/example.net.zone.j2", *unreached]:
        other = _git(server.bare, "rev-parse", f"{sha}:{path}").stdout.strip()
        assert other and other not in asked, path


def test_deleting_the_served_branch_is_rejected(server: Server) -> None:
    before = server.head()
    pushed = server.push(":main")
    assert pushed.returncode != 0
    assert "remote: dns-reconciler: refusing to delete main" in pushed.stderr
    assert server.head() == before


def test_push_to_another_branch_is_not_checked(server: Server) -> None:
    server.clone.write(ZONE, (server.clone.path / ZONE).read_text() + "www IN CNAME mail\n")
    bad = server.clone.commit("Break example.com on a topic branch")
    pushed = server.push("HEAD:refs/heads/topic")
    assert pushed.returncode == 0, pushed.stderr
    assert server.head("topic") == bad
    assert "CNAME" not in pushed.stderr
    deleted = server.push(":topic")
    assert deleted.returncode == 0, deleted.stderr


def test_paths_are_quoted_for_the_shell(server: Server, tmp_path: Path) -> None:
    folder = tmp_path / "it's a $folder"
    folder.mkdir()
    (folder / "reconciler").symlink_to(VENV_RECONCILER)
    install(server.bare, "--reconciler", str(folder / "reconciler"))
    sha = server.edit("www     IN A    192.0.2.13", "Move www")
    pushed = server.push()
    assert pushed.returncode == 0, pushed.stderr
    assert server.head() == sha
    server.clone.write(ZONE, (server.clone.path / ZONE).read_text() + "www IN CNAME mail\n")
    bad = server.clone.commit("Break example.com")
    assert "CNAME and other data" in server.push().stderr
    assert server.head() == sha != bad


def test_install_refuses_a_repo_that_is_not_bare(zone_repo: ZoneRepo) -> None:
    with pytest.raises(ReconcilerError, match="not a bare git repository"):
        install_hooks(zone_repo.path, str(VENV_RECONCILER), None)
    result = CliRunner().invoke(main, ["install-hooks", str(zone_repo.path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert not (zone_repo.path / ".git" / "hooks" / "pre-receive").exists()


def test_install_refuses_a_foreign_hook_unless_forced(tmp_path: Path) -> None:
    bare = tmp_path / "other.git"
    git.Repo.init(bare, bare=True)
    foreign = bare / "hooks" / "pre-receive"
    foreign.write_text("#!/bin/sh\nexec /usr/local/bin/their-own-check\n")
    with pytest.raises(ReconcilerError, match="a hook dns-reconciler did not write"):
        install_hooks(bare, str(VENV_RECONCILER), None)
    assert "their-own-check" in foreign.read_text()
    assert not (bare / "hooks" / "post-receive").exists()
    written = install_hooks(bare, str(VENV_RECONCILER), None, force=True)
    assert written == [bare / "hooks" / "pre-receive", bare / "hooks" / "post-receive"]
    assert "their-own-check" not in foreign.read_text()
    assert install_hooks(bare, str(VENV_RECONCILER), None, branch="prod") == written  # ours
    assert "\nBRANCH=prod\n" in foreign.read_text()
    with pytest.raises(ReconcilerError, match="not a valid branch name"):
        install_hooks(bare, str(VENV_RECONCILER), None, branch="no such..branch")
    git.Repo(bare).git.config("core.hooksPath", str(tmp_path / "elsewhere"))
    with pytest.raises(ReconcilerError, match="core.hooksPath"):
        install_hooks(bare, str(VENV_RECONCILER), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _daemon_toml(folder: Path, port: int, repo: str = "zones.git") -> Path:
    config = folder / "daemon.toml"
    config.write_text(
        f'[repo]\npath = "{repo}"\n[bind]\nzone_dir = "zones"\ninclude_file = "r.conf"\n'
        '[rndc]\nkey_file = "rndc.key"\n[tsig]\nkey_file = "t.key"\n[state]\ndir = "state"\n'
        f'[http]\nlisten = "127.0.0.1:{port}"\n'
    )
    return config


def test_nudge_with_no_daemon_exits_0(tmp_path: Path) -> None:
    port = _free_port()
    config = _daemon_toml(tmp_path, port)
    result = CliRunner().invoke(main, ["nudge", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"the daemon at 127.0.0.1:{port} did not answer; it will see the push on its own\n"
    )


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A plain HTTP server standing in for the daemon: answers 202, records what it got."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            seen.append(f"POST {self.path}")
            self.send_response(202 if self.path == "/nudge" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _wrapper(folder: Path, log: Path, gate: Path | None = None) -> Path:
    """A `reconciler` that logs each command it is run with, then runs the venv's; with
    `gate` (a FIFO), `nudge` first waits until the test writes a line into it."""
    wrapper = folder / "reconciler"
    wait = f'[ "$command" = nudge ] && read -r _ < "{gate}"\n' if gate else ""
    wrapper.write_text(
        "#!/bin/sh\n"
        'for word in "$@"; do case $word in check | nudge) command=$word ;; esac; done\n'
        f'echo "$command" >> "{log}"\n{wait}exec "{VENV_RECONCILER}" "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def test_post_receive_nudges_a_daemon_of_another_repo_without_holding_the_push(
    server: Server, tmp_path: Path, listener: tuple[int, list[str]]
) -> None:
    port, seen = listener
    config = _daemon_toml(tmp_path, port, repo="mirror.git")  # the daemon serves a mirror
    log, gate = tmp_path / "ran.log", tmp_path / "gate"
    os.mkfifo(gate)
    wrapper = _wrapper(tmp_path, log, gate)
    install(server.bare, "--config", str(config), "--reconciler", str(wrapper))
    hook = (server.bare / "hooks" / "post-receive").read_text()
    assert f"\nCONFIG={config}\n" in hook and "\nNUDGE=yes\n" in hook
    server.edit("www     IN A    192.0.2.14", "Move www")
    # The nudge waits on the gate, opened only once the push is back: a hook that held the
    # push until its nudge ended would never return (the timeout only turns that into a failure).
    pushed = subprocess.run(
        ["git", "push", "origin", "main"],
        cwd=server.clone.path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert "the daemon at" not in pushed.stderr  # the nudge says nothing to the pusher
    assert seen == []
    assert _eventually(lambda: "nudge" in log.read_text().split()), "no nudge was started"
    with gate.open("w") as opened:  # blocks until the waiting nudge opens its end
        opened.write("go\n")
    assert _eventually(lambda: bool(seen)), "the daemon was never nudged"
    assert seen == ["POST /nudge"]
    assert log.read_text().split() == ["check", "nudge"]
    assert server.push("HEAD:refs/heads/topic").returncode == 0  # not the served branch
    assert log.read_text().split() == ["check", "nudge"]


def _eventually(condition: Callable[[], bool]) -> bool:
    """Whether `condition` comes true: what the detached nudge does, it does on its own."""
    for _ in range(600):
        if condition():
            return True
        threading.Event().wait(0.1)
    return False


def test_post_receive_starts_nothing_when_the_daemon_watches_the_pushed_repo(
    server: Server, tmp_path: Path, listener: tuple[int, list[str]]
) -> None:
    port, seen = listener
    config = _daemon_toml(tmp_path, port)  # [repo] path is the bare repo pushed to
    log = tmp_path / "ran.log"
    result = CliRunner().invoke(
        main,
        ["install-hooks", str(server.bare), "--config", str(config)]
        + ["--reconciler", str(_wrapper(tmp_path, log))],
    )
    assert result.exit_code == 0, result.output
    assert "the daemon sees each on its own" in result.output
    assert "\nNUDGE=no\n" in (server.bare / "hooks" / "post-receive").read_text()
    sha = server.edit("www     IN A    192.0.2.15", "Move www")
    pushed = server.push()
    assert pushed.returncode == 0, pushed.stderr
    assert server.head() == sha
    assert log.read_text().split() == ["check"]  # no second Python for a nudge
    assert seen == []


def test_the_demos_push_starts_no_nudge(tmp_path: Path) -> None:
    # Issue 13: the demo installed its hooks before writing daemon.toml, so post-receive could
    # not tell that the demo's daemon watches repo.git and started a second Python per push.
    sandbox = demo.setup(tmp_path / "demo", deadline=4)
    try:
        bare, clone = sandbox.root / "repo.git", sandbox.root / "clone"
        log = tmp_path / "ran.log"
        wrapper = _wrapper(tmp_path, log)
        for name in ("pre-receive", "post-receive"):
            hook = bare / "hooks" / name
            text = hook.read_text()
            assert f"\nRECONCILER={default_program()}\n" in text
            hook.write_text(text.replace(default_program(), str(wrapper), 1))
        zone = clone / ZONE
        zone.write_text(zone.read_text().replace(WWW, "www     IN A    192.0.2.16"))
        commit_all(git.Repo(clone), "Move www")
        pushed = _git(clone, "push", "-q", "origin", "main")
        assert pushed.returncode == 0, pushed.stderr
        assert log.read_text().split() == ["check"]  # the push is checked, nothing is nudged
    finally:
        sandbox.servers.stop_all()
