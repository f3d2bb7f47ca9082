"""One look at the host against one policy: what `host audit|plan|apply` and the daemon share.

`open_session` reads daemon.toml's host settings, picks the services' interface, renders the
policy's managed files and reads the live host; `audit`, `plan` and `apply` then work on that
`Session`. Called by cli/host.py and serve/hostwatch.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.config.host import HostConfig
from reconciler.host import read
from reconciler.host.apply import HostOutcome, Target, apply_host
from reconciler.host.audit import Audit, audit
from reconciler.host.facts import Facts
from reconciler.host.plan import HostPlan, live_plan
from reconciler.host.render import Rendered, Traits, render
from reconciler.host.services import Services, detect
from reconciler.host.source import PolicySource


@dataclass(frozen=True)
class Session:
    host: HostConfig
    source: PolicySource
    services: Services
    rendered: tuple[Rendered, ...]
    facts: Facts

    def audit(self) -> Audit:
        return audit(self.source.policy, self.facts, self.rendered, self.host.host)

    def plan(self) -> HostPlan:
        return live_plan(
            self.source.policy,
            self.source.label,
            self.rendered,
            self.facts,
            self.host.host,
            self.services,
        )

    def apply(self) -> HostOutcome:
        policy = self.source.policy
        target = Target(
            self.host,
            policy,
            self.rendered,
            self.services,
            self.facts,
            lambda: read.gather(self.host, policy, self.services, self.rendered),
        )
        return apply_host(target, self.plan())


def open_session(host: HostConfig, source: PolicySource) -> Session:
    """Render `source`'s policy for this host and read the host (ValidationError when a
    template does not render)."""
    services = detect(host.host)
    traits = Traits(journal=services.kind == "systemd")
    rendered = render(source.policy, host.host, traits, source.overrides)
    facts = read.gather(host, source.policy, services, rendered)
    return Session(host, source, services, rendered, facts)
