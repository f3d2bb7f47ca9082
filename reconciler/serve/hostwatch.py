"""The daemon's host half: daemon.toml `[host] mode = "off" | "audit" | "enforce"`.

Each turn of the daemon's loop calls `HostWatch.turn` with the branch head. In `audit` and
`enforce` mode, a head whose `host/` differs from the last one looked at is planned (and
logged); in `enforce` mode it is applied with host/apply.py (the first head after a start
too), and the outcome is logged and added to the commit's git note (`host: applied`,
`host: rolled back: REASON`, ...), so a rolled-back host change is on record like a zone's.
The live host is audited at start, after an apply and every `[host] interval` seconds:
drift is logged, exported (`reconciler_host_drift{item}`, `reconciler_host_reboot_required`)
and saved in STATE/host/last-audit.json, which `reconciler status` shows. Never raises.
Called by serve/daemon.py.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from git import GitCommandError

from reconciler.atomic import write_atomic
from reconciler.config.host import HostConfig
from reconciler.errors import ReconcilerError
from reconciler.host.audit import Audit, Status
from reconciler.host.session import open_session
from reconciler.host.source import from_repo
from reconciler.model.names import touches_host
from reconciler.serve.metrics import Metrics
from reconciler.source.repo import HOST_LINE, add_note, changed_paths, open_repo, read_note

SUMMARY = "last-audit.json"  # under STATE/host/: what `status` shows


def summary_path(host: HostConfig) -> Path:
    return host.state_dir / "host" / SUMMARY


def read_summary(host: HostConfig) -> dict[str, Any] | None:
    """The daemon's last audit of the host, as saved; None when there is none (or mode off)."""
    try:
        data = json.loads(summary_path(host).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def summarise(audit: Audit, mode: str, label: str) -> dict[str, Any]:
    return {
        "mode": mode,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "policy": label,
        "in_policy": audit.exit_code == 0,
        "reboot_required": audit.reboot_required,
        "drift": [f.to_dict() for f in audit.of(Status.DRIFT)],
        "unreadable": [f.to_dict() for f in audit.of(Status.UNREADABLE)],
    }


class HostWatch:
    def __init__(self, host: HostConfig, metrics: Metrics) -> None:
        self.host = host
        self.metrics = metrics
        self.log = structlog.get_logger().bind(component="host")
        self.looked_at: str | None = None  # the last head whose host/ was planned or applied
        self.next_audit = 0.0  # monotonic: audit at the first turn

    @property
    def mode(self) -> str:
        return self.host.host.mode

    def wait(self) -> float | None:
        """Seconds until the next audit is due (None: mode off)."""
        if self.mode == "off":
            return None
        return max(0.0, self.next_audit - time.monotonic())

    def turn(self, head: str | None) -> None:
        if self.mode == "off":
            return
        try:
            changed = head is not None and self._look(head)
            if changed or time.monotonic() >= self.next_audit:
                self._audit(head)
        except Exception as exc:  # the daemon lives on; the next turn tries again
            error = str(exc) if isinstance(exc, ReconcilerError) else repr(exc)
            self.log.error("host turn failed", error=error, commit=head[:12] if head else None)
            self.next_audit = time.monotonic() + self.host.host.interval

    def _look(self, head: str) -> bool:
        """Plan (audit) or apply (enforce) `head`'s host/ when it differs from the last one
        looked at; True when something was applied or rolled back."""
        if head == self.looked_at:
            return False
        repo = open_repo(self.host.repo)
        first = self.looked_at is None
        if not first:
            paths = changed_paths(repo, self.looked_at or head, head)
            if not touches_host(paths):
                self.looked_at = head
                return False
        self.looked_at = head
        log = self.log.bind(commit=head[:12], stage="host")
        try:
            session = open_session(self.host, from_repo(repo, head))
        except ReconcilerError as exc:
            log.error("host policy not usable", error=str(exc))
            if self.mode == "enforce":
                self._note(repo, head, f"{HOST_LINE}invalid: {str(exc).splitlines()[0]}")
            return False
        plan = session.plan()
        changes = [f.label for f in plan.files] + [s.what for s in plan.steps]
        if self.mode == "audit":
            log.info("host plan", changes=changes, notes=list(plan.notes))
            return False
        outcome = session.apply()
        fields: dict[str, object] = {"result": outcome.result.value, "changes": changes}
        if outcome.reason:
            fields["reason"] = outcome.reason
        if outcome.guard:
            fields["guard"] = str(outcome.guard)
        level = "info" if outcome.exit_code == 0 else "error"
        getattr(log, level)("host apply", **fields)
        said = f"{HOST_LINE}{outcome.result.value}" + (
            f": {outcome.reason}" if outcome.reason else ""
        )
        self._note(repo, head, said)
        return True

    def _note(self, repo: Any, commit: str, line: str) -> None:
        """Add `line` to the commit's git note (the zones' reconcile may have written it)."""
        before = read_note(repo, commit)
        kept = [x for x in (before or "").splitlines() if not x.startswith(HOST_LINE)]
        try:
            add_note(repo, commit, "\n".join([*kept, line]))
        except GitCommandError as exc:
            self.log.warning("could not write the git note", error=str(exc).splitlines()[0])

    def _audit(self, head: str | None) -> None:
        self.next_audit = time.monotonic() + self.host.host.interval
        repo = open_repo(self.host.repo)
        source = from_repo(repo, head or self.host.branch)
        audit = open_session(self.host, source).audit()
        summary = summarise(audit, self.mode, source.label)
        self.metrics.host_audit(
            {f.item: f.status is Status.DRIFT for f in audit.findings}, audit.reboot_required
        )
        path = summary_path(self.host)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(summary, indent=2) + "\n", 0o640)
        drift = [f"{f['item']}: found {f['found']}; wanted {f['wanted']}" for f in summary["drift"]]
        if drift or summary["unreadable"]:
            unreadable = [f"{f['item']}: {f['found']}" for f in summary["unreadable"]]
            self.log.warning("host drift", drift=drift, unreadable=unreadable)
        else:
            self.log.info("host in policy", items=len(audit.findings))
