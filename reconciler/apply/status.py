"""`reconciler status`: what is deployed and what every server serves, asked live.

Reads the state file and reconciler.toml at the deployed commit, asks the
primary and each secondary for each zone's SOA serial (in one batch, short
timeouts: a dead server is an answer), adds the daemon's last drift report
(apply/drift.py), and returns an `Overview` value.
Called by cli/main.py (and the daemon's metrics).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from reconciler.apply.drift import DriftReport, load_drift
from reconciler.apply.state import load_state
from reconciler.bind import probe
from reconciler.check.inspect import read_config
from reconciler.config.host import HostConfig
from reconciler.config.repo import Role
from reconciler.model.serial import is_newer
from reconciler.source.repo import open_repo


@dataclass(frozen=True)
class ServerInfo:
    name: str
    role: Role
    address: str
    port: int


@dataclass(frozen=True)
class ZoneStatus:
    zone: str
    recorded: int  # the serial the reconciler last served
    serials: dict[str, int | None]  # server name -> serial it answers (None: no answer)
    signed: bool = False  # signed inline: the servers answer the signed zone's serial

    @property
    def lagging(self) -> list[str]:
        return [
            name
            for name, serial in self.serials.items()
            if serial is None or (serial != self.recorded and not is_newer(serial, self.recorded))
        ]


@dataclass(frozen=True)
class Overview:
    """What is deployed and what each server answers for each zone."""

    deployed: str | None
    last_attempted: str | None
    servers: tuple[ServerInfo, ...]
    zones: tuple[ZoneStatus, ...]
    last_failure: dict[str, str] | None
    drift: DriftReport | None = None  # the daemon's last comparison of served and applied

    @property
    def converged(self) -> bool:
        return all(not z.lagging for z in self.zones)

    def to_dict(self) -> dict[str, object]:
        return {
            "deployed": self.deployed,
            "last_attempted": self.last_attempted,
            "converged": self.converged,
            "servers": [asdict(s) for s in self.servers],
            "zones": [{**asdict(z), "lagging": z.lagging} for z in self.zones],
            "last_failure": self.last_failure,
            "drift": self.drift.to_dict() if self.drift else None,
        }


def gather(host: HostConfig) -> Overview:
    state = load_state(host.state_dir)
    repo = open_repo(host.repo)
    config = read_config(repo, state.last_applied or host.branch)[0]
    servers = (
        ServerInfo(config.primary.name, "primary", config.primary.address, config.primary.port),
        *(ServerInfo(s.name, "secondary", s.address, s.port) for s in config.secondaries),
    )
    asks = [(zone, server) for zone in sorted(state.zones) for server in servers]
    answers = probe.soa_many(
        [probe.Ask(server.address, server.port, zone) for zone, server in asks],
        timeout=host.query_timeout,
    )
    serials: dict[str, dict[str, int | None]] = {}
    for (zone, server), answer in zip(asks, answers, strict=True):
        serials.setdefault(zone, {})[server.name] = answer.served if answer else None
    zones = tuple(
        ZoneStatus(z, state.zones[z].serial, serials.get(z, {}), config.dnssec.signed(z))
        for z in sorted(state.zones)
    )
    return Overview(
        state.last_applied,
        state.last_attempted,
        servers,
        zones,
        state.last_failure,
        load_drift(host.state_dir),
    )
