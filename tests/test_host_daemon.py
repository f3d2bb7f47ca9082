"""The daemon's host half, its pure parts: the saved audit, `status`'s lines, the series.

The daemon applying and auditing a real host runs in integration/test_host.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reconciler.cli import hostreport
from reconciler.host.audit import Status
from reconciler.host.facts import Kernel
from reconciler.serve.hostwatch import summarise
from reconciler.serve.metrics import Metrics
from reconciler.source.repo import HOST_LINE, add_note, commit_all, new_repo, read_note
from tests.test_host_audit import clean_facts, run


def test_status_shows_each_drifted_item_with_found_and_wanted() -> None:
    drifted = dataclasses.replace(
        clean_facts(),
        kernel=Kernel("6.1.0-26-amd64", ("6.1.0-26-amd64", "6.1.0-27-amd64"), True, ("linux",)),
    )
    summary = summarise(run(drifted), "audit", "0123456789ab")
    assert summary["in_policy"] is False and summary["reboot_required"] is True
    text = hostreport.status_text(summary)
    lines = text.splitlines()
    assert lines[0].startswith("host (audit): 2 item(s) drifted at ")
    assert lines[0].endswith(" against host/policy.toml of 0123456789ab")
    assert "  drift: reboot.pending: found required by linux; wanted no" in lines
    assert (
        "  drift: reboot.kernel: found 6.1.0-26-amd64 running; wanted 6.1.0-27-amd64 running"
        in lines
    )
    assert lines[-1] == "  a reboot is required"
    clean = hostreport.status_text(summarise(run(clean_facts()), "enforce", "x"))
    assert clean.startswith("host (enforce): in policy at ") and "\n" not in clean


def test_the_series_say_which_items_drifted_and_whether_a_reboot_waits() -> None:
    audit = run(dataclasses.replace(clean_facts(), kernel=Kernel("6.1", ("6.1",), True)))
    metrics = Metrics()
    metrics.host_audit(
        {f.item: f.status is Status.DRIFT for f in audit.findings}, audit.reboot_required
    )
    text = metrics.render().decode()
    assert 'reconciler_host_drift{item="reboot.pending"} 1.0' in text
    assert 'reconciler_host_drift{item="ssh.permit_root_login"} 0.0' in text
    assert "reconciler_host_reboot_required 1.0" in text
    metrics.host_audit({"ssh.port": False}, False)  # the next audit replaces every item
    text = metrics.render().decode()
    assert 'item="reboot.pending"' not in text and "reconciler_host_reboot_required 0.0" in text


def test_a_zone_note_written_again_keeps_the_host_line(tmp_path: Path) -> None:
    """The zones' reconcile rewrites its note on each retry; the host's outcome stays on it."""
    repo = new_repo(tmp_path / "repo")
    (tmp_path / "repo" / "README").write_text("zones\n")
    sha = commit_all(repo, "first")
    add_note(repo, sha, "reconciler: unconfirmed at 2026-12-01T21:00:00+00:00", keep=HOST_LINE)
    add_note(repo, sha, read_note(repo, sha) + "\nhost: rolled back: no new SSH connection")
    add_note(repo, sha, "reconciler: confirmed at 2026-12-01T21:01:00+00:00", keep=HOST_LINE)
    assert read_note(repo, sha) == (
        "reconciler: confirmed at 2026-12-01T21:01:00+00:00\n"
        "host: rolled back: no new SSH connection"
    )
