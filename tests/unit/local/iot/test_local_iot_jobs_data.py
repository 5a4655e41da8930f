"""The jobs data plane: what devices call.

Spec: https://docs.aws.amazon.com/iot/latest/apireference/API_Operations_AWS_IoT_Jobs_Data_Plane.html
and https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html
"""

from __future__ import annotations

import json

import pytest

from ota_deploy.local.contracts import AwsError


def test_start_next_describe_and_update(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_StartNextPendingJobExecution.html
    h.things("a")
    h.job("j1", ["a"])
    h.clock.advance(1)
    h.job("j2", ["a"])
    pending = h.data("GetPendingJobExecutions", thingName="a")
    assert [j["jobId"] for j in pending["queuedJobs"]] == ["j1", "j2"]
    assert pending["inProgressJobs"] == []
    nxt = h.data("DescribeJobExecution", jobId="$next", thingName="a")["execution"]
    assert nxt["jobId"] == "j1" and json.loads(nxt["jobDocument"]) == {"operation": "ota"}
    started = h.data(
        "StartNextPendingJobExecution", thingName="a", statusDetails={"step": "download"}
    )["execution"]
    assert started["status"] == "IN_PROGRESS" and started["versionNumber"] == 2
    assert started["statusDetails"] == {"step": "download"}
    assert isinstance(started["queuedAt"], int) and isinstance(started["startedAt"], int)
    # an IN_PROGRESS execution stays the next one
    again = h.data("StartNextPendingJobExecution", thingName="a")["execution"]
    assert again["jobId"] == "j1" and again["versionNumber"] == 2
    out = h.data(
        "UpdateJobExecution",
        jobId="j1",
        thingName="a",
        status="IN_PROGRESS",
        statusDetails={"progress": "50"},
        expectedVersion=2,
        includeJobExecutionState=True,
        includeJobDocument=True,
    )
    assert out["executionState"] == {
        "status": "IN_PROGRESS",
        "statusDetails": {"progress": "50"},
        "versionNumber": 3,
    }
    assert json.loads(out["jobDocument"]) == {"operation": "ota"}
    assert h.data("UpdateJobExecution", jobId="j1", thingName="a", status="SUCCEEDED") == {}
    assert h.data("StartNextPendingJobExecution", thingName="a")["execution"]["jobId"] == "j2"
    h.data("UpdateJobExecution", jobId="j2", thingName="a", status="SUCCEEDED")
    assert h.data("StartNextPendingJobExecution", thingName="a") == {}
    assert h.data("DescribeJobExecution", jobId="$next", thingName="a") == {}
    described = h.data("DescribeJobExecution", jobId="j1", thingName="a", includeJobDocument=False)[
        "execution"
    ]
    assert described["status"] == "SUCCEEDED" and "jobDocument" not in described


def test_stale_expected_version_is_version_conflict_with_state(h) -> None:
    # UpdateJobExecution expectedVersion: "rejected with a VersionMismatch error" (MQTT),
    # VersionConflictException over HTTP; the current state travels with it.
    h.things("a")
    h.job("j", ["a"])
    with pytest.raises(AwsError) as exc:
        h.data(
            "UpdateJobExecution", jobId="j", thingName="a", status="IN_PROGRESS", expectedVersion=7
        )
    assert (exc.value.code, exc.value.status) == ("VersionConflictException", 409)
    assert exc.value.extra["executionState"] == {
        "status": "QUEUED",
        "statusDetails": {},
        "versionNumber": 1,
    }


def test_updating_a_terminal_execution_is_invalid_state_transition(h) -> None:
    h.things("a")
    h.job("j", ["a"])
    h.data(
        "UpdateJobExecution",
        jobId="j",
        thingName="a",
        status="FAILED",
        statusDetails={"reason": "crc"},
    )
    with pytest.raises(AwsError) as exc:
        h.data("UpdateJobExecution", jobId="j", thingName="a", status="SUCCEEDED")
    assert (exc.value.code, exc.value.status) == ("InvalidStateTransitionException", 409)
    assert exc.value.extra["executionState"]["status"] == "FAILED"
    assert exc.value.extra["executionState"]["statusDetails"] == {"reason": "crc"}


@pytest.mark.parametrize("status", ["QUEUED", "TIMED_OUT", "CANCELED", "REMOVED"])
def test_device_cannot_set_service_states(h, status) -> None:
    h.things("a")
    h.job("j", ["a"])
    with pytest.raises(AwsError) as exc:
        h.data("UpdateJobExecution", jobId="j", thingName="a", status=status)
    assert exc.value.code == "InvalidRequestException"


def test_unknown_job_or_thing_is_not_found(h) -> None:
    h.things("a")
    with pytest.raises(AwsError) as exc:
        h.data("UpdateJobExecution", jobId="nope", thingName="a", status="IN_PROGRESS")
    assert (exc.value.code, exc.value.status) == ("ResourceNotFoundException", 404)
    assert h.data("GetPendingJobExecutions", thingName="a") == {
        "inProgressJobs": [],
        "queuedJobs": [],
    }


def test_presigned_placeholders_are_replaced_for_devices_only(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/developerguide/create-manage-jobs.html#create-presigned-url
    h.things("a")
    doc = {
        "files": [
            {"url": "${aws:iot:s3-presigned-url:https://fw.s3.amazonaws.com/v2/app.bin}"},
            {"url": "${aws:iot:s3-presigned-url:s3://fw/v2/boot.bin}"},
        ]
    }
    h.job(
        "j",
        ["a"],
        document=json.dumps(doc),
        presignedUrlConfig={"roleArn": "arn:aws:iam::123456789012:role/ota", "expiresInSec": 600},
    )
    seen = json.loads(
        h.data("StartNextPendingJobExecution", thingName="a")["execution"]["jobDocument"]
    )
    assert seen["files"][0]["url"] == (
        "http://127.0.0.1:4566/fw/v2/app.bin?X-Amz-Expires=600&X-Amz-Signature=x"
    )
    assert seen["files"][1]["url"].startswith("http://127.0.0.1:4566/fw/v2/boot.bin?")
    assert json.loads(h.iot("GetJobDocument", jobId="j")["document"]) == doc
    nxt = h.messages("$aws/things/a/jobs/notify-next")[0]["execution"]["jobDocument"]
    assert nxt["files"][0]["url"].startswith("http://127.0.0.1:4566/fw/v2/app.bin")


def test_step_timeout_reported_as_approximate_seconds(h) -> None:
    h.things("a")
    h.job("j", ["a"], timeoutConfig={"inProgressTimeoutInMinutes": 10})
    ex = h.data("StartNextPendingJobExecution", thingName="a", stepTimeoutInMinutes=3)["execution"]
    assert ex["approximateSecondsBeforeTimedOut"] == 180
    h.clock.advance(60)
    ctl = h.iot("DescribeJobExecution", jobId="j", thingName="a")["execution"]
    assert ctl["approximateSecondsBeforeTimedOut"] == 120


def test_step_timeout_range_for_every_transport(h) -> None:
    # "Valid values for this parameter range from 1 to 10080"; UpdateJobExecution also takes -1
    # (API_iot-jobs-data_StartNextPendingJobExecution.html, ..._UpdateJobExecution.html). The
    # service checks it, so the MQTT path (which skips botocore and the HTTP validation) does too:
    # ``raw`` calls the service as the reserved-topic handler does.
    def raw(operation: str, **params: object) -> dict:
        return h.svc.call("iot-jobs-data", operation, params)

    h.things("a")
    h.job("j", ["a"])
    for bad in (0, -1, 10081, 10**30, "0"):
        with pytest.raises(AwsError) as info:
            raw("StartNextPendingJobExecution", thingName="a", stepTimeoutInMinutes=bad)
        assert info.value.code == "InvalidRequestException"
        assert "'stepTimeoutInMinutes'" in info.value.message
    assert h.data("DescribeJobExecution", jobId="j", thingName="a")["execution"]["status"] == (
        "QUEUED"  # a refused start-next starts nothing
    )
    raw("StartNextPendingJobExecution", thingName="a", stepTimeoutInMinutes="10080")
    for bad, bound in ((0, "greater than or equal to 1"), (10081, "less than or equal to 10080")):
        with pytest.raises(AwsError) as info:
            raw("UpdateJobExecution", jobId="j", thingName="a", status="IN_PROGRESS",
                stepTimeoutInMinutes=bad)  # fmt: skip
        assert info.value.message == (
            f"1 validation error detected: Value '{bad}' at 'stepTimeoutInMinutes' failed to "
            f"satisfy constraint: Member must have value {bound} (or be -1)"
        )
    for good in (1, -1, 10080):
        raw("UpdateJobExecution", jobId="j", thingName="a", status="IN_PROGRESS",
            stepTimeoutInMinutes=good)  # fmt: skip
    ex = h.data("DescribeJobExecution", jobId="j", thingName="a")["execution"]
    assert ex["approximateSecondsBeforeTimedOut"] == 10080 * 60
