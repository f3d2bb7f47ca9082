"""The keys of a signed zone as `rndc dnssec -status` tells them, and the operator's next step.

BIND's key manager keeps, for each key, the state of its DNSKEY, its RRSIGs and its DS at the
parent (hidden, rumoured, omnipresent, unretentive). Only the DS needs the operator: BIND
cannot publish it. `parse_status` reads rndc's text into `KeyState` values; `next_step` says
what to do now (publish the DS and tell BIND, wait, withdraw an old DS, or nothing). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_KEY = re.compile(r"^key: (\d+) \(([A-Z0-9]+)\), (KSK|ZSK|CSK)$")
_STATE = re.compile(r"^\s*- ([a-z ]+):\s+(\S+)$")
_POLICY = re.compile(r"^dnssec-policy: (\S+)$")


@dataclass(frozen=True)
class KeyState:
    """One key of the zone: its tag, algorithm, role and the key manager's states."""

    tag: int
    algorithm: str  # as rndc names it: ECDSAP256SHA256
    role: str  # KSK, ZSK or CSK
    states: Mapping[str, str] = field(default_factory=dict)  # goal, dnskey, ds, zone rrsig, ...

    @property
    def signs_keys(self) -> bool:
        return self.role in ("KSK", "CSK")

    def state(self, what: str) -> str:
        return self.states.get(what, "")


@dataclass(frozen=True)
class ZoneKeys:
    """A zone's policy and keys, as rndc said them."""

    zone: str
    policy: str
    keys: tuple[KeyState, ...]


def parse_status(zone: str, text: str) -> ZoneKeys:
    """`rndc dnssec -status ZONE`'s text as values."""
    policy = ""
    keys: list[KeyState] = []
    for line in text.splitlines():
        if found := _POLICY.match(line.strip()):
            policy = found.group(1)
        elif found := _KEY.match(line.strip()):
            tag, algorithm, role = found.groups()
            keys.append(KeyState(int(tag), algorithm, role, {}))
        elif (found := _STATE.match(line)) and keys:
            last = keys[-1]
            keys[-1] = KeyState(
                last.tag, last.algorithm, last.role, {**last.states, found[1]: found[2]}
            )
    return ZoneKeys(zone, policy, tuple(keys))


def next_step(zone: ZoneKeys, ds: Mapping[int, str]) -> str:
    """What the operator must do now; `ds`: key tag -> the DS record that key makes."""
    name = zone.zone
    steps = []
    for key in zone.keys:
        if not key.signs_keys:
            continue
        goal, dnskey, at_parent = key.state("goal"), key.state("dnskey"), key.state("ds")
        record = ds.get(key.tag, f"the DS of key {key.tag}")
        if goal == "omnipresent" and at_parent == "hidden" and dnskey == "omnipresent":
            steps.append(
                f"publish the DS at the registrar: {record}; once the parent serves it, "
                f"`rndc dnssec -checkds -key {key.tag} published {name}`"
            )
        elif goal == "omnipresent" and at_parent == "hidden":
            steps.append(
                f"wait: the DNSKEY of key {key.tag} is {dnskey or 'not yet published'}; when it "
                f"is omnipresent, publish the DS at the registrar: {record}"
            )
        elif goal == "omnipresent" and at_parent == "rumoured":
            steps.append(
                f"wait: BIND counts the DS of key {key.tag} as rumoured until the parent's "
                "DS TTL has passed"
            )
        elif goal == "hidden" and at_parent in ("omnipresent", "unretentive"):
            steps.append(
                f"withdraw the DS of key {key.tag} at the registrar; then `rndc dnssec "
                f"-checkds -key {key.tag} withdrawn {name}`"
            )
    if not zone.keys:
        return "wait: BIND has not made the zone's keys yet"
    return "; ".join(steps) or "nothing: the chain of trust is complete, BIND rolls the keys"
