"""Progress over many zones: a bar on stderr at a terminal, nothing in JSON or in a pipe.

`check` and `plan` run as programs with stderr on a pseudo-terminal (what a person sees)
and with stderr on a pipe (what CI and the hooks see).
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import GOOD_ZONE, ZoneRepo

PROGRAM = Path(sys.executable).parent / "reconciler"
ZONES = 120  # over progress.MANY (100): "hundreds of zones"
NO_MAIL = GOOD_ZONE.replace("@       IN MX  10 mail\n", "")  # no mail warnings to read past


@pytest.fixture
def many(zone_repo: ZoneRepo) -> ZoneRepo:
    for index in range(ZONES):
        zone_repo.write(f"zones/z{index:03}.example.zone", NO_MAIL)
    zone_repo.commit("Many zones")
    return zone_repo


def run(repo: ZoneRepo, *args: str, tty: bool) -> tuple[int, str, str]:
    """Run reconciler -C REPO ARGS; stderr on a pty (tty) or a pipe; (exit, stdout, stderr)."""
    argv = [str(PROGRAM), "-C", str(repo.path), *args]
    if not tty:
        done = subprocess.run(argv, capture_output=True, text=True)
        return done.returncode, done.stdout, done.stderr
    main, child = pty.openpty()
    with tempfile.TemporaryFile() as out:  # a file, not a pipe: stdout never blocks the run
        process = subprocess.Popen(argv, stdout=out, stderr=child, stdin=subprocess.DEVNULL)
        os.close(child)
        seen = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the program closed its end
                break
            if not chunk:
                break
            seen += chunk
        os.close(main)
        code = process.wait()
        out.seek(0)
        return code, out.read().decode(), seen.decode(errors="replace")


def test_check_shows_a_bar_at_a_terminal_only(many: ZoneRepo) -> None:
    code, out, err = run(many, "check", tty=True)
    assert code == 0, err
    assert out.splitlines()[-1].startswith(f"ok: working tree: {ZONES + 2} zone(s) valid"), out
    assert "checking" in err and f"{ZONES + 2}/{ZONES + 2}" in err, err
    assert "\r" in err  # the bar redraws one line

    code, out, err = run(many, "check", "--format", "json", tty=True)
    assert code == 0 and err == "", err
    assert len(json.loads(out)["zones"]) == ZONES + 2

    code, out, err = run(many, "check", tty=False)
    assert code == 0 and err == "", err
    assert out.splitlines()[-1].startswith("ok: ")


def test_plan_shows_one_bar_for_base_and_head_at_a_terminal_only(many: ZoneRepo) -> None:
    for index in range(ZONES):
        many.write(f"zones/z{index:03}.example.zone", NO_MAIL.replace("192.0.2.80", "192.0.2.81"))
    many.commit("Move www everywhere")
    code, out, err = run(many, "plan", "--base", "HEAD~1", "--head", "HEAD", tty=True)
    assert code == 0, err
    assert "zone z000.example: change" in out, out
    # base and head checked side by side: 120 zones each, one bar
    assert "planning" in err and f"{2 * ZONES}/{2 * ZONES}" in err, err

    code, out, err = run(many, "plan", "--base", "HEAD~1", "--format", "json", tty=True)
    assert code == 0 and err == "", err
    assert len(json.loads(out)["zones"]) == ZONES

    code, out, err = run(many, "plan", "--base", "HEAD~1", tty=False)
    assert code == 0 and err == "", err


def test_few_zones_show_no_bar(zone_repo: ZoneRepo) -> None:
    code, out, err = run(zone_repo, "check", tty=True)
    assert code == 0 and err == "", err
