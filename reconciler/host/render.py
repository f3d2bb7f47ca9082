"""The managed files: host/policy.toml rendered through Jinja2 templates into their text.

Pure: `render` takes the policy, where the files go (daemon.toml [host]), what kind of host
it is (`Traits`: does journald hold the logs) and the template texts, and returns one
`Rendered` value per managed file, or raises `ValidationError` naming the template's file and
line. The templates ship in the package (reconciler/host/templates/); a file of the same name
in the zone repo's `host/` folder (e.g. `host/sshd_config.j2`) replaces one, and is rendered in
Jinja2's sandbox, since whoever can push can write it. Called by host/plan.py (and through it
by `host plan`, `host apply`, and `reconciler plan` for a pull request touching host/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from reconciler.config.host import HostSettings
from reconciler.config.policy import Policy
from reconciler.errors import Problem, ValidationError
from reconciler.model.names import TEMPLATE_DIR


class Managed(Enum):
    """Each managed file: its template, and the service that reads it."""

    SSHD = "sshd_config.j2"
    NFTABLES = "nftables.nft.j2"
    FAIL2BAN = "fail2ban.local.j2"
    CHRONY = "chrony.sources.j2"
    NAMED = "named-options.conf.j2"

    @property
    def template(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return self.name.lower()


MODES = {Managed.NFTABLES: 0o600, Managed.NAMED: 0o644}


@dataclass(frozen=True)
class Traits:
    """What the host is like, as far as the rendering cares."""

    journal: bool = True  # sshd logs to journald (systemd hosts): fail2ban reads it there


@dataclass(frozen=True)
class Rendered:
    """One managed file as the policy wants it; `text` None: the file must not exist."""

    managed: Managed
    path: Path
    text: str | None
    source: str  # the template it came from: the package's, or host/NAME.j2 of the repo
    mode: int = 0o644


def package_templates() -> dict[str, str]:
    """The templates that ship with the package, by file name."""
    folder = resources.files("reconciler.host") / "templates"
    return {m.template: (folder / m.template).read_text(encoding="utf-8") for m in Managed}


def _path(managed: Managed, settings: HostSettings) -> Path:
    return {
        Managed.SSHD: settings.sshd_config,
        Managed.NFTABLES: settings.nftables_file,
        Managed.FAIL2BAN: settings.fail2ban_jail,
        Managed.CHRONY: settings.chrony_sources,
        Managed.NAMED: settings.named_options,
    }[managed]


def _wanted(managed: Managed, policy: Policy) -> bool:
    """Whether the file exists at all under this policy."""
    if managed is Managed.CHRONY:
        return policy.time.service == "chrony" and bool(policy.time.servers)
    return True


def render(
    policy: Policy,
    settings: HostSettings,
    traits: Traits,
    overrides: Mapping[str, str] | None = None,
) -> tuple[Rendered, ...]:
    """Every managed file's wanted text; `overrides`: the repo's host/NAME.j2 texts by NAME."""
    overrides = overrides or {}
    templates = {**package_templates(), **overrides}
    environment = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    context = {
        "ssh": policy.ssh,
        "firewall": policy.firewall,
        "fail2ban": policy.fail2ban,
        "time": policy.time,
        "named": policy.named,
        "journal": traits.journal,
    }
    problems: list[Problem] = []
    out: list[Rendered] = []
    for managed in Managed:
        source = (
            f"{TEMPLATE_DIR}/{managed.template}"
            if managed.template in overrides
            else f"package:{managed.template}"
        )
        path = _path(managed, settings)
        if not _wanted(managed, policy):
            out.append(Rendered(managed, path, None, source, MODES.get(managed, 0o644)))
            continue
        try:
            text = environment.from_string(templates[managed.template]).render(context)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(Problem(source, f"template syntax: {exc.message}", line=exc.lineno))
            continue
        except (jinja2.TemplateError, ValueError, TypeError) as exc:
            problems.append(Problem(source, f"template: {exc}"))
            continue
        out.append(Rendered(managed, path, text, source, MODES.get(managed, 0o644)))
    if problems:
        raise ValidationError(problems)
    return tuple(out)
