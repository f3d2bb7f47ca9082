"""What a reconcile must never do, against real named processes and a real git repo.

Issue 9 (items 1-4, 7 and the rndc leftovers) and issue 10 (items 4 and 7): lost state
must not remove zones, the catalog is the reconciler's own, journals never wedge a zone,
a removed zone's leftovers never poison its re-adding, the safety limits are those of
the last applied commit, a rollback names the repo's line, secondaries do not NOTIFY.
Each test gets its own primary and two secondaries on 127.0.0.1 (the demo's sandbox).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
