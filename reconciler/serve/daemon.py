"""The daemon (`reconciler run`): watch the repo, reconcile the branch head, report.

One worker (the main thread) reconciles; everything else only wakes it:
watchdog events on the repo's refs (a push), `POST /nudge` (the
post-receive hook), the periodic re-check, a due retry, SIGHUP. The worker
starts at most `debounce` seconds after the first event of a burst and reads
the head then, so a burst of pushes ends in few reconciles of the last commit
(latest wins) and a flood of events cannot postpone it. What follows an
outcome or an error (hold the commit, retry after a backoff, health) is
decided by the pure functions of serve/decide.py. The state folder's lock is
held for the daemon's life: a second daemon on the same state refuses to
start. /healthz, /metrics and /nudge are served over HTTP (serve/metrics.py);
systemd is told READY, STATUS and WATCHDOG. At start and every `[drift] interval` the
primary's zones are compared with the last applied content (serve/driftcheck.py).
SIGHUP re-reads daemon.toml and releases a held commit; SIGTERM lets the current
reconcile finish, then exits. Called by `reconciler run` in cli/main.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import FrameType

import structlog
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from reconciler.apply import reconcile, recover
from reconciler.apply.drift import drift_notes
from reconciler.apply.served import AXFR_TIMEOUT
from reconciler.apply.state import State, StateError, load_state, locked
from reconciler.apply.status import gather
from reconciler.bind import probe
from reconciler.bind.catalog import CATALOG
from reconciler.check import cache
from reconciler.config.host import HostConfig, load_host_config
from reconciler.errors import ReconcilerError
from reconciler.serve import chain, decide, driftcheck
from reconciler.serve.hostwatch import HostWatch
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


def give_back_memory() -> None:
    """Collect what a reconcile left and hand the C heap's free pages back to the system
    (glibc's malloc_trim): the daemon falls back to its idle size after a large zone instead
    of keeping its peak for good. Elsewhere (another libc) only the collection happens."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


class _Nudge(FileSystemEventHandler):
    """A change under the repo's refs (a push, packed-refs rewritten) wakes the worker."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # a read (ours, resolving the branch) is no push: waking on it would loop
        path = str(getattr(event, "dest_path", "") or event.src_path)  # a rename: its target
        if path.endswith(".lock"):
            return  # git taking a ref's lock: the ref moves when the lock is renamed onto it
        if "/refs/notes/" in path:
            return  # our own git note on the commit just reconciled
        if "/refs/" in path or path.endswith(("packed-refs", "HEAD", "FETCH_HEAD")):
            self.daemon.wake("push")


class Daemon:
    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.host: HostConfig = load_host_config(config_path)
        cache.configure(self.host.cache_dir, self.host.cache_writers)
        self.log = structlog.get_logger().bind(component="daemon")
        self.metrics = Metrics()
        self.hostwatch = HostWatch(self.host, self.metrics)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._reread = threading.Event()
        self._first_event: float | None = None  # the first event of the burst not yet handled
        self._busy = False  # reconciling: events that come now are gathered for the next one
        self._looked = -float("inf")  # when an event last made the worker look at the head
        self._gather = False  # the burst's first event came while busy or just after a look
        self.reconciles = 0
        self.memory = decide.Memory(self._backoff())
        self.lagging: tuple[str, ...] = ()  # secondaries behind, as the last look found them
        self.bogus: tuple[str, ...] = ()  # signed zones' broken chains, as the last look found
        self.state_problem: str | None = None  # the state file was rebuilt: until a reconcile
        self._beat = time.monotonic()  # the worker's last turn of the loop (for the watchdog)
        self._drift_due = 0.0  # when the next drift check is due (monotonic): at start
        self.drift: tuple[str, ...] = ()  # drifted zones, as the last drift check found them

    def _backoff(self) -> decide.Backoff:
        return decide.Backoff(self.host.backoff_initial, self.host.backoff_max)

    # --- waking ---------------------------------------------------------------------------

    def wake(self, why: str) -> None:
        if self._first_event is None:
            self._gather = self._busy or time.monotonic() - self._looked < self.host.debounce
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
        # First of all: a signal from now on stops the loop before it starts, and none is lost
        # between the caller's last line and the loop (a Ctrl-C right after `demo` printed
        # that the daemon watches was once never seen).
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        with locked(self.host.state_dir, "daemon"):
            self._prepare_repo()
            observer = self._watch()
            server = HttpServer(
                self.host.http_listen, self.metrics, self.is_healthy, lambda: self.wake("nudge")
            )
            server.start()
            watchdog = threading.Thread(target=self._watchdog, daemon=True)
            watchdog.start()
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
            woken = self._first_event is not None  # by an event, not the periodic look
            gathered = self._debounce()
            if self._reread.is_set():
                self._reread.clear()
                self._reload()
            self._fetch()
            done = self.reconciles
            self._once(gathered)
            if self.reconciles != done:
                give_back_memory()  # the reconcile's revisions and plan are garbage now
            if woken:
                self._looked = time.monotonic()
            self._check_drift()
            self.hostwatch.turn(self._head())

    def _sleep_for(self) -> float:
        waits = [self.host.recheck_interval]
        if self.memory.retry is not None:
            waits.append(self.memory.retry_in(time.monotonic()))
        if self.host.repo_url:
            waits.append(self.host.fetch_interval)
        if self.host.drift_interval > 0:
            waits.append(max(self._drift_due - time.monotonic(), 0.0))
        host_audit = self.hostwatch.wait()
        if host_audit is not None:
            waits.append(host_audit)
        return min(waits)

    def _head(self) -> str | None:
        """The branch head for the host half; None when the repo cannot be read now."""
        try:
            return resolve(open_repo(self.host.repo), self.host.branch).hexsha
        except ReconcilerError:
            return None

    def _debounce(self) -> float:
        """Seconds spent gathering events. An event that finds the daemon idle (a push) starts
        the reconcile at once; events that come during a reconcile or within `debounce` of the
        last look (a burst, a flood of nudges) are gathered for the next one, which starts at
        most `debounce` after the first of them: events that keep coming must not postpone it."""
        self._wake.clear()
        if self._first_event is None or not self._gather:
            return 0.0  # a timer, or an event that found the daemon idle: nothing to wait for
        started = time.monotonic()
        until = self._first_event + self.host.debounce
        while not self._stop.is_set() and (left := until - time.monotonic()) > 0:
            self._wake.wait(timeout=left)
            self._wake.clear()
        return time.monotonic() - started

    def _once(self, gathered: float = 0.0) -> None:
        """Reconcile the branch head if there is anything to do; never raises."""
        pushed_at, self._first_event = self._first_event, None
        if not decide.may_look(self.memory, time.monotonic()):
            return self._refresh_metrics()
        try:
            head = resolve(open_repo(self.host.repo), self.host.branch).hexsha
            state = self._state()
        except Exception as exc:  # decided by its type (decide.kind_of): the daemon lives on
            return self._failed(exc, None)
        settled = head == state.last_applied == state.last_attempted and not state.lagging
        if not decide.should_reconcile(self.memory, head, settled, time.monotonic()):
            self.memory = decide.idle(self.memory, head, settled)
            return self._refresh_metrics()
        self.reconciles += 1
        log = self.log.bind(commit=head[:12], reconcile=self.reconciles)
        sd_notify(f"STATUS=reconciling {head[:12]}")
        started = time.monotonic()
        self._busy = True
        try:
            outcome = reconcile.apply(self.host, head, lock=False, itemise=False)
        except Exception as exc:  # decided by its type (decide.kind_of): the daemon lives on
            if not isinstance(exc, ReconcilerError):
                log.exception("reconcile crashed")
            return self._failed(exc, head)
        finally:
            self._busy = False
        took = time.monotonic() - started
        self.metrics.observe(outcome.status, took, outcome.commit)
        decision = decide.after_outcome(self.memory, outcome, time.monotonic())
        fields: dict[str, object] = {
            "status": outcome.status.value,
            "seconds": round(took, 3),
            "reconciles": self.reconciles,
            "gathered": round(gathered, 3),  # seconds it waited for more events to come
        }
        if pushed_at is not None:
            fields["seconds_since_push"] = round(time.monotonic() - pushed_at, 3)
        if outcome.reason:
            fields["reason"] = outcome.reason
        if decision.retry_in is not None:
            fields["retry_in"] = decision.retry_in
        # Health and metrics first: whoever reads the log line may look at them at once.
        self.memory = decision.memory
        if outcome.status.healthy:
            self.state_problem = None  # the reconcile proved the state (rebuilt or not)
        self._refresh_metrics()
        sd_notify(f"STATUS={outcome.status.value} {head[:12]}")
        getattr(log, decision.level)(decision.event, **fields)

    def _state(self) -> State:
        """The state file; rebuilt (and said so) when it is unreadable."""
        try:
            return load_state(self.host.state_dir)
        except StateError as exc:
            self.log.error("state file unreadable; rebuilding it", error=str(exc))
            why = str(exc)
        rebuilt = recover.rebuild(self.host, why)
        state = rebuilt.state
        self.state_problem = (
            f"the state file was unreadable ({why}); rebuilt from what the primary serves "
            "and the git notes"
            + (f"; could not rebuild: {'; '.join(rebuilt.missing)}" if rebuilt.missing else "")
        )
        self.log.error(
            "state file rebuilt",
            kept=str(rebuilt.kept) if rebuilt.kept else None,
            last_applied=state.last_applied[:12] if state.last_applied else None,
            zones={zone: entry.serial for zone, entry in sorted(state.zones.items())},
            missing=list(rebuilt.missing),
        )
        return state

    def _failed(self, exc: Exception, head: str | None) -> None:
        decision = decide.after_error(self.memory, exc, head, time.monotonic())
        self.memory = decision.memory
        reason = type(exc).__name__
        self.metrics.failure(reason)
        self._refresh_metrics()
        error = str(exc) if isinstance(exc, ReconcilerError) else decide.describe(exc)
        sd_notify(f"STATUS={self.memory.reason}")
        getattr(self.log, decision.level)(
            decision.event,
            error=error,
            reason=reason,
            kind=decide.kind_of(exc),
            retry_in=decision.retry_in,
            commit=head[:12] if head else None,
        )

    # --- health and metrics ---------------------------------------------------------------

    def is_healthy(self) -> tuple[bool, str]:
        primary = self.metrics.primary
        if primary is None:
            return False, "the servers have not been asked yet"
        address, port = primary
        timeout = self.host.query_timeout
        answers = probe.soa_serial(address, port, CATALOG, timeout=timeout) is not None
        return decide.health(
            self.memory, answers, self.lagging, self.state_problem, self.drift, self.bogus
        )

    def _check_drift(self) -> None:
        """At start and every [drift] interval: served against applied; never raises."""
        now = time.monotonic()
        if self.host.drift_interval <= 0 or now < self._drift_due:
            return
        self._drift_due = now + self.host.drift_interval
        try:
            report = driftcheck.check(self.host, self.log)
        except Exception as exc:  # the daemon lives on; the next check tries again
            error = str(exc) if isinstance(exc, ReconcilerError) else decide.describe(exc)
            self.log.warning("drift check failed", error=error, stage="drift")
            return
        self._refresh_metrics()  # /metrics before /healthz: whoever sees one sees the other
        self.drift = drift_notes(report)

    def _refresh_metrics(self) -> None:
        self.metrics.backoff.set(self.memory.retry_in(time.monotonic()))
        try:
            overview = gather(self.host)
        except ReconcilerError as exc:
            self.log.warning("status unavailable", error=str(exc))
            return
        self.metrics.update_status(overview)
        secondaries = {s.name for s in overview.servers if s.role == "secondary"}
        self.lagging = tuple(
            f"{server}: {zone.zone} serves {zone.serials.get(server)} (want {zone.recorded})"
            for zone in overview.zones
            for server in zone.lagging
            if server in secondaries  # the primary not answering is said on its own
        )
        try:
            chains = chain.look(self.host, overview)
        except ReconcilerError as exc:
            self.log.warning("dnssec look unavailable", error=str(exc))
            return
        self.metrics.update_dnssec(chains, tuple(s.name for s in overview.servers))
        self.bogus = chain.bogus(chains)

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
        """How long one turn of the loop may take: a wait, a fetch and a whole reconcile,
        a drift check (transfers, and a restoring reconcile) when it is on, and (enforce) a
        host apply up to its revert timer."""
        host = self.host
        reconcile_time = host.primary_deadline + host.deadline
        drift = AXFR_TIMEOUT + reconcile_time if host.drift_interval > 0 else 0
        apply_host = 2 * host.host.confirm_timeout + 30 if host.host.mode == "enforce" else 0
        return (
            max(host.recheck_interval, host.fetch_interval)
            + reconcile_time
            + drift
            + apply_host
            + 120
        )

    # --- the repo -------------------------------------------------------------------------

    def _watch(self) -> BaseObserver:
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
        cache.configure(self.host.cache_dir, self.host.cache_writers)
        self.hostwatch.host = self.host
        self.memory = decide.reloaded(self.memory, self._backoff())
        self.log.info("daemon.toml reloaded")
