"""`reconciler plan` of a pull request touching host/: one comment for the zones and the host."""

from __future__ import annotations

import json

import yaml

from reconciler.cli.report import PLAN_MARKER
from reconciler.devtools.init import template_dir

from .conftest import ZoneRepo

POLICY = "host/policy.toml"


def _plan(zone_repo: ZoneRepo, base: str, head: str, fmt: str) -> tuple[int, str]:
    result = zone_repo.run("plan", "--base", base, "--head", head, "--format", fmt)
    return result.code, result.out + result.err


def test_a_host_change_gets_a_host_section_in_the_same_comment(zone_repo: ZoneRepo) -> None:
    base = zone_repo.repo.head.commit.hexsha
    text = (zone_repo.path / POLICY).read_text()
    text = text.replace("port = 22\n", "port = 2222\n").replace(
        "allow_tcp = [22, 53]", 'allow_tcp = [53, { port = 2222, from = ["192.0.2.0/24"] }]'
    )
    zone_repo.write(POLICY, text.replace('timezone = "Etc/UTC"', 'timezone = "Europe/Berlin"'))
    head = zone_repo.commit("SSH on 2222, from the management network only")
    code, markdown = _plan(zone_repo, base, head, "markdown")
    assert code == 0, markdown
    assert markdown.startswith(PLAN_MARKER) and markdown.count(PLAN_MARKER) == 1
    host = markdown[markdown.index("### Host (`host/`)") :]
    assert "| `/etc/ssh/sshd_config` | change | `package:sshd_config.j2` |" in host
    assert "-Port 22\n+Port 2222" in host
    assert "+\t\tip saddr 192.0.2.0/24 tcp dport 2222 accept" in host
    assert "-\t\ttcp dport 22 accept" in host
    assert "- time zone Etc/UTC -> Europe/Berlin" in host
    code, out = _plan(zone_repo, base, head, "json")
    assert code == 0
    files = {f["path"]: f["action"] for f in json.loads(out)["host"]["files"]}
    assert files == {
        "/etc/ssh/sshd_config": "change",
        "/etc/nftables.d/reconciler.nft": "change",
        "/etc/fail2ban/jail.d/reconciler.local": "change",
    }


def test_a_zone_only_change_has_no_host_section(zone_repo: ZoneRepo) -> None:
    base = zone_repo.repo.head.commit.hexsha
    path = zone_repo.path / "zones" / "example.com.zone"
    path.write_text(path.read_text() + "ftp IN A 192.0.2.21\n")
    head = zone_repo.commit("ftp")
    code, markdown = _plan(zone_repo, base, head, "markdown")
    assert code == 0, markdown
    assert "### Host" not in markdown


def test_a_template_override_that_does_not_render_makes_the_plan_invalid(
    zone_repo: ZoneRepo,
) -> None:
    base = zone_repo.repo.head.commit.hexsha
    zone_repo.write("host/sshd_config.j2", "Port {{ ssh.port }\n")
    head = zone_repo.commit("our own sshd_config")
    code, markdown = _plan(zone_repo, base, head, "markdown")
    assert code == 1, markdown
    assert "host/sshd_config.j2:1: template syntax" in markdown


def test_ci_plans_pull_requests_that_touch_any_file_of_host() -> None:
    """A template override (host/sshd_config.j2) changes the host as much as the policy."""
    workflow = yaml.safe_load((template_dir() / ".github/workflows/dns-reconciler.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))
    assert "host/**" in triggers["pull_request"]["paths"]
    gitlab = yaml.safe_load((template_dir() / ".gitlab-ci.yml").read_text())
    assert "host/**/*" in gitlab["dns-reconciler"]["rules"][0]["changes"]
