"""Services through one small interface: systemd where it runs, /etc/init.d where it does not.

`Services` asks whether services are enabled at boot and running, and gives the commands that
reload, start, stop, enable or disable one; `do` runs them. The commands are also what the
revert script (host/guard.py) runs after the reconciler is gone, so they are plain argv lists.

- `Systemd`: `systemctl show`, `systemctl reload|start|stop`, `systemctl enable|disable --now`.
- `Direct`: hosts (and containers) without systemd as PID 1: Debian's init scripts
  (`/etc/init.d/NAME status|reload|start|stop`) and `update-rc.d NAME enable|disable`, whose
  S/K links in /etc/rc2.d decide what starts at boot.

`detect` picks one from daemon.toml's [host] service_manager. Called by host/read.py and
host/apply.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Protocol

from reconciler.config.host import HostSettings
from reconciler.errors import HostError
from reconciler.host import parse
from reconciler.host.facts import Enablement, Reading, Service, Unreadable
from reconciler.host.system import run, systemd_runs

Argv = tuple[str, ...]


class Action(Enum):
    RELOAD = "reload"
    START = "start"
    STOP = "stop"
    ENABLE = "enable"  # at boot, and start it now
    DISABLE = "disable"  # at boot, and stop it now


class Services(Protocol):
    kind: str

    def states(self, names: Sequence[str]) -> dict[str, Reading[Service]]: ...

    def commands(self, action: Action, name: str) -> list[Argv]: ...


def do(services: Services, action: Action, name: str) -> None:
    """Run what `action` on service `name` takes; HostError naming the command that failed."""
    for argv in services.commands(action, name):
        done = run(*argv, timeout=90.0)
        if not done.ok:
            raise HostError(f"{' '.join(argv)}: {done.reason()}")


class Systemd:
    kind = "systemd"

    def states(self, names: Sequence[str]) -> dict[str, Reading[Service]]:
        if not names:
            return {}
        properties = "Id,LoadState,ActiveState,UnitFileState"
        try:
            done = run("systemctl", "show", f"--property={properties}", "--", *names)
        except HostError as exc:
            return {name: Unreadable("systemctl show", str(exc)) for name in names}
        if not done.ok:
            return {name: Unreadable("systemctl show", done.reason()) for name in names}
        blocks = list(parse.key_value_blocks(done.out))
        if len(blocks) != len(names):
            reason = f"{len(blocks)} answers for {len(names)} services"
            return {name: Unreadable("systemctl show", reason) for name in names}
        return {
            name: Service(
                name,
                parse.enablement(block.get("UnitFileState", ""), block.get("LoadState", "")),
                block.get("ActiveState") in ("active", "reloading"),
            )
            for name, block in zip(names, blocks, strict=True)
        }

    def commands(self, action: Action, name: str) -> list[Argv]:
        if action in (Action.ENABLE, Action.DISABLE):
            return [("systemctl", action.value, "--now", "--", name)]
        return [("systemctl", action.value, "--", name)]


class Direct:
    """Debian's init scripts and rc links, for hosts without systemd as PID 1."""

    kind = "direct"

    def __init__(self, root: Path = Path("/etc")) -> None:
        self.root = root

    def _script(self, name: str) -> Path:
        return self.root / "init.d" / name

    def _enablement(self, name: str) -> Enablement:
        if not self._script(name).exists():
            return Enablement.ABSENT
        links = [p.name for p in (self.root / "rc2.d").glob(f"[SK][0-9][0-9]{name}")]
        return Enablement.ENABLED if any(n.startswith("S") for n in links) else Enablement.DISABLED

    def states(self, names: Sequence[str]) -> dict[str, Reading[Service]]:
        out: dict[str, Reading[Service]] = {}
        for name in names:
            enabled = self._enablement(name)
            if enabled is Enablement.ABSENT:
                out[name] = Service(name, enabled, False)
                continue
            try:
                running = run(str(self._script(name)), "status", timeout=15.0).ok
            except HostError as exc:
                out[name] = Unreadable(f"{self._script(name)} status", str(exc))
                continue
            out[name] = Service(name, enabled, running)
        return out

    def commands(self, action: Action, name: str) -> list[Argv]:
        script = str(self._script(name))
        if action is Action.ENABLE:
            return [("update-rc.d", name, "enable"), (script, "start")]
        if action is Action.DISABLE:
            return [("update-rc.d", name, "disable"), (script, "stop")]
        return [(script, action.value)]


def detect(settings: HostSettings) -> Services:
    """systemd when daemon.toml says so, or (auto) when it runs as PID 1; else Direct."""
    if settings.service_manager == "systemd" or (
        settings.service_manager == "auto" and systemd_runs()
    ):
        return Systemd()
    return Direct()
