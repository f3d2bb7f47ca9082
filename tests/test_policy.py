"""Tests for reconciler.config.policy: parsing host/policy.toml into the frozen Policy model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from textwrap import dedent

import pytest

from reconciler.config.policy import (
    BootPolicy,
    Fail2banPolicy,
    FilesPolicy,
    FirewallPolicy,
    NamedPolicy,
    Policy,
    PortRule,
    SSHPolicy,
    TimePolicy,
    UsersPolicy,
    parse_policy,
    read_policy,
)
from reconciler.errors import Problem, ValidationError

pytestmark = pytest.mark.unit

TEMPLATE = Path(__file__).resolve().parent.parent / "repo-template" / "host" / "policy.toml"


def problems_of(text: str, file: str = "host/policy.toml") -> list[Problem]:
    with pytest.raises(ValidationError) as info:
        parse_policy(dedent(text), file=file)
    return list(info.value.problems)


def only_problem(text: str) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


# --- defaults and the template ----------------------------------------------------------------


def test_defaults_are_the_documented_ones() -> None:
    policy = Policy()
    assert policy.ssh == SSHPolicy(
        port=22,
        permit_root_login=False,
        password_authentication=False,
        pubkey_authentication=True,
        allow_users=(),
        max_auth_tries=3,
    )
    assert policy.firewall == FirewallPolicy(
        enabled=True,
        allow_tcp=(PortRule(22), PortRule(53)),
        allow_udp=(PortRule(53),),
        default_incoming="drop",
    )
    assert policy.fail2ban == Fail2banPolicy(
        enabled=True, jails=("sshd",), bantime=3600, maxretry=5
    )
    assert policy.time == TimePolicy(
        service="chrony", servers=(), timezone="Etc/UTC", must_be_synchronised=True
    )
    assert policy.users == UsersPolicy(operators=())
    assert policy.boot == BootPolicy(
        enabled=("named", "ssh", "fail2ban", "chrony"),
        disabled=("telnet", "rsh-server", "avahi-daemon"),
    )
    assert policy.files == FilesPolicy(
        key_owner="root",
        key_group="bind",
        key_mode="0640",
        zone_dir_owner="root",
        zone_dir_group="bind",
        zone_dir_mode="0775",
    )
    assert policy.named == NamedPolicy(
        user="bind",
        version_hidden=True,
        recursion=False,
        allow_transfer_tsig_only=True,
        chroot=False,
    )


def test_empty_text_gives_defaults() -> None:
    assert parse_policy("") == Policy()


def test_empty_tables_give_defaults() -> None:
    text = "[ssh]\n[firewall]\n[fail2ban]\n[time]\n[users]\n[boot]\n[files]\n[named]\n"
    assert parse_policy(text) == Policy()


def test_template_parses_to_defaults() -> None:
    assert parse_policy(TEMPLATE.read_text(encoding="utf-8")) == Policy()


def test_template_sets_every_key_explicitly() -> None:
    """The template is what users start from: it shows every setting there is."""
    text = TEMPLATE.read_text(encoding="utf-8")
    for table in dataclasses.fields(Policy):
        assert f"[{table.name}]" in text
        for key in dataclasses.fields(getattr(Policy(), table.name)):
            assert f"\n{key.name} = " in text, f"{table.name}.{key.name} missing from template"


def test_policy_is_frozen_and_lists_become_tuples() -> None:
    policy = parse_policy('[ssh]\nallow_users = ["alice", "bob"]\n')
    assert policy.ssh.allow_users == ("alice", "bob")
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.ssh.port = 2222  # type: ignore[misc]
    hash(policy)  # frozen with tuples: hashable


def test_values_are_read() -> None:
    policy = parse_policy(
        dedent(
            """\
            [ssh]
            port = 2222
            permit_root_login = true
            allow_users = ["alice"]
            max_auth_tries = 6

            [firewall]
            allow_tcp = [2222, 53, 443]
            allow_udp = [53, 123]
            default_incoming = "reject"

            [fail2ban]
            enabled = false
            jails = []
            bantime = 60
            maxretry = 10

            [time]
            service = "ntpsec"
            servers = ["0.pool.ntp.org"]

            [named]
            user = "named"
            recursion = true
            chroot = true

            [boot]
            disabled = ["cups"]
            """
        )
    )
    assert policy.ssh == SSHPolicy(
        port=2222, permit_root_login=True, allow_users=("alice",), max_auth_tries=6
    )
    assert policy.firewall == FirewallPolicy(
        allow_tcp=(PortRule(2222), PortRule(53), PortRule(443)),
        allow_udp=(PortRule(53), PortRule(123)),
        default_incoming="reject",
    )
    assert policy.fail2ban == Fail2banPolicy(enabled=False, jails=(), bantime=60, maxretry=10)
    assert policy.time == TimePolicy(service="ntpsec", servers=("0.pool.ntp.org",))
    assert policy.named == NamedPolicy(user="named", recursion=True, chroot=True)
    assert policy.boot == BootPolicy(disabled=("cups",))


def test_dotted_keys_and_inline_tables_are_accepted() -> None:
    policy = parse_policy("ssh.port = 2222\nfirewall = { allow_tcp = [2222, 53] }\n")
    assert policy.ssh.port == 2222
    assert policy.firewall.ports("tcp") == {2222, 53}


def test_to_dict_is_json_ready_and_complete() -> None:
    data = Policy().to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["firewall"]["allow_tcp"] == [22, 53]
    assert data["boot"]["disabled"] == ["telnet", "rsh-server", "avahi-daemon"]
    assert data["ssh"]["allow_users"] == []
    assert set(data) == {"ssh", "firewall", "fail2ban", "time", "users", "boot", "files", "named"}
    assert data["named"] == {
        "user": "bind",
        "version_hidden": True,
        "recursion": False,
        "allow_transfer_tsig_only": True,
        "chroot": False,
    }


# --- TOML syntax ------------------------------------------------------------------------------


def test_toml_syntax_error_is_one_problem_with_its_line() -> None:
    problem = only_problem(
        """\
        [ssh]
        port = 22
        permit_root_login = yes
        """
    )
    assert problem.line == 3
    assert problem.file == "host/policy.toml"
    assert problem.message.startswith("invalid TOML: ")
    assert problem.message.endswith("(column 21)")


def test_duplicate_table_is_a_syntax_error() -> None:
    problem = only_problem("[ssh]\nport = 22\n[ssh]\nport = 23\n")
    assert problem.message.startswith("invalid TOML: ")
    assert problem.line == 3


def test_file_name_is_carried_into_problems() -> None:
    problems = problems_of("[ssh]\nfoo = 1\n", file="zones-repo/host/policy.toml")
    assert [p.file for p in problems] == ["zones-repo/host/policy.toml"]
    assert str(problems[0]) == "zones-repo/host/policy.toml:2: unknown key 'foo' in [ssh]"


# --- unknown tables and keys ------------------------------------------------------------------


def test_unknown_key_with_its_line() -> None:
    problem = only_problem(
        """\
        # comment
        [ssh]
        port = 22
        foo = 1
        """
    )
    assert problem.message == "unknown key 'foo' in [ssh]"
    assert problem.line == 4


def test_unknown_key_line_is_looked_up_in_its_own_table() -> None:
    # `foo` at the start of a line in [named] must not be mistaken for the one in [ssh].
    problem = only_problem(
        """\
        [named]
        user = "bind"

        [ssh]
        port = 22
          foo   = "x"
        """
    )
    assert problem.message == "unknown key 'foo' in [ssh]"
    assert problem.line == 6


def test_unknown_key_in_dotted_form_is_found() -> None:
    problem = only_problem("# header\nfirewall.allow_icmp = true\n")
    assert problem.message == "unknown key 'allow_icmp' in [firewall]"
    assert problem.line == 2


def test_unknown_key_in_inline_table_has_no_line() -> None:
    problem = only_problem("fail2ban = { enabled = true, banaction = 'x' }\n")
    assert problem.message == "unknown key 'banaction' in [fail2ban]"
    assert problem.line is None


def test_unknown_sub_table_is_an_unknown_key() -> None:
    problem = only_problem("[ssh]\nport = 22\n\n[ssh.match]\nuser = 'x'\n")
    assert problem.message == "unknown key 'match' in [ssh]"
    assert problem.line == 4


def test_unknown_table_with_its_line() -> None:
    problem = only_problem("[ssh]\nport = 22\n\n[selinux]\nmode = 'enforcing'\n")
    assert problem.message == "unknown table [selinux]"
    assert problem.line == 4


def test_unknown_top_level_key() -> None:
    problem = only_problem("version = 1\n")
    assert problem.message == "unknown table [version]"
    assert problem.line == 1


def test_known_table_that_is_not_a_table() -> None:
    problem = only_problem("\nssh = 22\n")
    assert problem.message == "[ssh] must be a table, got integer"
    assert problem.line == 2


# --- types ------------------------------------------------------------------------------------


def test_string_port_is_refused() -> None:
    problem = only_problem('[ssh]\nport = "22"\n')
    assert problem.message == "[ssh] port must be an integer, got string"
    assert problem.line == 2


def test_boolean_is_not_an_integer() -> None:
    problem = only_problem("[ssh]\nmax_auth_tries = true\n")
    assert problem.message == "[ssh] max_auth_tries must be an integer, got boolean"


def test_float_is_not_an_integer() -> None:
    problem = only_problem("[fail2ban]\nbantime = 1.5\n")
    assert problem.message == "[fail2ban] bantime must be an integer, got float"
    assert problem.line == 2


def test_non_list_allow_tcp_is_refused() -> None:
    problem = only_problem("[firewall]\nallow_tcp = 22\n")
    assert problem.message == "[firewall] allow_tcp must be an array of ports, got integer"
    assert problem.line == 2


def test_list_elements_are_type_checked() -> None:
    problem = only_problem('[firewall]\nallow_tcp = [22, "53", 53]\n')
    assert problem.message == (
        "[firewall] allow_tcp[1] must be a port or { port = P, from = [...] }, got string"
    )
    assert problem.line == 2


def test_string_list_is_type_checked() -> None:
    problems = problems_of('[ssh]\nallow_users = "alice"\n[boot]\ndisabled = ["cups", 1]\n')
    assert [(p.line, p.message) for p in problems] == [
        (2, "[ssh] allow_users must be an array of strings, got string"),
        (4, "[boot] disabled[1] must be a string, got integer"),
    ]


def test_boolean_is_type_checked() -> None:
    problem = only_problem('[named]\nrecursion = "no"\n')
    assert problem.message == "[named] recursion must be a boolean, got string"


def test_string_is_type_checked() -> None:
    problem = only_problem("[named]\nuser = 0\n")
    assert problem.message == "[named] user must be a string, got integer"


def test_empty_strings_are_refused() -> None:
    problems = problems_of('[named]\nuser = ""\n[fail2ban]\njails = [" "]\n')
    assert [(p.line, p.message) for p in problems] == [
        (2, "[named] user must not be empty"),
        (4, "[fail2ban] jails[0] must not be empty"),
    ]


# --- ranges and choices -----------------------------------------------------------------------


@pytest.mark.parametrize("port", [0, -1, 65536, 100000])
def test_ssh_port_out_of_range(port: int) -> None:
    problem = only_problem(f"[ssh]\nport = {port}\n")
    assert problem.message == f"[ssh] port must be a port between 1 and 65535, got {port}"
    assert problem.line == 2


@pytest.mark.parametrize("port", [1, 65535])
def test_ssh_port_range_bounds_are_allowed(port: int) -> None:
    policy = parse_policy(f"[ssh]\nport = {port}\n[firewall]\nallow_tcp = [{port}, 53]\n")
    assert policy.ssh.port == port


def test_firewall_port_out_of_range() -> None:
    problem = only_problem("[firewall]\nallow_udp = [53, 0]\n")
    assert problem.message == "[firewall] allow_udp[1] must be a port between 1 and 65535, got 0"
    assert problem.line == 2


@pytest.mark.parametrize(
    ("table", "key"),
    [("ssh", "max_auth_tries"), ("fail2ban", "bantime"), ("fail2ban", "maxretry")],
)
def test_counts_must_be_positive(table: str, key: str) -> None:
    problem = only_problem(f"[{table}]\n{key} = 0\n")
    assert problem.message == f"[{table}] {key} must be at least 1, got 0"


def test_default_incoming_choice() -> None:
    problem = only_problem('[firewall]\ndefault_incoming = "accept"\n')
    assert problem.message == (
        "[firewall] default_incoming must be one of 'drop', 'reject', got 'accept'"
    )
    assert problem.line == 2


@pytest.mark.parametrize("service", ["chrony", "systemd-timesyncd", "ntpsec"])
def test_time_service_choices_allowed(service: str) -> None:
    assert parse_policy(f'[time]\nservice = "{service}"\n').time.service == service


def test_time_service_unknown() -> None:
    problem = only_problem('[time]\nservice = "ntpd"\n')
    assert problem.message == (
        "[time] service must be one of 'chrony', 'systemd-timesyncd', 'ntpsec', got 'ntpd'"
    )


# --- contradictions ---------------------------------------------------------------------------


def test_ssh_port_not_allowed_by_firewall_is_refused() -> None:
    problem = only_problem(
        """\
        [ssh]
        port = 2222

        [firewall]
        allow_tcp = [22, 53]
        """
    )
    assert problem.message == (
        "[ssh] port 2222 is not in [firewall] allow_tcp; the firewall would lock SSH out"
    )
    assert problem.line == 5


def test_ssh_port_changed_without_touching_firewall_points_at_ssh_port() -> None:
    problem = only_problem("[ssh]\nport = 2222\n")
    assert problem.message.startswith("[ssh] port 2222 is not in [firewall] allow_tcp")
    assert problem.line == 2


def test_ssh_port_moved_with_firewall_is_accepted() -> None:
    policy = parse_policy("[ssh]\nport = 2222\n[firewall]\nallow_tcp = [2222, 53]\n")
    assert policy.ssh.port == 2222


def test_dns_tcp_must_be_open() -> None:
    problem = only_problem("[firewall]\nallow_tcp = [22]\n")
    assert problem.message == (
        "[firewall] allow_tcp must include 53: this host is a nameserver and must answer DNS"
        " over TCP"
    )
    assert problem.line == 2


def test_dns_udp_must_be_open() -> None:
    problem = only_problem("[firewall]\nallow_tcp = [22, 53]\nallow_udp = [123]\n")
    assert problem.message == (
        "[firewall] allow_udp must include 53: this host is a nameserver and must answer DNS"
        " over UDP"
    )
    assert problem.line == 3


def test_disabled_firewall_is_not_checked_for_open_ports() -> None:
    policy = parse_policy("[ssh]\nport = 2222\n[firewall]\nenabled = false\nallow_tcp = []\n")
    assert policy.firewall.enabled is False


def test_no_ssh_login_method_is_refused() -> None:
    problem = only_problem(
        "[ssh]\npassword_authentication = false\npubkey_authentication = false\n"
    )
    assert problem.message == (
        "[ssh] password_authentication and pubkey_authentication are both false;"
        " nobody could log in"
    )
    assert problem.line == 3


def test_password_only_login_is_allowed() -> None:
    policy = parse_policy("[ssh]\npassword_authentication = true\npubkey_authentication = false\n")
    assert policy.ssh.pubkey_authentication is False


def test_refused_value_does_not_cause_a_second_contradiction() -> None:
    # The port is refused for its type; the default (22) standing in for it must not be
    # reported as missing from allow_tcp.
    problem = only_problem('[ssh]\nport = "2222"\n[firewall]\nallow_tcp = [2222, 53]\n')
    assert problem.message == "[ssh] port must be an integer, got string"


# --- everything at once -----------------------------------------------------------------------


def test_all_problems_are_reported_at_once_in_file_order() -> None:
    problems = problems_of(
        """\
        [ssh]
        port = "22"
        foo = 1
        max_auth_tries = 0

        [firewall]
        allow_tcp = [22, 70000]
        allow_udp = 53
        default_incoming = "accept"

        [time]
        service = "ntpd"

        [named]
        recursion = "no"

        [bogus]
        x = 1
        """
    )
    assert [(p.line, p.message) for p in problems] == [
        (2, "[ssh] port must be an integer, got string"),
        (3, "unknown key 'foo' in [ssh]"),
        (4, "[ssh] max_auth_tries must be at least 1, got 0"),
        (7, "[firewall] allow_tcp[1] must be a port between 1 and 65535, got 70000"),
        (8, "[firewall] allow_udp must be an array of ports, got integer"),
        (9, "[firewall] default_incoming must be one of 'drop', 'reject', got 'accept'"),
        (12, "[time] service must be one of 'chrony', 'systemd-timesyncd', 'ntpsec', got 'ntpd'"),
        (15, "[named] recursion must be a boolean, got string"),
        (17, "unknown table [bogus]"),
    ]
    assert all(p.file == "host/policy.toml" and p.severity == "error" for p in problems)


def test_validation_error_message_lists_every_problem() -> None:
    with pytest.raises(ValidationError) as info:
        parse_policy("[ssh]\nport = 0\nfoo = 1\n")
    assert str(info.value) == (
        "host/policy.toml:2: [ssh] port must be a port between 1 and 65535, got 0\n"
        "host/policy.toml:3: unknown key 'foo' in [ssh]"
    )


# --- the host half: time zone, users, boot, files, sourced firewall entries ---------------------


def test_firewall_entry_may_name_its_sources() -> None:
    policy = parse_policy(
        '[firewall]\nallow_tcp = [53, { port = 22, from = ["192.0.2.0/24", "2001:db8::/32"] }]\n'
    )
    assert policy.firewall.allow_tcp == (
        PortRule(53),
        PortRule(22, ("192.0.2.0/24", "2001:db8::/32")),
    )
    assert policy.firewall.ports("tcp") == {22, 53}  # the SSH port is open (to someone)
    assert policy.to_dict()["firewall"]["allow_tcp"] == [
        53,
        {"port": 22, "from": ["192.0.2.0/24", "2001:db8::/32"]},
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{ port = 22, from = ["192.0.2.1/24"] }', "from[0] must be an address or network"),
        ('{ port = 22, from = ["10.0.0.0/8; accept"] }', "from[0] must be an address or network"),
        ("{ port = 22, from = [] }", "from must be a non-empty array of networks"),
        ('{ from = ["10.0.0.0/8"] }', "needs a port"),
        ('{ port = 0, from = ["10.0.0.0/8"] }', "port must be a port between 1 and 65535"),
        ('{ port = 22, from = ["10.0.0.0/8"], proto = "tcp" }', "unknown key 'proto'"),
    ],
)
def test_bad_firewall_sources_are_refused(entry: str, message: str) -> None:
    problems = problems_of(f"[firewall]\nallow_tcp = [53, {entry}]\n")
    assert any(message in p.message and p.line == 2 for p in problems), problems
    assert all(p.message.startswith("[firewall] allow_tcp[1]") for p in problems), problems


@pytest.mark.parametrize("zone", ["Etc/UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"])
def test_timezone_is_an_iana_name(zone: str) -> None:
    assert parse_policy(f'[time]\ntimezone = "{zone}"\n').time.timezone == zone


@pytest.mark.parametrize("zone", ["Europe/Berlinn", "CEST", "../../etc/passwd", "localtime"])
def test_timezone_not_in_the_tz_database_is_refused(zone: str) -> None:
    problem = only_problem(f'[time]\ntimezone = "{zone}"\n')
    assert problem.message == (
        f"[time] timezone must be an IANA time zone like 'Etc/UTC' or 'Europe/Berlin', got {zone!r}"
    )
    assert problem.line == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Values land in sshd_config, jail files and the revert script: no newline, no quote.
        ('[ssh]\nallow_users = ["alice\\nPermitRootLogin yes"]\n', "[ssh] allow_users[0] must be"),
        ('[users]\noperators = ["Alice Smith"]\n', "[users] operators[0] must be a user name"),
        ('[boot]\nenabled = ["ssh; rm -rf /"]\n', "[boot] enabled[0] must be a service name"),
        ('[fail2ban]\njails = ["sshd]\\n[recidive"]\n', "[fail2ban] jails[0] must be a jail name"),
        ('[time]\nservers = ["pool.ntp.org iburst"]\n', "[time] servers[0] must be a host"),
        ('[files]\nkey_mode = "640x"\n', '[files] key_mode must be an octal file mode like "0640"'),
        ('[files]\nkey_mode = "1777"\n', "[files] key_mode must be an octal file mode"),
        ('[files]\nkey_owner = "root:bind"\n', "[files] key_owner must be a user or group name"),
        ('[named]\nuser = "bind\\n"\n', "[named] user must be a user or group name"),
    ],
)
def test_values_that_would_break_a_generated_file_are_refused(text: str, message: str) -> None:
    problem = only_problem(text)
    assert problem.message.startswith(message), problem.message


def test_new_tables_are_read() -> None:
    policy = parse_policy(
        dedent(
            """\
            [time]
            servers = ["0.pool.ntp.org", "192.0.2.123"]
            timezone = "Europe/Berlin"
            must_be_synchronised = false

            [users]
            operators = ["alice", "deploy"]

            [boot]
            enabled = ["named", "ssh", "fail2ban", "chrony", "unattended-upgrades"]
            disabled = ["cups"]

            [files]
            key_mode = "0600"
            zone_dir_owner = "reconciler"
            """
        )
    )
    assert policy.time == TimePolicy(
        servers=("0.pool.ntp.org", "192.0.2.123"),
        timezone="Europe/Berlin",
        must_be_synchronised=False,
    )
    assert policy.users.operators == ("alice", "deploy")
    assert policy.boot.enabled[-1] == "unattended-upgrades"
    assert policy.files == FilesPolicy(key_mode="0600", zone_dir_owner="reconciler")


def test_sshd_disabled_at_boot_is_refused() -> None:
    problem = only_problem('[boot]\nenabled = ["named"]\ndisabled = ["ssh"]\n')
    assert problem.message == "[boot] disabled names ssh: sshd would not run: nobody could log in"
    assert problem.line == 3


def test_time_service_and_fail2ban_disabled_at_boot_are_refused() -> None:
    problems = problems_of('[boot]\nenabled = ["ssh"]\ndisabled = ["chrony", "fail2ban"]\n')
    assert sorted(p.message for p in problems) == [
        "[boot] disabled names chrony: the clock would not be synchronised ([time] service)",
        "[boot] disabled names fail2ban: [fail2ban] enabled needs it running",
    ]


def test_a_service_both_enabled_and_disabled_is_refused() -> None:
    problem = only_problem('[boot]\nenabled = ["ssh", "cups"]\ndisabled = ["cups"]\n')
    assert problem.message == "[boot] cups is both enabled and disabled"


def test_fail2ban_may_be_disabled_at_boot_when_not_enabled() -> None:
    text = '[fail2ban]\nenabled = false\n[boot]\nenabled = ["ssh"]\ndisabled = ["fail2ban"]\n'
    policy = parse_policy(text)
    assert "fail2ban" in policy.boot.disabled


def test_legacy_services_table_is_read_as_boot_disabled_with_a_warning() -> None:
    policy, warnings = read_policy('[services]\ndisabled = ["cups"]\n')
    assert policy.boot.disabled == ("cups",)
    assert [(w.line, w.severity, w.message) for w in warnings] == [
        (1, "warning", "[services] disabled is now [boot] disabled")
    ]
    merged, _ = read_policy('[boot]\ndisabled = ["telnet"]\n[services]\ndisabled = ["cups"]\n')
    assert merged.boot.disabled == ("telnet", "cups")


def test_legacy_services_values_are_still_checked() -> None:
    problems = problems_of('[services]\ndisabled = ["cups", 1]\n')
    assert [(p.line, p.severity, p.message) for p in problems] == [
        (1, "warning", "[services] disabled is now [boot] disabled"),
        (2, "error", "[services] disabled[1] must be a string, got integer"),
    ]


def test_legacy_services_with_other_keys_is_an_error() -> None:
    problem = only_problem('[services]\nenabled = ["ssh"]\n')
    assert problem.message == "[services] is now [boot]: only 'disabled' is still read there"


def test_template_comments_every_setting() -> None:
    """Every key line of the template has a comment right above it saying why."""
    lines = TEMPLATE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if " = " in line and not line.startswith("#"):
            assert lines[number - 1].startswith("#"), f"line {number + 1} has no comment: {line}"
