"""Faults aimed at one operation of the HTTP control plane, seen by unmodified boto3.

"Commit, then lose the reply": the operation runs and its effect stays, the connection closes
unanswered, botocore retries and meets the changed state -- the scene of issue 10 §2 (a
retried CreateJob answered ResourceAlreadyExists for our own job).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError

from ota_deploy.local.faults import FaultConfig, OperationFaults

JOB = {
    "jobId": "lost-reply",
    "targets": ["arn:aws:iot:us-east-1:123456789012:thing/t1"],
    "document": "{}",
}


def test_create_job_commits_then_the_retry_meets_our_own_job(
    control_plane: Callable[..., Any],
) -> None:
    aimed = FaultConfig(per_operation={"CreateJob": OperationFaults(lose_reply_rate=1.0, times=1)})
    plane = control_plane(faults=aimed)
    iot = plane.client("iot")
    iot.create_thing(thingName="t1")
    with pytest.raises(iot.exceptions.ResourceAlreadyExistsException):
        iot.create_job(**JOB)  # attempt 1 committed, its reply lost; attempt 2 meets it
    assert iot.describe_job(jobId="lost-reply")["job"]["status"] == "IN_PROGRESS"
    assert plane.faults.count("lose_reply", service="iot", operation="CreateJob") == 1
    assert plane.faults.counts == {"lose_reply": 1}


def test_an_idempotent_create_absorbs_a_lost_reply(control_plane: Callable[..., Any]) -> None:
    lose_two = OperationFaults(lose_reply_rate=1.0, times=2)
    twice = FaultConfig(per_operation={"CreateThing": lose_two})
    plane = control_plane(faults=twice)
    with pytest.raises(ConnectionClosedError):  # no retry: the client only sees the close
        plane.client("iot", attempts=1).create_thing(thingName="kept")
    iot = plane.client("iot", attempts=3)
    assert iot.describe_thing(thingName="kept")["thingName"] == "kept"  # yet it was created
    # CreateThing of an identical thing succeeds (API_CreateThing.html), so the retry passes.
    assert iot.create_thing(thingName="again")["thingName"] == "again"
    assert plane.faults.counts == {"lose_reply": 2}
