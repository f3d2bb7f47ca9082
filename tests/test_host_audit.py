"""The audit (pure): host/policy.toml against facts parsed from captured real outputs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reconciler.config.host import HostSettings
from reconciler.config.policy import Policy, parse_policy
from reconciler.host import parse
from reconciler.host.audit import Audit, Status, audit
from reconciler.host.facts import (
    Account,
    Clock,
    Enablement,
    Facts,
    Fail2ban,
    FileMode,
    Jail,
    Kernel,
    Named,
    Password,
    Service,
    Sync,
    Unreadable,
    Users,
)
from reconciler.host.render import Rendered, Traits, render

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent / "data" / "host"
SETTINGS = HostSettings()
DEFAULT = Policy()


def data(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def rendered(policy: Policy) -> tuple[Rendered, ...]:
    return render(policy, SETTINGS, Traits(journal=False))


def clean_facts(policy: Policy = DEFAULT) -> Facts:
    """A host in policy: the captures of a primary after `host apply` of the default policy."""
    options = parse.named_options(data("named-checkconf-px-primary.txt"))
    files = rendered(policy)
    running = {name: Service(name, Enablement.ENABLED, True) for name in policy.boot.enabled}
    absent = {name: Service(name, Enablement.ABSENT, False) for name in policy.boot.disabled}
    return Facts(
        sshd=parse.sshd_options(data("sshd-T-policy.txt")),
        firewall=parse.firewall(data("nft-ruleset-reconciler-and-f2b.json")),
        fail2ban=Fail2ban(True, {"sshd": Jail("sshd", 3600, 5, ("192.0.2.66",))}),
        clock=Clock("Etc/UTC", Sync.YES, "timedatectl"),
        services={**running, **absent},
        named=Named(
            options.version_hidden,
            options.recursion,
            options.allow_transfer,
            options.zones_open,
            "bind",
            False,
        ),
        files={
            "tsig_key": FileMode("/etc/bind/tsig/transfer.key", True, "root", "bind", 0o640),
            "rndc_key": FileMode("/etc/bind/rndc.key", True, "root", "bind", 0o640),
            "zone_dir": FileMode("/var/lib/reconciler/zones", True, "root", "bind", 0o775),
        },
        users=Users(
            {
                "root": Account("root", 0, "/bin/bash", 0, Password.LOCKED),
                "admin": Account("admin", 1000, "/bin/bash", 1, Password.LOCKED),
            }
        ),
        kernel=Kernel("6.1.0-27-amd64", ("6.1.0-26-amd64", "6.1.0-27-amd64"), False),
        managed={r.managed.label: r.text for r in files},
        nftables_conf='flush ruleset\ninclude "/etc/nftables.d/reconciler.nft"\n',
    )


def run(facts: Facts, policy: Policy = DEFAULT) -> Audit:
    return audit(policy, facts, rendered(policy), SETTINGS)


def finding(result: Audit, item: str) -> tuple[str, str, str]:
    (found,) = [f for f in result.findings if f.item == item]
    return found.status.value, found.found, found.wanted


def drifted(result: Audit) -> list[str]:
    return [f.item for f in result.of(Status.DRIFT)]


def test_a_host_after_apply_is_in_policy() -> None:
    result = run(clean_facts())
    assert drifted(result) == [] and result.of(Status.UNREADABLE) == ()
    assert result.exit_code == 0
    items = {f.item for f in result.findings}
    assert {
        "ssh.permit_root_login",
        "ssh.password_authentication",
        "firewall.tcp",
        "firewall.udp",
        "firewall.boot",
        "fail2ban.sshd",
        "time.timezone",
        "time.synchronised",
        "boot.ssh",
        "boot.telnet",
        "named.recursion",
        "named.allow_transfer",
        "files.rndc_key",
        "users.operator",
        "reboot.pending",
        "reboot.kernel",
        "managed.sshd",
        "managed.nftables",
    } <= items


def test_debian_defaults_drift_with_found_and_wanted() -> None:
    """A fresh Debian: root may log in with a key, passwords are on, named recurses."""
    debian = parse.named_options(data("named-checkconf-px-debian-default.txt"))
    facts = dataclasses.replace(
        clean_facts(),
        sshd=parse.sshd_options(data("sshd-T-debian-default.txt")),
        firewall=parse.firewall(data("nft-ruleset-empty.json")),
        named=Named(
            debian.version_hidden,
            debian.recursion,
            debian.allow_transfer,
            debian.zones_open,
            "bind",
        ),
    )
    result = run(facts)
    assert result.exit_code == 1
    assert finding(result, "ssh.permit_root_login") == ("drift", "without-password", "no")
    assert finding(result, "ssh.password_authentication") == (
        "drift",
        "passwordauthentication yes, kbdinteractiveauthentication no",
        "passwordauthentication no, kbdinteractiveauthentication no",
    )
    assert finding(result, "ssh.max_auth_tries") == ("drift", "6", "3")
    assert finding(result, "firewall.table") == (
        "drift",
        "table inet reconciler missing",
        "present",
    )
    assert finding(result, "named.recursion") == ("drift", "yes", "no")
    assert finding(result, "named.version_hidden") == ("drift", "shown", "hidden")
    status, found, wanted = finding(result, "named.allow_transfer")
    assert (
        status == "drift"
        and "allow-transfer { any; }" in found
        and "zones open: localhost" in found
    )


def test_a_drop_in_re_enabling_passwords_is_drift() -> None:
    facts = dataclasses.replace(
        clean_facts(), sshd=parse.sshd_options(data("sshd-T-debian-with-password-dropin.txt"))
    )
    result = run(facts)
    assert finding(result, "ssh.password_authentication")[0] == "drift"


def test_firewall_openings_are_compared_with_sources() -> None:
    policy = parse_policy(
        "[ssh]\nport = 2222\n[firewall]\n"
        'allow_tcp = [53, { port = 2222, from = ["192.0.2.0/24", "2001:db8::/32"] }, 443]\n'
        'allow_udp = [53, 123]\ndefault_incoming = "reject"\n'
    )
    facts = dataclasses.replace(
        clean_facts(policy), firewall=parse.firewall(data("nft-table-sourced-reject.json"))
    )
    result = run(facts, policy)
    for item in ("firewall.table", "firewall.tcp", "firewall.udp"):
        assert finding(result, item)[0] == "in-policy", finding(result, item)
    assert (
        finding(result, "firewall.tcp")[1]
        == "53, 443, 2222 from 192.0.2.0/24, 2222 from 2001:db8::/32"
    )
    # The same live table against the default policy: 443 and 2222 are open, 22 is not.
    other = run(facts)
    assert finding(other, "firewall.tcp") == (
        "drift",
        "53, 443, 2222 from 192.0.2.0/24, 2222 from 2001:db8::/32",
        "22, 53",
    )
    assert finding(other, "firewall.table") == (
        "drift",
        "policy drop, rejecting the rest",
        "policy drop",
    )


def test_fail2ban_jail_missing_or_different() -> None:
    facts = dataclasses.replace(
        clean_facts(), fail2ban=Fail2ban(True, {"sshd": Jail("sshd", 600, 5)})
    )
    assert finding(run(facts), "fail2ban.sshd") == (
        "drift",
        "active, bantime 600, maxretry 5",
        "active, bantime 3600, maxretry 5",
    )
    down = dataclasses.replace(clean_facts(), fail2ban=Fail2ban(False, detail="not installed"))
    assert finding(run(down), "fail2ban.running") == ("drift", "not installed", "running")


def test_time_zone_and_sync() -> None:
    facts = dataclasses.replace(clean_facts(), clock=Clock("Europe/Berlin", Sync.NO, "timedatectl"))
    result = run(facts)
    assert finding(result, "time.timezone") == ("drift", "Europe/Berlin", "Etc/UTC")
    assert finding(result, "time.synchronised") == ("drift", "not synchronised", "synchronised")
    relaxed = parse_policy("[time]\nmust_be_synchronised = false\n")
    assert "time.synchronised" not in {f.item for f in run(facts, relaxed).findings}
    unknown = dataclasses.replace(clean_facts(), clock=Clock("Etc/UTC", None, "/etc/timezone"))
    assert finding(run(unknown), "time.synchronised")[0] == "unreadable"


def test_services_at_boot() -> None:
    facts = clean_facts()
    services = {
        **facts.services,
        "fail2ban": Service("fail2ban", Enablement.ENABLED, False),
        "chrony": Service("chrony", Enablement.DISABLED, True),
        "avahi-daemon": Service("avahi-daemon", Enablement.ENABLED, True),
        "telnet": Service("telnet", Enablement.DISABLED, False),
    }
    result = run(dataclasses.replace(facts, services=services))
    assert finding(result, "boot.fail2ban") == ("drift", "enabled, not running", "enabled, running")
    assert finding(result, "boot.chrony") == ("drift", "disabled, running", "enabled, running")
    assert finding(result, "boot.avahi-daemon") == (
        "drift",
        "enabled, running",
        "disabled, not running",
    )
    assert finding(result, "boot.telnet")[0] == "in-policy"
    assert finding(result, "boot.rsh-server") == (
        "in-policy",
        "not installed",
        "disabled, not running",
    )


def test_key_file_modes() -> None:
    facts = clean_facts()
    files = {
        **facts.files,
        "rndc_key": FileMode("/etc/bind/rndc.key", True, "root", "root", 0o644),
        "tsig_key": FileMode("/etc/bind/tsig/transfer.key", False),
    }
    result = run(dataclasses.replace(facts, files=files))
    assert finding(result, "files.rndc_key") == (
        "drift",
        "root:root 0644 (/etc/bind/rndc.key)",
        "root:bind 0640",
    )
    assert finding(result, "files.tsig_key") == (
        "drift",
        "missing (/etc/bind/tsig/transfer.key)",
        "root:bind 0640",
    )


def test_operators_and_empty_passwords() -> None:
    facts = dataclasses.replace(
        clean_facts(),
        users=Users(
            {
                "root": Account("root", 0, "/bin/bash", 2, Password.SET),
                "bob": Account("bob", 1001, "/bin/bash", 0, Password.EMPTY),
            }
        ),
    )
    result = run(facts)
    assert finding(result, "users.operator") == (
        "drift",
        "no non-root account with an SSH key",
        "a non-root account with an SSH key",
    )
    assert finding(result, "users.empty_passwords") == ("drift", "bob", "none")
    named = run(facts, parse_policy('[users]\noperators = ["alice", "bob"]\n'))
    assert finding(named, "users.alice")[0:2] == ("drift", "missing (or no login shell)")
    assert finding(named, "users.bob") == ("drift", "0 SSH key(s)", "at least 1 SSH key")


def test_reboot_pending_and_an_older_kernel_running() -> None:
    facts = dataclasses.replace(
        clean_facts(),
        kernel=Kernel(
            "6.1.0-26-amd64",
            ("6.1.0-26-amd64", "6.1.0-27-amd64"),
            True,
            ("linux-image-6.1.0-27-amd64",),
        ),
    )
    result = run(facts)
    assert result.reboot_required
    assert finding(result, "reboot.pending") == (
        "drift",
        "required by linux-image-6.1.0-27-amd64",
        "no",
    )
    assert finding(result, "reboot.kernel") == (
        "drift",
        "6.1.0-26-amd64 running",
        "6.1.0-27-amd64 running",
    )
    container = dataclasses.replace(clean_facts(), kernel=Kernel("6.1.0-27-amd64", (), False))
    assert finding(run(container), "reboot.kernel")[0] == "n/a"
    assert run(container).exit_code == 0


def test_a_hand_edited_managed_file_is_drift() -> None:
    facts = clean_facts()
    edited = {**facts.managed, "sshd": str(facts.managed["sshd"]) + "PermitRootLogin yes\n"}
    result = run(dataclasses.replace(facts, managed=edited))
    assert finding(result, "managed.sshd") == (
        "drift",
        "edited (/etc/ssh/sshd_config)",
        "as rendered from package:sshd_config.j2",
    )


def test_the_boot_ruleset_must_include_the_table() -> None:
    facts = dataclasses.replace(clean_facts(), nftables_conf="flush ruleset\n")
    assert finding(run(facts), "firewall.boot")[0] == "drift"


def test_something_unreadable_is_exit_2_even_with_drift() -> None:
    facts = dataclasses.replace(
        clean_facts(),
        sshd=Unreadable("sshd -T", "sshd is not installed"),
        clock=Clock("Europe/Berlin", Sync.YES, "timedatectl"),
    )
    result = run(facts)
    assert finding(result, "ssh") == ("unreadable", "sshd -T: sshd is not installed", "readable")
    assert result.exit_code == 2
    assert result.to_dict()["unreadable"] == 1 and result.to_dict()["drift"] == 1
