"""`reconciler demo`: a primary and two secondaries on loopback, a repo, one apply.

Starts real `named` processes (devtools/sandbox.py) with TSIG-keyed transfers and a
catalog zone, makes a bare repo and a clone from the template whose
reconciler.toml names those servers, writes a daemon.toml, and applies the
branch head. `--detach` leaves it running and records the processes in
`demo.json`; `stop` ends them. Called by cli/main.py (`make demo`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import git

from reconciler.apply.reconcile import apply
from reconciler.config.host import HostConfig, load_host_config
from reconciler.devtools.init import commit_all, init_repo
from reconciler.devtools.sandbox import (
    Servers,
    alive,
    free_port,
    start_servers,
    stop_detached,
    terminate,
)
from reconciler.errors import ReconcilerError
from reconciler.model.outcome import Outcome
from reconciler.serve.hooks import default_program, install_hooks

RECORD = "demo.json"


@dataclass(frozen=True)
class Demo:
    root: Path
    servers: Servers
    host: HostConfig
    outcome: Outcome


def topology(servers: Servers) -> str:
    """The [primary] and [[secondary]] tables naming the sandbox's servers."""
    primary = servers.primary
    text = (
        f'[primary]\nname = "{primary.name}"\naddress = "{primary.address}"\n'
        f"port = {primary.port}\n\n"
    )
    for server in servers.secondaries:
        text += (
            f'[[secondary]]\nname = "{server.name}"\naddress = "{server.address}"\n'
            f"port = {server.port}\n\n"
        )
    return text


def setup(
    root: Path, primary_options: str = "", deadline: float = 20.0, hooks: bool = True
) -> Demo:
    """Everything the demo needs, under `root`; servers stopped again if anything fails.

    `primary_options` go into the primary's options block (tests make named stricter
    than the checker with them); `deadline` is how long secondaries get to confirm;
    `hooks=False` leaves the git server hooks out (to push what pre-receive would refuse).
    """
    root.mkdir(parents=True, exist_ok=True)
    if (root / RECORD).exists():
        raise_busy(root)
    servers = start_servers(
        root / "servers", primary_options=primary_options, catalog_min_update_interval=1
    )
    try:
        bare = git.Repo.init(root / "repo.git", bare=True, initial_branch="main")
        clone = init_repo(root / "clone")
        config = root / "clone" / "reconciler.toml"
        text = config.read_text(encoding="utf-8")
        start, end = text.index("[primary]"), text.index("# Zone transfers")
        config.write_text(text[:start] + topology(servers) + text[end:], encoding="utf-8")
        commit_all(clone, "Name the demo's servers: a primary and two secondaries on loopback")
        clone.create_remote("origin", str(bare.git_dir))
        clone.git.push("-q", "origin", "main")
        clone.git.branch("--set-upstream-to=origin/main", "main")
        daemon = root / "daemon.toml"
        daemon.write_text(daemon_toml(root, servers, deadline, free_port()), encoding="utf-8")
        if hooks:  # after daemon.toml: its daemon watches repo.git, so post-receive nudges not
            install_hooks(root / "repo.git", default_program(), daemon, "main")
        (root / RECORD).write_text(json.dumps(servers.to_dict(), indent=2), encoding="utf-8")
        host = load_host_config(daemon)
        outcome = apply(host)
    except BaseException:
        servers.stop_all()
        (root / RECORD).unlink(missing_ok=True)
        raise
    return Demo(root, servers, host, outcome)


def raise_busy(root: Path) -> None:
    raise ReconcilerError(
        f"{root}: a demo seems to run there already; stop it with "
        f"'reconciler demo --dir {root} --stop'"
    )


def daemon_toml(root: Path, servers: Servers, deadline: float = 20.0, http_port: int = 9153) -> str:
    primary = servers.primary
    assert primary.include_file is not None  # the sandbox's primary always has one
    return f"""# The demo's host configuration (what /etc/reconciler/daemon.toml is on a real host).
[repo]
path = "repo.git"
branch = "main"

[bind]
zone_dir = "{primary.zone_dir.relative_to(root)}"
include_file = "{primary.include_file.relative_to(root)}"
named_conf = "{primary.conf.relative_to(root)}"
log_file = "{primary.log_file.relative_to(root)}"

[rndc]
server = "127.0.0.1"
port = {primary.rndc_port}
key_file = "{servers.rndc_key_file.relative_to(root)}"

[tsig]
key_file = "{servers.transfer_key_file.relative_to(root)}"

[state]
dir = "state"

[confirm]
primary_deadline = 10
deadline = {deadline}
query_timeout = 0.5

[http]
listen = "127.0.0.1:{http_port}"

[daemon]
debounce = 0.2
recheck_interval = 10
"""


def start_daemon(root: Path) -> int:
    """`reconciler run` for a detached demo, in its own session; its pid, recorded."""
    with open(root / "daemon.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler.cli", "run", "--config", str(root / "daemon.toml")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    record = json.loads((root / RECORD).read_text(encoding="utf-8"))
    record["daemon_pid"] = process.pid
    (root / RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return process.pid


@dataclass(frozen=True)
class Stopped:
    """What `stop` ended: the daemon's pid (None: it was not running) and the name servers."""

    daemon: int | None
    servers: int


def stop(root: Path, grace: float = 60.0) -> Stopped:
    """Stop what a detached demo in `root` started: the daemon, then the name servers."""
    record = root / RECORD
    pid = None
    if record.exists():
        pid = json.loads(record.read_text(encoding="utf-8")).get("daemon_pid")
    daemon = pid if pid and _is_daemon(pid, root) else None
    if daemon:
        terminate(daemon, grace)  # SIGTERM: it finishes a reconcile under way, then exits
    stopped = stop_detached(root / "servers")
    record.unlink(missing_ok=True)
    return Stopped(daemon, len(stopped))


def _is_daemon(pid: int, root: Path) -> bool:
    """`pid` is alive (not a zombie) and is the demo's `reconciler run`."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return alive(pid) and b"run" in cmdline and str(root / "daemon.toml").encode() in cmdline
