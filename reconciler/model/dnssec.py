"""DNSSEC as reconciler.toml describes it: which policy signs each zone, and the policies.

Values only. A zone's policy is `none` (not signed), one of BIND 9.18's built-in policies
(`default`: one CSK, ECDSAP256SHA256, NSEC, unlimited lifetime; `insecure`: the way out,
signing on until the parent's DS is gone), or a policy the repo describes (`Policy`).
BIND signs (`dnssec-policy` with `inline-signing yes`, bind/conf.py); the reconciler
decides only which policy, and `Policy.statement` is the one place a policy becomes
named.conf text. Parsed by config/dnssec.py; read by bind/conf.py, the plan and doctor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from reconciler.model.limits import DEFAULT_POLICY_MAX_ZONE_TTL

NONE = "none"  # not signed
BUILTIN = ("default", "insecure")  # BIND 9.18's own policies, besides none
DEFAULT_ALGORITHM = "ecdsap256sha256"  # what BIND's "default" policy uses

# The DNSKEY algorithms BIND 9.18 signs with, by the name dnssec-policy takes (RFC 8624:
# RSASHA1 and its NSEC3 twin are not for signing any more) and their numbers.
ALGORITHMS: dict[str, int] = {
    "rsasha256": 8,
    "rsasha512": 10,
    "ecdsap256sha256": 13,
    "ecdsap384sha384": 14,
    "ed25519": 15,
    "ed448": 16,
}

Denial = Literal["nsec", "nsec3"]
KeyLayout = Literal["csk", "ksk-zsk"]  # one combined key, or a KSK and a ZSK

# The durations a policy may set: reconciler.toml's key -> dnssec-policy's option.
DURATIONS: dict[str, str] = {
    "dnskey_ttl": "dnskey-ttl",
    "max_zone_ttl": "max-zone-ttl",
    "publish_safety": "publish-safety",
    "retire_safety": "retire-safety",
    "purge_keys": "purge-keys",
    "signatures_refresh": "signatures-refresh",
    "signatures_validity": "signatures-validity",
    "signatures_validity_dnskey": "signatures-validity-dnskey",
    "zone_propagation_delay": "zone-propagation-delay",
    "parent_ds_ttl": "parent-ds-ttl",
    "parent_propagation_delay": "parent-propagation-delay",
}
LIFETIMES = ("csk_lifetime", "ksk_lifetime", "zsk_lifetime")  # None: unlimited


@dataclass(frozen=True)
class Policy:
    """A `dnssec-policy` the repo describes. Durations are in seconds."""

    name: str
    algorithm: str = DEFAULT_ALGORITHM
    keys: KeyLayout = "csk"
    csk_lifetime: int | None = None
    ksk_lifetime: int | None = None
    zsk_lifetime: int | None = None
    denial: Denial = "nsec"
    nsec3_optout: bool = False
    durations: Mapping[str, int] = field(default_factory=dict)  # DURATIONS' keys

    @property
    def algorithm_number(self) -> int:
        return ALGORITHMS[self.algorithm]

    def statement(self) -> str:
        """The policy as named.conf's top-level `dnssec-policy` statement.

        NSEC3 always with 0 extra iterations and no salt (RFC 9276); the name is
        quoted by the caller's rules (config/dnssec.py lets only plain names in).
        """

        def life(seconds: int | None) -> str:
            return "unlimited" if seconds is None else str(seconds)

        if self.keys == "csk":
            keys = [f"\t\tcsk lifetime {life(self.csk_lifetime)} algorithm {self.algorithm};"]
        else:
            keys = [
                f"\t\tksk lifetime {life(self.ksk_lifetime)} algorithm {self.algorithm};",
                f"\t\tzsk lifetime {life(self.zsk_lifetime)} algorithm {self.algorithm};",
            ]
        lines = [f'dnssec-policy "{self.name}" {{', "\tkeys {", *keys, "\t};"]
        for key, option in DURATIONS.items():
            if key in self.durations:
                lines.append(f"\t{option} {self.durations[key]};")
        if self.denial == "nsec3":
            optout = "yes" if self.nsec3_optout else "no"
            lines.append(f"\tnsec3param iterations 0 optout {optout} salt-length 0;")
        lines.append("};")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line for the plan: algorithm, keys, denial."""
        denial = "NSEC"
        if self.denial == "nsec3":
            denial = "NSEC3 opt-out" if self.nsec3_optout else "NSEC3"
        return f"{self.algorithm.upper()}, {self.keys.upper()}, {denial}"


BIND_DEFAULT = Policy("default")  # what BIND's built-in "default" policy does


@dataclass(frozen=True)
class Dnssec:
    """reconciler.toml's [dnssec]: the default policy, per-zone overrides, the policies."""

    default: str = NONE
    zones: Mapping[str, str] = field(default_factory=dict)  # zone (lower, no dot) -> policy
    policies: Mapping[str, Policy] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)  # zone -> its override's line
    policy_lines: Mapping[str, int] = field(default_factory=dict)  # policy -> its table's line

    def policy_name(self, zone: str) -> str:
        """The policy that signs `zone`: `none`, `default`, `insecure` or a repo policy."""
        return self.zones.get(zone.lower().rstrip("."), self.default)

    def signed(self, zone: str) -> bool:
        """BIND signs the zone (with `insecure` too: it signs until the DS is gone)."""
        return self.policy_name(zone) != NONE

    def policy(self, zone: str) -> Policy | None:
        """The zone's policy as a value: None when unsigned or `insecure`."""
        name = self.policy_name(zone)
        if name == "default":
            return BIND_DEFAULT
        return self.policies.get(name)

    def max_zone_ttl(self, zone: str) -> int | None:
        """The TTL ceiling named loads the zone under when it signs it (the policy's, else
        BIND's 86400: named ignores the zone's own then); None when unsigned or insecure."""
        policy = self.policy(zone)
        if policy is None:
            return None
        return policy.durations.get("max_zone_ttl") or DEFAULT_POLICY_MAX_ZONE_TTL

    def used(self, zones: Mapping[str, object] | set[str]) -> tuple[Policy, ...]:
        """The repo's policies that some of `zones` use, by name (for the include)."""
        names = {self.policy_name(z) for z in zones}
        return tuple(self.policies[n] for n in sorted(names) if n in self.policies)


@dataclass(frozen=True)
class PolicyChange:
    """How a zone's signing changes between two commits, for the plan."""

    before: str  # policy name, `none` for unsigned
    after: str
    text: str  # one line: "signing on: default (ECDSAP256SHA256, CSK, NSEC)"
    # Unsafe while the parent holds a DS: validators would find no key matching it.
    breaks_ds: bool = False


def _described(dnssec: Dnssec, zone: str) -> str:
    name = dnssec.policy_name(zone)
    policy = dnssec.policy(zone)
    return f"{name} ({policy.summary()})" if policy is not None else name


def policy_change(before: Dnssec, after: Dnssec, zone: str) -> PolicyChange | None:
    """What changes in how BIND signs `zone`; None when nothing does."""
    old, new = before.policy_name(zone), after.policy_name(zone)
    old_policy, new_policy = before.policy(zone), after.policy(zone)
    if old == new and old_policy == new_policy:
        return None
    if old == NONE:
        return PolicyChange(old, new, f"signing on: {_described(after, zone)}")
    if new == NONE:
        return PolicyChange(
            old, new, f"signing off (was {_described(before, zone)})", breaks_ds=True
        )
    if new == "insecure":
        return PolicyChange(
            old, new, f"going insecure (was {_described(before, zone)}): BIND signs on until "
            "the DS is withdrawn at the parent",
        )  # fmt: skip
    if (
        old_policy is not None
        and new_policy is not None
        and old_policy.algorithm != new_policy.algorithm
    ):
        return PolicyChange(
            old,
            new,
            f"algorithm change: {old_policy.algorithm.upper()} -> "
            f"{new_policy.algorithm.upper()} (policy {old} -> {new})",
            breaks_ds=True,
        )
    return PolicyChange(
        old, new, f"policy change: {_described(before, zone)} -> {_described(after, zone)}"
    )


def breaking_ds(before: Dnssec, after: Dnssec, zones: Iterable[str]) -> list[str]:
    """The zones of `zones` whose signing change would break a DS at the parent."""
    return [
        zone
        for zone in sorted(zones)
        if (change := policy_change(before, after, zone)) is not None and change.breaks_ds
    ]
