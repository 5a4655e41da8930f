"""The AWS IoT Device SDK v2 jobs client (awsiot.iotjobs over awscrt, plain TCP) lists, starts
and completes a job execution on the local AWS IoT. Its typed ``from_payload`` parsers read our
payloads: a None event means the SDK could not parse one, so this proves the schema matches."""

from __future__ import annotations

import queue
from typing import Any

import pytest
from awscrt import io, mqtt
from awsiot import iotjobs

TIMEOUT = 10.0


class Inbox:
    """Collects typed SDK callbacks per name."""

    def __init__(self) -> None:
        self.queues: dict[str, queue.Queue[Any]] = {}

    def callback(self, name: str) -> Any:
        q: queue.Queue[Any] = self.queues.setdefault(name, queue.Queue())
        return q.put

    def get(self, name: str) -> Any:
        event = self.queues[name].get(timeout=TIMEOUT)
        assert event is not None, f"the SDK could not parse the {name} payload"
        return event


@pytest.fixture
def sdk_connection(ota: Any) -> Any:
    elg = io.EventLoopGroup(1)
    resolver = io.DefaultHostResolver(elg)
    bootstrap = io.ClientBootstrap(elg, resolver)
    client = mqtt.Client(bootstrap, None)
    connection = mqtt.Connection(
        client=client,
        host_name=ota.mqtt_host,
        port=ota.mqtt_port,
        client_id=ota.thing,
        clean_session=True,
        keep_alive_secs=30,
    )
    connection.connect().result(TIMEOUT)
    try:
        yield connection
    finally:
        connection.disconnect().result(TIMEOUT)


def test_sdk_lists_starts_and_completes_a_job(ota: Any, sdk_connection: Any) -> None:
    jobs = iotjobs.IotJobsClient(sdk_connection)
    inbox = Inbox()
    qos = mqtt.QoS.AT_LEAST_ONCE
    thing = ota.thing

    subscriptions = [
        jobs.subscribe_to_get_pending_job_executions_accepted(
            iotjobs.GetPendingJobExecutionsSubscriptionRequest(thing_name=thing),
            qos,
            inbox.callback("pending"),
        )[0],
        jobs.subscribe_to_start_next_pending_job_execution_accepted(
            iotjobs.StartNextPendingJobExecutionSubscriptionRequest(thing_name=thing),
            qos,
            inbox.callback("started"),
        )[0],
        jobs.subscribe_to_describe_job_execution_accepted(
            iotjobs.DescribeJobExecutionSubscriptionRequest(thing_name=thing, job_id="$next"),
            qos,
            inbox.callback("next"),
        )[0],
        jobs.subscribe_to_update_job_execution_accepted(
            iotjobs.UpdateJobExecutionSubscriptionRequest(thing_name=thing, job_id=ota.job_id),
            qos,
            inbox.callback("updated"),
        )[0],
        jobs.subscribe_to_update_job_execution_rejected(
            iotjobs.UpdateJobExecutionSubscriptionRequest(thing_name=thing, job_id=ota.job_id),
            qos,
            inbox.callback("update-rejected"),
        )[0],
    ]
    for fut in subscriptions:
        fut.result(TIMEOUT)

    jobs.publish_get_pending_job_executions(
        iotjobs.GetPendingJobExecutionsRequest(thing_name=thing, client_token="list"), qos
    ).result(TIMEOUT)
    pending = inbox.get("pending")
    assert isinstance(pending, iotjobs.GetPendingJobExecutionsResponse)
    assert pending.client_token == "list"
    assert [j.job_id for j in pending.queued_jobs] == [ota.job_id]
    assert pending.queued_jobs[0].queued_at is not None  # parsed as a datetime
    assert pending.timestamp is not None

    jobs.publish_describe_job_execution(
        iotjobs.DescribeJobExecutionRequest(
            thing_name=thing, job_id="$next", include_job_document=True, client_token="peek"
        ),
        qos,
    ).result(TIMEOUT)
    peek = inbox.get("next")
    assert peek.execution.job_id == ota.job_id and peek.execution.status == "QUEUED"

    jobs.publish_start_next_pending_job_execution(
        iotjobs.StartNextPendingJobExecutionRequest(
            thing_name=thing,
            client_token="go",
            step_timeout_in_minutes=30,
            status_details={"step": "download"},
        ),
        qos,
    ).result(TIMEOUT)
    started = inbox.get("started")
    assert isinstance(started, iotjobs.StartNextJobExecutionResponse)
    execution = started.execution
    assert execution.job_id == ota.job_id
    assert execution.thing_name == thing
    assert execution.status == iotjobs.JobStatus.IN_PROGRESS
    assert execution.status_details == {"step": "download"}
    assert execution.job_document["afr_ota"]["streamname"] == ota.stream_id
    assert execution.started_at is not None and execution.version_number >= 2

    jobs.publish_update_job_execution(
        iotjobs.UpdateJobExecutionRequest(
            thing_name=thing,
            job_id=ota.job_id,
            status=iotjobs.JobStatus.IN_PROGRESS,
            expected_version=execution.version_number + 5,
            client_token="stale",
        ),
        qos,
    ).result(TIMEOUT)
    rejected = inbox.get("update-rejected")
    assert isinstance(rejected, iotjobs.RejectedError)
    assert rejected.code == iotjobs.RejectedErrorCode.VERSION_MISMATCH
    assert rejected.client_token == "stale"
    assert rejected.execution_state.version_number == execution.version_number

    jobs.publish_update_job_execution(
        iotjobs.UpdateJobExecutionRequest(
            thing_name=thing,
            job_id=ota.job_id,
            status=iotjobs.JobStatus.SUCCEEDED,
            status_details={"result": "flashed"},
            expected_version=execution.version_number,
            include_job_execution_state=True,
            include_job_document=True,
            client_token="done",
        ),
        qos,
    ).result(TIMEOUT)
    updated = inbox.get("updated")
    assert isinstance(updated, iotjobs.UpdateJobExecutionResponse)
    assert updated.client_token == "done"
    assert updated.execution_state.status == iotjobs.JobStatus.SUCCEEDED
    assert updated.execution_state.status_details == {"result": "flashed"}
    assert updated.job_document["afr_ota"]["streamname"] == ota.stream_id

    described = ota.clients["iot"].describe_job_execution(jobId=ota.job_id, thingName=thing)
    assert described["execution"]["status"] == "SUCCEEDED"

    jobs.publish_get_pending_job_executions(
        iotjobs.GetPendingJobExecutionsRequest(thing_name=thing, client_token="after"), qos
    ).result(TIMEOUT)
    after = inbox.get("pending")
    assert after.queued_jobs == [] and after.in_progress_jobs == []


def test_sdk_receives_notify_next(ota: Any, sdk_connection: Any) -> None:
    """When the head of the thing's queue changes, the device gets a typed notify-next event
    (published by the service through the gateway) with the job document as an object."""
    jobs = iotjobs.IotJobsClient(sdk_connection)
    inbox = Inbox()
    jobs.subscribe_to_next_job_execution_changed_events(
        iotjobs.NextJobExecutionChangedSubscriptionRequest(thing_name=ota.thing),
        mqtt.QoS.AT_LEAST_ONCE,
        inbox.callback("notify-next"),
    )[0].result(TIMEOUT)
    iot, data = ota.clients["iot"], ota.clients["iot-jobs-data"]
    arn = iot.describe_thing(thingName=ota.thing)["thingArn"]
    next_job = f"{ota.job_id}-next"
    iot.create_job(jobId=next_job, targets=[arn], document='{"step": 2}')
    data.update_job_execution(jobId=ota.job_id, thingName=ota.thing, status="IN_PROGRESS")
    data.update_job_execution(jobId=ota.job_id, thingName=ota.thing, status="SUCCEEDED")
    event = inbox.get("notify-next")
    while event.execution is not None and event.execution.job_id != next_job:
        event = inbox.get("notify-next")
    assert isinstance(event, iotjobs.NextJobExecutionChangedEvent)
    assert event.execution.job_id == next_job
    assert event.execution.job_document == {"step": 2}
    assert event.timestamp is not None


def test_sdk_v2_request_response_client(ota: Any, sdk_connection: Any) -> None:
    """IotJobsClientV2 correlates replies by the echoed clientToken and parses them (including
    a modeled V2ErrorResponse for a rejection)."""
    from awscrt import mqtt_request_response
    from awsiot import V2ServiceException

    client = iotjobs.IotJobsClientV2(
        sdk_connection,
        mqtt_request_response.ClientOptions(
            max_request_response_subscriptions=4,
            max_streaming_subscriptions=2,
            operation_timeout_in_seconds=10,
        ),
    )
    thing = ota.thing
    pending = client.get_pending_job_executions(
        iotjobs.GetPendingJobExecutionsRequest(thing_name=thing)
    ).result(TIMEOUT)
    assert [j.job_id for j in pending.queued_jobs] == [ota.job_id]

    started = client.start_next_pending_job_execution(
        iotjobs.StartNextPendingJobExecutionRequest(thing_name=thing)
    ).result(TIMEOUT)
    assert started.execution.job_id == ota.job_id
    assert started.execution.job_document["afr_ota"]["streamname"] == ota.stream_id

    with pytest.raises(V2ServiceException) as failure:
        client.update_job_execution(
            iotjobs.UpdateJobExecutionRequest(
                thing_name=thing, job_id=ota.job_id, status="SUCCEEDED", expected_version=999
            )
        ).result(TIMEOUT)
    modeled = failure.value.modeled_error
    assert isinstance(modeled, iotjobs.V2ErrorResponse)
    assert modeled.code == iotjobs.RejectedErrorCode.VERSION_MISMATCH
    assert modeled.execution_state.status == "IN_PROGRESS"

    done = client.update_job_execution(
        iotjobs.UpdateJobExecutionRequest(
            thing_name=thing,
            job_id=ota.job_id,
            status="SUCCEEDED",
            expected_version=started.execution.version_number,
            include_job_execution_state=True,
        )
    ).result(TIMEOUT)
    assert done.execution_state.status == "SUCCEEDED"
    described = client.describe_job_execution(
        iotjobs.DescribeJobExecutionRequest(thing_name=thing, job_id=ota.job_id)
    ).result(TIMEOUT)
    assert described.execution.status == "SUCCEEDED"
