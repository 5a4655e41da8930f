"""The ONE table of allowed job and job-execution transitions of the local jobs engine.

The statuses themselves are ``ota_deploy.core.status``'s (the one vocabulary every package
shares); this module adds only what is the local engine's own: who may ask for a change
(:class:`Actor`), whether it needs ``force``, and the pseudo target :data:`DELETED` (the record
is removed: DeleteJobExecution, the end of a job's deletion), which no record ever holds and
AWS never reports as a status.

:func:`check_execution` and :func:`check_job` are the only places that raise
:class:`TransitionError`; the engine's two apply methods (``JobsEngine.transition`` for
executions, ``JobsEngine.set_job_status`` for jobs) call them before changing anything. The
service maps that domain error to AWS's codes per operation (``InvalidStateTransitionException``
for most, the jobs-data plane adds ``executionState``; the MQTT layer turns a terminal one into
``TerminalStateReached``).

Sources (the specification):
- Job execution states: https://docs.aws.amazon.com/iot/latest/developerguide/iot-jobs-lifecycle.html
- Device updates allowed (IN_PROGRESS, SUCCEEDED, FAILED, REJECTED):
  https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_UpdateJobExecution.html
- Force rules: https://docs.aws.amazon.com/iot/latest/apireference/API_CancelJobExecution.html ,
  https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJob.html ,
  https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJobExecution.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ota_deploy.core.status import TERMINAL_EXECUTION, ExecutionStatus, JobStatus


class Gone(StrEnum):
    """The pseudo target "the record is removed" (never a status a record holds)."""

    DELETED = "DELETED"


DELETED = Gone.DELETED

ExecutionTarget = ExecutionStatus | Gone
JobTarget = JobStatus | Gone


class Actor(StrEnum):
    DEVICE = "device"  # jobs data plane (HTTP or MQTT)
    OPERATOR = "operator"  # control plane: CancelJob, CancelJobExecution, Delete*
    SYSTEM = "system"  # the engine: timeouts, removal of things, abort, completion


@dataclass(frozen=True)
class Rule:
    actors: frozenset[Actor]
    needs_force: bool = False


def _r(*actors: Actor, force: bool = False) -> Rule:
    return Rule(frozenset(actors), force)


_E = ExecutionStatus
_Q, _IP = _E.QUEUED, _E.IN_PROGRESS
_DEV, _OP, _SYS = Actor.DEVICE, Actor.OPERATOR, Actor.SYSTEM

EXECUTION_TRANSITIONS: dict[tuple[ExecutionStatus, ExecutionTarget], Rule] = {
    (_Q, _IP): _r(_DEV),
    (_Q, _E.SUCCEEDED): _r(_DEV),
    (_Q, _E.FAILED): _r(_DEV),
    (_Q, _E.REJECTED): _r(_DEV),
    (_IP, _IP): _r(_DEV),
    (_IP, _E.SUCCEEDED): _r(_DEV),
    (_IP, _E.FAILED): _r(_DEV),
    (_IP, _E.REJECTED): _r(_DEV),
    (_Q, _E.CANCELED): _r(_OP, _SYS),
    (_IP, _E.CANCELED): _r(_OP, _SYS, force=True),
    (_IP, _E.TIMED_OUT): _r(_SYS),
    (_Q, _E.REMOVED): _r(_SYS),
    (_IP, _E.REMOVED): _r(_SYS),
    # DeleteJobExecution: terminal ones freely, pending ones only with force.
    (_Q, DELETED): _r(_OP, _SYS, force=True),
    (_IP, DELETED): _r(_OP, _SYS, force=True),
    **{(t, DELETED): _r(_OP, _SYS) for t in TERMINAL_EXECUTION},
}

_J = JobStatus
JOB_TRANSITIONS: dict[tuple[JobStatus, JobTarget], Rule] = {
    (_J.IN_PROGRESS, _J.COMPLETED): _r(_SYS),
    (_J.IN_PROGRESS, _J.CANCELED): _r(_OP, _SYS),
    # A canceled job may be canceled again with force, to cancel IN_PROGRESS executions too.
    (_J.CANCELED, _J.CANCELED): _r(_OP, force=True),
    (_J.IN_PROGRESS, _J.DELETION_IN_PROGRESS): _r(_OP, force=True),
    (_J.COMPLETED, _J.DELETION_IN_PROGRESS): _r(_OP),
    (_J.CANCELED, _J.DELETION_IN_PROGRESS): _r(_OP),
    (_J.DELETION_IN_PROGRESS, DELETED): _r(_SYS),
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
        return self.kind == _EXECUTION and self.current in TERMINAL_EXECUTION


_EXECUTION, _JOB = "job execution", "job"


def _check(
    kind: str,
    table: Mapping[tuple[Any, Any], Rule],
    current: StrEnum,
    target: StrEnum,
    actor: Actor,
    force: bool,
) -> None:
    rule = table.get((current, target))
    if rule is None:
        final = kind == _EXECUTION and current in TERMINAL_EXECUTION
        reason = "it is in a terminal state" if final else "transition not allowed"
        raise TransitionError(kind, current.value, target.value, reason)
    if actor not in rule.actors:
        raise TransitionError(kind, current.value, target.value, f"not allowed for {actor.value}")
    if rule.needs_force and not force:
        raise TransitionError(kind, current.value, target.value, "requires force")


def check_execution(
    current: ExecutionStatus, target: ExecutionTarget, actor: Actor, *, force: bool = False
) -> None:
    _check(_EXECUTION, EXECUTION_TRANSITIONS, current, target, actor, force)


def check_job(current: JobStatus, target: JobTarget, actor: Actor, *, force: bool = False) -> None:
    _check(_JOB, JOB_TRANSITIONS, current, target, actor, force)
