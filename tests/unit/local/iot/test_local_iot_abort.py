"""Abort criteria.

Spec: https://docs.aws.amazon.com/iot/latest/developerguide/jobs-configurations-details.html
(job abort), https://docs.aws.amazon.com/iot/latest/apireference/API_AbortCriteria.html and
DESIGN.md "Abort": checked in order once minNumberOfExecutedThings executions are terminal; at
or above thresholdPercentage of those of failureType the job is CANCELED, QUEUED executions are
canceled, IN_PROGRESS ones are left to finish.
"""

from __future__ import annotations


def _abort(failure_type: str, pct: float, minimum: int) -> dict:
    return {
        "criteriaList": [
            {
                "failureType": failure_type,
                "action": "CANCEL",
                "thresholdPercentage": pct,
                "minNumberOfExecutedThings": minimum,
            }
        ]
    }


def _names(n: int) -> list[str]:
    return [f"d{i}" for i in range(n)]


def test_abort_after_minimum_executed_at_threshold(h) -> None:
    names = _names(10)
    h.things(*names)
    h.job("j", names, abortConfig=_abort("FAILED", 50, 4))
    h.data("StartNextPendingJobExecution", thingName="d9")
    for thing, status in (("d0", "FAILED"), ("d1", "SUCCEEDED"), ("d2", "FAILED")):
        h.data("UpdateJobExecution", jobId="j", thingName=thing, status=status)
    # 3 executed < 4: no abort even at 66 %
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "IN_PROGRESS"
    h.data("UpdateJobExecution", jobId="j", thingName="d3", status="SUCCEEDED")
    job = h.iot("DescribeJob", jobId="j")["job"]
    assert job["status"] == "CANCELED" and "aborted" in job["comment"]
    assert h.counts("j") == {"Failed": 2, "Succeeded": 2, "Canceled": 5, "InProgress": 1}
    # the IN_PROGRESS execution may still finish
    h.data("UpdateJobExecution", jobId="j", thingName="d9", status="SUCCEEDED")
    assert h.counts("j")["Succeeded"] == 3


def test_below_threshold_keeps_running(h) -> None:
    names = _names(6)
    h.things(*names)
    h.job("j", names, abortConfig=_abort("FAILED", 30, 4))
    for thing, status in (
        ("d0", "FAILED"),
        ("d1", "SUCCEEDED"),
        ("d2", "SUCCEEDED"),
        ("d3", "SUCCEEDED"),
    ):
        h.data("UpdateJobExecution", jobId="j", thingName=thing, status=status)
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "IN_PROGRESS"  # 25 % < 30 %


def test_all_counts_failed_rejected_and_timed_out(h) -> None:
    names = _names(5)
    h.things(*names)
    h.job(
        "j",
        names,
        abortConfig=_abort("ALL", 60, 3),
        timeoutConfig={"inProgressTimeoutInMinutes": 1},
    )
    h.data("StartNextPendingJobExecution", thingName="d0")
    h.advance(60)  # d0 TIMED_OUT
    h.data("UpdateJobExecution", jobId="j", thingName="d1", status="REJECTED")
    h.data("UpdateJobExecution", jobId="j", thingName="d2", status="SUCCEEDED")
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "CANCELED"  # 2/3 = 66 %
    assert h.counts("j") == {"TimedOut": 1, "Rejected": 1, "Succeeded": 1, "Canceled": 2}


def test_failure_type_must_match(h) -> None:
    names = _names(4)
    h.things(*names)
    h.job("j", names, abortConfig=_abort("REJECTED", 50, 2))
    for thing in ("d0", "d1"):
        h.data("UpdateJobExecution", jobId="j", thingName=thing, status="FAILED")
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "IN_PROGRESS"


def test_criteria_checked_in_order(h) -> None:
    names = _names(6)
    h.things(*names)
    cfg = {
        "criteriaList": [
            {
                "failureType": "REJECTED",
                "action": "CANCEL",
                "thresholdPercentage": 10,
                "minNumberOfExecutedThings": 5,
            },
            {
                "failureType": "FAILED",
                "action": "CANCEL",
                "thresholdPercentage": 100,
                "minNumberOfExecutedThings": 1,
            },
        ]
    }
    h.job("j", names, abortConfig=cfg)
    h.data("UpdateJobExecution", jobId="j", thingName="d0", status="FAILED")
    job = h.iot("DescribeJob", jobId="j")["job"]
    assert job["status"] == "CANCELED" and "FAILED" in job["comment"]


def test_abort_with_events(h) -> None:
    names = _names(3)
    h.things(*names)
    h.iot("UpdateEventConfigurations", eventConfigurations={"JOB": {"Enabled": True}})
    h.job("j", names, abortConfig=_abort("FAILED", 100, 1))
    h.data("UpdateJobExecution", jobId="j", thingName="d0", status="FAILED")
    assert h.topics("$aws/events/job/") == [
        "$aws/events/job/j/cancellation_in_progress",
        "$aws/events/job/j/canceled",
    ]
