"""The bench (`make bench`) at its smallest sizes, so that it cannot rot.

Runs bench/bench.py --smoke as `make bench` runs it, with an empty $HOME: every
comparison of issue 13 must produce its figures (real demo servers, real pushes, real
BIND runs) and results.md must list them. No time is asserted: the bench only measures.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench.py"
SECONDS = r"\d+\.\d{3} s \(\d+\.\d\d-\d+\.\d\d\)"


def test_smoke_run_writes_every_comparison(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "RECONCILER_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = (out / "results.md").read_text(encoding="utf-8")
    rows = [line for line in results.splitlines() if line.startswith("| ") and "---" not in line]
    table = "\n".join(rows)
    timed = [
        r"push -> served everywhere, example\.com \(\d+ records\) vs bare pipeline",
        r"push -> served everywhere, sz100\.example \(101 records\) vs bare pipeline",
        r"push -> served of one changed zone, 6-zone repo vs 3-zone repo",
        r"check of 10 zones x 20 records, no cache, vs one named-checkconf -z",
        r"check of a one-record change in 1,000 records vs one named-checkzone",
    ]
    for what in timed:
        assert re.search(rf"\| {what} \| {SECONDS} \| {SECONDS} \| \d+\.\d\dx \|", table), what
    assert re.search(r"\| daemon RSS idle, 6 zones \(3 zones: \d+ MB\) \| \d+ MB \|", table)
    assert re.search(
        r"\| daemon RSS serving a \d+ MB zone \(2,000 records.*\| \d+ MB / \d+ MB \|", table
    )
    assert re.search(r"\| plan of that change \(1,000 records\): peak RSS .*\| \d+ MB \|", table)
    peers = Path(BENCH).parent / ".venv" / "bin" / "python"
    if peers.exists():  # the peers come from the bench's own venv, made by `make bench`
        assert re.search(rf"vs dzonegit's pre-commit check .*\| {SECONDS} \| {SECONDS} \|", table)
        assert re.search(rf"vs octodns-sync \(plan\) \| {SECONDS} \| {SECONDS} \|", table)
        assert (out / "push_served.png").read_bytes().startswith(b"\x89PNG")
    else:
        assert "no bench venv" in table
        assert "No plot: bench/.venv (with matplotlib) is missing" in results
