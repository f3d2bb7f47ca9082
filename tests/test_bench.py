"""The bench (`make bench`) at its smallest sizes, so that it cannot rot.

Runs bench/bench.py --smoke as `make bench` runs it, with an empty $HOME, in three parts
(`--only`: the push section, the many-zone section, the rest), so that `make test`'s workers
run them side by side: every comparison of issue 13 must produce its figures (real demo
servers, real pushes, real BIND runs) and results.md must list them. No time is asserted:
the bench only measures.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench.py"
PEERS = BENCH.parent / ".venv" / "bin" / "python"  # made by `make bench`
SECONDS = r"\d+\.\d{3} s \(\d+\.\d\d-\d+\.\d\d\)"
TIMED = rf" \| {SECONDS} \| {SECONDS} \| \d+\.\d\dx \|"  # ours, the yardstick's, the ratio

# Each part: its sections, and the rows its results.md must have (regular expressions).
PARTS: dict[str, tuple[tuple[str, ...], list[str]]] = {
    "push": (
        ("push",),
        [
            r"\| push -> served everywhere, example\.com \(\d+ records\) vs bare pipeline" + TIMED,
            r"\| push -> served everywhere, sz100\.example \(101 records\) vs bare pipeline"
            + TIMED,
            r"\| daemon RSS serving a \d+ MB zone \(2,000 records.*\| \d+ MB / \d+ MB \|",
        ],
    ),
    "many": (
        ("many",),
        [
            r"\| push -> served of one changed zone, 6-zone repo vs 3-zone repo" + TIMED,
            r"\| daemon RSS idle, 6 zones \(3 zones: \d+ MB\) \| \d+ MB \|",
        ],
    ),
    "check and plan": (
        ("cold", "million", "octodns"),
        [
            r"\| check of 10 zones x 20 records, no cache, vs one named-checkconf -z" + TIMED,
            r"\| check of a one-record change in 1,000 records vs one named-checkzone" + TIMED,
            r"\| plan of that change \(1,000 records\): peak RSS .*\| \d+ MB \|",
        ],
    ),
}


def test_the_parts_run_every_section() -> None:
    helped = subprocess.run(
        [sys.executable, str(BENCH), "--help"], capture_output=True, text=True, check=True
    )
    choices = re.search(r"--only \{([a-z,]+)\}", helped.stdout)
    assert choices is not None, helped.stdout
    parts = [section for sections, _ in PARTS.values() for section in sections]
    assert sorted(parts) == sorted(choices.group(1).split(","))


@pytest.mark.parametrize("part", sorted(PARTS))
def test_smoke_run_writes_every_comparison(tmp_path: Path, part: str) -> None:
    sections, rows = PARTS[part]
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "RECONCILER_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "out"
    only = [arg for section in sections for arg in ("--only", section)]
    run = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", *only, "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = (out / "results.md").read_text(encoding="utf-8")
    table = "\n".join(
        line for line in results.splitlines() if line.startswith("| ") and "---" not in line
    )
    assert "| failed |" not in table, table
    for row in rows:
        assert re.search(row, table), row
    if part == "check and plan":
        if PEERS.exists():  # the peers come from the bench's own venv
            assert re.search(
                rf"vs dzonegit's pre-commit check .*\| {SECONDS} \| {SECONDS} \|", table
            )
            assert re.search(rf"vs octodns-sync \(plan\) \| {SECONDS} \| {SECONDS} \|", table)
        else:
            assert "no bench venv" in table
    if part == "push":
        if PEERS.exists():  # matplotlib, from the bench's own venv
            assert (out / "push_served.png").read_bytes().startswith(b"\x89PNG")
        else:
            assert "No plot: bench/.venv (with matplotlib) is missing" in results
