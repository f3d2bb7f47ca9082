"""The readers' parsers against output captured from the real tools (tests/data/host/).

The captures come from the project's image (Debian bookworm): sshd -T with Debian's default
sshd_config, with a drop-in re-enabling passwords, and with the rendered policy;
nft -j list ruleset with the reconciler's table beside fail2ban's; fail2ban-client status;
chronyc tracking synchronised to a peer and not; timedatectl and systemctl show from a
container running systemd; named-checkconf -px of Debian's and the primary's named.conf.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.host import parse
from reconciler.host.facts import Enablement, Opening, Password, Sync

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent / "data" / "host"


def data(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


# --- sshd -T ----------------------------------------------------------------------------------


def test_sshd_debian_default_allows_passwords_and_root_with_a_key() -> None:
    sshd = parse.sshd_options(data("sshd-T-debian-default.txt"))
    assert sshd.get("port") == "22"
    assert sshd.get("permitrootlogin") == "without-password"
    assert sshd.get("passwordauthentication") == "yes"
    assert sshd.get("kbdinteractiveauthentication") == "no"
    assert sshd.get("maxauthtries") == "6"
    assert sshd.all("listenaddress") == ("[::]:22", "0.0.0.0:22")
    assert sshd.get("allowusers") is None


def test_sshd_drop_in_counts() -> None:
    """Debian's sshd_config reads sshd_config.d/ first: a drop-in turns passwords on."""
    sshd = parse.sshd_options(data("sshd-T-debian-with-password-dropin.txt"))
    assert sshd.get("passwordauthentication") == "yes"


def test_sshd_policy_rendering_is_what_sshd_runs() -> None:
    sshd = parse.sshd_options(data("sshd-T-policy.txt"))
    assert (sshd.get("permitrootlogin"), sshd.get("passwordauthentication")) == ("no", "no")
    assert sshd.get("maxauthtries") == "3"


def test_sshd_repeated_keywords_keep_every_value() -> None:
    sshd = parse.sshd_options(data("sshd-T-port2222-allowusers.txt"))
    assert sshd.get("port") == "2222"
    assert sshd.all("allowusers") == ("alice", "deploy@192.0.2.*")


# --- nft -j list ruleset ----------------------------------------------------------------------


def test_nft_ruleset_with_fail2ban_beside_the_reconciler() -> None:
    wall = parse.firewall(data("nft-ruleset-reconciler-and-f2b.json"))
    assert wall.tables == ("inet reconciler", "inet f2b-table")
    assert wall.present and wall.hooked and wall.policy == "drop" and not wall.rejects
    assert wall.openings == {Opening("tcp", 22), Opening("tcp", 53), Opening("udp", 53)}
    assert wall.other == ()  # conntrack, loopback and ICMP are the standard rules


def test_nft_sources_and_reject() -> None:
    wall = parse.firewall(data("nft-table-sourced-reject.json"))
    assert wall.rejects
    assert Opening("tcp", 2222, "192.0.2.0/24") in wall.openings
    assert Opening("tcp", 2222, "2001:db8::/32") in wall.openings
    assert Opening("tcp", 2222) not in wall.openings
    assert Opening("udp", 123) in wall.openings


def test_nft_empty_ruleset() -> None:
    wall = parse.firewall(data("nft-ruleset-empty.json"))
    assert wall.tables == () and not wall.present and not wall.hooked


def test_nft_rule_added_by_hand_is_seen() -> None:
    """`nft add rule inet reconciler input tcp dport { 8080, 9153 } accept` and a blanket
    `accept`: the first opens two ports, the second is reported as another accept rule."""
    ruleset = json.loads(data("nft-ruleset-reconciler-and-f2b.json"))
    where = {"family": "inet", "table": "reconciler", "chain": "input"}
    dport = {"payload": {"protocol": "tcp", "field": "dport"}}
    ruleset["nftables"] += [
        {
            "rule": {
                **where,
                "expr": [
                    {"match": {"op": "==", "left": dport, "right": {"set": [8080, 9153]}}},
                    {"accept": None},
                ],
            }
        },
        {"rule": {**where, "expr": [{"accept": None}]}},
    ]
    wall = parse.firewall(json.dumps(ruleset))
    assert {Opening("tcp", 8080), Opening("tcp", 9153)} <= wall.openings
    assert wall.other == ('[{"accept":null}]',)


# --- fail2ban ---------------------------------------------------------------------------------


def test_fail2ban_status() -> None:
    assert parse.fail2ban_jails(data("fail2ban-status.txt")) == ("sshd",)
    assert parse.fail2ban_banned(data("fail2ban-status-sshd.txt")) == ("192.0.2.66",)
    assert parse.integer(data("fail2ban-get-sshd-bantime.txt")) == 3600
    assert parse.integer(data("fail2ban-get-sshd-maxretry.txt")) == 5


def test_fail2ban_not_running_is_not_a_jail_list() -> None:
    with pytest.raises(ValueError, match="Jail list"):
        parse.fail2ban_jails(data("fail2ban-status-down.txt"))


# --- time and services ------------------------------------------------------------------------


def test_timedatectl_show() -> None:
    values = parse.key_values(data("timedatectl-show.txt"))
    assert values["Timezone"] == "Etc/UTC"
    assert parse.synchronised(values["NTPSynchronized"]) is Sync.NO


def test_chrony_tracking() -> None:
    assert parse.chrony_tracking(data("chronyc-tracking-synchronised.txt")) is Sync.YES
    assert parse.chrony_tracking(data("chronyc-tracking-unsynchronised.txt")) is Sync.NO
    with pytest.raises(ValueError):
        parse.chrony_tracking(data("chronyc-tracking-down.txt"))  # "506 Cannot talk to daemon"


def test_systemctl_show_of_several_units() -> None:
    blocks = list(parse.key_value_blocks(data("systemctl-show.txt")))
    states = {
        b["Id"]: (parse.enablement(b["UnitFileState"], b["LoadState"]), b["ActiveState"])
        for b in blocks
    }
    assert states == {
        "ssh.service": (Enablement.ENABLED, "failed"),
        "named.service": (Enablement.ENABLED, "active"),
        "fail2ban.service": (Enablement.ENABLED, "active"),
        "chrony.service": (Enablement.ENABLED, "inactive"),
        "telnet.service": (Enablement.ABSENT, "inactive"),
        "avahi-daemon.service": (Enablement.ABSENT, "inactive"),
    }


# --- named ------------------------------------------------------------------------------------


def test_named_debian_default_recurses_and_transfers_to_anyone() -> None:
    options = parse.named_options(data("named-checkconf-px-debian-default.txt"))
    assert options.recursion is True  # not set: BIND's default
    assert options.version_hidden is False
    assert options.allow_transfer == ("any",)
    assert options.zones_open == (
        "localhost",
        "127.in-addr.arpa",
        "0.in-addr.arpa",
        "255.in-addr.arpa",
    )


def test_named_primary_with_the_reconcilers_options() -> None:
    text = data("named-checkconf-px-primary.txt")
    assert 'secret "????' in text  # -x: the capture holds no secret
    options = parse.named_options(text)
    assert (options.recursion, options.version_hidden) == (False, True)
    assert options.allow_transfer == ("none",)
    assert options.zones_open == ()  # example.test allows its TSIG key only


def test_named_zone_open_to_an_address_is_found() -> None:
    text = data("named-checkconf-px-primary.txt").replace('key "transfer-key";', '"192.0.2.0/24";')
    assert parse.named_options(text).zones_open == ("example.test",)


# --- accounts ---------------------------------------------------------------------------------


def test_accounts_keys_and_passwords() -> None:
    entries = parse.passwd(
        "root:x:0:0:root:/root:/bin/bash\n"
        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
        "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
        "broken line\n"
    )
    assert [(e.name, e.uid, e.home) for e in entries] == [
        ("root", 0, "/root"),
        ("alice", 1000, "/home/alice"),
    ]
    shadow = parse.shadow("root:*:19000::::::\nalice:$y$j9T$abc:19000::::::\nbob::19000::::::\n")
    assert shadow == {"root": Password.LOCKED, "alice": Password.SET, "bob": Password.EMPTY}
    keys = (
        "# laptop\n"
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ9 alice@laptop\n"
        'from="192.0.2.0/24",no-pty ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ alice@ci\n'
        "\n"
        "not a key\n"
    )
    assert parse.authorized_keys(keys) == 2
