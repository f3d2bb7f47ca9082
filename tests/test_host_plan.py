"""Rendering the managed files, where the policy comes from, and the host plan (pure)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import git
import pytest

from reconciler.cli import hostreport
from reconciler.config.host import HostSettings
from reconciler.config.policy import Policy, parse_policy
from reconciler.devtools.init import commit_all
from reconciler.errors import ValidationError
from reconciler.host.facts import Clock, Enablement, FileMode, Firewall, Service, Sync
from reconciler.host.plan import StepKind, live_plan, review_plan
from reconciler.host.render import Managed, Rendered, Traits, render
from reconciler.host.services import Direct, Systemd
from reconciler.host.source import from_folder, from_repo
from tests.test_host_audit import clean_facts

SETTINGS = HostSettings()


def texts(policy: Policy, journal: bool = False, **overrides: str) -> dict[Managed, str | None]:
    return {r.managed: r.text for r in render(policy, SETTINGS, Traits(journal), overrides)}


# --- rendering --------------------------------------------------------------------------------


def test_sshd_config_puts_the_policy_before_the_drop_ins() -> None:
    text = texts(parse_policy('[ssh]\nallow_users = ["alice", "deploy@192.0.2.*"]\n'))[Managed.SSHD]
    assert text is not None
    lines = text.splitlines()
    include = lines.index("Include /etc/ssh/sshd_config.d/*.conf")
    for setting in (
        "PermitRootLogin no",
        "PasswordAuthentication no",
        "AllowUsers alice deploy@192.0.2.*",
    ):
        assert lines.index(setting) < include, setting


def test_ruleset_replaces_only_its_own_table_and_names_sources() -> None:
    policy = parse_policy(
        '[firewall]\nallow_tcp = [53, { port = 22, from = ["192.0.2.0/24", "2001:db8::/32"] }]\n'
        'default_incoming = "reject"\n'
    )
    text = texts(policy)[Managed.NFTABLES]
    assert text is not None
    assert "flush ruleset" not in text
    assert text.index("table inet reconciler\ndelete table inet reconciler\n") < text.index("{")
    assert "ip saddr 192.0.2.0/24 tcp dport 22 accept" in text
    assert "ip6 saddr 2001:db8::/32 tcp dport 22 accept" in text
    assert "\t\ttcp dport 22 accept" not in text
    assert "reject with icmpx type admin-prohibited" in text


def test_firewall_off_deletes_the_table() -> None:
    text = texts(parse_policy("[firewall]\nenabled = false\n"))[Managed.NFTABLES]
    assert text is not None
    assert "chain" not in text and "delete table inet reconciler" in text


def test_fail2ban_reads_the_journal_only_where_systemd_runs() -> None:
    journal = texts(Policy(), journal=True)[Managed.FAIL2BAN]
    files = texts(Policy(), journal=False)[Managed.FAIL2BAN]
    assert journal is not None and files is not None
    assert "backend = systemd" in journal and "logpath" not in journal
    assert "backend = auto\nlogpath = %(sshd_log)s" in files
    assert "bantime = 3600\nmaxretry = 5" in files and "banaction = nftables-multiport" in files


def test_chrony_sources_only_when_servers_are_named() -> None:
    assert texts(Policy())[Managed.CHRONY] is None
    text = texts(parse_policy('[time]\nservers = ["192.0.2.123", "ntp.example"]\n'))[Managed.CHRONY]
    assert text is not None and "server 192.0.2.123 iburst\nserver ntp.example iburst\n" in text


def test_named_options() -> None:
    text = texts(Policy())[Managed.NAMED]
    assert text is not None
    assert "version none;\nrecursion no;\n" in text and "allow-transfer { none; };" in text


def test_a_repo_template_replaces_the_packages_in_the_sandbox() -> None:
    override = "# ours\nPort {{ ssh.port }}\n"
    rendered = render(Policy(), SETTINGS, Traits(), {"sshd_config.j2": override})
    sshd = next(r for r in rendered if r.managed is Managed.SSHD)
    assert (sshd.text, sshd.source) == ("# ours\nPort 22\n", "host/sshd_config.j2")
    with pytest.raises(ValidationError) as info:
        render(Policy(), SETTINGS, Traits(), {"sshd_config.j2": "{{ ssh.__class__.__mro__ }}"})
    assert "host/sshd_config.j2: template: " in str(info.value)
    with pytest.raises(ValidationError) as info:
        render(Policy(), SETTINGS, Traits(), {"nftables.nft.j2": "line\n{% if %}\n"})
    assert str(info.value).startswith("host/nftables.nft.j2:2: template syntax")


# --- where the policy comes from ----------------------------------------------------------------


def test_policy_and_overrides_from_a_commit_and_a_folder(tmp_path: Path) -> None:
    repo = git.Repo.init(tmp_path / "repo")
    (tmp_path / "repo" / "host").mkdir()
    (tmp_path / "repo" / "host" / "policy.toml").write_text("[ssh]\nmax_auth_tries = 2\n")
    (tmp_path / "repo" / "host" / "sshd_config.j2").write_text("Port {{ ssh.port }}\n")
    (tmp_path / "repo" / "host" / "README.md").write_text("not a template\n")
    commit_all(repo, "host")
    source = from_repo(repo, "HEAD")
    assert source.policy.ssh.max_auth_tries == 2
    assert source.overrides == {"sshd_config.j2": "Port {{ ssh.port }}\n"}
    assert source.commit == repo.head.commit.hexsha
    folder = from_folder(tmp_path / "repo" / "host")
    assert folder.policy == source.policy and folder.overrides == source.overrides


def test_an_unknown_template_and_a_bad_policy_are_refused(tmp_path: Path) -> None:
    (tmp_path / "sshd.j2").write_text("x\n")
    with pytest.raises(ValidationError, match=r"host/sshd.j2: not a template the host half uses"):
        from_folder(tmp_path)
    (tmp_path / "sshd.j2").unlink()
    (tmp_path / "policy.toml").write_text("[ssh]\nport = 0\n")
    with pytest.raises(ValidationError, match=r"host/policy.toml:2: \[ssh\] port must be a port"):
        from_folder(tmp_path)


# --- the plan ---------------------------------------------------------------------------------


def rendered(policy: Policy) -> tuple[Rendered, ...]:
    return render(policy, SETTINGS, Traits(journal=False))


def test_a_host_in_policy_has_nothing_to_do() -> None:
    plan = live_plan(Policy(), "abc", rendered(Policy()), clean_facts(), SETTINGS, Direct())
    assert plan.empty and plan.notes == ()
    assert hostreport.plan_text(plan).endswith("nothing to change")


def test_drift_becomes_file_changes_and_commands_with_their_undo() -> None:
    facts = clean_facts()
    services = {
        **facts.services,
        "fail2ban": Service("fail2ban", Enablement.DISABLED, False),
        "avahi-daemon": Service("avahi-daemon", Enablement.ENABLED, True),
    }
    files = {**facts.files, "rndc_key": FileMode("/etc/bind/rndc.key", True, "root", "root", 0o644)}
    managed = {**facts.managed, "sshd": "PermitRootLogin yes\n"}
    facts = dataclasses.replace(
        facts,
        services=services,
        files=files,
        managed=managed,
        clock=Clock("Europe/Berlin", Sync.YES, "timedatectl"),
        nftables_conf="flush ruleset\n",
        systemd=True,
    )
    plan = live_plan(Policy(), "abc", rendered(Policy()), facts, SETTINGS, Systemd())
    assert [f.label for f in plan.files] == ["sshd", "nftables.conf"]
    sshd = plan.files[0]
    assert "-PermitRootLogin yes" in sshd.diff() and "+PermitRootLogin no" in sshd.diff()
    assert plan.files[1].after == (
        "flush ruleset\n# dns-reconciler: the table inet reconciler (host/policy.toml)\n"
        'include "/etc/nftables.d/reconciler.nft"\n'
    )
    by_kind = {(s.kind, s.what): s for s in plan.steps}
    enable = by_kind[(StepKind.SERVICE, "enable fail2ban at boot and start it")]
    assert enable.commands == (("systemctl", "enable", "--now", "--", "fail2ban"),)
    assert enable.undo == (("systemctl", "disable", "--now", "--", "fail2ban"),)
    disable = by_kind[(StepKind.SERVICE, "disable avahi-daemon at boot and stop it")]
    assert disable.undo == (("systemctl", "enable", "--now", "--", "avahi-daemon"),)
    zone = by_kind[(StepKind.TIMEZONE, "time zone Europe/Berlin -> Etc/UTC")]
    assert zone.commands[0] == ("timedatectl", "set-timezone", "Etc/UTC")
    assert zone.undo == (("timedatectl", "set-timezone", "Europe/Berlin"),)
    owner = by_kind[(StepKind.OWNER, "/etc/bind/rndc.key: root:root 0644 -> root:bind 0640")]
    assert owner.undo == (
        ("chown", "root:root", "/etc/bind/rndc.key"),
        ("chmod", "0644", "/etc/bind/rndc.key"),
    )


def test_direct_time_zone_uses_the_files() -> None:
    facts = dataclasses.replace(clean_facts(), clock=Clock("Europe/Berlin", Sync.YES, "files"))
    plan = live_plan(Policy(), "abc", rendered(Policy()), facts, SETTINGS, Direct())
    (step,) = plan.steps
    assert step.commands[0] == ("ln", "-sfn", "/usr/share/zoneinfo/Etc/UTC", "/etc/localtime")
    assert step.commands[1][-1] == "Etc/UTC"


def test_what_apply_cannot_do_is_a_note() -> None:
    facts = clean_facts()
    named = dataclasses.replace(facts.named, user="root")  # type: ignore[type-var]
    services = {**facts.services, "chrony": Service("chrony", Enablement.ABSENT, False)}
    plan = live_plan(
        Policy(),
        "abc",
        rendered(Policy()),
        dataclasses.replace(facts, named=named, services=services),
        SETTINGS,
        Direct(),
    )
    assert plan.empty
    assert any(n.startswith("named runs as root, not bind") for n in plan.notes)
    assert "chrony is not installed: install it (apply installs no package)" in plan.notes


def test_review_plan_for_a_pull_request() -> None:
    base = Policy()
    head = parse_policy(
        "[ssh]\nport = 2222\n[firewall]\nallow_tcp = [2222, 53]\n"
        '[time]\ntimezone = "Europe/Berlin"\n'
    )
    plan = review_plan(
        render(base, SETTINGS, Traits()), render(head, SETTINGS, Traits()), base, head, "aaa", "bbb"
    )
    assert {f.label for f in plan.files} == {"sshd", "nftables", "fail2ban"}
    assert [s.what for s in plan.steps] == ["time zone Etc/UTC -> Europe/Berlin"]
    markdown = hostreport.plan_markdown(plan)
    assert markdown.startswith("### Host (`host/`)")
    assert "```diff" in markdown and "-Port 22\n+Port 2222" in markdown
    assert "| `/etc/ssh/sshd_config` | change | `package:sshd_config.j2` |" in markdown
    assert "- time zone Etc/UTC -> Europe/Berlin" in markdown


def test_a_right_file_with_the_table_gone_is_loaded_again() -> None:
    """After a reboot without nftables.service the file is right and the table missing."""
    gone = dataclasses.replace(clean_facts(), firewall=Firewall(("inet f2b-table",), False))
    plan = live_plan(Policy(), "abc", rendered(Policy()), gone, SETTINGS, Direct())
    (load,) = plan.files
    assert (load.label, load.action, load.diff()) == ("nftables", "load", [])
    assert "(load: the file is right, the live ruleset is not," in hostreport.plan_text(plan)
    edited = clean_facts().firewall
    assert isinstance(edited, Firewall)
    extra = dataclasses.replace(edited, other=("tcp dport 8080 accept",))
    plan = live_plan(
        Policy(),
        "abc",
        rendered(Policy()),
        dataclasses.replace(gone, firewall=extra),
        SETTINGS,
        Direct(),
    )
    assert [f.action for f in plan.files] == ["load"]
    assert live_plan(Policy(), "abc", rendered(Policy()), clean_facts(), SETTINGS, Direct()).empty
