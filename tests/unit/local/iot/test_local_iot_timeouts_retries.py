"""In-progress and step timeouts, and execution retries.

Spec: https://docs.aws.amazon.com/iot/latest/apireference/API_TimeoutConfig.html (timer starts at
IN_PROGRESS, expiry gives TIMED_OUT), stepTimeoutInMinutes in
https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_UpdateJobExecution.html
(a new value replaces the step timer; -1 clears it; DESIGN.md: never beyond the in-progress
deadline), https://docs.aws.amazon.com/iot/latest/apireference/API_RetryCriteria.html and
https://docs.aws.amazon.com/iot/latest/developerguide/jobs-configurations-details.html (retries:
FAILED, TIMED_OUT or ALL, at most 10; a retry is a new executionNumber, QUEUED again).
"""

from __future__ import annotations

import pytest

from ota_deploy.local.contracts import AwsError


def test_in_progress_timeout(h) -> None:
    h.things("a", "b")
    h.job("j", ["a", "b"], timeoutConfig={"inProgressTimeoutInMinutes": 2})
    h.data("StartNextPendingJobExecution", thingName="a")
    h.advance(119)
    assert h.status("j", "a") == "IN_PROGRESS"
    h.advance(1)
    assert h.status("j", "a") == "TIMED_OUT"
    h.advance(3600)
    assert h.status("j", "b") == "QUEUED"  # the timer starts at IN_PROGRESS only
    with pytest.raises(AwsError) as exc:
        h.data("UpdateJobExecution", jobId="j", thingName="a", status="SUCCEEDED")
    assert exc.value.code == "InvalidStateTransitionException"
    assert exc.value.extra["executionState"]["status"] == "TIMED_OUT"


def test_step_timeout_replaced_and_cleared(h) -> None:
    h.things("a", "b", "c")
    h.job("j", ["a", "b", "c"])
    h.data("StartNextPendingJobExecution", thingName="a", stepTimeoutInMinutes=1)
    h.advance(30)
    h.data(
        "UpdateJobExecution", jobId="j", thingName="a", status="IN_PROGRESS", stepTimeoutInMinutes=5
    )  # new deadline: 30 + 300
    h.advance(299)
    assert h.status("j", "a") == "IN_PROGRESS"
    h.advance(1)
    assert h.status("j", "a") == "TIMED_OUT"
    h.data("StartNextPendingJobExecution", thingName="b", stepTimeoutInMinutes=1)
    h.data(
        "UpdateJobExecution",
        jobId="j",
        thingName="b",
        status="IN_PROGRESS",
        stepTimeoutInMinutes=-1,
    )
    h.advance(3600)
    assert h.status("j", "b") == "IN_PROGRESS"
    # an update without stepTimeoutInMinutes keeps the current step timer
    h.data("StartNextPendingJobExecution", thingName="c", stepTimeoutInMinutes=2)
    h.advance(60)
    h.data("UpdateJobExecution", jobId="j", thingName="c", status="IN_PROGRESS")
    h.advance(60)
    assert h.status("j", "c") == "TIMED_OUT"


def test_step_timer_never_outlives_in_progress_deadline(h) -> None:
    h.things("a")
    h.job("j", ["a"], timeoutConfig={"inProgressTimeoutInMinutes": 3})
    h.data("StartNextPendingJobExecution", thingName="a", stepTimeoutInMinutes=10)
    h.advance(179)
    assert h.status("j", "a") == "IN_PROGRESS"
    h.advance(1)
    assert h.status("j", "a") == "TIMED_OUT"


def test_retry_failed_gives_new_execution_numbers(h) -> None:
    h.things("a")
    h.job(
        "j",
        ["a"],
        jobExecutionsRetryConfig={
            "criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]
        },
    )
    numbers = []
    for attempt in range(3):
        ex = h.data("StartNextPendingJobExecution", thingName="a")["execution"]
        numbers.append(ex["executionNumber"])
        h.data("UpdateJobExecution", jobId="j", thingName="a", status="FAILED")
        summary = h.iot("ListJobExecutionsForJob", jobId="j")["executionSummaries"][0]
        if attempt < 2:
            assert summary["jobExecutionSummary"]["status"] == "QUEUED"
            assert summary["jobExecutionSummary"]["retryAttempt"] == attempt + 1
            assert h.counts("j") == {"Queued": 1}
    assert numbers == [1, 2, 3]
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "COMPLETED"
    assert h.counts("j") == {"Failed": 1}
    old = h.iot("DescribeJobExecution", jobId="j", thingName="a", executionNumber=1)
    assert old["execution"]["status"] == "FAILED"
    # each retry reached the device as a new head of its queue
    heads = [
        m["execution"]["executionNumber"]
        for m in h.messages("$aws/things/a/jobs/notify-next")
        if "execution" in m
    ]
    assert heads == [1, 2, 3]


def test_retry_timed_out_via_all_and_rejected_never(h) -> None:
    h.things("a", "b")
    h.job(
        "j",
        ["a", "b"],
        timeoutConfig={"inProgressTimeoutInMinutes": 1},
        jobExecutionsRetryConfig={"criteriaList": [{"failureType": "ALL", "numberOfRetries": 1}]},
    )
    h.data("StartNextPendingJobExecution", thingName="a")
    h.advance(60)
    assert h.status("j", "a") == "QUEUED"
    h.data("UpdateJobExecution", jobId="j", thingName="b", status="REJECTED")
    assert h.status("j", "b") == "REJECTED"
    h.data("StartNextPendingJobExecution", thingName="a")
    h.advance(60)
    assert h.status("j", "a") == "TIMED_OUT"
    assert h.counts("j") == {"TimedOut": 1, "Rejected": 1}


def test_separate_budgets_per_failure_type(h) -> None:
    h.things("a")
    h.job(
        "j",
        ["a"],
        timeoutConfig={"inProgressTimeoutInMinutes": 1},
        jobExecutionsRetryConfig={
            "criteriaList": [
                {"failureType": "FAILED", "numberOfRetries": 1},
                {"failureType": "TIMED_OUT", "numberOfRetries": 1},
            ]
        },
    )
    h.data("UpdateJobExecution", jobId="j", thingName="a", status="FAILED")
    h.data("StartNextPendingJobExecution", thingName="a")
    h.advance(60)  # TIMED_OUT has its own retry left
    assert h.status("j", "a") == "QUEUED"
    h.data("UpdateJobExecution", jobId="j", thingName="a", status="FAILED")
    assert h.status("j", "a") == "FAILED"


def test_more_than_ten_retries_refused(h) -> None:
    h.things("a")
    with pytest.raises(AwsError) as exc:
        h.job(
            "j",
            ["a"],
            jobExecutionsRetryConfig={
                "criteriaList": [
                    {"failureType": "FAILED", "numberOfRetries": 6},
                    {"failureType": "TIMED_OUT", "numberOfRetries": 5},
                ]
            },
        )
    assert exc.value.code == "InvalidRequestException"


def test_retries_happen_before_abort_counts_a_failure(h) -> None:
    h.things("a", "b")
    h.job(
        "j",
        ["a", "b"],
        jobExecutionsRetryConfig={
            "criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]
        },
        abortConfig={
            "criteriaList": [
                {
                    "failureType": "FAILED",
                    "action": "CANCEL",
                    "thresholdPercentage": 100,
                    "minNumberOfExecutedThings": 1,
                }
            ]
        },
    )
    h.data("UpdateJobExecution", jobId="j", thingName="a", status="FAILED")
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "IN_PROGRESS"
    h.data("UpdateJobExecution", jobId="j", thingName="a", status="FAILED")
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "CANCELED"
