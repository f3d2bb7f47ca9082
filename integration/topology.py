"""The integration topology: real containers on a private Docker network, and ways to ask them.

One user-defined bridge network (SUBNET, `internal`: no route out), created and removed
here, and five containers of the one image built from deploy/Dockerfile, each at a fixed
address:

    parent    172.30.53.5   the `test.` zone, signed, delegating example.test (NS and glue)
    ns1       172.30.53.10  the primary: named + `reconciler run`, the bare repo users push to
    ns2, ns3  .11, .12      secondaries, configured with `reconciler bind-config` (catalog zone)
    ns4       172.30.53.13  made by integration/test_knot.py only: a Knot DNS secondary
                            (`bind-config --software knot`)
    outsider  172.30.53.99  a host on the network that holds no key
    resolver  172.30.53.53  made by integration/test_dnssec.py only: a validating resolver
                            that trusts the parent's key
    host1     172.30.53.20  made by integration/test_host.py only: a primary whose host
                            (sshd, nftables, fail2ban) `host apply` changes

Everything the tests ask goes to these addresses only (`Topology.address` refuses any
other): DNS with dnspython from the test process (the host reaches the bridge), git, the
status command and named's logs through `docker exec` in the containers. Containers,
network and anonymous volumes carry the LABEL and are removed afterwards; leftovers of an
interrupted run are removed at the next start (under a lock, so two runs never meet).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import docker
import docker.errors
from docker.models.containers import Container
from docker.models.images import Image
from docker.models.networks import Network
from prometheus_client.parser import text_string_to_metric_families

from reconciler.bind import probe
from reconciler.bind.keys import Key, read_key_file

LABEL = "org.dns-reconciler.integration"
SUBNET = "172.30.53.0/24"
GATEWAY = "172.30.53.1"
ADDRESSES = {
    "parent": "172.30.53.5",
    "ns1": "172.30.53.10",
    "ns2": "172.30.53.11",
    "ns3": "172.30.53.12",
    "ns4": "172.30.53.13",  # made by integration/test_knot.py only: a Knot DNS secondary
    "outsider": "172.30.53.99",
    "resolver": "172.30.53.53",  # made by integration/test_dnssec.py only: it validates
    "host1": "172.30.53.20",  # a primary of its own for the host half (integration/test_host.py)
}
ROLES = {
    "parent": "parent",
    "ns1": "primary",
    "ns2": "secondary",
    "ns3": "secondary",
    "ns4": "knot-secondary",
    "outsider": "outsider",
    "resolver": "resolver",
    "host1": "primary",
}
ZONE = "example.test"
ZONE_FILE = f"zones/{ZONE}.zone"
DAEMON_TOML = "/etc/reconciler/daemon.toml"
DAEMON_LOG = "/var/log/reconciler/daemon.log"
NAMED_LOG = "/var/log/named/named.log"
STATE = "/var/lib/reconciler/state/state.json"
REPO = "/srv/git/zones.git"
METRICS_PORT = 9153
# named on the primary is stricter than the checker: scenario 3 pushes a TTL over this.
PRIMARY_OPTIONS = "max-zone-ttl 86400;"
WAIT = 90.0  # seconds any one awaited state may take before a test gives up
LOCK_FILE = Path(tempfile.gettempdir()) / "dns-reconciler-integration.lock"
LOCK_WAIT = 1200.0
DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "docker"

PARENT_ZONE = """$TTL 3600
@            IN SOA ns.test. hostmaster.test. ( 1 1800 900 1209600 300 )
@            IN NS  ns.test.
ns           IN A   172.30.53.5
; the delegation of example.test, with glue, as a registry publishes it
example      IN NS  ns1.example.test.
example      IN NS  ns2.example.test.
example      IN NS  ns3.example.test.
ns1.example  IN A   172.30.53.10
ns2.example  IN A   172.30.53.11
ns3.example  IN A   172.30.53.12
"""

EXAMPLE_ZONE = """; example.test: delegated from test. (the parent), served by ns1, ns2, ns3.
$TTL 3600
@       IN SOA  ns1.example.test. hostmaster.example.test. ( 1 1800 900 1209600 300 )
        IN NS   ns1
        IN NS   ns2
        IN NS   ns3
        IN MX   10 mail
ns1     IN A    172.30.53.10
ns2     IN A    172.30.53.11
ns3     IN A    172.30.53.12
mail    IN A    198.51.100.25
www     IN A    198.51.100.80
"""

TOPOLOGY = """[primary]
name = "ns1"
address = "172.30.53.10"
port = 53

[[secondary]]
name = "ns2"
address = "172.30.53.11"
port = 53

[[secondary]]
name = "ns3"
address = "172.30.53.12"
port = 53

"""


def set_www(text: str, line: str) -> str:
    """The zone text with its `www` line replaced by `line`."""
    changed, count = re.subn(r"^www\s.*$", line, text, flags=re.MULTILINE)
    assert count == 1, "the zone has no single www line"
    return changed


def wait_until(
    check: Callable[[], Any],
    what: str,
    limit: float = WAIT,
    interval: float = 0.25,
    seen: Callable[[], object] | None = None,
) -> Any:
    """`check()`'s first truthy value; AssertionError naming `what` (and what was seen last)
    once `limit` seconds pass without one. A bound on waiting, not a timing assertion."""
    end = time.monotonic() + limit
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= end:
            last = f"; last seen: {seen()}" if seen is not None else ""
            raise AssertionError(f"gave up after {limit:g} s waiting for {what}{last}")
        time.sleep(interval)


@dataclass(frozen=True)
class Exec:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


@dataclass
class Node:
    """One container: its name in the topology, role, fixed address and Docker object."""

    name: str
    role: str
    address: str
    container: Container

    def exec(
        self, *argv: str, check: bool = True, workdir: str | None = None, env: dict | None = None
    ) -> Exec:
        # The docker CLI, not docker-py's exec_run(demux=True): under load (make test's
        # workers on 2 cores) that returned empty or cut-off output for a command that ran.
        options = ["-w", workdir] if workdir else []
        for name, value in (env or {}).items():
            options += ["-e", f"{name}={value}"]
        done = subprocess.run(
            ["docker", "exec", *options, self.container.id, *argv],
            capture_output=True,
            check=False,
        )
        result = Exec(
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )
        if check and result.code != 0:
            raise AssertionError(
                f"{self.name}: {' '.join(argv)} exited {result.code}: {result.output}"
            )
        return result

    def sh(self, script: str, check: bool = True, workdir: str | None = None) -> Exec:
        return self.exec("sh", "-c", script, check=check, workdir=workdir)

    def put(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Write a file (root-owned) into the container, created or running, by the Docker
        API; missing folders are made on the way."""
        data = content.encode() if isinstance(content, str) else content
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            archive.addfile(info, io.BytesIO(data))
        assert self.container.put_archive("/", buffer.getvalue()), path

    def read(self, path: str) -> bytes:
        stream, _ = self.container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            member = archive.next()
            assert member is not None and member.isfile(), path
            handle = archive.extractfile(member)
            assert handle is not None
            return handle.read()

    def log(self, path: str = NAMED_LOG) -> str:
        return self.exec("cat", path, check=False).out

    def reload(self) -> None:
        self.container.reload()


@dataclass
class DaemonLog:
    """The primary's daemon log (JSON lines), read from a cursor on."""

    node: Node
    offset: int = 0
    unread: list[dict[str, Any]] = field(default_factory=list)

    def skip_to_end(self) -> None:
        """Forget everything logged so far: later waits see only what comes after."""
        size = self.node.exec("stat", "-c", "%s", DAEMON_LOG, check=False).out.strip()
        self.offset = int(size) if size.isdigit() else 0
        self.unread.clear()

    def _read(self) -> None:
        text = self.node.exec("tail", "-c", f"+{self.offset + 1}", DAEMON_LOG, check=False).out
        complete = text[: text.rfind("\n") + 1]
        self.offset += len(complete.encode())
        for line in complete.splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    self.unread.append(json.loads(line))

    def wait(
        self, match: Callable[[dict[str, Any]], bool], what: str, limit: float = WAIT
    ) -> dict[str, Any]:
        """The first unread event that matches; it and the events before it are read."""
        seen: list[str] = []

        def find() -> dict[str, Any] | None:
            self._read()
            while self.unread:
                event = self.unread.pop(0)
                seen.append(str(event.get("event")))
                if match(event):
                    return event
            return None

        return wait_until(find, what, limit, seen=lambda: seen[-8:])

    def outcome(self, sha: str, limit: float = WAIT) -> dict[str, Any]:
        """The daemon's verdict on commit `sha`: reconciled, refused or lagging."""
        verdicts = {
            "reconciled",
            "commit refused; waiting for a new commit",
            "secondaries lag; retrying",
        }
        return self.wait(
            lambda e: e.get("commit") == sha[:12] and e.get("event") in verdicts,
            f"the daemon's verdict on {sha[:12]}",
            limit,
        )


@dataclass
class Clone:
    """A user's clone of the bare repo, inside the primary container; git runs there."""

    node: Node
    path: str

    def git(self, *args: str, check: bool = True) -> Exec:
        return self.node.exec("git", "-C", self.path, *args, check=check)

    def write(self, relative: str, text: str) -> None:
        self.node.put(f"{self.path}/{relative}", text)

    def read(self, relative: str) -> str:
        return self.node.read(f"{self.path}/{relative}").decode()

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").out.strip()

    def push(self, check: bool = True) -> Exec:
        return self.git("push", "origin", "main", check=check)

    def change(self, relative: str, edit: Callable[[str], str], message: str) -> str:
        """Edit one file, commit, push (which must be accepted); the new commit."""
        before = self.read(relative)
        after = edit(before)
        assert after != before, f"the edit changes nothing in {relative}"
        self.write(relative, after)
        sha = self.commit(message)
        self.push()
        return sha


@dataclass
class Topology:
    client: docker.DockerClient
    image: Image
    run_id: str = field(default_factory=lambda: f"{os.getpid()}-{int(time.time())}")
    network: Network | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    key: Key | None = None
    daemon_log: DaemonLog | None = None
    clones: int = 0

    # --- set-up and tear-down -------------------------------------------------------------

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL: self.run_id}

    def create_network(self) -> None:
        for network in self.client.networks.list():
            network.reload()
            configs = (network.attrs.get("IPAM") or {}).get("Config") or []
            if any(c.get("Subnet") == SUBNET for c in configs):
                raise RuntimeError(
                    f"the Docker network {network.name} already uses {SUBNET}; the "
                    "integration suite needs that subnet (remove that network)"
                )
        ipam = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=SUBNET, gateway=GATEWAY)]
        )
        self.network = self.client.networks.create(
            f"dnsr-it-{self.run_id}",
            driver="bridge",
            ipam=ipam,
            internal=True,  # no route out of the network: only these containers meet
            labels=self.labels,
        )

    def create(self, name: str, env: dict[str, str] | None = None, **extra: Any) -> Node:
        assert self.network is not None
        address = ADDRESSES[name]
        container = self.client.containers.create(
            self.image.id,
            command=[ROLES[name]],
            name=f"dnsr-it-{self.run_id}-{name}",
            hostname=name,
            labels=self.labels,
            environment=env or {},
            init=True,
            network=self.network.name,
            networking_config={
                self.network.name: self.client.api.create_endpoint_config(ipv4_address=address)
            },
            **extra,
        )
        node = Node(name, ROLES[name], address, container)
        self.nodes[name] = node
        return node

    def start(self) -> None:
        """Network, parent, primary, outsider; the first commit; secondaries; converged."""
        self.create_network()
        parent = self.create("parent", {"SIGN_ZONES": "yes"})  # a signed TLD, as registries run
        parent.put("/srv/parent/test.zone", PARENT_ZONE)
        parent.container.start()
        primary = self.create("ns1", {"NAMED_OPTIONS": PRIMARY_OPTIONS}, cap_add=["NET_ADMIN"])
        primary.put(DAEMON_TOML, self.daemon_toml())
        primary.container.start()
        self.create("outsider").container.start()
        self.wait_serving("ns1", "catalog.invalid")
        self.daemon_log = DaemonLog(primary)
        self.daemon_log.wait(lambda e: e.get("event") == "daemon started", "the daemon to start")
        self.key = self._read_key(primary)

        # The operator's first commit: `reconciler init`, this topology, the delegated zone.
        bootstrap = Clone(primary, "/root/bootstrap")
        primary.exec("reconciler", "init", bootstrap.path)
        self._identity(bootstrap)
        config = bootstrap.read("reconciler.toml")
        start, end = config.index("[primary]"), config.index("# Zone transfers")
        bootstrap.write("reconciler.toml", config[:start] + TOPOLOGY + config[end:])
        bootstrap.write(f"zones/{ZONE}.zone", EXAMPLE_ZONE)
        first = bootstrap.commit("Serve example.test from ns1, ns2 and ns3")

        # Each secondary gets the primary's key and what bind-config prints for it (JSON).
        transfer_key = primary.read("/etc/bind/tsig/transfer.key")
        for name in ("ns2", "ns3"):
            piece = primary.exec(
                "reconciler",
                "-C",
                bootstrap.path,
                "bind-config",
                "--secondary",
                name,
                "--format",
                "json",
            ).out
            node = self.create(name)
            node.put("/etc/bind/transfer.key", transfer_key, mode=0o640)
            node.put("/etc/bind/reconciler-secondary.json", piece)
            node.container.start()
        for name in ("ns2", "ns3", "parent"):
            self.wait_serving(name, "catalog.invalid" if name != "parent" else "test")

        bootstrap.git("remote", "add", "origin", REPO)
        bootstrap.push()
        self.wait_converged(first)

    def daemon_toml(self) -> str:
        """The image's default daemon.toml with shorter waits, so faults show sooner."""
        text = (DEPLOY / "daemon.toml").read_text()
        changes = {
            "deadline = 30": "deadline = 10",
            "recheck_interval = 30": "recheck_interval = 5",
            "backoff_max = 60": "backoff_max = 4",
        }
        for old, new in changes.items():
            assert old in text, old
            text = text.replace(old, new)
        # The parent is asked for a zone's DS before signing goes off (test_dnssec.py).
        return text + f'\n[dnssec]\nparents = ["{ADDRESSES["parent"]}"]\n'

    @staticmethod
    def _identity(clone: Clone) -> None:
        clone.git("config", "user.name", "Integration Test")
        clone.git("config", "user.email", "integration@example.test")

    @staticmethod
    def _read_key(node: Node) -> Key:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder, "transfer.key")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(node.read("/etc/bind/tsig/transfer.key"))
            return read_key_file(path)

    def teardown(self) -> None:
        errors = []
        for node in self.nodes.values():
            try:
                node.container.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                errors.append(f"{node.name}: {exc}")
        if self.network is not None:
            try:
                self.network.remove()
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                errors.append(f"network: {exc}")
        if errors:
            raise RuntimeError("could not remove: " + "; ".join(errors))

    def save_logs(self, folder: Path) -> None:
        """named's and the daemon's logs of every container, for a failure's post-mortem."""
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.log"):
            old.unlink()
        for node in self.nodes.values():
            with contextlib.suppress(docker.errors.APIError, AssertionError, KeyError):
                (folder / f"{node.name}-docker.log").write_bytes(node.container.logs())
                node.reload()
                if node.container.status != "running":
                    continue
                (folder / f"{node.name}-named.log").write_text(node.log())
                if node.role == "primary":
                    (folder / f"{node.name}-daemon.log").write_text(node.log(DAEMON_LOG))

    # --- the nodes ------------------------------------------------------------------------

    @property
    def primary(self) -> Node:
        return self.nodes["ns1"]

    @property
    def secondaries(self) -> list[Node]:
        return [self.nodes["ns2"], self.nodes["ns3"]]

    @property
    def servers(self) -> list[Node]:
        return [self.primary, *self.secondaries]

    def address(self, name: str) -> str:
        """The address of a container of this topology; nothing else is ever asked."""
        node = self.nodes.get(name)
        if node is None or node.address != ADDRESSES.get(name):
            raise AssertionError(f"{name} is not a container of this topology")
        return node.address

    def clone(self) -> Clone:
        """A fresh clone of the bare repo by a user on the primary."""
        self.clones += 1
        clone = Clone(self.primary, f"/root/user-{self.clones}")
        self.primary.exec("git", "clone", "-q", REPO, clone.path)
        self._identity(clone)
        return clone

    # --- asking the servers (from the test process) ---------------------------------------

    def soa(self, name: str, zone: str = ZONE, tcp: bool = False) -> int | None:
        return probe.soa_serial(self.address(name), 53, zone, timeout=1.0, tcp=tcp)

    def serials(self, zone: str = ZONE) -> dict[str, int | None]:
        return {node.name: self.soa(node.name, zone) for node in self.servers}

    def axfr(self, name: str, zone: str = ZONE, key: Key | None | bool = True) -> list[str]:
        """The zone by AXFR from `name`; with the transfer key unless `key` says otherwise."""
        chosen = self.key if key is True else (key or None)
        return probe.axfr(self.address(name), 53, zone, key=chosen, timeout=20.0)  # type: ignore[arg-type]

    def records(self, name: str, zone: str = ZONE) -> list[str]:
        """AXFR without the SOA: the data, whatever serial it is served with."""
        return [line for line in self.axfr(name, zone) if " IN SOA " not in line]

    def answer(self, name: str, qname: str, rdtype: str = "A") -> list[str]:
        """The rdata `name` answers with authority for `qname`/`rdtype` (empty: none)."""
        query = dns.message.make_query(qname, rdtype)
        query.flags &= ~dns.flags.RD
        reply = dns.query.udp(query, self.address(name), port=53, timeout=2.0)
        if not reply.flags & dns.flags.AA:
            return []
        return sorted(
            rdata.to_text()
            for rrset in reply.answer
            if rrset.rdtype == dns.rdatatype.from_text(rdtype)
            for rdata in rrset
        )

    def same_everywhere(self, zone: str = ZONE) -> list[str]:
        """AXFR from every server; they must be equal (SOA included). The primary's copy."""
        copies = {node.name: self.axfr(node.name, zone) for node in self.servers}
        primary = copies["ns1"]
        for name, copy in copies.items():
            assert copy == primary, f"{name} serves {zone} differently: " + _diff(primary, copy)
        return primary

    def wait_serving(self, name: str, zone: str, limit: float = WAIT) -> int:
        return wait_until(lambda: self.soa(name, zone), f"{name} to serve {zone}", limit)

    # --- asking the reconciler (in the primary) -------------------------------------------

    def status(self) -> dict[str, Any]:
        run = self.primary.exec("reconciler", "status", "--config", DAEMON_TOML, "--format", "json")
        return json.loads(run.out)

    def state(self) -> dict[str, Any]:
        return json.loads(self.primary.read(STATE))

    def head(self) -> str:
        return self.primary.exec("git", "-C", REPO, "rev-parse", "main").out.strip()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        url = f"http://{self.address('ns1')}:{METRICS_PORT}/metrics"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=5) as answer:
            text = answer.read().decode()
        found = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return found

    def wait_converged(self, sha: str | None = None, limit: float = WAIT) -> dict[str, Any]:
        """Until `reconciler status` says `sha` (default: the branch head) is deployed and every
        server serves every zone's serial; the status."""
        target = sha or self.head()
        last: dict[str, Any] = {}

        def check() -> dict[str, Any] | None:
            last.clear()
            last.update(self.status())
            ok = last.get("deployed") == target and last.get("converged") and last.get("zones")
            return dict(last) if ok else None

        return wait_until(
            check,
            f"{target[:12]} deployed and served by every server",
            limit,
            interval=0.5,
            seen=lambda: _brief(last),
        )

    # --- faults ---------------------------------------------------------------------------

    def drop_tcp53_from(self, name: str) -> None:
        """nftables in the primary: drop TCP to port 53 from secondary `name`."""
        source = self.address(name)
        self.primary.sh(
            "nft add table inet itest && "
            "nft 'add chain inet itest input { type filter hook input priority 0; }' && "
            f"nft add rule inet itest input ip saddr {source} tcp dport 53 drop"
        )

    def allow_tcp53(self) -> None:
        self.primary.sh(
            "nft list table inet itest >/dev/null 2>&1 && nft delete table inet itest; :"
        )

    def restore(self) -> None:
        """Undo what a failed test may have left: every container running, no firewall rule,
        the git hooks in place; then wait until the branch head is served everywhere."""
        for node in self.nodes.values():
            node.reload()
            if node.container.status == "paused":
                node.container.unpause()
            elif node.container.status != "running":
                node.container.start()
        self.allow_tcp53()
        self.primary.sh(
            f"cd {REPO}/hooks && if [ -e pre-receive.off ]; then mv pre-receive.off pre-receive; fi"
        )
        self.wait_converged()


def _diff(want: list[str], got: list[str]) -> str:
    missing = sorted(set(want) - set(got))[:5]
    extra = sorted(set(got) - set(want))[:5]
    return f"missing {missing}, extra {extra}"


def _brief(status: dict[str, Any]) -> str:
    zones = {
        z["zone"]: {"recorded": z["recorded"], "serials": z["serials"], "lagging": z["lagging"]}
        for z in status.get("zones", [])
    }
    deployed = (status.get("deployed") or "")[:12]
    return f"deployed {deployed}, converged {status.get('converged')}, zones {zones}"


# --- the suite's own bookkeeping ----------------------------------------------------------


@contextlib.contextmanager
def suite_lock(limit: float = LOCK_WAIT) -> Iterator[None]:
    """One integration run at a time on this machine (they share the subnet)."""
    handle = open(LOCK_FILE, "a+")  # noqa: SIM115 - held for the whole session
    try:
        end = time.monotonic() + limit
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= end:
                    raise RuntimeError(
                        f"another integration run holds {LOCK_FILE} after {limit:g} s"
                    ) from None
                time.sleep(1)
        yield
    finally:
        handle.close()


def remove_leftovers(client: docker.DockerClient) -> list[str]:
    """Containers and networks an interrupted run of this suite left (by LABEL); their names."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        container.remove(force=True, v=True)
        removed.append(container.name)
    for network in client.networks.list(filters={"label": LABEL}):
        network.remove()
        removed.append(network.name)
    return removed


def nft_available(node: Node) -> bool:
    return node.exec("nft", "list", "tables", check=False).code == 0


def doctor(topology: Topology, zone: str = ZONE) -> Exec:
    """`reconciler doctor ZONE --format json` in the primary, for the deployed commit, told
    the parent's address (so it asks no resolver: only this topology's containers). For the
    assertions on what it names, e.g. TCP/53 blocked from a secondary (test_faults.py)."""
    return topology.primary.exec(
        "reconciler",
        "doctor",
        zone,
        "--config",
        DAEMON_TOML,
        "--parent",
        topology.address("parent"),
        "--format",
        "json",
        check=False,
    )


def tcp53_blocked_from(topology: Topology, name: str, zone: str = ZONE) -> bool:
    """What `doctor` must see: from secondary `name`, the primary answers a SOA query over UDP
    but not over TCP (dig in that secondary's own network namespace)."""
    primary = topology.address("ns1")
    node = topology.nodes[name]

    def dig(*flags: str) -> Exec:
        return node.exec(
            "dig", "+norec", "+tries=1", "+time=2", *flags, f"@{primary}", zone, "SOA", check=False
        )

    udp, tcp = dig("+notcp"), dig("+tcp")
    udp_ok = udp.code == 0 and re.search(r"status: NOERROR", udp.out) is not None
    tcp_ok = tcp.code == 0 and re.search(r"status: NOERROR", tcp.out) is not None
    return udp_ok and not tcp_ok


def doctor_from(topology: Topology, name: str, zone: str = ZONE) -> tuple[int, dict[str, Any]]:
    """`reconciler doctor ZONE` run where an operator would troubleshoot from: inside the
    container `name`, on a snapshot of the zone repo (reconciler.toml and the zone file),
    told the parent's address. Returns (exit code, the JSON report)."""
    clone = topology.clone()
    node = topology.nodes[name]
    node.sh("rm -rf /tmp/doctor-repo && mkdir -p /tmp/doctor-repo/zones")
    node.put("/tmp/doctor-repo/reconciler.toml", clone.read("reconciler.toml"))
    node.put(f"/tmp/doctor-repo/zones/{zone}.zone", clone.read(f"zones/{zone}.zone"))
    node.sh(
        "git init -q && git add -A && "
        "git -c user.name=doctor -c user.email=doctor@localhost commit -qm snapshot",
        workdir="/tmp/doctor-repo",
    )
    run = node.exec(
        "reconciler",
        "-C",
        "/tmp/doctor-repo",
        "doctor",
        zone,
        "--parent",
        topology.address("parent"),
        "--format",
        "json",
        check=False,
    )
    return run.code, json.loads(run.out)
