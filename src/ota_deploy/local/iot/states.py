"""Job and job-execution states, and the ONE table of allowed transitions.

Every state change in the jobs engine goes through :func:`check_execution` or :func:`check_job`;
they are the only places that raise :class:`TransitionError`. The service maps that domain error
to AWS's codes per operation (``InvalidStateTransitionException`` for most, the jobs-data plane
adds ``executionState``; the MQTT layer turns a terminal one into ``TerminalStateReached``).

Sources (the specification):
- Job execution states: https://docs.aws.amazon.com/iot/latest/developerguide/iot-jobs-lifecycle.html
- Device updates allowed (IN_PROGRESS, SUCCEEDED, FAILED, REJECTED):
  https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_UpdateJobExecution.html
- Force rules: https://docs.aws.amazon.com/iot/latest/apireference/API_CancelJobExecution.html ,
  https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJob.html ,
  https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJobExecution.html
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    CANCELED = "CANCELED"
    COMPLETED = "COMPLETED"
    DELETION_IN_PROGRESS = "DELETION_IN_PROGRESS"
    SCHEDULED = "SCHEDULED"
    DELETED = "DELETED"  # pseudo state: the record is gone (never reported)


class ExecStatus(StrEnum):
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    REJECTED = "REJECTED"
    REMOVED = "REMOVED"
    CANCELED = "CANCELED"
    DELETED = "DELETED"  # pseudo state: DeleteJobExecution / job deletion removed the record


class Actor(StrEnum):
    DEVICE = "device"  # jobs data plane (HTTP or MQTT)
    OPERATOR = "operator"  # control plane: CancelJob, CancelJobExecution, Delete*
    SYSTEM = "system"  # the engine: timeouts, removal of things, abort


TERMINAL: frozenset[ExecStatus] = frozenset(
    {
        ExecStatus.SUCCEEDED,
        ExecStatus.FAILED,
        ExecStatus.TIMED_OUT,
        ExecStatus.REJECTED,
        ExecStatus.REMOVED,
        ExecStatus.CANCELED,
    }
)
PENDING: frozenset[ExecStatus] = frozenset({ExecStatus.QUEUED, ExecStatus.IN_PROGRESS})
DEVICE_SETTABLE: frozenset[ExecStatus] = frozenset(
    {ExecStatus.IN_PROGRESS, ExecStatus.SUCCEEDED, ExecStatus.FAILED, ExecStatus.REJECTED}
)


@dataclass(frozen=True)
class Rule:
    actors: frozenset[Actor]
    needs_force: bool = False


def _r(*actors: Actor, force: bool = False) -> Rule:
    return Rule(frozenset(actors), force)


_Q, _IP = ExecStatus.QUEUED, ExecStatus.IN_PROGRESS
_DEV, _OP, _SYS = Actor.DEVICE, Actor.OPERATOR, Actor.SYSTEM

EXECUTION_TRANSITIONS: dict[tuple[ExecStatus, ExecStatus], Rule] = {
    (_Q, _IP): _r(_DEV),
    (_Q, ExecStatus.SUCCEEDED): _r(_DEV),
    (_Q, ExecStatus.FAILED): _r(_DEV),
    (_Q, ExecStatus.REJECTED): _r(_DEV),
    (_IP, _IP): _r(_DEV),
    (_IP, ExecStatus.SUCCEEDED): _r(_DEV),
    (_IP, ExecStatus.FAILED): _r(_DEV),
    (_IP, ExecStatus.REJECTED): _r(_DEV),
    (_Q, ExecStatus.CANCELED): _r(_OP, _SYS),
    (_IP, ExecStatus.CANCELED): _r(_OP, _SYS, force=True),
    (_IP, ExecStatus.TIMED_OUT): _r(_SYS),
    (_Q, ExecStatus.REMOVED): _r(_SYS),
    (_IP, ExecStatus.REMOVED): _r(_SYS),
    # DeleteJobExecution: terminal ones freely, pending ones only with force.
    (_Q, ExecStatus.DELETED): _r(_OP, _SYS, force=True),
    (_IP, ExecStatus.DELETED): _r(_OP, _SYS, force=True),
    **{(t, ExecStatus.DELETED): _r(_OP, _SYS) for t in TERMINAL},
}

_J = JobStatus
JOB_TRANSITIONS: dict[tuple[JobStatus, JobStatus], Rule] = {
    (_J.IN_PROGRESS, _J.COMPLETED): _r(_SYS),
    (_J.IN_PROGRESS, _J.CANCELED): _r(_OP, _SYS),
    # A canceled job may be canceled again with force, to cancel IN_PROGRESS executions too.
    (_J.CANCELED, _J.CANCELED): _r(_OP, force=True),
    (_J.IN_PROGRESS, _J.DELETION_IN_PROGRESS): _r(_OP, force=True),
    (_J.COMPLETED, _J.DELETION_IN_PROGRESS): _r(_OP),
    (_J.CANCELED, _J.DELETION_IN_PROGRESS): _r(_OP),
    (_J.DELETION_IN_PROGRESS, _J.DELETED): _r(_SYS),
}


class TransitionError(Exception):
    """A state change the table does not allow (or allows only with ``force``)."""

    def __init__(self, kind: str, current: str, target: str, reason: str) -> None:
        super().__init__(f"Cannot move {kind} from {current} to {target}: {reason}")
        self.kind = kind
        self.current = current
        self.target = target
        self.reason = reason

    @property
    def terminal(self) -> bool:
        return self.kind == "job execution" and self.current in {s.value for s in TERMINAL}


def _check(
    kind: str,
    table: dict[Any, Rule],
    current: JobStatus | ExecStatus,
    target: JobStatus | ExecStatus,
    actor: Actor,
    force: bool,
) -> None:
    rule = table.get((current, target))
    if rule is None:
        reason = "it is in a terminal state" if current in TERMINAL else "transition not allowed"
        raise TransitionError(kind, current.value, target.value, reason)
    if actor not in rule.actors:
        raise TransitionError(kind, current.value, target.value, f"not allowed for {actor.value}")
    if rule.needs_force and not force:
        raise TransitionError(kind, current.value, target.value, "requires force")


def check_execution(
    current: ExecStatus, target: ExecStatus, actor: Actor, *, force: bool = False
) -> None:
    _check("job execution", EXECUTION_TRANSITIONS, current, target, actor, force)


def check_job(current: JobStatus, target: JobStatus, actor: Actor, *, force: bool = False) -> None:
    _check("job", JOB_TRANSITIONS, current, target, actor, force)
