"""AWS's limits on what devices send the jobs data plane, over HTTP: botocore's own client
(``AwsPair``), a raw HTTP request for what botocore would not send, and the service itself
(the MQTT handler skips botocore's validation; tests/unit/local/reserved checks that path).

Spec: API_iot-jobs-data_UpdateJobExecution.html ("The maximum length of the value in the
name/value pair is 1,024 characters"; DetailsKey / DetailsValue), API_CancelJobExecution.html
(at most 10 name/value pairs), https://docs.aws.amazon.com/iot/latest/developerguide/job-limits.html
(GetPendingJobExecutions returns up to 10), and AWS's embedded C Jobs library, whose
``Jobs_UpdateMsg`` writes ``"expectedVersion":"<n>"`` (a JSON string).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.support.aws_pair import AwsPair

from ota_deploy.local.contracts import AwsError


@pytest.fixture
def pair() -> AwsPair:
    p = AwsPair()
    arn = p.call("iot", "CreateThing", thingName="dev")["thingArn"]
    for i in range(12):
        p.call("iot", "CreateJob", jobId=f"job-{i:02d}", targets=[arn], document='{"op": "x"}')
        p.clock.advance(1)
    return p


@pytest.fixture
def data(pair: AwsPair) -> Any:
    return pair.client("iot-jobs-data", max_attempts=1)


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def raw(pair: AwsPair, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A request botocore would never send, straight into the HTTP front end."""
    fe = pair.front_ends["iot-jobs-data"]
    reply = fe.handle(
        method, path, [], {"content-type": "application/json"}, json.dumps(body).encode()
    )
    out = json.loads(reply.body or b"{}")
    if "x-amzn-ErrorType" in reply.headers:
        out["code"] = reply.headers["x-amzn-ErrorType"]
    return reply.status, out


def test_get_pending_returns_at_most_ten(pair: AwsPair, data: Any) -> None:
    pending = data.get_pending_job_executions(thingName="dev")
    assert pending["inProgressJobs"] == []
    assert [j["jobId"] for j in pending["queuedJobs"]] == [f"job-{i:02d}" for i in range(10)]
    data.start_next_pending_job_execution(thingName="dev")  # job-00 IN_PROGRESS
    pending = data.get_pending_job_executions(thingName="dev")
    assert [j["jobId"] for j in pending["inProgressJobs"]] == ["job-00"]
    assert [j["jobId"] for j in pending["queuedJobs"]] == [f"job-{i:02d}" for i in range(1, 10)]
    for i in range(12):  # every execution IN_PROGRESS: still ten
        data.update_job_execution(thingName="dev", jobId=f"job-{i:02d}", status="IN_PROGRESS")
    pending = data.get_pending_job_executions(thingName="dev")
    assert len(pending["inProgressJobs"]) == 10 and pending["queuedJobs"] == []


@pytest.mark.parametrize(
    "details",
    [
        {"k": "x" * 1025},  # one past the documented 1,024
        {"k": "x" * 5000},
        {f"k{i}": "v" for i in range(11)},  # one pair past ten
    ],
    ids=["1025-chars", "5000-chars", "11-pairs"],
)
def test_status_details_past_the_limits_are_refused(
    pair: AwsPair, data: Any, details: dict
) -> None:
    for call in (
        lambda: data.update_job_execution(
            thingName="dev", jobId="job-00", status="IN_PROGRESS", statusDetails=details
        ),
        lambda: data.start_next_pending_job_execution(thingName="dev", statusDetails=details),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code_of(exc) == ("InvalidRequestException", 400)
        assert "x" * 200 not in exc.value.response["Error"]["Message"]  # never echoed whole
    # nothing was stored or acknowledged
    got = data.describe_job_execution(thingName="dev", jobId="job-00")["execution"]
    assert got["status"] == "QUEUED" and "statusDetails" not in got


def test_status_details_within_the_limits_are_kept(data: Any) -> None:
    details = {f"k:{i}_-": "é" * 1024 for i in range(10)}
    out = data.update_job_execution(
        thingName="dev",
        jobId="job-00",
        status="IN_PROGRESS",
        statusDetails=details,
        includeJobExecutionState=True,
    )
    assert out["executionState"]["statusDetails"] == details


@pytest.mark.parametrize(
    ("details", "why"),
    [
        ({"bad key": "v"}, "key pattern"),
        ({"k": "a\u0007b"}, "control character"),
        ({"k": ""}, "empty"),
    ],
)
def test_status_details_keys_and_values_follow_the_model(
    pair: AwsPair, details: dict, why: str
) -> None:
    status, body = raw(
        pair, "POST", "/things/dev/jobs/job-00", {"status": "IN_PROGRESS", "statusDetails": details}
    )
    assert (status, body["code"]) == (400, "InvalidRequestException"), why
    with pytest.raises(AwsError) as exc:  # the service refuses it by itself too
        pair.call(
            "iot-jobs-data",
            "UpdateJobExecution",
            thingName="dev",
            jobId="job-00",
            status="IN_PROGRESS",
            statusDetails=details,
        )
    assert exc.value.code == "InvalidRequestException", why


def test_expected_version_as_a_numeric_string(pair: AwsPair) -> None:
    status, body = raw(
        pair,
        "POST",
        "/things/dev/jobs/job-00",
        {"status": "IN_PROGRESS", "expectedVersion": "1", "includeJobExecutionState": True},
    )
    assert (status, body["executionState"]["versionNumber"]) == (200, 2)
    status, body = raw(
        pair, "POST", "/things/dev/jobs/job-00", {"status": "SUCCEEDED", "expectedVersion": "1"}
    )
    # stale, as with a number: the data plane's model names this conflict
    # InvalidStateTransitionException (it has no VersionConflictException)
    assert (status, body["code"]) == (409, "InvalidStateTransitionException")
    assert body["executionState"]["versionNumber"] == 2
    out = pair.call(
        "iot-jobs-data",
        "UpdateJobExecution",
        thingName="dev",
        jobId="job-00",
        status="SUCCEEDED",
        expectedVersion="2",
    )
    assert out == {}
    with pytest.raises(AwsError) as exc:
        pair.call(
            "iot-jobs-data",
            "UpdateJobExecution",
            thingName="dev",
            jobId="job-01",
            status="IN_PROGRESS",
            expectedVersion="two",
        )
    assert exc.value.code == "InvalidRequestException"


def test_unknown_status_is_invalid_request_inside_the_service(pair: AwsPair) -> None:
    for status in ("DONE", "succeeded", 3):
        with pytest.raises(AwsError) as exc:
            pair.call(
                "iot-jobs-data",
                "UpdateJobExecution",
                thingName="dev",
                jobId="job-00",
                status=status,
            )
        assert (exc.value.code, exc.value.status) == ("InvalidRequestException", 400)
