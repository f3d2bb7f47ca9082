"""reconciler.toml's DNSSEC policies as BIND reads them, and the TTL ceiling they set.

`policy_problems` gives each policy of `[dnssec.policies]` to `named-checkconf` as the
generated include will carry it (model/dnssec.py `Policy.statement`), so what BIND
refuses is refused by `check`, at the policy's line. `signed_limits` puts the policy's
`max-zone-ttl` on each zone it signs: named ignores the zone's own then. Called by
check/inspect.py.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

from reconciler.bind.tools import checkconf
from reconciler.check import cache
from reconciler.check.conflimits import checkconf_identity, keep_json, kept_json
from reconciler.config.repo import CONFIG_FILE
from reconciler.errors import Problem
from reconciler.model.dnssec import Dnssec
from reconciler.model.limits import Limits

_WHERE = re.compile(r"^\S*named\.conf:\d+: ")


def policy_problems(dnssec: Dnssec) -> list[Problem]:
    """What named-checkconf says about each of the repo's policies, at its table's line."""
    problems = []
    for name, policy in sorted(dnssec.policies.items()):
        for text in _complaints(policy.statement()):
            problems.append(
                Problem(
                    CONFIG_FILE,
                    f"[dnssec.policies.{name}]: named-checkconf: {text}",
                    dnssec.policy_lines.get(name) or None,
                )
            )
    return problems


def _complaints(statement: str) -> list[str]:
    """named-checkconf's complaints about one policy statement, without our temporary file's
    name and line; kept in the cache by the statement and named-checkconf's identity."""
    binary = checkconf_identity()
    key = cache.key("policy", binary, statement) if binary is not None else None
    kept = kept_json(key) if key is not None else None
    if isinstance(kept, list) and all(isinstance(k, str) for k in kept):
        return kept
    with tempfile.TemporaryDirectory(prefix="reconciler-policy-") as folder:
        conf = Path(folder, "named.conf")
        conf.write_text(f'options {{ directory "{folder}"; }};\n{statement}\n', encoding="utf-8")
        complaints = [_WHERE.sub("", complaint) for complaint in checkconf(conf)]
    if key is not None and not any(folder in c for c in complaints):
        keep_json(key, complaints)
    return complaints


def signed_limits(limits: Limits, dnssec: Dnssec, zones: Collection[str]) -> Limits:
    """`limits` with each signed zone's TTL ceiling the repo's policy sets for it."""
    changed = dict(limits.zones)
    for zone in zones:
        ttl = dnssec.max_zone_ttl(zone)
        if ttl is not None:
            source = f"[dnssec] policy {dnssec.policy_name(zone)} in {CONFIG_FILE}"
            changed[zone.lower()] = replace(limits.of(zone), max_zone_ttl=ttl, source=source)
    return Limits(limits.default, changed)


def unknown_signed(dnssec: Dnssec, zones: Collection[str]) -> list[Problem]:
    """A warning for each `[dnssec.zones]` entry that names no zone of the repo (a typo?)."""
    known = {zone.lower() for zone in zones}
    return [
        Problem(
            CONFIG_FILE,
            f"[dnssec.zones] {zone}: no zone of the repo is called so; the entry does "
            "nothing (a typo?)",
            dnssec.lines.get(zone) or None,
            severity="warning",
        )
        for zone in sorted(dnssec.zones)
        if zone not in known
    ]
