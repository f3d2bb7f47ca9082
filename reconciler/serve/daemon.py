"""The daemon (`reconciler run`): watch the repo, reconcile the branch head, report.

One worker (the main thread) reconciles; everything else only wakes it:
watchdog events on the repo's refs (a push), `POST /nudge` (the
post-receive hook), the periodic re-check, a due retry, SIGHUP. Events are
debounced and the head is read when the worker starts, so a burst of pushes
ends in one reconcile of the last commit (latest wins). A commit refused for
what it is (invalid, unsafe, not a descendant, unsigned, rolled back) is not
tried again until a new commit arrives; a temporary failure (named or rndc not
answering, a lagging secondary) is retried with capped exponential backoff.
The state folder's lock is held for the daemon's life: a second daemon on
the same state refuses to start. /healthz, /metrics and /nudge are served
over HTTP (serve/metrics.py); systemd is told READY, STATUS and WATCHDOG. SIGHUP
re-reads daemon.toml; SIGTERM lets the current reconcile finish, then exits.
Called by `reconciler run` in cli/main.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import structlog
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from reconciler.apply import reconcile
from reconciler.apply.state import load_state, locked
from reconciler.apply.status import gather
from reconciler.bind import probe
from reconciler.config.host import HostConfig, load_host_config
from reconciler.errors import ReconcilerError
from reconciler.model.outcome import Status
from reconciler.serve.metrics import HttpServer, Metrics
from reconciler.source.repo import open_repo, resolve


def sd_notify(message: str) -> bool:
    """Tell systemd (Type=notify) something; False when not run by systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(message.encode(), address)
        except OSError:
            return False
    return True


@dataclass
class Backoff:
    """Capped exponential backoff: 1, 2, 4 ... up to `cap` seconds."""

    initial: float
    cap: float
    failures: int = 0

    def next_delay(self) -> float:
        delay = min(self.initial * 2**self.failures, self.cap)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class _Nudge(FileSystemEventHandler):
    """A change under the repo's refs (a push, packed-refs rewritten) wakes the worker."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # a read (ours, resolving the branch) is no push: waking on it would loop
        path = str(event.src_path)
        if "/refs/" in path or path.endswith(("packed-refs", "HEAD", "FETCH_HEAD")):
            self.daemon.wake("push")


class Daemon:
    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.host: HostConfig = load_host_config(config_path)
        self.log = structlog.get_logger().bind(component="daemon")
        self.metrics = Metrics()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._reread = threading.Event()
        self._first_event: float | None = None
        self.reconciles = 0
        self.backoff = Backoff(self.host.backoff_initial, self.host.backoff_max)
        self.retry_at: float | None = None
        self.refused: str | None = None  # a commit not to try again
        self.healthy = False
        self._beat = time.monotonic()  # the worker's last turn of the loop (for the watchdog)

    # --- waking ---------------------------------------------------------------------------

    def wake(self, why: str) -> None:
        if self._first_event is None:
            self._first_event = time.monotonic()
        self.log.debug("woken", why=why)
        self._wake.set()

    def stop(self, *_: object) -> None:
        self._stop.set()
        self._wake.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._reread.set()
            self.wake("SIGHUP")
        else:
            self.log.info("stopping after the current reconcile", signal=signum)
            self.stop()

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        with locked(self.host.state_dir):
            self._prepare_repo()
            observer = self._watch()
            server = HttpServer(
                self.host.http_listen, self.metrics, self.is_healthy, lambda: self.wake("nudge")
            )
            server.start()
            watchdog = threading.Thread(target=self._watchdog, daemon=True)
            watchdog.start()
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, self._on_signal)
            self.log.info(
                "daemon started",
                repo=str(self.host.repo),
                branch=self.host.branch,
                http=server.address,
            )
            sd_notify("READY=1\nSTATUS=started")
            self.wake("start")  # a crash may have left last attempted != last applied
            try:
                self._loop()
            finally:
                sd_notify("STOPPING=1")
                server.stop()
                observer.stop()
                observer.join(timeout=5)
                self.log.info("daemon stopped", reconciles=self.reconciles)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._beat = time.monotonic()
            self._wake.wait(timeout=self._sleep_for())
            self._beat = time.monotonic()
            if self._stop.is_set():
                break
            self._debounce()
            if self._reread.is_set():
                self._reread.clear()
                self._reload()
            self._fetch()
            self._once()

    def _sleep_for(self) -> float:
        waits = [self.host.recheck_interval]
        if self.retry_at is not None:
            waits.append(max(self.retry_at - time.monotonic(), 0.0))
        if self.host.repo_url:
            waits.append(self.host.fetch_interval)
        return min(waits)

    def _debounce(self) -> None:
        """Let a burst of pushes settle: go on after `debounce` seconds without an event."""
        self._wake.clear()
        while not self._stop.is_set() and self._wake.wait(timeout=self.host.debounce):
            self._wake.clear()

    def _once(self) -> None:
        """Reconcile the branch head if there is anything to do; never raises."""
        pushed_at, self._first_event = self._first_event, None
        try:
            repo = open_repo(self.host.repo)
            head = resolve(repo, self.host.branch).hexsha
        except ReconcilerError as exc:
            return self._temporary(exc, None)
        state = load_state(self.host.state_dir)
        due = self.retry_at is not None and time.monotonic() >= self.retry_at
        settled = head == state.last_applied == state.last_attempted and not state.lagging
        if head == self.refused or (settled and not due):
            self.healthy = head != self.refused
            self._refresh_metrics()
            return
        self.reconciles += 1
        log = self.log.bind(commit=head[:12], reconcile=self.reconciles)
        sd_notify(f"STATUS=reconciling {head[:12]}")
        started = time.monotonic()
        try:
            outcome = reconcile.apply(self.host, head, lock=False)
        except ReconcilerError as exc:
            return self._temporary(exc, head)
        except Exception as exc:  # the daemon must not die of one bad reconcile
            log.exception("reconcile crashed")
            return self._temporary(exc, head)
        took = time.monotonic() - started
        self.metrics.observe(outcome.status, took, outcome.commit)
        fields: dict[str, object] = {
            "status": outcome.status.value,
            "seconds": round(took, 3),
            "reconciles": self.reconciles,
        }
        if pushed_at is not None:
            fields["seconds_since_push"] = round(time.monotonic() - pushed_at, 3)
        if outcome.reason:
            fields["reason"] = outcome.reason
        # Health and metrics first: whoever reads the log line may look at them at once.
        self.healthy = outcome.status.healthy
        if outcome.status.permanent:
            self.refused, self.retry_at = head, None
            self.backoff.reset()
            message = "commit refused; waiting for a new commit"
        elif outcome.status is Status.UNCONFIRMED:
            delay = self.backoff.next_delay()
            fields["retry_in"] = delay
            self.retry_at = time.monotonic() + delay
            message = "secondaries lag; retrying"
        else:
            self.refused, self.retry_at = None, None
            self.backoff.reset()
            message = "reconciled"
        self._refresh_metrics()
        sd_notify(f"STATUS={outcome.status.value} {head[:12]}")
        if message == "reconciled":
            log.info(message, **fields)
        else:
            log.warning(message, **fields)

    def _temporary(self, exc: Exception, head: str | None) -> None:
        delay = self.backoff.next_delay()
        self.retry_at = time.monotonic() + delay
        self.healthy = False
        reason = type(exc).__name__
        self.metrics.failure(reason)
        self._refresh_metrics()
        self.metrics.backoff.set(delay)
        sd_notify(f"STATUS=backing off {delay:g}s: {exc}")
        self.log.error(
            "reconcile failed; backing off",
            error=str(exc),
            reason=reason,
            retry_in=delay,
            commit=head[:12] if head else None,
        )

    # --- health and metrics ---------------------------------------------------------------

    def is_healthy(self) -> tuple[bool, str]:
        primary = self._primary()
        if primary is None:
            return False, "no reconcile yet"
        answers = (
            probe.soa_serial(
                primary[0], primary[1], "catalog.invalid", timeout=self.host.query_timeout
            )
            is not None
        )
        if not answers:
            return False, "named does not answer on the primary"
        if not self.healthy:
            return False, "the last reconcile did not succeed"
        return True, "ok"

    def _primary(self) -> tuple[str, int] | None:
        return self.metrics.primary

    def _refresh_metrics(self) -> None:
        try:
            status = gather(self.host)
        except ReconcilerError as exc:
            self.log.warning("status unavailable", error=str(exc))
            return
        self.metrics.update_status(status)
        self.metrics.backoff.set(
            max(self.retry_at - time.monotonic(), 0.0) if self.retry_at else 0.0
        )

    def _watchdog(self) -> None:
        usec = os.environ.get("WATCHDOG_USEC")
        if not usec:
            return
        interval = int(usec) / 1e6 / 2
        while not self._stop.wait(interval):
            if time.monotonic() - self._beat < self._longest_turn():
                sd_notify("WATCHDOG=1")  # the worker is alive: it came round recently
            else:
                self.log.error("the worker is stuck; letting systemd's watchdog act")

    def _longest_turn(self) -> float:
        """How long one turn of the loop may take: a wait, a fetch and a whole reconcile."""
        host = self.host
        return (
            max(host.recheck_interval, host.fetch_interval)
            + host.primary_deadline
            + host.deadline
            + 120
        )

    # --- the repo -------------------------------------------------------------------------

    def _watch(self) -> Observer:
        git_dir = Path(open_repo(self.host.repo).git_dir)
        observer = Observer()
        handler = _Nudge(self)
        observer.schedule(handler, str(git_dir), recursive=False)
        observer.schedule(handler, str(git_dir / "refs"), recursive=True)
        observer.daemon = True
        observer.start()
        return observer

    def _prepare_repo(self) -> None:
        """Pull mode: a mirror of the remote in `repo` (made on first start)."""
        if self.host.repo_url and not self.host.repo.exists():
            subprocess.run(
                ["git", "clone", "-q", "--mirror", self.host.repo_url, str(self.host.repo)],
                check=True,
                capture_output=True,
            )

    def _fetch(self) -> None:
        if not self.host.repo_url:
            return
        run = subprocess.run(
            ["git", "-C", str(self.host.repo), "fetch", "-q", "--prune", "origin"],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            self.log.warning("fetch failed", error=run.stderr.strip().splitlines()[-1:])

    def _reload(self) -> None:
        try:
            self.host = load_host_config(self.config_path)
        except ReconcilerError as exc:
            self.log.error("daemon.toml not reloaded; keeping the old one", error=str(exc))
            return
        self.backoff = Backoff(self.host.backoff_initial, self.host.backoff_max)
        self.log.info("daemon.toml reloaded")
