"""The transition table, driven from data.

Spec: https://docs.aws.amazon.com/iot/latest/developerguide/iot-jobs-lifecycle.html and
https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_UpdateJobExecution.html
(devices set IN_PROGRESS, SUCCEEDED, FAILED or REJECTED; terminal states are final).
"""

from __future__ import annotations

import pytest

from ota_deploy.core.status import TERMINAL_EXECUTION, ExecutionStatus, JobStatus
from ota_deploy.local.iot.states import (
    DELETED,
    Actor,
    TransitionError,
    check_execution,
    check_job,
)

E, J = ExecutionStatus, JobStatus
DEV, OP, SYS = Actor.DEVICE, Actor.OPERATOR, Actor.SYSTEM

ALLOWED = [
    (E.QUEUED, E.IN_PROGRESS, DEV, False),
    (E.QUEUED, E.SUCCEEDED, DEV, False),
    (E.QUEUED, E.REJECTED, DEV, False),
    (E.IN_PROGRESS, E.IN_PROGRESS, DEV, False),
    (E.IN_PROGRESS, E.SUCCEEDED, DEV, False),
    (E.IN_PROGRESS, E.FAILED, DEV, False),
    (E.QUEUED, E.CANCELED, OP, False),
    (E.IN_PROGRESS, E.CANCELED, OP, True),
    (E.IN_PROGRESS, E.TIMED_OUT, SYS, False),
    (E.QUEUED, E.REMOVED, SYS, False),
    (E.SUCCEEDED, DELETED, OP, False),
    (E.IN_PROGRESS, DELETED, OP, True),
]
REFUSED = [
    (E.IN_PROGRESS, E.CANCELED, OP, False, "requires force"),
    (E.QUEUED, DELETED, OP, False, "requires force"),
    (E.IN_PROGRESS, E.TIMED_OUT, DEV, False, "not allowed for device"),
    (E.QUEUED, E.TIMED_OUT, SYS, False, "transition not allowed"),
    (E.IN_PROGRESS, E.QUEUED, DEV, False, "transition not allowed"),
    (E.CANCELED, E.CANCELED, OP, True, "terminal"),
]


@pytest.mark.parametrize(("current", "target", "actor", "force"), ALLOWED)
def test_allowed_execution_transitions(current, target, actor, force) -> None:
    check_execution(current, target, actor, force=force)


@pytest.mark.parametrize(("current", "target", "actor", "force", "reason"), REFUSED)
def test_refused_execution_transitions(current, target, actor, force, reason) -> None:
    with pytest.raises(TransitionError, match=reason):
        check_execution(current, target, actor, force=force)


@pytest.mark.parametrize("terminal", sorted(TERMINAL_EXECUTION))
@pytest.mark.parametrize("target", [E.IN_PROGRESS, E.SUCCEEDED, E.FAILED, E.REJECTED])
def test_terminal_executions_never_change(terminal, target) -> None:
    with pytest.raises(TransitionError) as info:
        check_execution(terminal, target, DEV)
    assert info.value.terminal


@pytest.mark.parametrize(
    ("current", "target", "actor", "force", "ok"),
    [
        (J.IN_PROGRESS, J.COMPLETED, SYS, False, True),
        (J.IN_PROGRESS, J.CANCELED, OP, False, True),
        (J.CANCELED, J.CANCELED, OP, False, False),
        (J.CANCELED, J.CANCELED, OP, True, True),
        (J.COMPLETED, J.CANCELED, OP, True, False),
        (J.IN_PROGRESS, J.DELETION_IN_PROGRESS, OP, False, False),
        (J.IN_PROGRESS, J.DELETION_IN_PROGRESS, OP, True, True),
        (J.COMPLETED, J.DELETION_IN_PROGRESS, OP, False, True),
        (J.CANCELED, J.DELETION_IN_PROGRESS, OP, False, True),
        (J.DELETION_IN_PROGRESS, J.DELETION_IN_PROGRESS, OP, True, False),
        (J.COMPLETED, J.IN_PROGRESS, OP, True, False),
    ],
)
def test_job_transitions(current, target, actor, force, ok) -> None:
    if ok:
        check_job(current, target, actor, force=force)
    else:
        with pytest.raises(TransitionError):
            check_job(current, target, actor, force=force)
