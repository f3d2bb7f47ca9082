"""The daemon's HTTP port (daemon.toml [http] listen) taken by another program: `reconciler
run` says so in one line and exits 1, not with an internal error (exit 70)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

from reconciler.devtools import demo


def test_a_taken_http_port_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    sandbox = demo.setup(tmp_path / "demo", hooks=False)
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = sandbox.root / "daemon.toml"
        text, count = re.subn(
            r'^listen = "127\.0\.0\.1:\d+"$',
            f'listen = "127.0.0.1:{port}"',
            config.read_text(encoding="utf-8"),
            flags=re.MULTILINE,
        )
        assert count == 1  # the demo's [http] listen
        config.write_text(text, encoding="utf-8")
        run = subprocess.run(
            [sys.executable, "-m", "reconciler.cli", "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=600,  # a bound on a hang, never asserted on
        )
    finally:
        holder.close()
        sandbox.servers.stop_all()
    assert run.returncode == 1, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: daemon.toml [http] listen = '127.0.0.1:{port}': cannot listen "
        "(Address already in use)"
    ], run.stderr
    assert "internal error" not in run.stderr
