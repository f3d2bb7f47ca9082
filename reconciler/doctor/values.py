"""Doctor's values: findings, endpoints, targets, options and the Report that renders.

Pure. Used by every other module of the doctor package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

import dns.exception
import dns.name
import dns.resolver

from reconciler.bind.keys import Key
from reconciler.config.repo import RepoConfig, Server

CHECKS = ("delegation", "servers", "dnssec", "mail", "exposure", "transfers")
Severity = Literal["ok", "note", "warning", "problem"]  # only a problem makes doctor exit 1
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
Role = Literal["primary", "secondary", "extra"]  # what a server is to the zones it serves
RECURSION_PROBE = "."  # asked with RD set: outside every zone a nameserver should serve
_MAX_WORKERS = 32


# --- values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing doctor found: what, about which zone and server, and what to do about it."""

    check: str  # one of CHECKS
    severity: Severity
    message: str
    fix: str = ""
    zone: str | None = None  # None: about a server, whatever the zone
    subject: str = ""  # the server, parent server or record it is about
    code: str = ""  # stable, for scripts: "glue-missing", "behind", ... (see _CATALOGUE)

    def text(self) -> str:
        """One line: severity, check, subject, message and the fix."""
        body = f"{self.subject}: {self.message}" if self.subject else self.message
        if self.fix:
            body += f"; fix: {self.fix}"
        return f"{self.severity:<7}  {self.check:<10}  {body}"

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "zone": self.zone,
            "check": self.check,
            "severity": self.severity,
            "subject": self.subject,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Endpoint:
    """A parent server: where it is asked; `name` when found through the resolver."""

    address: str
    port: int = 53
    name: str = ""

    @property
    def label(self) -> str:
        where = _hostport(self.address, self.port)
        return f"{self.name} {where}" if self.name else where


@dataclass(frozen=True)
class Target:
    """A server doctor asks: from reconciler.toml (primary, secondary) or `--server` (extra)."""

    name: str
    address: str
    port: int
    role: Role

    @property
    def label(self) -> str:
        return f"{self.name} {_hostport(self.address, self.port)}"


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


@dataclass(frozen=True)
class Options:
    """How doctor asks: timeouts, parent servers, extra servers, resolver, key."""

    timeout: float = 1.0  # seconds per query
    parents: tuple[Endpoint, ...] = ()  # --parent: every zone's parent servers
    extra: tuple[Server, ...] = ()  # --server NAME=ADDR[:PORT]: added, or replacing by name
    resolver: dns.resolver.Resolver | None = None  # None: no resolver is ever asked
    key: Key | None = None  # the transfer key (daemon.toml): tries a signed transfer
    key_note: str = ""  # why there is no key, when daemon.toml names one
    recorded: Mapping[str, int] = field(default_factory=dict)  # serials state.json records
    expiry_warning: float = 7 * 86400.0  # seconds: an RRSIG expiring sooner is a warning
    expiry_problem: float = 2 * 86400.0  # ... and sooner than this, a problem
    signed: frozenset[str] = frozenset()  # zones reconciler.toml signs


@dataclass(frozen=True)
class Report:
    """Everything doctor found, for the zones and servers it was given."""

    source: str  # where the zones and servers came from
    zones: tuple[str, ...]
    servers: tuple[Target, ...]
    parents: tuple[str, ...]  # parent servers asked, as labels
    findings: tuple[Finding, ...]
    serials: Mapping[str, int | None] = field(default_factory=dict)  # the primary's, per zone

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def healthy(self) -> bool:
        return self.count("problem") == 0

    def summary(self) -> str:
        verdict = "healthy" if self.healthy else "NOT healthy"
        return (
            f"{len(self.zones)} zone(s), {len(self.servers)} server(s), "
            f"{len(self.parents)} parent server(s): {self.count('problem')} problem(s), "
            f"{self.count('warning')} warning(s): {verdict}"
        )

    def text(self) -> str:
        primary = next((s.name for s in self.servers if s.role == "primary"), "primary")
        lines = [f"doctor: {self.source}"]
        for zone in self.zones:
            serial = self.serials.get(zone)
            state = (
                f"serial {serial} on the primary {primary}"
                if serial is not None
                else f"no serial from the primary {primary}"
            )
            lines.append(f"{zone} ({state})")
            lines += ["  " + f.text() for f in self._ordered(zone)]
        others = self._ordered(None)
        if others:
            lines.append("every server")
            lines += ["  " + f.text() for f in others]
        lines.append(self.summary())
        return "\n".join(lines)

    def _ordered(self, zone: str | None) -> list[Finding]:
        chosen = [f for f in self.findings if f.zone == zone]
        return sorted(chosen, key=lambda f: CHECKS.index(f.check))

    def to_dict(self) -> dict[str, object]:
        return {
            "healthy": self.healthy,
            "source": self.source,
            "zones": [{"zone": z, "serial": self.serials.get(z)} for z in self.zones],
            "servers": [
                {"name": s.name, "address": s.address, "port": s.port, "role": s.role}
                for s in self.servers
            ],
            "parents": list(self.parents),
            "problems": self.count("problem"),
            "warnings": self.count("warning"),
            "findings": [f.to_dict() for f in self.findings],
        }


def targets_of(config: RepoConfig, extra: Sequence[Server] = ()) -> tuple[Target, ...]:
    """The primary, the secondaries, then `extra` servers (replacing one of the same name)."""
    found = [Target(config.primary.name, config.primary.address, config.primary.port, "primary")]
    found += [Target(s.name, s.address, s.port, "secondary") for s in config.secondaries]
    for server in extra:
        same = [i for i, t in enumerate(found) if t.name.lower() == server.name.lower()]
        if same:
            found[same[0]] = replace(found[same[0]], address=server.address, port=server.port)
        else:
            found.append(Target(server.name, server.address, server.port, "extra"))
    return tuple(found)


def target_for(ns_name: str, targets: Sequence[Target]) -> Target | None:
    """The server an NS name is: the one named exactly so, else the one named by its first
    label (`ns1` for `ns1.example.com.`); None when there is none or more than one."""
    full = ns_name.lower().rstrip(".")
    exact = [t for t in targets if t.name.lower().rstrip(".") == full]
    if exact:
        return exact[0]
    first = [t for t in targets if t.name.lower() == full.split(".", 1)[0]]
    return first[0] if len(first) == 1 else None
