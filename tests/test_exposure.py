"""What a stranger can get and what the reconciler lets out, on the demo's sandbox: what held
when issue 9 tried it, kept held.

- The TSIG secret and the rndc secret appear in no output, log, metric, git note, state
  file, generated file or `ps` listing, through a good push, a refused one, a lagging
  secondary and a wrong rndc key; the search finds them in the key files themselves.
- AXFR with no key, with a key name the servers do not know and with the right name but a
  wrong secret is refused by the primary and by every secondary.
- A NOTIFY from an address that is not the primary's does not make a secondary transfer.
"""

from __future__ import annotations

import base64
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from reconciler.bind import probe
from reconciler.bind.keys import Key, new_key, read_key_file, write_key_file
from reconciler.devtools import sandbox
from reconciler.devtools.init import commit_all
from reconciler.errors import TransferError
from tests.daemonsite import WWW, Repeating, Site, wait_until

NON_PRIMARY = "127.0.0.2"  # loopback, but not the address the secondaries know the primary by


@dataclass
class ProcessLister(Repeating):
    """A thread reading every process's command line (what `ps` lists) again and again,
    keeping each one that holds a given text."""

    needles: list[str]
    also: str  # a text to count the processes of: proves that the right moments were seen
    found: list[str] = field(default_factory=list)
    counted: int = 0
    listings: int = 0
    pause = 0.01

    def look(self, listing: str) -> None:
        self.listings += 1
        lines = listing.splitlines()
        self.found += [line for line in lines if any(n in line for n in self.needles)]
        self.counted += sum(1 for line in lines if self.also in line)

    def once(self) -> None:
        lines = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                lines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (OSError, UnicodeDecodeError):
                continue
        self.look("\n".join(lines))


def reconciler(*args: str) -> str:
    """A reconciler command as a user runs it; its stdout and stderr."""
    run = subprocess.run(
        [sys.executable, "-m", "reconciler.cli", *args], capture_output=True, text=True
    )
    return run.stdout + run.stderr


def files_under(folder: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield str(path), path.read_bytes()


def test_no_secret_in_any_output_log_metric_note_state_or_ps_listing(site: Site) -> None:
    servers = site.sandbox.servers
    root = site.root
    keys = [read_key_file(servers.transfer_key_file), read_key_file(servers.rndc_key_file)]
    needles = [k.secret for k in keys] + [base64.b64decode(k.secret).hex() for k in keys]
    assert all(len(k.secret) >= 40 for k in keys)
    seen: dict[str, str | bytes] = {}

    rndc = f" -p {servers.primary.rndc_port} "  # in rndc's command line: the daemon's rndc seen
    with ProcessLister(needles, also=rndc) as ps:
        daemon = site.start()
        good = site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.81"), "Move www")
        daemon.wait_event(lambda e: e.get("commit") == good[:12], "the good push")
        ps.look(subprocess.run(["ps", "-eww", "-o", "args="], capture_output=True).stdout.decode())

        # refused by the pre-receive hook; then, the hook removed, by the daemon
        bad = root / "clone" / "zones" / "example.com.zone"
        cname = "www IN CNAME elsewhere.example.\n"
        bad.write_text(bad.read_text() + cname)
        commit_all(site.clone, "CNAME and other data")
        push = subprocess.run(
            ["git", "-C", str(root / "clone"), "push", "origin", "main"],
            capture_output=True,
            text=True,
        )
        assert push.returncode != 0, push.stderr
        seen["the refused push"] = push.stdout + push.stderr
        (root / "repo.git" / "hooks" / "pre-receive").rename(root / "pre-receive.off")
        site.clone.git.push("-q", "origin", "main")
        daemon.wait_event(
            lambda e: e.get("event") == "commit refused; waiting for a new commit", "the refusal"
        )

        # a lagging secondary, then a wrong rndc key (same name, another secret)
        servers.secondaries[1].stop()
        site.push(
            lambda t: t.replace(cname, "").replace("192.0.2.81", "192.0.2.83"), "Fix, move www"
        )
        daemon.wait_event(lambda e: e.get("event") == "secondaries lag; retrying", "the lag")
        servers.secondaries[1].start()
        daemon.wait_event(lambda e: e.get("event") == "reconciled", "the catch-up")
        wrong = servers.rndc_key_file.with_name("wrong-rndc.key")
        write_key_file(wrong, new_key(keys[1].name))
        needles += [read_key_file(wrong).secret]
        config = site.config.read_text()
        site.config.write_text(config.replace(str(servers.rndc_key_file.name), wrong.name))
        assert site.config.read_text() != config
        daemon.process.send_signal(signal.SIGHUP)  #: daemon.toml again
        daemon.wait_event(lambda e: e.get("event") == "daemon.toml reloaded", "the reload")
        site.push(lambda t: t.replace("192.0.2.83", "192.0.2.82"), "Move www")
        daemon.wait_event(
            lambda e: e.get("event") == "reconcile failed; backing off", "the rndc failure"
        )
        site.config.write_text(config)
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_event(lambda e: e.get("event") == "reconciled", "the recovery")

        seen["/metrics"] = site.get("/metrics")[1]
        seen["/healthz"] = site.get("/healthz")[1]
        for args in (
            ["status", "--config", str(site.config)],
            ["-v", "status", "--config", str(site.config), "--format", "json"],
            ["apply", "--config", str(site.config)],  # refused: the daemon holds the lock
            ["doctor", "--config", str(site.config), "--format", "json"],
            ["-C", str(root / "clone"), "plan", "--base", "HEAD~2", "--format", "markdown"],
            ["-C", str(root / "clone"), "check"],
            ["-C", str(root / "clone"), "bind-config", "--secondary", "ns2"],
            ["nudge", "--config", str(site.config)],
        ):
            seen[" ".join(args)] = reconciler(*args)
        daemon.stop()
    seen["git notes"] = subprocess.run(
        ["git", "-C", str(root / "repo.git"), "log", "--notes=reconciler", "--all"],
        capture_output=True,
        text=True,
    ).stdout
    assert "reconciler: confirmed" in str(seen["git notes"])
    for log in root.glob("daemon-*.log"):
        seen[str(log)] = log.read_bytes()
    seen.update(files_under(root / "state"))
    for server in servers.all():  # named's logs, zone files, journals, the generated include
        seen.update((p, d) for p, d in files_under(server.dir) if not p.endswith(".key"))
    for folder in Path(tempfile.gettempdir()).glob("reconciler-rndc-*"):  # left by kill -9
        if str(root) in (folder / "rndc.conf").read_text(errors="replace"):
            seen.update(files_under(folder))

    assert ps.counted and ps.listings > 100 and len(seen) > 20, (ps.counted, ps.listings, len(seen))
    assert not ps.found, "a secret in a process listing"
    for where, text in seen.items():
        data = text.encode() if isinstance(text, str) else text
        for needle in needles:
            assert needle.encode() not in data, f"a secret is in {where}"
    for key_file in (servers.transfer_key_file, servers.rndc_key_file, wrong):  # the look works
        assert any(n.encode() in key_file.read_bytes() for n in needles)


# --- what a stranger gets --------------------------------------------------------------------


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[sandbox.Servers]:
    """The demo's servers serving example.com and example.net, the daemon not needed."""
    from reconciler.devtools import demo

    setup = demo.setup(tmp_path / "demo", hooks=False)
    try:
        yield setup.servers
    finally:
        setup.servers.stop_all()


def wrong_secret(key: Key) -> Key:
    return Key(key.name, key.algorithm, base64.b64encode(secrets.token_bytes(32)).decode())


def test_axfr_without_the_key_or_with_a_wrong_name_or_secret_is_refused_everywhere(
    servers: sandbox.Servers,
) -> None:
    key = servers.transfer_key()
    attempts = {
        "no key": (None, "REFUSED"),
        "a key name the servers do not know": (new_key("stranger-key"), "TSIG refused"),
        "the right name with a wrong secret": (wrong_secret(key), "TSIG refused"),
    }
    for server in servers.all():
        served = probe.axfr(server.address, server.port, "example.com", key)
        assert any(" IN SOA " in line for line in served)  # the right key works
        for what, (attempt, refusal) in attempts.items():
            with pytest.raises(TransferError, match=refusal) as caught:
                probe.axfr(server.address, server.port, "example.com", attempt)
            assert key.secret not in str(caught.value), what
        log = server.log_file.read_text()
        assert "zone transfer 'example.com/AXFR/IN' denied" in log, server.name
        assert "request has invalid signature: TSIG stranger-key: tsig verify failure" in log
        assert f"TSIG {key.name}: tsig verify failure (BADSIG)" in log, server.name


def notify_from(source: str, server: sandbox.ServerProcess, zone: str, serial: int) -> str:
    """A NOTIFY for `zone` announcing `serial`, sent from `source`; the answer's rcode."""
    message = dns.message.make_query(zone, dns.rdatatype.SOA)
    message.flags = dns.flags.AA  # the opcode lives in the flags word: set it after
    message.set_opcode(dns.opcode.NOTIFY)
    soa = f"ns1.{zone}. hostmaster.{zone}. {serial} 1800 900 1209600 300"
    message.answer.append(dns.rrset.from_text(zone + ".", 0, "IN", "SOA", soa))
    answer = dns.query.udp(message, server.address, port=server.port, timeout=3, source=source)
    return dns.rcode.to_text(answer.rcode())


def test_a_notify_from_a_non_primary_is_refused(servers: sandbox.Servers) -> None:
    serial = probe.soa_serial(servers.primary.address, servers.primary.port, "example.com")
    assert serial is not None
    for server in servers.secondaries:
        assert notify_from(NON_PRIMARY, server, "example.com", (serial + 1000) % 2**32) == (
            "REFUSED"
        )
        wait_until(
            lambda server=server: (
                f"refused notify from non-primary: {NON_PRIMARY}#" in server.log_file.read_text()
            ),
            f"{server.name}'s named to log the refused NOTIFY",
        )
    for server in servers.all():
        assert probe.soa_serial(server.address, server.port, "example.com") == serial
