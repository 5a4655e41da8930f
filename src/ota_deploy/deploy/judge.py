"""Judging a round from what the poller saw: pure functions, no I/O, no clock of their own.

``judge(snapshot, expected, target_selection, now, deadline)`` answers "is the round over, and did
it succeed?" from one ``JobSnapshot``:

* a job CANCELED (abort criteria, or by hand) or being deleted fails the round as CANCELED; a
  job that vanished is an error;
* the round is over when every targeted thing is terminal (for SNAPSHOT also when the job says
  COMPLETED); it succeeded only when every targeted thing SUCCEEDED — the manual's "success device
  count equals device count" rule;
* CONTINUOUS jobs never complete by themselves (they keep waiting for new group members), so
  only the things' terminal states end the round;
* past ``deadline`` (roundTimeout) the round is over and TIMED_OUT: the runner cancels the job.

``expected`` is the set of targeted thing names (thing ARNs plus members of targeted groups);
when it is empty (e.g. groups whose members could not be listed), the things the job reached are
judged instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ota_deploy.core.observed import JobUnseen, NoExecution, SeenJobStatus, ThingStatus
from ota_deploy.core.status import (
    TERMINAL_EXECUTION,
    ExecutionStatus,
    JobStatus,
    RoundStatus,
    TargetSelection,
)
from ota_deploy.monitor.snapshot import JobSnapshot

# The job ended without completing: cancelled (abort criteria, or by hand) or being deleted.
STOPPED_JOB: frozenset[SeenJobStatus] = frozenset(
    {JobStatus.CANCELED, JobStatus.DELETION_IN_PROGRESS}
)


@dataclass(frozen=True)
class Verdict:
    done: bool
    status: RoundStatus | None = None  # set when done
    reason: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.done and self.status == RoundStatus.SUCCEEDED


PENDING = Verdict(done=False)


def thing_statuses(snapshot: JobSnapshot, expected: Iterable[str]) -> dict[str, ThingStatus]:
    """Status per judged thing: ``NONE`` for an expected thing the job has not reached."""
    names = list(expected) or list(snapshot.things)
    return {
        n: (snapshot.things[n].status if n in snapshot.things else NoExecution.NONE) for n in names
    }


def _failures(statuses: dict[str, ThingStatus]) -> dict[str, ThingStatus]:
    return {
        n: s
        for n, s in statuses.items()
        if s in TERMINAL_EXECUTION and s != ExecutionStatus.SUCCEEDED
    }


def _describe(failures: dict[str, ThingStatus]) -> str:
    by_status: dict[ThingStatus, list[str]] = {}
    for name, status in sorted(failures.items()):
        by_status.setdefault(status, []).append(name)
    parts = []
    for status, names in sorted(by_status.items()):
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        parts.append(f"{len(names)} {status} ({shown})")
    return "; ".join(parts)


def judge(
    snapshot: JobSnapshot,
    expected: Iterable[str],
    target_selection: TargetSelection,
    *,
    now: float,
    deadline: float | None,
) -> Verdict:
    """Decide the round from one snapshot (see the module docstring)."""
    expected = list(expected)
    statuses = thing_statuses(snapshot, expected)
    failures = _failures(statuses)
    all_terminal = bool(statuses) and all(s in TERMINAL_EXECUTION for s in statuses.values())

    if snapshot.job_status == JobUnseen.NOT_FOUND:
        return Verdict(True, RoundStatus.ERROR, "the job disappeared while the round was running")
    if snapshot.job_status in STOPPED_JOB:
        detail = f": {_describe(failures)}" if failures else ""
        return Verdict(
            True,
            RoundStatus.CANCELED,
            f"the job was {snapshot.job_status} (abort criteria?){detail}",
        )

    completed = (
        snapshot.job_status == JobStatus.COMPLETED
        and target_selection != TargetSelection.CONTINUOUS
    )
    if all_terminal or completed:
        if not statuses:
            return Verdict(True, RoundStatus.FAILED, "the job completed without reaching any thing")
        if failures:
            return Verdict(
                True, RoundStatus.FAILED, f"not every thing succeeded: {_describe(failures)}"
            )
        missing = sorted(n for n, s in statuses.items() if s != ExecutionStatus.SUCCEEDED)
        if missing:
            shown = ", ".join(missing[:5])
            return Verdict(
                True,
                RoundStatus.FAILED,
                f"the job completed but {len(missing)} thing(s) never ran it: {shown}",
            )
        return Verdict(True, RoundStatus.SUCCEEDED, None)

    if deadline is not None and now >= deadline:
        pending = sorted(n for n, s in statuses.items() if s not in TERMINAL_EXECUTION)
        shown = ", ".join(pending[:5]) + (" ..." if len(pending) > 5 else "")
        return Verdict(
            True,
            RoundStatus.TIMED_OUT,
            f"round timeout reached with {len(pending)} thing(s) unfinished: {shown}",
        )
    return PENDING
