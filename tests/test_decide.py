"""The daemon's decisions (serve/decide.py) and the outcome states (model/outcome.py), pure:
no BIND, no git, no clock (time is a number passed in)."""

from __future__ import annotations

import errno

import pytest

from reconciler.errors import (
    BindError,
    ConfigError,
    ReconcilerError,
    SourceError,
    ToolError,
    TransferError,
    ValidationError,
)
from reconciler.model.outcome import Outcome, Status
from reconciler.serve import decide

pytestmark = pytest.mark.unit

A, B = "a" * 40, "b" * 40


def fresh() -> decide.Memory:
    return decide.Memory(decide.Backoff(1.0, 8.0))


def test_every_status_carries_its_exit_code_permanence_health_and_headline() -> None:
    table = {s.value: (s.exit_code, s.permanent, s.healthy) for s in Status}
    assert table == {
        "confirmed": (0, False, True),
        "unchanged": (0, False, True),
        "invalid": (1, True, False),
        "rolled-back": (2, True, False),
        "unsafe": (3, True, False),
        "refused": (3, True, False),
        "unconfirmed": (4, False, False),
    }
    assert Status.of("rolled-back") is Status.ROLLED_BACK
    assert Status.UNSAFE.headline(A) == f"refused as unsafe: {A[:12]}"
    assert all(A[:12] in s.headline(A) for s in Status)
    assert Outcome(Status.UNCONFIRMED, A).to_dict()["status"] == "unconfirmed"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConfigError("/etc/bind/transfer.key: No such file or directory"), "permanent"),
        (ToolError("named-checkzone not found"), "permanent"),
        (ValidationError([]), "permanent"),
        (MemoryError(), "permanent"),
        (RecursionError("maximum recursion depth exceeded"), "permanent"),
        (BindError("rndc reload: connection refused"), "temporary"),
        (TransferError("no answer"), "temporary"),
        (SourceError("not a git repository"), "temporary"),
        (OSError(errno.ENOSPC, "No space left on device"), "temporary"),
        (PermissionError(errno.EACCES, "Permission denied"), "temporary"),
        (ReconcilerError("something of ours, unclassified"), "temporary"),
        (KeyError("a bug"), "temporary"),
    ],
)
def test_errors_are_temporary_or_permanent_by_type(error: BaseException, kind: str) -> None:
    assert decide.kind_of(error) == kind


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = decide.Backoff(1.0, 8.0)
    delays = []
    for _ in range(6):
        delays.append(backoff.delay)
        backoff = backoff.failed()
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert backoff.reset().delay == 1.0


def test_a_temporary_error_is_retried_after_the_delay_and_not_sooner() -> None:
    decision = decide.after_error(fresh(), BindError("rndc: connection refused"), A, now=100.0)
    assert decision.event == "reconcile failed; backing off"
    assert decision.retry_in == 1.0
    memory = decision.memory
    assert not memory.healthy and "rndc: connection refused" in memory.reason
    # A wake (a nudge, the periodic look) before the retry is due does not cut it short ...
    assert not decide.should_reconcile(memory, A, settled=False, now=100.5)
    # ... the retry comes when it is due ...
    assert decide.should_reconcile(memory, A, settled=False, now=101.0)
    # ... and a new commit goes at once.
    assert decide.should_reconcile(memory, B, settled=False, now=100.5)
    again = decide.after_error(memory, BindError("still down"), A, now=101.0)
    assert again.retry_in == 2.0 and again.memory.retry == decide.Retry(A, 103.0)


def test_a_permanent_error_holds_the_commit_until_a_new_one_or_sighup() -> None:
    error = ConfigError("/etc/bind/transfer.key: cannot read the key file")
    decision = decide.after_error(fresh(), error, A, now=100.0)
    assert decision.event == "reconcile failed; waiting for a new commit"
    assert decision.retry_in is None
    memory = decision.memory
    assert memory.held == A and memory.retry is None
    assert "transfer.key" in memory.reason
    assert not decide.should_reconcile(memory, A, settled=False, now=10_000.0)
    assert decide.should_reconcile(memory, B, settled=False, now=100.1)
    reread = decide.reloaded(memory, decide.Backoff(1.0, 8.0))
    assert decide.should_reconcile(reread, A, settled=False, now=100.1)


@pytest.mark.parametrize("error", [MemoryError(), RecursionError("maximum recursion depth")])
def test_resource_exhaustion_a_commit_causes_is_not_retried(error: BaseException) -> None:
    memory = decide.after_error(fresh(), error, A, now=0.0).memory
    assert memory.held == A
    assert type(error).__name__ in memory.reason
    assert not decide.should_reconcile(memory, A, settled=False, now=1e9)


def test_a_failure_before_any_commit_was_read_waits_for_its_retry() -> None:
    memory = decide.after_error(fresh(), SourceError("not a git repository"), None, 50.0).memory
    assert memory.retry == decide.Retry(None, 51.0)
    assert not decide.may_look(memory, 50.9)
    assert decide.may_look(memory, 51.0)
    # A permanent error with no commit to hold is retried too: nothing else would end it.
    held = decide.after_error(fresh(), ConfigError("bad"), None, 50.0).memory
    assert held.held is None and held.retry is not None


@pytest.mark.parametrize(
    "status", [Status.INVALID, Status.UNSAFE, Status.REFUSED, Status.ROLLED_BACK]
)
def test_a_refused_commit_is_held(status: Status) -> None:
    outcome = Outcome(status, A, reason="why it was refused")
    decision = decide.after_outcome(fresh(), outcome, now=0.0)
    assert decision.event == "commit refused; waiting for a new commit"
    assert decision.memory.held == A and not decision.memory.healthy
    assert "why it was refused" in decision.memory.reason
    assert not decide.should_reconcile(decision.memory, A, settled=False, now=1e9)
    assert decide.should_reconcile(decision.memory, B, settled=False, now=0.0)


def test_lagging_secondaries_are_retried_with_backoff_and_success_resets_it() -> None:
    lag = Outcome(Status.UNCONFIRMED, A, lagging=("ns2: x serves 1 (want 2)",), reason="lag")
    first = decide.after_outcome(fresh(), lag, now=0.0)
    assert first.event == "secondaries lag; retrying" and first.retry_in == 1.0
    second = decide.after_outcome(first.memory, lag, now=1.0)
    assert second.retry_in == 2.0
    assert not decide.should_reconcile(second.memory, A, settled=False, now=2.5)
    assert decide.should_reconcile(second.memory, A, settled=False, now=3.0)
    done = decide.after_outcome(second.memory, Outcome(Status.CONFIRMED, A), now=3.5)
    assert done.event == "reconciled" and done.memory.healthy
    assert done.memory.retry is None and done.memory.backoff.failures == 0


def test_a_settled_head_is_left_alone_and_healthy() -> None:
    memory = fresh()
    assert not decide.should_reconcile(memory, A, settled=True, now=0.0)
    assert decide.should_reconcile(memory, A, settled=False, now=0.0)
    assert decide.idle(memory, A, settled=True).healthy
    held = decide.after_outcome(memory, Outcome(Status.INVALID, A), 0.0).memory
    assert not decide.idle(held, A, settled=True).healthy


def test_health_names_every_reason() -> None:
    ok = decide.idle(fresh(), A, settled=True)
    assert decide.health(ok, True, (), None) == (True, "ok")
    healthy, why = decide.health(ok, True, ("ns2: example.com serves 1 (want 2)",), None)
    assert not healthy and why == "secondary lags: ns2: example.com serves 1 (want 2)"
    healthy, why = decide.health(ok, False, (), "state.json was unreadable")
    assert not healthy
    assert why == "named does not answer on the primary; state.json was unreadable"
    failed = decide.after_error(ok, BindError("rndc: timed out"), A, 0.0).memory
    assert "rndc: timed out" in decide.health(failed, True, (), None)[1]
