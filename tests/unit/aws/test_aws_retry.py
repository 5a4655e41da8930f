"""Throttling is retried with backoff + jitter on a fake clock; quotas and other errors are not.

``IotOps``'s pacing and waits run against the real pair (boto3 joined in memory to the local
AWS IoT on a FakeClock, tests/support/aws_pair.py): the jobs-deleting quota and the deletion
lifecycle are the service's own."""

from __future__ import annotations

import random

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from tests.support.aws_pair import AwsPair

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.retry import RetryPolicy, call_aws
from ota_deploy.core.aws_model import documented
from ota_deploy.core.errors import EXIT_AWS_ERROR, AwsServiceError


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} message"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


def test_throttling_is_retried_with_growing_jittered_backoff() -> None:
    sleeps: list[float] = []
    failures = [client_error("ThrottlingException", "CreateJob", 429)] * 3

    def op() -> str:
        if failures:
            raise failures.pop()
        return "ok"

    policy = RetryPolicy(attempts=5, base_sec=1.0, cap_sec=20.0)
    assert (
        call_aws(op, "CreateJob", policy=policy, sleep=sleeps.append, rng=random.Random(1)) == "ok"
    )
    assert len(sleeps) == 3
    for attempt, pause in enumerate(sleeps):
        assert 0.0 <= pause <= min(20.0, 2.0**attempt)  # full jitter within the envelope


def test_throttling_gives_up_after_the_policy_with_a_clear_error() -> None:
    sleeps: list[float] = []

    def op() -> None:
        raise client_error("ThrottlingException", "CreateJob", 429)

    with pytest.raises(AwsServiceError) as info:
        call_aws(op, "CreateJob", policy=RetryPolicy(attempts=2), sleep=sleeps.append)
    assert len(sleeps) == 2
    assert info.value.code == "ThrottlingException" and info.value.operation == "CreateJob"
    assert info.value.exit_code == EXIT_AWS_ERROR
    assert "CreateJob" in str(info.value)


def test_limit_exceeded_is_reported_not_retried() -> None:
    calls: list[int] = []

    def op() -> None:
        calls.append(1)
        raise client_error("LimitExceededException", "CreateJob")

    with pytest.raises(AwsServiceError) as info:
        call_aws(op, "CreateJob", sleep=lambda s: None)
    assert calls == [1]
    assert "quota" in str(info.value) and info.value.code == "LimitExceededException"


def test_5xx_is_retried() -> None:
    failures = [client_error("InternalFailureException", "DescribeJob", 500)]

    def op() -> int:
        if failures:
            raise failures.pop()
        return 1

    assert call_aws(op, "DescribeJob", sleep=lambda s: None) == 1


def test_botocore_errors_become_service_errors_without_secrets() -> None:
    def no_creds() -> None:
        raise NoCredentialsError()

    with pytest.raises(AwsServiceError) as info:
        call_aws(no_creds, "CreateJob", sleep=lambda s: None)
    assert "credentials" in str(info.value) and info.value.code == "NoCredentials"

    def no_endpoint() -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    with pytest.raises(AwsServiceError):
        call_aws(no_endpoint, "CreateJob", sleep=lambda s: None)


def _pair_with_a_thing() -> AwsPair:
    pair = AwsPair()
    pair.call("iot", "CreateThing", thingName="t")
    return pair


def _create_job(pair: AwsPair, job_id: str) -> None:
    """A job for thing ``t`` (one QUEUED execution: deleting it takes a tick of the service)."""
    arn = f"arn:aws:iot:{pair.region}:{pair.account}:thing/t"
    pair.call("iot", "CreateJob", jobId=job_id, targets=[arn], document="{}")


def _deleting_jobs(pair: AwsPair, count: int, prefix: str) -> None:
    """``count`` jobs left DELETION_IN_PROGRESS: they finish at the service's next tick."""
    for n in range(count):
        _create_job(pair, f"{prefix}-{n}")
        pair.call("iot", "DeleteJob", jobId=f"{prefix}-{n}", force=True)


def test_api_sleep_paces_consecutive_iot_calls() -> None:
    pair = AwsPair()
    clock = pair.clock
    iot = IotOps(pair.client("iot"), api_sleep_sec=0.05, clock=clock)  # waits: clock.sleep
    for n in range(3):
        iot.describe_job(f"J-{n}")
    assert clock.slept == pytest.approx([0.05, 0.05])
    clock.advance(1.0)  # a call long after the previous one does not wait
    iot.describe_job("J-x")
    assert len(clock.slept) == 2


def test_delete_job_limit_is_retried_a_few_times_then_reported() -> None:
    pair = _pair_with_a_thing()
    limit = documented("jobs_deleting_max")  # AWS: at most 10 jobs deleting at once
    _deleting_jobs(pair, limit, "busy")
    _create_job(pair, "J")
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        pair.clock.advance(seconds)
        if len(slept) == 2:
            pair.svc.tick()  # the other deletions finish while the caller backs off

    iot = IotOps(pair.client("iot"), clock=pair.clock, sleep=sleep)
    assert iot.delete_job("J") is True  # succeeded on the third attempt
    assert len(slept) == 2
    _deleting_jobs(pair, limit - 1, "more")  # with J: the quota is full again
    _create_job(pair, "K")
    iot = IotOps(pair.client("iot"), clock=pair.clock)  # nothing finishes meanwhile
    with pytest.raises(AwsServiceError) as info:
        iot.delete_job("K", limit_retries=3)
    assert "10" in str(info.value)


def test_wait_job_gone_polls_until_not_found_and_times_out() -> None:
    pair = _pair_with_a_thing()

    def sleep(seconds: float) -> None:  # time passes and the service works meanwhile
        pair.clock.advance(seconds)
        pair.svc.tick()

    iot = IotOps(pair.client("iot"), clock=pair.clock, sleep=sleep)
    _create_job(pair, "J")
    assert iot.remove_job("J") is True
    assert iot.describe_job("J") is None
    assert iot.remove_job("J") is False  # already gone: idempotent
    _create_job(pair, "K")
    iot = IotOps(pair.client("iot"), clock=pair.clock)  # the service never ticks: K stays
    iot.delete_job("K")
    with pytest.raises(AwsServiceError) as info:
        iot.wait_job_gone("K", timeout_sec=30)
    assert info.value.code == "WaitTimeout"
