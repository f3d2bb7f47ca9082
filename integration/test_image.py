"""Secrets: no key is in the image; the keys made at start never reach a log, the state or
git notes."""

from __future__ import annotations

from integration.topology import DAEMON_LOG, LABEL, REPO, STATE, Topology

LOOK_FOR_KEYS = """
for file in /etc/bind/rndc.key /etc/bind/tsig /etc/bind/transfer.key \\
            /etc/reconciler/daemon.toml; do
    [ -e "$file" ] && echo "present: $file"
done
for file in /etc/ssh/ssh_host_*_key; do  # SSH host keys are made where sshd runs
    [ -e "$file" ] && echo "present: $file"
done
grep -rIlE 'secret[[:space:]]+"[A-Za-z0-9+/=]{16,}"' /etc /srv /var /root /opt 2>/dev/null
exit 0
"""


def test_the_image_holds_no_key(topology: Topology) -> None:
    output = topology.client.containers.run(
        topology.image.id,
        entrypoint=["sh", "-c", LOOK_FOR_KEYS],
        network_mode="none",
        labels={LABEL: topology.run_id},
        remove=True,
    )
    assert output.decode().strip() == ""
    # The same look in a running primary finds the keys made at its start: the look works.
    found = topology.primary.exec("sh", "-c", LOOK_FOR_KEYS).out
    assert "present: /etc/bind/rndc.key" in found and "/etc/bind/tsig/transfer.key" in found


def test_no_secret_reaches_a_log_the_state_or_git_notes(topology: Topology) -> None:
    assert topology.key is not None
    primary = topology.primary
    rndc = primary.read("/etc/bind/rndc.key").decode()
    secrets = [topology.key.secret, rndc.split('secret "', 1)[1].split('"', 1)[0]]
    assert all(len(secret) >= 40 for secret in secrets)  # really the secrets, base64 of 32 bytes
    texts = {
        "daemon log": primary.log(DAEMON_LOG),
        "state": primary.read(STATE).decode(),
        "git notes": primary.exec("git", "-C", REPO, "log", "--notes=reconciler").out,
        "status": primary.exec(
            "reconciler", "status", "--config", "/etc/reconciler/daemon.toml"
        ).out,
    }
    for node in topology.nodes.values():
        texts[f"{node.name} docker logs"] = node.container.logs().decode(errors="replace")
        texts[f"{node.name} named log"] = node.log()
    assert texts["git notes"] and texts["daemon log"]
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret is in the {where}"


def test_key_files_are_readable_only_by_root_and_named(topology: Topology) -> None:
    files = {
        "ns1": ["/etc/bind/tsig/transfer.key", "/etc/bind/rndc.key"],
        "ns2": ["/etc/bind/transfer.key"],
        "ns3": ["/etc/bind/transfer.key"],
    }
    for name, paths in files.items():
        modes = topology.nodes[name].exec("stat", "-c", "%U:%G %a", *paths).out.split()
        assert modes == ["root:bind", "640"] * len(paths), (name, modes)
