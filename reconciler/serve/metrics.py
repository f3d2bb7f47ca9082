"""The daemon's HTTP face: /metrics (Prometheus), /healthz and POST /nudge.

`Metrics` owns a registry of its own; the daemon feeds it outcome `Status`es
and `Overview`s of what the servers answer. `HttpServer` serves it on daemon.toml's
[http] listen address in a thread. Called by serve/daemon.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

from reconciler.apply.status import Overview
from reconciler.errors import ConfigError
from reconciler.model.outcome import Status
from reconciler.serve.chain import ZoneChain
from reconciler.version import VERSION


class Metrics:
    """What `/metrics` shows; see the README for each series' meaning."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.duration = Histogram(
            "reconciler_reconcile_duration_seconds",
            "Time one reconcile took.",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.reconciles = Counter(
            "reconciler_reconciles", "Reconciles run, by outcome.", ["status"], registry=r
        )
        self.failures = Counter(
            "reconciler_failures",
            "Reconciles that did not succeed, by reason.",
            ["reason"],
            registry=r,
        )
        self.last_success = Gauge(
            "reconciler_last_success_timestamp_seconds",
            "When a reconcile last succeeded (Unix time).",
            registry=r,
        )
        self.build = Info("reconciler_build", "The reconciler that runs.", registry=r)
        self.build.info({"version": VERSION})
        self.applied = Info(
            "reconciler_applied_commit", "The commit the servers serve.", registry=r
        )
        self.serial = Gauge(
            "reconciler_zone_serial",
            "SOA serial each server answers for each zone (absent: no answer).",
            ["zone", "server", "role"],
            registry=r,
        )
        self.expected = Gauge(
            "reconciler_zone_expected_serial",
            "The serial the reconciler last served.",
            ["zone"],
            registry=r,
        )
        self.lagging = Gauge(
            "reconciler_secondary_lagging",
            "1 when a secondary does not serve the expected serial of a zone.",
            ["zone", "server"],
            registry=r,
        )
        self.lag = Gauge(
            "reconciler_secondary_lag_seconds",
            "How long a secondary has not served the expected serial of a zone (0 when it does).",
            ["zone", "server"],
            registry=r,
        )
        self.drift = Gauge(
            "reconciler_zone_drift",
            "1 when the primary serves a zone otherwise than git's content last applied.",
            ["zone"],
            registry=r,
        )
        self.named_up = Gauge("reconciler_named_up", "1 when the primary answers.", registry=r)
        self.backoff = Gauge(
            "reconciler_backoff_seconds", "Time until the next retry after a failure.", registry=r
        )
        self.expiry = Gauge(
            "reconciler_dnssec_signature_expiry_seconds",
            "Seconds until the first RRSIG over a signed zone's SOA or DNSKEY set expires, as "
            "each server serves it (absent: its signatures do not validate).",
            ["zone", "server"],
            registry=r,
        )
        self.signatures_valid = Gauge(
            "reconciler_dnssec_signatures_valid",
            "1 when the server's RRSIGs over a signed zone's SOA and DNSKEY set validate.",
            ["zone", "server"],
            registry=r,
        )
        self.keys = Gauge(
            "reconciler_dnssec_keys",
            "A signed zone's keys by role and the state of each of their records "
            "(rndc dnssec -status: record is dnskey, ds, zone rrsig or key rrsig).",
            ["zone", "role", "record", "state"],
            registry=r,
        )
        self.ds_mismatch = Gauge(
            "reconciler_dnssec_ds_mismatch",
            "1 when the parent's DS matches no KSK/CSK the zone serves (bogus), 0 when it "
            "matches (absent: no parent said; daemon.toml [dnssec] parents).",
            ["zone"],
            registry=r,
        )
        self.host_drift = Gauge(
            "reconciler_host_drift",
            "1 when the host's item drifted from host/policy.toml at the last audit, else 0.",
            ["item"],
            registry=r,
        )
        self.reboot_required = Gauge(
            "reconciler_host_reboot_required",
            "1 when the host waits for a reboot (a package asks, or an older kernel runs).",
            registry=r,
        )
        self.primary: tuple[str, int] | None = None
        self._lag_since: dict[tuple[str, str], float] = {}
        self._shown: dict[int, set[tuple[str, ...]]] = {}  # per gauge: the series it shows

    def observe(self, status: Status, seconds: float, commit: str) -> None:
        self.duration.observe(seconds)
        self.reconciles.labels(status.value).inc()
        if status.healthy:
            self.last_success.set(time.time())
            self.applied.info({"commit": commit})
        else:
            self.failures.labels(status.value).inc()

    def failure(self, reason: str) -> None:
        self.failures.labels(reason).inc()

    def update_status(self, status: Overview) -> None:
        primary = next(s for s in status.servers if s.role == "primary")
        self.primary = (primary.address, primary.port)
        roles = {s.name: s.role for s in status.servers}
        serial: dict[tuple[str, ...], float] = {}
        expected: dict[tuple[str, ...], float] = {}
        lagging: dict[tuple[str, ...], float] = {}
        lag: dict[tuple[str, ...], float] = {}
        now = time.time()
        up = False
        for zone in status.zones:
            expected[(zone.zone,)] = zone.recorded
            for server, answered in zone.serials.items():
                if answered is not None:
                    serial[(zone.zone, server, roles[server])] = answered
                    up = up or roles[server] == "primary"
                if roles[server] != "secondary":
                    continue
                key = (zone.zone, server)
                behind = server in zone.lagging
                since = self._lag_since.setdefault(key, now) if behind else None
                if not behind:
                    self._lag_since.pop(key, None)
                lagging[key] = 1 if behind else 0
                lag[key] = now - since if since else 0
        self._renew(self.serial, serial)
        self._renew(self.expected, expected)
        self._renew(self.lagging, lagging)
        self._renew(self.lag, lag)
        self.named_up.set(1 if up or not status.zones else 0)
        drift: dict[tuple[str, ...], float] = {}
        if status.drift is not None:
            drifted = {z.zone for z in status.drift.drifted}
            drift = {(name,): 1 if name in drifted else 0 for name in status.drift.checked}
        self._renew(self.drift, drift)

    def _renew(self, gauge: Gauge, values: dict[tuple[str, ...], float]) -> None:
        """Make `gauge`'s series exactly `values`: the ones there set in place, new ones
        made, the others removed. Clearing and making them all again took about 0.3 s a
        refresh with 1,000 zones and three servers (py-spy, issue 13)."""
        shown = self._shown.setdefault(id(gauge), set())
        for labels, value in values.items():
            gauge.labels(*labels).set(value)
        for labels in shown - values.keys():
            gauge.remove(*labels)
        self._shown[id(gauge)] = set(values)

    def update_dnssec(self, chains: tuple[ZoneChain, ...], servers: tuple[str, ...]) -> None:
        for gauge in (self.expiry, self.signatures_valid, self.keys, self.ds_mismatch):
            gauge.clear()
        for chain in chains:
            for server in servers:
                seconds = chain.expiry.get(server)
                self.signatures_valid.labels(chain.zone, server).set(seconds is not None)
                if seconds is not None:
                    self.expiry.labels(chain.zone, server).set(seconds)
            if chain.ds_mismatch is not None:
                self.ds_mismatch.labels(chain.zone).set(1 if chain.ds_mismatch else 0)
            counts: dict[tuple[str, str, str], int] = {}
            for key in chain.keys.keys if chain.keys else ():
                for record, state in key.states.items():
                    if record != "goal":
                        label = (key.role, record, state)
                        counts[label] = counts.get(label, 0) + 1
            for (role, record, state), count in counts.items():
                self.keys.labels(chain.zone, role, record, state).set(count)

    def host_audit(self, drift: dict[str, bool], reboot_required: bool) -> None:
        """The last audit of the host: each item, drifted or not."""
        self.host_drift.clear()
        for item, drifted in drift.items():
            self.host_drift.labels(item).set(1 if drifted else 0)
        self.reboot_required.set(1 if reboot_required else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class HttpServer:
    """GET /metrics, GET /healthz (200 only when healthy), POST /nudge (202)."""

    def __init__(
        self,
        listen: str,
        metrics: Metrics,
        healthy: Callable[[], tuple[bool, str]],
        nudge: Callable[[], None],
    ) -> None:
        host, _, port = listen.rpartition(":")
        handler = _handler(metrics, healthy, nudge)
        try:
            self.server = ThreadingHTTPServer((host.strip("[]") or "127.0.0.1", int(port)), handler)
        except OSError as exc:  # a port another program holds: one line, not an internal error
            reason = exc.strerror or str(exc)
            raise ConfigError(
                f"daemon.toml [http] listen = {listen!r}: cannot listen ({reason})"
            ) from None
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(
    metrics: Metrics, healthy: Callable[[], tuple[bool, str]], nudge: Callable[[], None]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/metrics":
                self._send(200, metrics.render(), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                ok, why = healthy()
                self._send(200 if ok else 503, f"{why}\n".encode())
            else:
                self._send(404, b"not found\n")

        def do_POST(self) -> None:  # noqa: N802
            if self.path == "/nudge":
                nudge()
                self._send(202, b"nudged\n")
            else:
                self._send(404, b"not found\n")

        def _send(self, code: int, body: bytes, kind: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # requests are not worth a log line each

    return Handler
