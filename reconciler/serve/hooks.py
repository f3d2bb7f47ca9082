"""Git server hooks: install them into the bare repo users push to, and nudge the daemon.

`install_hooks` copies deploy/hooks/pre-receive (a push to the served branch
must pass `reconciler check`) and deploy/hooks/post-receive (`reconciler
nudge`, detached) into `<repo>/hooks/`, with the reconciler's path, daemon.toml
and the branch filled in, and whether the nudge is needed at all: not when the
daemon watches the refs of this very repo (`daemon_watches`). `nudge` sends the
daemon `POST /nudge` so it reconciles now rather than at its next look. Called by
cli/main.py (`install-hooks`, `nudge`).
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import git

from reconciler.atomic import write_atomic
from reconciler.config.host import load_host_config
from reconciler.errors import ReconcilerError
from reconciler.model.names import DEFAULT_BRANCH
from reconciler.resources import shared

NAMES = ("pre-receive", "post-receive")
MARK = "of dns-reconciler (written by `reconciler install-hooks`)"
NUDGE_TIMEOUT = 2.0
DEFAULT_CONFIG = Path("/etc/reconciler/daemon.toml")  # the hooks' CONFIG when none is given


def default_program() -> str:
    """The `reconciler` of the running installation: beside this Python, on PATH, or argv[0]."""
    beside = Path(sys.executable).absolute().parent / "reconciler"
    if beside.is_file():
        return str(beside)
    return shutil.which("reconciler") or str(Path(sys.argv[0]).resolve())


def hooks_dir() -> Path:
    folder = shared("deploy/hooks")
    if not all((folder / name).is_file() for name in NAMES):
        raise ReconcilerError(f"hook scripts not found in {folder}")
    return folder


def render(template: str, values: dict[str, str]) -> str:
    """The script with each `NAME=...` line at the top set to `values[NAME]`, shell-quoted."""
    for name, value in values.items():
        found = list(re.finditer(rf"^{name}=.*$", template, re.MULTILINE))
        if len(found) != 1:
            raise ReconcilerError(f"hook template has no single '{name}=' line")
        start, end = found[0].span()
        template = template[:start] + f"{name}={shlex.quote(value)}" + template[end:]
    return template


def install_hooks(
    repo: Path,
    reconciler: str,
    config: Path | None,
    branch: str = DEFAULT_BRANCH,
    force: bool = False,
) -> list[Path]:
    """Write the pre-receive and post-receive hooks into bare repo `repo`; their paths.

    `config` None leaves the scripts' default daemon.toml (/etc/reconciler/daemon.toml).
    Refuses a path that is not a bare repository, and (unless `force`) a hook there that
    dns-reconciler did not write.
    """
    try:
        found = git.Repo(repo)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        found = None
    if found is None or not found.bare:
        raise ReconcilerError(
            f"{repo}: not a bare git repository (install the hooks into the repo users push to)"
        )
    hooks_path = found.config_reader().get_value("core", "hooksPath", "")
    if hooks_path:
        raise ReconcilerError(
            f"{repo}: git runs hooks from core.hooksPath ({hooks_path}), not from its hooks folder"
        )
    try:
        found.git.check_ref_format("--branch", branch)
    except git.GitCommandError:
        raise ReconcilerError(f"'{branch}' is not a valid branch name") from None
    target = Path(found.git_dir) / "hooks"
    if "/" in reconciler:  # the hooks run in the repo's folder: a relative path would break
        reconciler = str(Path(reconciler).absolute())
    values = {"RECONCILER": reconciler, "BRANCH": branch}
    if config is not None:
        values["CONFIG"] = str(Path(config).resolve())
    values["NUDGE"] = "no" if daemon_watches(Path(found.git_dir), config) else "yes"
    scripts = {}
    for name in NAMES:
        template = (hooks_dir() / name).read_text(encoding="utf-8")
        scripts[name] = render(template, {k: v for k, v in values.items() if f"\n{k}=" in template})
        existing = target / name
        if not force and existing.exists() and MARK not in _text(existing):
            raise ReconcilerError(
                f"{existing}: a hook dns-reconciler did not write is there; "
                "move it away or pass --force to replace it"
            )
    target.mkdir(exist_ok=True)
    written = []
    for name, script in scripts.items():
        write_atomic(target / name, script, mode=0o755)
        written.append(target / name)
    return written


def daemon_watches(repo: Path, config: Path | None) -> bool:
    """Whether the daemon of `config` (None: the default daemon.toml) sees a push to `repo`
    by itself: its [repo] path is this repo and it does not mirror a [repo] url. It then
    reconciles when the branch's ref moves (serve/daemon.py), and the post-receive hook
    need not start a second Python to nudge it. False when daemon.toml cannot be read."""
    try:
        host = load_host_config(config or DEFAULT_CONFIG)
    except ReconcilerError:
        return False
    return host.repo_url is None and host.repo.resolve() == repo.resolve()


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


@dataclass(frozen=True)
class Nudge:
    """What came of `POST /nudge`: the address asked and the HTTP status (None: no answer)."""

    address: str
    status: int | None

    @property
    def answered(self) -> bool:
        return self.status is not None


def nudge(listen: str, timeout: float = NUDGE_TIMEOUT) -> Nudge:
    """Ask the daemon listening on `listen` ("host:port") to reconcile now."""
    request = urllib.request.Request(f"http://{listen}/nudge", data=b"", method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        with opener.open(request, timeout=timeout) as response:
            return Nudge(listen, response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return Nudge(listen, exc.code)
    except (OSError, ValueError):  # refused, timed out, unreachable, a bad address
        return Nudge(listen, None)
