"""What a reconcile must never do, against real named processes and a real git repo.

Issue 9 (items 1-4, 7 and the rndc leftovers) and issue 10 (items 4 and 7): lost state
must not remove zones, the catalog is the reconciler's own, journals never wedge a zone,
a removed zone's leftovers never poison its re-adding, the safety limits are those of
the last applied commit, a rollback names the repo's line, secondaries do not NOTIFY.
Each test gets its own primary and two secondaries on 127.0.0.1 (the demo's sandbox).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.bind.keys import read_key_file
from reconciler.devtools import demo
from tests.test_apply import WWW, ZONE, Deployment

ZONES = ("example.com", "example.net")


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    sandbox = demo.setup(
        tmp_path / "demo", primary_options="max-zone-ttl 86400;", deadline=4, hooks=False
    )
    try:
        yield Deployment(sandbox)
    finally:
        sandbox.servers.stop_all()


def wait_for(check: object, what: str, limit: float = 60.0) -> None:
    """Poll `check()` until it is true; bounded, so a broken server fails the test."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


# --- issue 10 item 7: secondaries as the classic setup has them ------------------------------


def test_secondaries_send_no_notify(deployment: Deployment) -> None:
    """bind-config's `notify no`: a secondary does not NOTIFY the servers of a zone's NS set."""
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.99"), "Move www")
    code, outcome = deployment.apply()
    assert code == 0, outcome
    for secondary in deployment.sandbox.servers.secondaries:
        log = secondary.log_file.read_text()
        assert "transfer of 'example.com/IN'" in log  # it did get the change
        assert "sending notifies" not in log, secondary.name


# --- issue 9, extras: rndc leaves nothing behind ----------------------------------------------


def test_kill_9_during_an_rndc_call_leaves_no_temp_folder(
    deployment: Deployment, tmp_path: Path
) -> None:
    """rndc's own config lives in the state folder: nothing is left in the temp folder."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # accepts, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    silent.settimeout(120)
    config = Path(deployment.config)
    text = config.read_text()
    port = deployment.sandbox.servers.primary.rndc_port
    config.write_text(text.replace(f"port = {port}\n", f"port = {silent.getsockname()[1]}\n"))
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    deployment.edit(ZONE, lambda t: t.replace(WWW, "www     IN A    192.0.2.99"), "Move www")
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli", "apply", "--config", str(config)],
        env={**os.environ, "TMPDIR": str(private_tmp)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        connection, _ = silent.accept()  # rndc is waiting for an answer now
        process.send_signal(signal.SIGKILL)
        process.wait()
        connection.close()
    finally:
        if process.poll() is None:
            process.kill()
        silent.close()
    assert process.returncode == -signal.SIGKILL
    assert [p.name for p in private_tmp.iterdir() if p.name.startswith("reconciler-rndc-")] == []
    conf = (deployment.sandbox.root / "state" / "rndc.conf").read_text()
    assert "include" in conf and "secret" not in conf
    assert read_key_file(deployment.sandbox.servers.rndc_key_file).secret not in conf
