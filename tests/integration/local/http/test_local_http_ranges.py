"""CreateJob's (and UpdateJob's, and the jobs data plane's) numeric ranges, as boto3 meets them.

Issue 11 §4: ``maximumPerMinute`` 1-1000, ``inProgressTimeoutInMinutes`` 1-10080 and the
model's own ranges (``baseRatePerMinute``, ``incrementFactor``, ``numberOfRetries``,
``expiresInSec``, the thresholds) are enforced by the server: a value out of range is
InvalidRequestException naming the member, and the edge values pass. The client skips
botocore's own checks (``validate=False``, as SDKs without client-side validation do), so what
answers is the local AWS IoT.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

THING = "arn:aws:iot:us-east-1:123456789012:thing/t1"
ROLE = "arn:aws:iam::123456789012:role/ota"


def rollout(**rate: Any) -> dict[str, Any]:
    base = {"baseRatePerMinute": 10, "incrementFactor": 2.0}
    criteria = {"rateIncreaseCriteria": {"numberOfNotifiedThings": rate.pop("notified", 1)}}
    return {"jobExecutionsRolloutConfig": {"exponentialRate": {**base, **criteria, **rate}}}


def abort(**crit: Any) -> dict[str, Any]:
    base = {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 50.0}
    return {"abortConfig": {"criteriaList": [{**base, "minNumberOfExecutedThings": 1, **crit}]}}


def retry(n: Any) -> dict[str, Any]:
    criterion = {"failureType": "FAILED", "numberOfRetries": n}
    return {"jobExecutionsRetryConfig": {"criteriaList": [criterion]}}


def presigned(seconds: Any) -> dict[str, Any]:
    return {"presignedUrlConfig": {"roleArn": ROLE, "expiresInSec": seconds}}


def per_minute(n: Any) -> dict[str, Any]:
    return {"jobExecutionsRolloutConfig": {"maximumPerMinute": n}}


def timeout(n: Any) -> dict[str, Any]:
    return {"timeoutConfig": {"inProgressTimeoutInMinutes": n}}


GE, LE, INT32 = "greater than or equal to", "less than or equal to", 2**31 - 1
RATE = "jobExecutionsRolloutConfig.exponentialRate"
PER_MINUTE = "jobExecutionsRolloutConfig.maximumPerMinute"
TIMEOUT = "timeoutConfig.inProgressTimeoutInMinutes"
NOTIFIED = f"{RATE}.rateIncreaseCriteria.numberOfNotifiedThings"
CRITERION = "criteriaList.1.member"
ABORT, RETRIES = f"abortConfig.{CRITERION}", f"jobExecutionsRetryConfig.{CRITERION}"

# (member path, config, the constraint AWS's message states)
BAD = [
    (PER_MINUTE, per_minute(10**30), f"{LE} 1000"),
    (PER_MINUTE, per_minute(1e30), "Member must be an integer"),
    (PER_MINUTE, per_minute(-1), f"{GE} 1"),
    (PER_MINUTE, per_minute(0), f"{GE} 1"),
    (PER_MINUTE, per_minute(1001), f"{LE} 1000"),
    (TIMEOUT, timeout(10**30), f"{LE} 10080"),
    (TIMEOUT, timeout(-1), f"{GE} 1"),
    (TIMEOUT, timeout(0), f"{GE} 1"),
    (TIMEOUT, timeout(10081), f"{LE} 10080"),
    (f"{RATE}.baseRatePerMinute", rollout(baseRatePerMinute=0), f"{GE} 1"),
    (f"{RATE}.baseRatePerMinute", rollout(baseRatePerMinute=1001), f"{LE} 1000"),
    (f"{RATE}.incrementFactor", rollout(incrementFactor=1e30), f"{LE} 5"),
    (f"{RATE}.incrementFactor", rollout(incrementFactor=-1.0), f"{GE} 1.1"),
    (NOTIFIED, rollout(notified=10**30), f"{LE} {INT32}"),
    (NOTIFIED, rollout(notified=0), f"{GE} 1"),
    (f"{ABORT}.minNumberOfExecutedThings", abort(minNumberOfExecutedThings=2**40), f"{LE} {INT32}"),
    (f"{ABORT}.thresholdPercentage", abort(thresholdPercentage=1e30), f"{LE} 100"),
    (f"{ABORT}.thresholdPercentage", abort(thresholdPercentage=10.999), "at most 2 digits after"),
    (f"{RATE}.incrementFactor", rollout(incrementFactor=1.55), "at most 1 digit after"),
    (f"{RETRIES}.numberOfRetries", retry(-1), f"{GE} 0"),
    (f"{RETRIES}.numberOfRetries", retry(11), f"{LE} 10"),
    ("presignedUrlConfig.expiresInSec", presigned(59), f"{GE} 60"),
    ("presignedUrlConfig.expiresInSec", presigned(10**30), f"{LE} 3600"),
]  # fmt: skip

EDGES = [
    per_minute(1),
    per_minute(1000),
    timeout(1),
    timeout(10080),
    rollout(baseRatePerMinute=1, incrementFactor=1.1),
    rollout(baseRatePerMinute=1000, incrementFactor=5.0),
    abort(thresholdPercentage=100.0, minNumberOfExecutedThings=INT32),
    abort(thresholdPercentage=10.99),
    rollout(incrementFactor=1.5),
    retry(0),
    retry(10),
    presigned(60),
    presigned(3600),
]


@pytest.fixture(scope="module")
def iot(control_plane_module: Callable[..., Any]) -> Any:
    plane = control_plane_module()
    client = plane.client("iot", attempts=1, validate=False)
    client.create_thing(thingName="t1")
    return client


def test_out_of_range_values_are_invalid_requests_naming_the_member(iot: Any) -> None:
    for number, (member, config, constraint) in enumerate(BAD):
        with pytest.raises(ClientError) as info:
            iot.create_job(jobId=f"bad-{number}", targets=[THING], document="{}", **config)
        error = info.value.response["Error"]
        assert error["Code"] == "InvalidRequestException", (member, error)
        assert f"at '{member}' failed to satisfy constraint" in error["Message"], (member, error)
        assert constraint in error["Message"], (member, error)
    assert iot.list_jobs()["jobs"] == []  # nothing was created


def test_edge_values_pass(iot: Any) -> None:
    for number, config in enumerate(EDGES):
        iot.create_job(jobId=f"edge-{number}", targets=[THING], document="{}", **config)
    assert len(iot.list_jobs()["jobs"]) == len(EDGES)


def test_update_job_meets_the_same_ranges(iot: Any) -> None:
    iot.create_job(jobId="to-update", targets=[THING], document="{}")
    with pytest.raises(iot.exceptions.InvalidRequestException, match="maximumPerMinute"):
        iot.update_job(jobId="to-update", **per_minute(1001))
    iot.update_job(jobId="to-update", **per_minute(1000))
    described = iot.describe_job(jobId="to-update")["job"]
    assert described["jobExecutionsRolloutConfig"]["maximumPerMinute"] == 1000


def test_step_timeouts_of_the_jobs_data_plane(control_plane: Callable[..., Any]) -> None:
    plane = control_plane()
    iot = plane.client("iot", attempts=1)
    jobs = plane.client("iot-jobs-data", attempts=1, validate=False)
    iot.create_thing(thingName="t1")
    iot.create_job(jobId="steps", targets=[THING], document="{}")
    for bad in (0, -1, 10081):
        with pytest.raises(jobs.exceptions.InvalidRequestException, match="stepTimeoutInMinutes"):
            jobs.start_next_pending_job_execution(thingName="t1", stepTimeoutInMinutes=bad)
    started = jobs.start_next_pending_job_execution(thingName="t1", stepTimeoutInMinutes=10080)
    assert started["execution"]["jobId"] == "steps"
    for bad in (0, -2, 10081):
        with pytest.raises(jobs.exceptions.InvalidRequestException, match="or be -1"):
            jobs.update_job_execution(
                jobId="steps", thingName="t1", status="IN_PROGRESS", stepTimeoutInMinutes=bad
            )
    for good in (1, -1):  # -1 cancels the step timer (API_iot-jobs-data_UpdateJobExecution)
        jobs.update_job_execution(
            jobId="steps", thingName="t1", status="IN_PROGRESS", stepTimeoutInMinutes=good
        )
