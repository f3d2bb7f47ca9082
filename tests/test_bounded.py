"""bounded.run: real children stopped by each limit, and the limit named.

Run both ways the limits can be set: through util-linux's prlimit (the usual way)
and through the setrlimit preexec_fn used where prlimit is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reconciler import bounded
from reconciler.bind.tools import tool
from reconciler.check.checkzone import STRICT
from reconciler.errors import ToolError

SMALL = bounded.Limits(
    cpu_seconds=1, memory_bytes=256 * bounded.MIB, output_bytes=bounded.MIB, wall_seconds=30
)


@pytest.fixture(params=["prlimit", "preexec_fn"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "prlimit":
        assert bounded._prlimit(), "util-linux's prlimit is not installed"
    else:
        monkeypatch.setattr(bounded, "_prlimit", lambda: ())
    return str(request.param)


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_child_within_its_limits_runs_as_usual(way: str) -> None:
    done = bounded.run(_python("import sys; print(sys.stdin.read().upper())"), SMALL, stdin=b"ok")
    assert (done.returncode, done.stdout, done.stopped_by) == (0, b"OK\n", None)
    assert done.stopped("it", SMALL) is None


def test_cpu_time(way: str) -> None:
    done = bounded.run(_python("while True: pass"), SMALL)
    assert done.stopped_by is bounded.Limit.CPU
    assert done.stopped("the loop", SMALL) == "the loop was stopped by the CPU time limit of 1 s"


def test_memory_of_python(way: str) -> None:
    done = bounded.run(_python("x = bytearray(10**9)"), SMALL)
    assert done.stopped_by is bounded.Limit.MEMORY
    assert done.stopped("it", SMALL) == "it was stopped by the memory limit of 256 MiB"


def test_memory_of_named_checkzone(way: str, tmp_path: Path) -> None:
    zone = tmp_path / "big.zone"
    zone.write_text(
        "$TTL 60\n@ IN SOA ns.x. h.x. 1 2 3 4 5\n@ IN NS ns.x.\n"
        "$GENERATE 1-400000 h$ IN A 192.0.2.1\n"
    )
    limits = bounded.Limits(60, 64 * bounded.MIB, 512 * bounded.MIB, 120)
    argv = [tool("named-checkzone"), *STRICT, "-D", "-o", "-", "--", "big.example", str(zone)]
    done = bounded.run(argv, limits)
    assert done.stopped_by is bounded.Limit.MEMORY, done.stderr[-300:]


def test_output(way: str) -> None:
    done = bounded.run(_python("import sys; sys.stdout.write('x' * 10**7)"), SMALL)
    assert done.stopped_by is bounded.Limit.OUTPUT
    assert len(done.stdout) <= SMALL.output_bytes


def test_output_of_a_program_that_does_not_ignore_sigxfsz(way: str) -> None:
    done = bounded.run(["/bin/sh", "-c", "yes"], SMALL)
    assert done.stopped_by is bounded.Limit.OUTPUT


def test_wall_time(way: str) -> None:
    limits = bounded.Limits(1, 256 * bounded.MIB, bounded.MIB, 0.5)
    done = bounded.run(["sleep", "30"], limits)
    assert done.stopped_by is bounded.Limit.TIME
    assert done.stopped("sleep", limits) == "sleep was stopped by the time limit of 0.5 s"


def test_a_program_that_cannot_start_is_a_tool_error(way: str, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="could not run"):
        bounded.run([str(tmp_path / "no-such-program")], SMALL)
