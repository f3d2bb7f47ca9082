"""rndc to one named: every call bounded by a timeout, failures raised as BindError.

rndc's exit status is no proof that a zone loaded: the reconcile step confirms
by SOA query. Its own rndc.conf includes the key file, so no secret is passed on
a command line nor written anywhere else. With `conf_dir` (the reconciler's state
folder) that rndc.conf lives there and is reused, so a `kill -9` during a call leaves
nothing behind; without it, each call makes and removes a temp folder.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.atomic import write_atomic
from reconciler.bind.conf import quote
from reconciler.bind.keys import (
    read_key_file,
    scrub,
)
from reconciler.bind.tools import tool
from reconciler.errors import BindError, ConfigError
from reconciler.model.names import checked_zone_name

RNDC_TIMEOUT = 15.0


@dataclass(frozen=True)
class Rndc:
    """rndc to one named: each call bounded by a timeout; failures raise BindError
    (ConfigError when the key file cannot be used).

    rndc's exit status is no proof that a zone loaded ("zone reload queued"): confirm with a
    SOA query (`probe.wait_for_serial`) and ask `load_failure_reason` why when it did not.
    """

    server: str
    port: int
    key_file: Path
    binary: str | None = None
    timeout: float = RNDC_TIMEOUT
    conf_dir: Path | None = None  # where rndc's own rndc.conf stays; None: a temp folder

    def reload(self, zone: str | None = None) -> str:
        """`rndc reload [ZONE]`: read the zone file (or every file) again."""
        return self._run("reload", *([checked_zone_name(zone)] if zone is not None else []))

    def reconfig(self) -> str:
        """`rndc reconfig`: read named.conf again; loads added zones and drops removed ones."""
        return self._run("reconfig")

    def freeze(self, zone: str) -> str:
        """`rndc freeze ZONE`: named writes a dynamic zone's journal into its file and takes
        no update until `thaw`."""
        return self._run("freeze", checked_zone_name(zone))

    def thaw(self, zone: str) -> str:
        """`rndc thaw ZONE`: named loads the frozen zone's file again and takes updates."""
        return self._run("thaw", checked_zone_name(zone))

    def notify(self, zone: str) -> str:
        """`rndc notify ZONE`: send NOTIFY for the zone to its secondaries again."""
        return self._run("notify", checked_zone_name(zone))

    def zonestatus(self, zone: str) -> str:
        """`rndc zonestatus ZONE`: named's view of the zone (serial, files, load state)."""
        return self._run("zonestatus", checked_zone_name(zone))

    def dnssec_status(self, zone: str) -> str:
        """`rndc dnssec -status ZONE`: the zone's policy and each key's states."""
        return self._run("dnssec", "-status", checked_zone_name(zone))

    def status(self) -> str:
        """`rndc status`: is named up, how many zones."""
        return self._run("status")

    def _run(self, *args: str) -> str:
        command = " ".join(args)
        try:
            key_name = read_key_file(Path(self.key_file)).name
        except ConfigError as exc:  # names the file, never its content; permanent: no retry helps
            raise ConfigError(f"rndc {command}: {exc}") from None
        # rndc prefers /etc/bind/rndc.conf over -k when that file exists: give it a config of
        # its own that includes our key file (names and paths only, no secret).
        conf = (
            f"include {quote(Path(self.key_file).resolve(), 'key file')};\n"
            f'options {{ default-key "{key_name}"; }};\n'
        )
        with self._conf_file(conf) as conf_file:
            argv = [
                self.binary or tool("rndc"),
                "-c",
                str(conf_file),
                "-s",
                self.server,
                "-p",
                str(self.port),
                *args,
            ]
            try:
                run = subprocess.run(
                    argv,
                    capture_output=True,
                    text=True,
                    errors="replace",
                    timeout=self.timeout,
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired:
                raise BindError(
                    f"rndc {command} to {self.server} port {self.port}: "
                    f"no answer in {self.timeout:g} s"
                ) from None
            except OSError as exc:
                raise BindError(f"rndc {command}: could not run rndc: {exc.strerror}") from None
        output = scrub((run.stdout + run.stderr).strip(), [Path(self.key_file)])
        if run.returncode != 0:
            message = _one_line(output)
            raise BindError(
                f"rndc {command} to {self.server} port {self.port} failed: "
                f"{message or f'exit {run.returncode}'}"
            )
        return output

    @contextmanager
    def _conf_file(self, conf: str) -> Iterator[Path]:
        """rndc's config: `conf_dir/rndc.conf` (written when it differs), else a temp file."""
        if self.conf_dir is None:
            with tempfile.TemporaryDirectory(prefix="reconciler-rndc-") as folder:
                conf_file = Path(folder, "rndc.conf")
                conf_file.write_text(conf, encoding="utf-8")
                yield conf_file
            return
        conf_file = Path(self.conf_dir) / "rndc.conf"
        try:
            current = conf_file.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != conf:
            try:
                conf_file.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(conf_file, conf)
            except OSError as exc:
                raise BindError(
                    f"{conf_file}: cannot write rndc's config: {exc.strerror}"
                ) from None
        yield conf_file


def _one_line(output: str) -> str:
    """rndc's message on one line: "'reload' failed: not found: no matching zone ..."."""
    message = ""
    for raw in output.splitlines():
        line = raw.strip().removeprefix("rndc: ")
        if not line:
            continue
        if line.startswith("* ") and message:  # the indented advice after "connection closed"
            message += " " + line[2:]
        elif message:
            message += ("; " if message.endswith(".") else ": ") + line
        else:
            message = line
    return message
