"""`reconciler dnssec status`: each signed zone's keys and what the operator must do next.

For every zone the deployed commit signs: `rndc dnssec -status ZONE` read into key states
(model/keystate.py), the DS record each KSK/CSK the primary serves makes (SHA-256), and the
next step (publish the DS and run `rndc dnssec -checkds`, wait, withdraw an old DS, or
nothing). Only public keys are read, from the primary's answers: never a key file.
Called by cli/main.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import dns.dnssec
import dns.name

from reconciler.apply.state import load_state
from reconciler.bind.dnssec import zone_keys
from reconciler.bind.rndc import Rndc
from reconciler.check.inspect import read_config
from reconciler.config.host import HostConfig
from reconciler.errors import BindError
from reconciler.model.keystate import ZoneKeys, next_step, parse_status
from reconciler.source.repo import open_repo


@dataclass(frozen=True)
class ZoneSigning:
    """One signed zone: its keys, the DS each KSK/CSK makes, and the next step."""

    keys: ZoneKeys
    ds: dict[int, str]  # key tag -> "example.com. IN DS ..."
    next: str
    problem: str = ""  # rndc could not say (named down, the zone not loaded)

    def to_dict(self) -> dict[str, object]:
        return {
            "zone": self.keys.zone,
            "policy": self.keys.policy,
            "keys": [asdict(k) for k in self.keys.keys],
            "ds": [self.ds[tag] for tag in sorted(self.ds)],
            "next": self.next,
            "problem": self.problem,
        }


def _ds(zone: str, host: HostConfig, address: str, port: int) -> dict[int, str]:
    keys = zone_keys(address, port, zone, host.query_timeout)
    name = dns.name.from_text(zone)
    return {
        dns.dnssec.key_id(key): f"{name.to_text()} IN DS "
        + dns.dnssec.make_ds(name, key, "SHA256").to_text()
        for key in keys or ()
        if key.flags & 1
    }


def gather(host: HostConfig, only: str | None = None) -> tuple[ZoneSigning, ...]:
    """The signing state of every zone the deployed commit signs (or of `only`)."""
    state = load_state(host.state_dir)
    config = read_config(open_repo(host.repo), state.last_applied or host.branch)[0]
    rndc = Rndc(host.rndc_server, host.rndc_port, host.rndc_key_file, conf_dir=host.state_dir)
    zones = [z for z in sorted(state.zones) if config.dnssec.signed(z)]
    if only is not None:
        zones = [z for z in zones if z == only.lower().rstrip(".")]
    found = []
    for zone in zones:
        ds = _ds(zone, host, config.primary.address, config.primary.port)
        try:
            keys = parse_status(zone, rndc.dnssec_status(zone))
        except BindError as exc:
            empty = ZoneKeys(zone, config.dnssec.policy_name(zone), ())
            found.append(ZoneSigning(empty, ds, "see the problem", str(exc)))
            continue
        found.append(ZoneSigning(keys, ds, next_step(keys, ds)))
    return tuple(found)
