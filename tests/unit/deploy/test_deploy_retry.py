"""Throttling is retried with backoff + jitter on a fake clock; quotas and other errors are not."""

from __future__ import annotations

import random

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError
from fakes_deploy import FakeIot, client_error

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.retry import RetryPolicy, call_aws
from ota_deploy.core.clock import FakeClock
from ota_deploy.core.errors import EXIT_AWS_ERROR, AwsServiceError


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


def test_api_sleep_paces_consecutive_iot_calls() -> None:
    clock = FakeClock()
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        clock.advance(s)

    iot = IotOps(FakeIot(clock), api_sleep_sec=0.05, clock=clock, sleep=sleep)
    for n in range(3):
        iot.describe_job(f"J-{n}")
    assert sleeps == pytest.approx([0.05, 0.05])
    clock.advance(1.0)  # a call long after the previous one does not wait
    iot.describe_job("J-x")
    assert len(sleeps) == 2


def test_delete_job_limit_is_retried_a_few_times_then_reported() -> None:
    clock = FakeClock()
    fake = FakeIot(clock)
    fake.create_job(jobId="J", targets=["t"])
    fake.failures["DeleteJob"] = [client_error("LimitExceededException", "DeleteJob")] * 2
    iot = IotOps(fake, clock=clock, sleep=clock.advance)
    assert iot.delete_job("J") is True  # succeeded on the third attempt
    fake.failures["DeleteJob"] = [client_error("LimitExceededException", "DeleteJob")] * 50
    with pytest.raises(AwsServiceError) as info:
        iot.delete_job("J", limit_retries=3)
    assert "10" in str(info.value)


def test_wait_job_gone_polls_until_not_found_and_times_out() -> None:
    clock = FakeClock()
    fake = FakeIot(clock, delete_polls=4)
    fake.create_job(jobId="J", targets=["t"])
    iot = IotOps(fake, clock=clock, sleep=clock.advance)
    assert iot.remove_job("J") is True
    assert iot.describe_job("J") is None
    assert iot.remove_job("J") is False  # already gone: idempotent
    fake.create_job(jobId="K", targets=["t"])
    fake.delete_polls = 10**6
    iot.delete_job("K")
    with pytest.raises(AwsServiceError) as info:
        iot.wait_job_gone("K", timeout_sec=30)
    assert info.value.code == "WaitTimeout"
