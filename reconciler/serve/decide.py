"""What the daemon does next: pure decisions from an outcome or an error, no I/O.

The daemon (serve/daemon.py) keeps a `Memory` between turns and asks three
questions here: may it look at the repo now (`may_look`), should it reconcile
the head it found (`should_reconcile`), and what follows from how the reconcile
ended (`after_outcome`, `after_error`). Retries go by type, as kopf does it:

- an outcome says itself whether it is permanent (`Status.permanent`): the
  commit is held, not tried again until a new commit arrives;
- a `PermanentError` (a missing key file, a BIND tool not installed, invalid
  input) and the resource exhaustion a commit can cause (`MemoryError`,
  `RecursionError`) hold the commit the same way;
- anything else is temporary (a `TemporaryError`: named or rndc not
  answering; an `OSError`: a full or read-only disk; an error nobody foresaw)
  and is retried after a capped exponential backoff. A wake before the retry
  is due does not cut the backoff short unless the head moved.

SIGHUP (`reloaded`) forgets the held commit: the host's configuration may
have been what failed. Time is a number passed in (monotonic seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from reconciler.errors import PermanentError, ReconcilerError
from reconciler.model.outcome import Outcome

Kind = Literal["temporary", "permanent"]
Level = Literal["info", "warning", "error"]


def kind_of(error: BaseException) -> Kind:
    """Whether trying the same commit again can succeed."""
    if isinstance(error, PermanentError | MemoryError | RecursionError):
        return "permanent"
    return "temporary"


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff: `initial`, twice that, ... up to `cap` seconds."""

    initial: float
    cap: float
    failures: int = 0

    @property
    def delay(self) -> float:
        """The wait before the next try, after `failures` failures in a row (+1)."""
        return float(min(self.initial * 2**self.failures, self.cap))

    def failed(self) -> Backoff:
        return replace(self, failures=self.failures + 1)

    def reset(self) -> Backoff:
        return replace(self, failures=0)


@dataclass(frozen=True)
class Retry:
    """A temporary failure to try again: of this commit (None: before a commit was read)."""

    commit: str | None
    at: float


@dataclass(frozen=True)
class Memory:
    """What the daemon remembers from one turn to the next."""

    backoff: Backoff
    held: str | None = None  # a commit refused for what it is: not tried again
    retry: Retry | None = None
    healthy: bool = False
    reason: str = "no reconcile yet"  # why not healthy (or "ok")

    def retry_in(self, now: float) -> float:
        return max(self.retry.at - now, 0.0) if self.retry else 0.0


@dataclass(frozen=True)
class Decision:
    """The memory after an outcome or error, and what to log about it."""

    memory: Memory
    event: str
    level: Level
    retry_in: float | None = None  # seconds, when a retry was scheduled


def may_look(memory: Memory, now: float) -> bool:
    """False while a retry of a failure that came before any commit was read is not due."""
    retry = memory.retry
    return retry is None or retry.commit is not None or now >= retry.at


def should_reconcile(memory: Memory, head: str, settled: bool, now: float) -> bool:
    """Reconcile `head` now? `settled`: head is applied, nothing lags, nothing half-done."""
    if head == memory.held:
        return False
    retry = memory.retry
    if retry is not None and retry.commit in (head, None):
        return now >= retry.at  # the backoff is honoured: only a new commit cuts it short
    return not settled


def idle(memory: Memory, head: str, settled: bool) -> Memory:
    """Nothing to do this turn: a settled head, not held and with no retry due, is healthy."""
    if settled and head != memory.held and memory.retry is None:
        return replace(memory, healthy=True, reason="ok")
    return memory


def after_outcome(memory: Memory, outcome: Outcome, now: float) -> Decision:
    status = outcome.status
    said = status.headline(outcome.commit) + (f": {outcome.reason}" if outcome.reason else "")
    if status.healthy:
        memory = Memory(memory.backoff.reset(), healthy=True, reason="ok")
        return Decision(memory, "reconciled", "info")
    if status.permanent:
        memory = Memory(
            memory.backoff.reset(),
            held=outcome.commit,
            reason=f"{said}; waiting for a new commit",
        )
        return Decision(memory, "commit refused; waiting for a new commit", "warning")
    delay = memory.backoff.delay
    memory = Memory(
        memory.backoff.failed(),
        retry=Retry(outcome.commit, now + delay),
        reason=f"{said}; retrying in {delay:g} s",
    )
    return Decision(memory, "secondaries lag; retrying", "warning", delay)


def after_error(memory: Memory, error: BaseException, head: str | None, now: float) -> Decision:
    """A reconcile (or reading the head, when `head` is None) raised `error`."""
    what = f"commit {head[:12]}" if head else "reading the branch head and the state"
    detail = str(error) if isinstance(error, ReconcilerError) else describe(error)
    if kind_of(error) == "permanent" and head is not None:
        memory = Memory(
            memory.backoff.reset(),
            held=head,
            reason=f"{what} failed: {detail}; waiting for a new commit (or SIGHUP)",
        )
        return Decision(memory, "reconcile failed; waiting for a new commit", "error")
    delay = memory.backoff.delay
    memory = Memory(
        memory.backoff.failed(),
        retry=Retry(head, now + delay),
        reason=f"{what} failed: {detail}; retrying in {delay:g} s",
    )
    return Decision(memory, "reconcile failed; backing off", "error", delay)


def describe(error: BaseException) -> str:
    """An error that is not one of ours, in one line: its type and what it says."""
    said = str(error).strip().splitlines()
    return f"{type(error).__name__}: {said[0]}" if said else type(error).__name__


def health(
    memory: Memory,
    primary_answers: bool,
    lagging: tuple[str, ...],
    state_problem: str | None,
    drift: tuple[str, ...] = (),
    bogus: tuple[str, ...] = (),
) -> tuple[bool, str]:
    """/healthz: ok only when named answers, the state is sound, the last reconcile
    succeeded, no secondary lags, the primary serves git's content (no drift) and no
    signed zone's chain is bogus; otherwise every reason, most urgent first."""
    reasons = [] if primary_answers else ["named does not answer on the primary"]
    if state_problem:
        reasons.append(state_problem)
    if not memory.healthy:
        reasons.append(memory.reason)
    reasons += [f"secondary lags: {item}" for item in lagging]
    reasons += [f"drift: {item}" for item in drift]
    reasons += list(bogus)
    return (False, "; ".join(reasons)) if reasons else (True, "ok")


def reloaded(memory: Memory, backoff: Backoff) -> Memory:
    """daemon.toml was read again: a held commit may go now; the backoff starts afresh."""
    return replace(memory, backoff=backoff, held=None, retry=None)
