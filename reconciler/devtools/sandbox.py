"""Real `named` processes on 127.0.0.1: a primary and its secondaries, for the demo and tests.

`start_servers(root)` writes a TSIG key and an rndc key, a named.conf per server (each on its
own ports of 127.0.0.1), the primary's generated include (`primary_include`) with an
empty catalog zone, and the secondaries' catalog configuration from `secondary_config`
(the same text `reconciler bind-config` prints); starts the primary, then the secondaries,
and waits until each answers for the catalog zone. The demo and the functional tests both
use it, so the demo shows what the tests prove. Nothing is left running after
`Servers.stop_all()`, nor when start-up fails part-way. `stop_detached(root)` stops the
servers of a sandbox started by an earlier process (the demo's `--stop`).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from reconciler.atomic import write_atomic
from reconciler.bind import probe
from reconciler.bind.catalog import CATALOG, catalog_zone_text
from reconciler.bind.conf import primary_include, quote, secondary_config
from reconciler.bind.keys import Key, new_key, read_key_file, write_key_file
from reconciler.bind.namedlog import log_size
from reconciler.bind.rndc import Rndc
from reconciler.bind.tools import checkconf, tool
from reconciler.config.repo import Server
from reconciler.errors import BindError
from reconciler.model.names import DEFAULT_KEY_NAME

__all__ = [
    "ADDRESS",
    "RNDC_KEY",
    "TRANSFER_KEY",
    "ServerProcess",
    "Servers",
    "free_port",
    "start_servers",
    "stop_detached",
]

ADDRESS = "127.0.0.1"
TRANSFER_KEY = DEFAULT_KEY_NAME
RNDC_KEY = "rndc-key"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_LOG_PREFIX = re.compile(r"^\d{2}-\w{3}-\d{4} \d{2}:\d{2}:\d{2}\.\d+ [\w-]+: ")
_CATEGORIES = ("general", "xfer-in", "xfer-out", "notify", "zoneload", "default")


def free_port(taken: Collection[int] = ()) -> int:
    """A port on 127.0.0.1 that is free for both UDP and TCP right now, and not in `taken`."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((ADDRESS, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((ADDRESS, port))
                except OSError:
                    continue
                if port not in taken:
                    return port
    raise BindError(f"no port free for both UDP and TCP on {ADDRESS}")


@dataclass
class ServerProcess:
    """One named: where it listens, its files, and its process (None when not running)."""

    name: str
    port: int
    rndc_port: int
    dir: Path
    conf: Path
    log_file: Path
    zone_dir: Path
    include_file: Path | None = None  # the primary's generated include
    address: str = ADDRESS
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _offsets: tuple[int, int] = field(default=(0, 0), repr=False)  # log sizes at launch

    @property
    def server(self) -> Server:
        """As `config.Server`: what `reconciler.toml` would say about it."""
        return Server(self.name, self.address, self.port)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def output_file(self) -> Path:
        """named's own stdout and stderr (start-up errors before logging is set up)."""
        return self.dir / "named.out"

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start named with its config and ports; return once it answers for the catalog zone.

        Raises BindError (with the end of its log) when it exits or does not answer in time;
        then it is not left running.
        """
        if self.running:
            return
        self.launch()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def launch(self) -> None:
        """Start named and return at once (see `wait_ready`); a no-op when it is running."""
        if self.running:
            return
        self._offsets = (log_size(self.output_file), log_size(self.log_file))
        # named writes to a file (not a pipe that could fill up); it keeps its own copy of the fd
        with open(self.output_file, "ab") as output:
            self.process = subprocess.Popen(
                [tool("named"), "-f", "-L", str(self.output_file), "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                start_new_session=True,  # a terminal's Ctrl-C is for us; we stop named
            )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> int:
        """Wait until named answers with authority for the catalog zone; its serial."""
        end = time.monotonic() + timeout
        while True:
            if not self.running:
                code = self.process.returncode if self.process else None
                raise BindError(f"{self.name}: named exited (status {code}): {self._tail()}")
            serial = probe.soa_serial(self.address, self.port, CATALOG, timeout=0.5)
            if serial is not None:
                return serial
            if time.monotonic() >= end:
                raise BindError(
                    f"{self.name}: named did not serve {CATALOG} within {timeout:g} s: "
                    f"{self._tail()}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, wait (bounded), then SIGKILL; a no-op when not running."""
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(timeout)

    def _tail(self, count: int = 4) -> str:
        """named's last errors since it was launched (else its last lines), prefixes cut off."""
        lines: list[str] = []
        for file, offset in zip((self.output_file, self.log_file), self._offsets, strict=True):
            with contextlib.suppress(OSError), open(file, "rb") as handle:
                handle.seek(offset)
                text = handle.read().decode("utf-8", errors="replace")
                lines += [_LOG_PREFIX.sub("", line).strip() for line in text.splitlines()]
        errors = [line for line in lines if line.startswith(("error: ", "critical: "))]
        chosen = [line.split(": ", 1)[1] for line in errors] or [line for line in lines if line]
        return " | ".join(chosen[-count:]) or "no output"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "rndc_port": self.rndc_port,
            "dir": str(self.dir),
            "conf": str(self.conf),
            "log_file": str(self.log_file),
            "zone_dir": str(self.zone_dir),
            "include_file": str(self.include_file) if self.include_file else None,
            "pid": self.process.pid if self.running and self.process else None,
            "running": self.running,
        }


@dataclass
class Servers:
    """A primary and its secondaries; a context manager that stops them all on exit."""

    primary: ServerProcess
    secondaries: list[ServerProcess]
    transfer_key_file: Path
    rndc_key_file: Path
    root: Path

    def all(self) -> list[ServerProcess]:
        """The primary, then the secondaries."""
        return [self.primary, *self.secondaries]

    @property
    def catalog_file(self) -> Path:
        """The primary's catalog zone file."""
        return self.primary.zone_dir / f"{CATALOG}.zone"

    def rndc(self) -> Rndc:
        """rndc to the primary."""
        return Rndc(ADDRESS, self.primary.rndc_port, self.rndc_key_file)

    def transfer_key(self) -> Key:
        return read_key_file(self.transfer_key_file)

    def stop_all(self) -> None:
        """Stop every server (secondaries first); each one is tried even if another fails."""
        errors: list[BaseException] = []
        for server in [*reversed(self.secondaries), self.primary]:
            try:
                server.stop()
            except BaseException as exc:  # noqa: B036 - keep stopping the others
                errors.append(exc)
        if errors:
            raise errors[0]

    def to_dict(self) -> dict[str, Any]:
        """Names, addresses, ports and paths: no secrets (key *files* are only named)."""
        return {
            "root": str(self.root),
            "primary": self.primary.to_dict(),
            "secondaries": [s.to_dict() for s in self.secondaries],
            "transfer_key": TRANSFER_KEY,
            "transfer_key_file": str(self.transfer_key_file),
            "rndc_key_file": str(self.rndc_key_file),
        }

    def __enter__(self) -> Servers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_all()


def _named_conf(server: ServerProcess, rndc_key_file: Path, options: str, top_level: str) -> str:
    channel = quote(server.log_file, "log file")
    categories = "\n".join(f"\tcategory {c} {{ main; }};" for c in _CATEGORIES)
    return (
        f"// Sandbox nameserver {server.name}, generated by reconciler.sandbox.\n"
        f"include {quote(rndc_key_file, 'key file')};\n\n"
        "controls {\n"
        f"\tinet {ADDRESS} port {server.rndc_port}\n"
        f'\t\tallow {{ {ADDRESS}; }} keys {{ "{RNDC_KEY}"; }};\n'
        "};\n\n"
        "options {\n"
        f"\tdirectory {quote(server.dir, 'directory')};\n"
        f"\tpid-file {quote(server.dir / 'named.pid', 'pid file')};\n"
        f"\tlock-file {quote(server.dir / 'named.lock', 'lock file')};\n"
        f"\tsession-keyfile {quote(server.dir / 'session.key', 'session key file')};\n"
        f"\tmanaged-keys-directory {quote(server.dir, 'directory')};\n"
        f"\tdump-file {quote(server.dir / 'named_dump.db', 'dump file')};\n"
        f"\tstatistics-file {quote(server.dir / 'named.stats', 'statistics file')};\n"
        f"\tlisten-on port {server.port} {{ {ADDRESS}; }};\n"
        "\tlisten-on-v6 { none; };\n"
        "\trecursion no;\n"
        "\tdnssec-validation no;\n"
        f"{options}"
        "};\n\n"
        "logging {\n"
        "\tchannel main {\n"
        f"\t\tfile {channel};\n"
        "\t\tseverity info;\n"
        "\t\tprint-time yes;\n"
        "\t\tprint-category yes;\n"
        "\t\tprint-severity yes;\n"
        "\t};\n"
        f"{categories}\n"
        "};\n\n"
        f"{top_level}"
    )


def start_servers(
    root: Path,
    secondaries: int = 2,
    primary_options: str = "",
    catalog_min_update_interval: int | None = None,
) -> Servers:
    """Write the configs under `root` and start a primary (ns1) and `secondaries` (ns2, ...).

    Returns once every server answers for the catalog zone (the secondaries after transferring
    it). `primary_options` goes inside the primary's options block (e.g. `max-zone-ttl 3600;`).
    `catalog_min_update_interval` is passed to `secondary_config`: by default BIND's 5 s,
    so a catalog change within 5 s of the secondaries' start (or of the previous change)
    reaches them up to 5 s later. On any failure every server already started is stopped
    before the error propagates.
    """
    root = Path(root).resolve()
    keys = root / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    transfer_key_file, rndc_key_file = keys / "transfer.key", keys / "rndc.key"
    write_key_file(transfer_key_file, new_key(TRANSFER_KEY))
    write_key_file(rndc_key_file, new_key(RNDC_KEY))

    taken: set[int] = set()

    def pick() -> int:
        """A free port that no server of this sandbox has yet."""
        port = free_port(taken)
        taken.add(port)
        return port

    def make(name: str, primary: bool) -> ServerProcess:
        folder = root / name
        (folder / "zones").mkdir(parents=True, exist_ok=True)
        return ServerProcess(
            name=name,
            port=pick(),
            rndc_port=pick(),
            dir=folder,
            conf=folder / "named.conf",
            log_file=folder / "named.log",
            zone_dir=folder / "zones",
            include_file=folder / "reconciler.conf" if primary else None,
        )

    primary = make("ns1", primary=True)
    others = [make(f"ns{i}", primary=False) for i in range(2, 2 + secondaries)]
    servers = Servers(primary, others, transfer_key_file, rndc_key_file, root)

    assert primary.include_file is not None
    catalog_file = servers.catalog_file
    write_atomic(catalog_file, catalog_zone_text([], 1))
    write_atomic(
        primary.include_file,
        primary_include(
            {}, [s.server for s in others], TRANSFER_KEY, catalog_file, transfer_key_file
        ),
    )
    primary_conf = _named_conf(
        primary,
        rndc_key_file,
        "\tnotify-delay 0;\n" + "".join(f"\t{line}\n" for line in primary_options.splitlines()),
        f"include {quote(primary.include_file, 'include file')};\n",
    )
    write_atomic(primary.conf, primary_conf)
    for secondary in others:
        piece = secondary_config(
            primary.server,
            TRANSFER_KEY,
            transfer_key_file,
            secondary.zone_dir,
            min_update_interval=catalog_min_update_interval,
        )
        write_atomic(
            secondary.conf, _named_conf(secondary, rndc_key_file, piece.options, piece.top_level)
        )
    for server in servers.all():
        complaints = checkconf(server.conf)
        if complaints:
            raise BindError(f"{server.conf}: " + "; ".join(complaints))
    try:
        primary.start()  # first, so the secondaries' first transfer of the catalog succeeds
        for secondary in others:
            secondary.launch()
        for secondary in others:
            secondary.wait_ready()
    except BaseException:
        servers.stop_all()
        raise
    return servers


def stop_detached(root: Path, timeout: float = STOP_TIMEOUT) -> list[str]:
    """Stop the named processes of a sandbox under `root` started by another process.

    Uses each server's pid file, and only signals a process whose command line names that
    server's named.conf. Returns the names of the servers that were stopped.
    """
    stopped = []
    for folder in sorted(Path(root).glob("ns*")):
        pid_file, conf = folder / "named.pid", folder / "named.conf"
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if str(conf).encode() not in cmdline and str(conf.resolve()).encode() not in cmdline:
            continue
        terminate(pid, timeout)
        stopped.append(folder.name)
    return stopped


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM, up to `timeout` seconds for the process to exit, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.05)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """True while `pid` runs (an exited child waiting to be reaped, a zombie, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
