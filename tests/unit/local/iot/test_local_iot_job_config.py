"""Typed job configurations (``job_config``): parsed once, serialised back unchanged.

Spec: the member names and types of botocore's ``iot`` model (``JobExecutionsRolloutConfig``,
``AbortConfig``, ``TimeoutConfig``, ``JobExecutionsRetryConfig``, ``PresignedUrlConfig``),
https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html .
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters
from hypothesis import given
from hypothesis import strategies as st

from ota_deploy.core.job_config import (
    AbortConfig,
    ConfigError,
    JobConfigs,
    RetryConfig,
)
from ota_deploy.core.status import ExecutionStatus, FailureType
from ota_deploy.local.contracts import AwsError

CREATE_JOB = botocore.session.get_session().get_service_model("iot").operation_model("CreateJob")

COUNT = st.integers(min_value=1, max_value=10_000)
PERCENT = st.one_of(
    st.integers(min_value=0, max_value=100),
    st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False),
)
RATE_INCREASE = st.one_of(
    st.fixed_dictionaries({"numberOfNotifiedThings": COUNT}),
    st.fixed_dictionaries({"numberOfSucceededThings": COUNT}),
)
EXPONENTIAL = st.fixed_dictionaries(
    {
        "baseRatePerMinute": st.integers(min_value=1, max_value=1000),
        "incrementFactor": st.floats(min_value=1.1, max_value=5.0, allow_nan=False),
        "rateIncreaseCriteria": RATE_INCREASE,
    }
)
ROLLOUT = st.fixed_dictionaries(
    {},
    optional={
        "maximumPerMinute": st.integers(min_value=1, max_value=1000),
        "exponentialRate": EXPONENTIAL,
    },
)
ABORT = st.fixed_dictionaries(
    {
        "criteriaList": st.lists(
            st.fixed_dictionaries(
                {
                    "failureType": st.sampled_from([t.value for t in FailureType]),
                    "action": st.just("CANCEL"),
                    "thresholdPercentage": PERCENT,
                    "minNumberOfExecutedThings": COUNT,
                }
            ),
            min_size=1,
            max_size=4,
        )
    }
)
TIMEOUT = st.fixed_dictionaries(
    {}, optional={"inProgressTimeoutInMinutes": st.integers(min_value=1, max_value=10080)}
)
RETRY = st.fixed_dictionaries(
    {
        "criteriaList": st.lists(
            st.fixed_dictionaries(
                {
                    "failureType": st.sampled_from(["FAILED", "TIMED_OUT", "ALL"]),
                    "numberOfRetries": st.integers(min_value=0, max_value=10),
                }
            ),
            min_size=1,
            max_size=2,
        )
    }
)
PRESIGNED = st.fixed_dictionaries(
    {},
    optional={
        "roleArn": st.just("arn:aws:iam::123456789012:role/ota"),
        "expiresInSec": st.integers(min_value=60, max_value=3600),
    },
)
CONFIGS = st.fixed_dictionaries(
    {},
    optional={
        "presignedUrlConfig": PRESIGNED,
        "jobExecutionsRolloutConfig": ROLLOUT,
        "abortConfig": ABORT,
        "timeoutConfig": TIMEOUT,
        "jobExecutionsRetryConfig": RETRY,
    },
)


def _same(a: Any, b: Any) -> bool:
    """Equal, and every number of the same type (60 stays 60, 60.5 stays 60.5)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


@given(CONFIGS)
def test_parse_then_serialise_gives_back_the_params(params: dict[str, Any]) -> None:
    assert set(params) <= set(CREATE_JOB.input_shape.members)
    validate_parameters({"jobId": "j", "targets": ["t"], **params}, CREATE_JOB.input_shape)
    assert _same(JobConfigs.from_params(params).to_params(), params)


@given(CONFIGS, CONFIGS)
def test_update_replaces_only_the_configurations_given(old: dict, new: dict) -> None:
    merged = JobConfigs.from_params(old).updated(JobConfigs.from_params(new)).to_params()
    assert merged == {**old, **new}


def test_typed_fields_are_read_once() -> None:
    cfg = JobConfigs.from_params(
        {
            "jobExecutionsRolloutConfig": {
                "maximumPerMinute": 50,
                "exponentialRate": {
                    "baseRatePerMinute": 5,
                    "incrementFactor": 2.0,
                    "rateIncreaseCriteria": {"numberOfSucceededThings": 10},
                },
            },
            "timeoutConfig": {"inProgressTimeoutInMinutes": 3},
            "presignedUrlConfig": {},
        }
    )
    assert cfg.rollout is not None and cfg.rollout.maximum_per_minute == 50
    assert cfg.rollout.exponential is not None
    assert cfg.rollout.exponential.increase.succeeded_things == 10
    assert cfg.rollout.exponential.increase.notified_things is None
    assert cfg.timeout is not None and cfg.timeout.in_progress_minutes == 3
    assert cfg.presigned_url is not None and cfg.presigned_url.empty
    assert cfg.abort is None and cfg.retry is None


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"abortConfig": {}}, "abortConfig.criteriaList"),
        ({"abortConfig": {"criteriaList": [{"failureType": "FAILED"}]}}, "action"),
        ({"jobExecutionsRetryConfig": {"criteriaList": [{"numberOfRetries": 1}]}}, "failureType"),
        (
            {"jobExecutionsRolloutConfig": {"exponentialRate": {"baseRatePerMinute": 1}}},
            "incrementFactor",
        ),
        ({"timeoutConfig": "soon"}, "timeoutConfig must be a structure"),
        ({"abortConfig": {"criteriaList": 7}}, "abortConfig is malformed"),
        (
            {"jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "LATE"}]}},
            "jobExecutionsRetryConfig: 'LATE'",
        ),
    ],
)
def test_a_malformed_config_names_its_member(params: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        JobConfigs.from_params(params)


def test_a_malformed_config_is_an_invalid_request(h) -> None:
    h.things("a")
    with pytest.raises(AwsError) as err:
        h.svc.call(
            "iot",
            "CreateJob",
            {"jobId": "j", "targets": [h.thing_arn("a")], "document": "{}", "abortConfig": {}},
        )
    assert err.value.code == "InvalidRequestException"
    assert "abortConfig.criteriaList is required" in err.value.message
    assert "j" not in h.svc.engine.jobs


def test_retry_criterion_prefers_the_exact_failure_type_over_all() -> None:
    cfg = RetryConfig.from_wire(
        {
            "criteriaList": [
                {"failureType": "ALL", "numberOfRetries": 1},
                {"failureType": "TIMED_OUT", "numberOfRetries": 3},
            ]
        }
    )
    timed_out = cfg.criterion_for(ExecutionStatus.TIMED_OUT)
    failed = cfg.criterion_for(ExecutionStatus.FAILED)
    assert timed_out is not None and timed_out.retries == 3
    assert failed is not None and failed.failure_type is FailureType.ALL
    only_failed = RetryConfig.from_wire(
        {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]}
    )
    assert only_failed.criterion_for(ExecutionStatus.TIMED_OUT) is None


def test_abort_criterion_needs_its_minimum_then_the_threshold() -> None:
    cfg = AbortConfig.from_wire(
        {
            "criteriaList": [
                {
                    "failureType": "REJECTED",
                    "action": "CANCEL",
                    "thresholdPercentage": 50,
                    "minNumberOfExecutedThings": 4,
                }
            ]
        }
    )
    E = ExecutionStatus
    assert cfg.first_met({E.REJECTED: 3}) is None  # 3 executed: under the minimum
    assert cfg.first_met({E.REJECTED: 1, E.SUCCEEDED: 3, E.QUEUED: 9}) is None  # 25%
    met = cfg.first_met({E.REJECTED: 2, E.SUCCEEDED: 2, E.CANCELED: 5})
    assert met is not None and met[1:] == (2, 4)  # canceled ones never ran: not executed


def test_describe_job_and_the_saved_state_keep_the_given_dicts(h) -> None:
    h.things("a")
    given_configs = {
        "presignedUrlConfig": {"roleArn": "arn:aws:iam::123456789012:role/r", "expiresInSec": 60},
        "jobExecutionsRolloutConfig": {"maximumPerMinute": 7},
        "abortConfig": {
            "criteriaList": [
                {
                    "failureType": "ALL",
                    "action": "CANCEL",
                    "thresholdPercentage": 60,
                    "minNumberOfExecutedThings": 2,
                }
            ]
        },
        "timeoutConfig": {"inProgressTimeoutInMinutes": 5},
        "jobExecutionsRetryConfig": {
            "criteriaList": [{"failureType": "TIMED_OUT", "numberOfRetries": 2}]
        },
    }
    h.job("j", ["a"], **given_configs)
    described = h.iot("DescribeJob", jobId="j")["job"]
    assert _same({m: described[m] for m in given_configs}, given_configs)
    (saved,) = h.svc.dump_state()["jobs"]
    assert saved["rollout_config"] == given_configs["jobExecutionsRolloutConfig"]
    assert saved["abort_config"] == given_configs["abortConfig"]
    assert saved["timeout_config"] == given_configs["timeoutConfig"]
    assert saved["retry_config"] == given_configs["jobExecutionsRetryConfig"]
    assert saved["presigned_url_config"] == given_configs["presignedUrlConfig"]
    assert "configs" not in saved
    described["abortConfig"]["criteriaList"].clear()  # a caller's copy, not the record
    assert h.iot("DescribeJob", jobId="j")["job"]["abortConfig"] == given_configs["abortConfig"]
