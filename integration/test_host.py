"""The host half on a real primary: `host apply`, `host audit` and the lock-out guard.

A primary container of its own (host1, NET_ADMIN: nftables in its network namespace) with
sshd, fail2ban and rsyslog of the image, an operator account `admin` whose key is the
outsider's, and the outsider as the remote client. The policy is the template's with two
container allowances (no NTP to synchronise with on an internal network; rsyslog, which
Debian starts with no init script, is started by hand so fail2ban has auth.log to read;
chronyd runs with -x, keeping time without setting the container's clock).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from integration.topology import DAEMON_TOML, Exec, Node, Topology, wait_until

CONFIG = "/etc/reconciler/daemon.toml"
TEMPLATE = "/opt/dns-reconciler/src/repo-template/host/policy.toml"
PACKAGE_TEMPLATES = "/opt/dns-reconciler/src/reconciler/host/templates"
GUARDS = "/var/lib/reconciler/state/host/guards"
DAEMON = "/opt/dns-reconciler/venv/bin/python3 /opt/dns-reconciler/venv/bin/reconciler run"
CONFIRM_TIMEOUT = 5  # seconds; the revert timer fires 2 x this + 30 s after the change
# No NTP server is reachable from the test network.
CONTAINER_POLICY = {"must_be_synchronised": "false"}
# SSH only from a network neither the operators nor the host itself are in.
SSH_FROM_ELSEWHERE = '[53, { port = 22, from = ["192.0.2.0/24"] }]'
SSH = ("ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "ConnectTimeout=5")


@dataclass
class Host:
    node: Node
    outsider: Node

    def policy(self, name: str, settings: dict[str, str] | None = None, **templates: str) -> str:
        """A policy folder: the template's policy.toml with the container allowances and
        `settings` (key -> TOML value, each key once in the template) put in its place; and
        template overrides (NAME.j2 -> text)."""
        folder = f"/root/policies/{name}"
        text = self.node.exec("cat", TEMPLATE).out
        for key, value in {**CONTAINER_POLICY, **(settings or {})}.items():
            text, count = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
            assert count == 1, key
        self.node.put(f"{folder}/policy.toml", text)
        for template, body in templates.items():
            self.node.put(f"{folder}/{template}", body)
        return folder

    def reconciler(self, command: str, folder: str, *more: str) -> Exec:
        argv = ("reconciler", "host", command, "--config", CONFIG, "--policy", folder, *more)
        return self.node.exec(*argv, check=False)

    def sshd_option(self, keyword: str) -> str:
        out = self.node.exec("sshd", "-T").out
        (value,) = re.findall(rf"^{keyword} (.*)$", out, re.MULTILINE)
        return value

    def operator_logs_in(self) -> bool:
        done = self.outsider.exec(*SSH, f"admin@{self.node.address}", "id -un", check=False)
        return done.code == 0 and done.out.strip() == "admin"

    def tcp_answers(self, port: int) -> bool:
        probe = (
            "import socket, sys\n"
            "s = socket.socket(); s.settimeout(3)\n"
            f"sys.exit(s.connect_ex(({self.node.address!r}, {port})))\n"
        )
        return self.outsider.exec("python3", "-c", probe, check=False).code == 0

    def udp53_answers(self) -> bool:
        done = self.outsider.exec(
            "dig",
            "+time=3",
            "+tries=1",
            f"@{self.node.address}",
            "example.test",
            "SOA",
            check=False,
        )
        return "status:" in done.out

    def table(self) -> str:
        return self.node.exec("nft", "list", "table", "inet", "reconciler", check=False).out

    def audit(self, folder: str) -> Exec:
        return self.reconciler("audit", folder)


@pytest.fixture(scope="module")
def host(topology: Topology) -> Iterator[Host]:
    toml = topology.daemon_toml() + f"\n[host]\nconfirm_timeout = {CONFIRM_TIMEOUT}\n"
    # the daemon manages the host ([host] mode = "enforce" below): root, not `reconciler`
    node = topology.create("host1", env={"DAEMON_USER": "root"}, cap_add=["NET_ADMIN"])
    node.put(DAEMON_TOML, toml)
    node.container.start()
    outsider = topology.nodes["outsider"]
    outsider.sh(
        "test -e /root/.ssh/id_ed25519 || "
        "{ mkdir -p /root/.ssh && ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519; }"
    )
    key = outsider.exec("cat", "/root/.ssh/id_ed25519.pub").out
    wait_until(
        lambda: node.exec("test", "-e", "/etc/bind/rndc.key", check=False).code == 0,
        "host1's start",
        limit=90,
    )
    node.sh(
        "ssh-keygen -A >/dev/null"  # host keys, made where sshd runs
        " && useradd -m -s /bin/bash admin && mkdir -p /home/admin/.ssh"
        f" && echo {shlex.quote(key.strip())} > /home/admin/.ssh/authorized_keys"
        " && chown -R admin:admin /home/admin/.ssh && chmod 600 /home/admin/.ssh/authorized_keys"
        " && rsyslogd && logger -p auth.info 'auth.log starts here'"
        # chronyd may not set the clock of a container (no CAP_SYS_TIME): -x, it only keeps time
        " && echo 'DAEMON_OPTS=\"-x\"' > /etc/default/chrony"
    )
    wait_until(
        lambda: node.exec("test", "-s", "/var/log/auth.log", check=False).code == 0,
        "rsyslog to write auth.log",
    )
    yield Host(node, outsider)
    node.container.remove(force=True, v=True)
    del topology.nodes["host1"]


@pytest.fixture(scope="module")
def applied(host: Host) -> Exec:
    """The template policy applied once: the state every test starts from and returns to."""
    return host.reconciler("apply", host.policy("template"))


def test_the_template_policy_applied_opens_ssh_and_dns_only(host: Host, applied: Exec) -> None:
    assert applied.code == 0, applied.output
    assert "kept: a new SSH connection to" in applied.out
    assert host.tcp_answers(22) and host.tcp_answers(53) and host.udp53_answers()
    assert not host.tcp_answers(9153)  # the daemon's metrics port listens, and is dropped
    assert host.node.exec("ss", "-ltn", "sport = :9153").out.count("LISTEN") == 1
    assert host.sshd_option("permitrootlogin") == "no"
    assert host.sshd_option("passwordauthentication") == "no"
    assert host.operator_logs_in()
    audit = host.audit(host.policy("template"))
    assert audit.code == 0, audit.output
    assert "in policy" in audit.out.splitlines()[-1]


def test_a_hand_edit_and_a_drop_in_drift_and_apply_repairs_them(host: Host, applied: Exec) -> None:
    folder = host.policy("template")
    host.node.sh(
        "sed -i 's/^PasswordAuthentication no/#&/' /etc/ssh/sshd_config"
        " && echo 'PasswordAuthentication yes' > /etc/ssh/sshd_config.d/50-cloud.conf"
    )
    assert host.sshd_option("passwordauthentication") == "yes"
    audit = host.audit(folder)
    assert audit.code == 1, audit.output
    assert re.search(
        r"drift\s+ssh\.password_authentication\s+found passwordauthentication yes.*"
        r"wanted passwordauthentication no",
        audit.out,
    )
    assert re.search(r"drift\s+managed\.sshd\s+found edited \(/etc/ssh/sshd_config\)", audit.out)
    repaired = host.reconciler("apply", folder)
    assert repaired.code == 0, repaired.output
    assert host.sshd_option("passwordauthentication") == "no"  # the drop-in comes too late
    assert host.audit(folder).code == 0
    host.node.exec("rm", "/etc/ssh/sshd_config.d/50-cloud.conf")


def test_an_sshd_option_typo_is_refused_and_sshd_still_takes_the_key(
    host: Host, applied: Exec
) -> None:
    package = host.node.exec("cat", f"{PACKAGE_TEMPLATES}/sshd_config.j2").out
    typo = package.replace("MaxAuthTries", "MaxAuthTrys")
    before = host.node.exec("cat", "/etc/ssh/sshd_config").out
    refused = host.reconciler("apply", host.policy("typo", **{"sshd_config.j2": typo}))
    assert refused.code == 1, refused.output
    assert re.search(
        r"/etc/ssh/sshd_config \(rendered from host/sshd_config\.j2\):\d+: "
        r"sshd refuses it: Bad configuration option: MaxAuthTrys",
        refused.err,
    ), refused.err
    assert host.node.exec("cat", "/etc/ssh/sshd_config").out == before
    assert host.operator_logs_in()


def test_a_firewall_change_that_shuts_ssh_is_reverted(host: Host, applied: Exec) -> None:
    before = host.table()
    shut = host.policy("sourced", {"allow_tcp": SSH_FROM_ELSEWHERE})
    reverted = host.reconciler("apply", shut)
    assert reverted.code == 2, reverted.output
    assert f"no new SSH connection to {host.node.address}:22 got in" in reverted.out
    assert host.table() == before
    assert host.operator_logs_in()


def test_the_revert_happens_when_the_reconciler_is_killed(host: Host, applied: Exec) -> None:
    before = host.table()
    shut = host.policy("killed", {"allow_tcp": SSH_FROM_ELSEWHERE})
    # Start the apply; once the new table is live and the timer armed, kill -9 the apply.
    # The table first, then the newest guard folder: once the table is live this apply's
    # folder exists. (Listing the folders first could, under load, take an earlier test's
    # guard, decided "now", and leave this apply's lock-out to the next test.)
    script = f"""
reconciler host apply --config {CONFIG} --policy {shut} >/dev/null 2>&1 &
pid=$!
while :; do
    if nft list table inet reconciler | grep -q 192.0.2.0; then
        guard=$(ls -d {GUARDS}/* | tail -1)
        [ -e "$guard/timer.pid" ] && break
    fi
    sleep 0.1
done
kill -9 $pid
wait $pid
echo "$guard"
"""
    guard = host.node.sh(script, check=False).out.strip().splitlines()[-1]
    assert "192.0.2.0/24 tcp dport 22" in host.table()  # the lock-out is live, nobody confirms
    assert not host.tcp_answers(22)
    wait_until(
        lambda: host.node.exec("test", "-e", f"{guard}/done", check=False).code == 0,
        "the detached timer to revert",
        limit=2 * CONFIRM_TIMEOUT + 30 + 60,
    )
    assert host.node.exec("cat", f"{guard}/decided/by").out.strip() == "timer"
    assert host.table() == before
    assert host.operator_logs_in()


def test_password_logins_off_without_an_operator_key_is_refused(host: Host, applied: Exec) -> None:
    before = host.node.exec("cat", "/etc/ssh/sshd_config").out
    refused = host.reconciler(
        "apply", host.policy("nobody", {"operators": '["alice"]', "max_auth_tries": "4"})
    )
    assert refused.code == 3, refused.output
    assert "no operator account (alice) has an SSH key" in refused.out
    assert host.node.exec("cat", "/etc/ssh/sshd_config").out == before


def test_fail2ban_bans_the_outsider_and_its_table_survives_a_firewall_apply(
    host: Host, applied: Exec
) -> None:
    for _ in range(5):  # maxretry of the template policy
        host.outsider.exec(*SSH, f"nosuch@{host.node.address}", "true", check=False)
    wait_until(
        lambda: host.outsider.address in host.node.exec("fail2ban-client", "status", "sshd").out,
        "fail2ban to ban the outsider",
    )
    assert not host.operator_logs_in()  # banned: even the right key does not get in
    wider = host.policy("wider", {"allow_tcp": "[22, 53, 853]"})
    done = host.reconciler("apply", wider)
    assert done.code == 0, done.output
    assert "tcp dport 853 accept" in host.table()
    f2b = host.node.exec("nft", "list", "table", "inet", "f2b-table").out
    assert host.outsider.address in f2b
    assert not host.tcp_answers(22)  # the ban still holds
    host.node.exec("fail2ban-client", "unban", "--all")
    assert host.operator_logs_in()
    back = host.reconciler("apply", host.policy("template"))
    assert back.code == 0, back.output


def test_the_daemon_enforces_host_commits_audits_and_records(host: Host, applied: Exec) -> None:
    """daemon.toml [host] mode = "enforce": a push changing host/ is applied (and a lock-out
    rolled back), each noted on its commit; drift is audited, exported and shown by status."""
    node = host.node
    toml = node.exec("cat", DAEMON_TOML).out.replace(
        "[host]\n", '[host]\nmode = "enforce"\ninterval = 3\n', 1
    )
    node.put(DAEMON_TOML, toml)
    node.sh(f"kill -HUP $(pgrep -f '^{DAEMON}')")
    clone = "/root/zones"
    node.sh(
        f"reconciler init {clone} >/dev/null && cd {clone}"
        " && git config user.name Operator && git config user.email operator@example.test"
        " && sed -i 's/^must_be_synchronised = .*/must_be_synchronised = false/;"
        " s/^max_auth_tries = .*/max_auth_tries = 4/' host/policy.toml"
        " && git add -A && git commit -qm 'host: four tries per connection'"
        " && git remote add origin /srv/git/zones.git && git push -q origin main"
    )

    def note() -> str:
        return node.exec(
            "git",
            "-C",
            "/srv/git/zones.git",
            "notes",
            "--ref=reconciler",
            "show",
            "main",
            check=False,
        ).out

    wait_until(lambda: "host: applied" in note(), "the daemon to apply host/", seen=note)
    assert host.sshd_option("maxauthtries") == "4"

    def status() -> dict:
        out = node.exec("reconciler", "status", "--config", CONFIG, "--format", "json").out
        return json.loads(out)["host"] or {}

    wait_until(lambda: status().get("in_policy"), "the audit after the apply", seen=status)
    node.sh("sed -i 's/^MaxAuthTries 4/MaxAuthTries 6/' /etc/ssh/sshd_config")
    wait_until(
        lambda: any(f["item"] == "ssh.max_auth_tries" for f in status().get("drift", [])),
        "the next audit to see the hand edit",
        seen=status,
    )
    text = node.exec("reconciler", "status", "--config", CONFIG).out
    assert "drift: ssh.max_auth_tries: found 6; wanted 4" in text
    metrics = node.exec(
        "python3",
        "-c",
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9153/metrics')"
        ".read().decode())",
    ).out
    assert 'reconciler_host_drift{item="ssh.max_auth_tries"} 1.0' in metrics
    assert 'reconciler_host_drift{item="ssh.permit_root_login"} 0.0' in metrics
    assert "reconciler_host_reboot_required 0.0" in metrics

    before = host.table()
    node.sh(
        f"cd {clone} && sed -i 's|^allow_tcp = .*|allow_tcp = {SSH_FROM_ELSEWHERE}|' "
        "host/policy.toml && git commit -qam 'host: SSH from elsewhere' && git push -q origin main"
    )
    wait_until(lambda: "host: rolled back" in note(), "the daemon to roll back", seen=note)
    assert f"no new SSH connection to {node.address}:22 got in" in note()
    assert host.table() == before
    assert host.operator_logs_in()
