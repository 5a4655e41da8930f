"""The in-memory boto3 <-> local AWS IoT pair behaves as the pair over HTTP does."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError
from tests.support.aws_pair import AwsPair

from ota_deploy.local.faults import FaultConfig


def test_boto3_reaches_the_service_and_gets_its_errors() -> None:
    pair = AwsPair()
    iot = pair.client("iot")
    arn = iot.create_thing(thingName="t1")["thingArn"]
    assert arn.endswith(":thing/t1")
    job = iot.create_job(jobId="j1", targets=[arn], document='{"x": 1}')
    assert job["jobId"] == "j1"
    assert iot.describe_job(jobId="j1")["job"]["status"] == "IN_PROGRESS"
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_job(jobId="nope")
    data = pair.client("iot-jobs-data")
    started = data.start_next_pending_job_execution(thingName="t1")
    assert started["execution"]["jobId"] == "j1"
    assert pair.requests[-1] == ("iot-jobs-data", "StartNextPendingJobExecution")


def test_throttling_is_retried_by_botocore() -> None:
    pair = AwsPair(faults=FaultConfig(throttle_rate=0.5, seed=3))
    iot = pair.client("iot", max_attempts=10)
    for i in range(5):
        iot.create_thing(thingName=f"t{i}")
    assert pair.injector.counts.get("throttle", 0) > 0
    assert len(pair.svc.registry.things) == 5


def test_a_lost_reply_after_commit_leaves_the_resource() -> None:
    pair = AwsPair(lose_reply_after_commit={"CreateThingGroup": 1})
    iot = pair.client("iot", max_attempts=1)
    with pytest.raises((ConnectionClosedError, ClientError)):
        iot.create_thing_group(thingGroupName="g")
    assert iot.describe_thing_group(thingGroupName="g")["thingGroupName"] == "g"


def test_lose_reply_from_a_fault_config_commits_then_drops() -> None:
    from ota_deploy.local.faults import OperationFaults

    pair = AwsPair(
        faults=FaultConfig(
            per_operation={"CreateThing": OperationFaults(lose_reply_rate=1.0, times=1)}
        )
    )
    iot = pair.client("iot", max_attempts=1)
    with pytest.raises((ConnectionClosedError, ClientError)):
        iot.create_thing(thingName="t1")
    assert iot.describe_thing(thingName="t1")["thingName"] == "t1"
