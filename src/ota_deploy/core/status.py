"""The one status vocabulary: AWS IoT job and execution statuses, and the tool's own outcomes.

Every package (local, fleet, monitor, deploy, report) compares and stores these enums; the
names are spelled as string literals only here and where a wire format or a user file needs
them. The members are ``StrEnum``s, so they compare equal to AWS's strings, format as those
strings and serialise to JSON unchanged: a value parsed off the wire is turned into a member
with ``ExecutionStatus(text)`` (or ``parse_execution_status`` when an unknown value must not
raise).

The values match botocore's ``iot`` model (``JobStatus``, ``JobExecutionStatus``,
``TargetSelection``, ``JobExecutionFailureType``); ``tests/unit/core/test_core_status.py``
checks them against it, so the model stays the source and this module only names it.
"""

from __future__ import annotations

from enum import StrEnum


class ExecutionStatus(StrEnum):
    """A job execution's status (``JobExecutionStatus``)."""

    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    REJECTED = "REJECTED"
    REMOVED = "REMOVED"
    CANCELED = "CANCELED"


class JobStatus(StrEnum):
    """A job's status (``JobStatus``)."""

    IN_PROGRESS = "IN_PROGRESS"
    CANCELED = "CANCELED"
    COMPLETED = "COMPLETED"
    DELETION_IN_PROGRESS = "DELETION_IN_PROGRESS"
    SCHEDULED = "SCHEDULED"


class TargetSelection(StrEnum):
    """SNAPSHOT jobs complete once their targets are done; CONTINUOUS ones stay open."""

    SNAPSHOT = "SNAPSHOT"
    CONTINUOUS = "CONTINUOUS"


class FailureType(StrEnum):
    """What an abort or retry criterion counts (``JobExecutionFailureType``)."""

    FAILED = "FAILED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"
    ALL = "ALL"


class RoundStatus(StrEnum):
    """How one round of a run ended (report.json, results.csv, JUnit)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"  # the round outlived roundTimeout
    CANCELED = "CANCELED"  # the job was canceled (abort criteria, or by hand)
    ERROR = "ERROR"  # an AWS or infrastructure error ended it
    SKIPPED = "SKIPPED"  # never ran (a run now summarises these: RunReport.not_run)
    INTERRUPTED = "INTERRUPTED"  # Ctrl-C / SIGTERM stopped it: neither failed nor succeeded


class TimerKind(StrEnum):
    """The local jobs engine's deadlines (the first member of a timer key)."""

    RELEASE = "release"  # the rollout may release more executions
    TIMEOUT = "timeout"  # an execution's in-progress or step deadline


TERMINAL_EXECUTION: frozenset[ExecutionStatus] = frozenset(
    {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.TIMED_OUT,
        ExecutionStatus.REJECTED,
        ExecutionStatus.REMOVED,
        ExecutionStatus.CANCELED,
    }
)
"""An execution in one of these never changes again (a retry is a new execution)."""

PENDING_EXECUTION: frozenset[ExecutionStatus] = frozenset(
    {ExecutionStatus.QUEUED, ExecutionStatus.IN_PROGRESS}
)

FAILED_EXECUTION: frozenset[ExecutionStatus] = frozenset(
    {ExecutionStatus.FAILED, ExecutionStatus.REJECTED, ExecutionStatus.TIMED_OUT}
)
"""Ends that fail a round (and that abort criteria of type ALL count)."""

EXECUTED: frozenset[ExecutionStatus] = frozenset({ExecutionStatus.SUCCEEDED} | FAILED_EXECUTION)
"""Executions that ran to an end the device or its timer decided (what abort criteria count)."""

DEVICE_SETTABLE: frozenset[ExecutionStatus] = frozenset(
    {
        ExecutionStatus.IN_PROGRESS,
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.REJECTED,
    }
)
"""What a device may report in UpdateJobExecution."""

FAILURE_TYPE_STATUSES: dict[FailureType, frozenset[ExecutionStatus]] = {
    FailureType.FAILED: frozenset({ExecutionStatus.FAILED}),
    FailureType.REJECTED: frozenset({ExecutionStatus.REJECTED}),
    FailureType.TIMED_OUT: frozenset({ExecutionStatus.TIMED_OUT}),
    FailureType.ALL: FAILED_EXECUTION,
}

FINISHED_JOB: frozenset[JobStatus] = frozenset({JobStatus.COMPLETED, JobStatus.CANCELED})
"""A job in one of these releases no more executions (DeleteJob needs no force)."""


def parse_execution_status(text: object) -> ExecutionStatus | None:
    """The member named ``text``, or None for anything else (a field a newer API added)."""
    try:
        return ExecutionStatus(str(text))
    except ValueError:
        return None


def parse_job_status(text: object) -> JobStatus | None:
    """The member named ``text``, or None for anything else."""
    try:
        return JobStatus(str(text))
    except ValueError:
        return None
