"""Rollout rates: executions are QUEUED at once but released (visible, notified) per minute.

Spec: https://docs.aws.amazon.com/iot/latest/developerguide/jobs-configurations-details.html
(job rollout),
https://docs.aws.amazon.com/iot/latest/apireference/API_JobExecutionsRolloutConfig.html ,
https://docs.aws.amazon.com/iot/latest/apireference/API_ExponentialRolloutRate.html and
DESIGN.md "Exponential rollout": the rate is multiplied by incrementFactor each time the notified
(or succeeded) count reaches the next multiple of the criterion; maximumPerMinute caps it; a
raised rate applies from the next one-minute window.
"""

from __future__ import annotations


def _visible(h, names: list[str]) -> list[str]:
    return [
        n
        for n in names
        if h.data("GetPendingJobExecutions", thingName=n)["queuedJobs"]
        or h.data("GetPendingJobExecutions", thingName=n)["inProgressJobs"]
    ]


def _names(n: int) -> list[str]:
    return [f"d{i:02d}" for i in range(n)]


def test_maximum_per_minute(h) -> None:
    names = _names(10)
    h.things(*names)
    h.job("j", names, jobExecutionsRolloutConfig={"maximumPerMinute": 3})
    assert _visible(h, names) == names[:3]
    assert h.counts("j") == {"Queued": 10}  # created QUEUED, not yet notified
    assert h.iot("DescribeJob", jobId="j")["job"]["jobProcessDetails"]["processingTargets"]
    assert len(h.topics("$aws/things/d03/")) == 0
    h.advance(59)
    assert len(_visible(h, names)) == 3
    h.advance(1)
    assert _visible(h, names) == names[:6]
    h.advance(60)
    assert len(_visible(h, names)) == 9
    h.advance(60)
    assert len(_visible(h, names)) == 10
    assert "processingTargets" not in h.iot("DescribeJob", jobId="j")["job"]["jobProcessDetails"]
    assert len(h.svc.engine.timers) == 0  # nothing left to release


def test_exponential_rate_on_notified_things(h) -> None:
    names = _names(20)
    h.things(*names)
    h.job(
        "j",
        names,
        jobExecutionsRolloutConfig={
            "maximumPerMinute": 100,
            "exponentialRate": {
                "baseRatePerMinute": 2,
                "incrementFactor": 2.0,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 2},
            },
        },
    )
    seen = [len(_visible(h, names))]
    for _ in range(3):
        h.advance(60)
        seen.append(len(_visible(h, names)))
    # window 1: rate 2 -> 2 notified (1 multiple of 2 reached: rate 4)
    # window 2: rate 4 -> 6 notified (3 multiples reached: rate 2*2^3 = 16)
    # window 3: rate 16 -> the remaining 14
    assert seen == [2, 6, 20, 20]


def test_exponential_rate_on_succeeded_things(h) -> None:
    names = _names(10)
    h.things(*names)
    h.job(
        "j",
        names,
        jobExecutionsRolloutConfig={
            "exponentialRate": {
                "baseRatePerMinute": 1,
                "incrementFactor": 3.0,
                "rateIncreaseCriteria": {"numberOfSucceededThings": 1},
            }
        },
    )
    assert _visible(h, names) == ["d00"]
    h.advance(60)  # nobody succeeded: still 1 per minute
    assert _visible(h, names) == ["d00", "d01"]
    h.data("UpdateJobExecution", jobId="j", thingName="d00", status="SUCCEEDED")
    h.advance(60)  # 1 success: rate 3
    assert len(_visible(h, names)) == 1 + 3  # d00 finished; d01 + 3 new pending
    for n in ("d01", "d02"):
        h.data("UpdateJobExecution", jobId="j", thingName=n, status="SUCCEEDED")
    h.advance(60)  # 3 successes: rate 27 -> everything left
    assert h.counts("j") == {"Succeeded": 3, "Queued": 7}
    assert len(_visible(h, names)) == 7


def test_maximum_caps_the_exponential_rate(h) -> None:
    names = _names(30)
    h.things(*names)
    h.job(
        "j",
        names,
        jobExecutionsRolloutConfig={
            "maximumPerMinute": 8,
            "exponentialRate": {
                "baseRatePerMinute": 5,
                "incrementFactor": 5.0,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 5},
            },
        },
    )
    seen = [len(_visible(h, names))]
    for _ in range(3):
        h.advance(60)
        seen.append(len(_visible(h, names)))
    assert seen == [5, 13, 21, 29]


def test_no_rollout_config_releases_everything(h) -> None:
    names = _names(5)
    h.things(*names)
    h.job("j", names)
    assert _visible(h, names) == names


def test_cancel_stops_the_rollout(h) -> None:
    names = _names(6)
    h.things(*names)
    h.job("j", names, jobExecutionsRolloutConfig={"maximumPerMinute": 2})
    h.iot("CancelJob", jobId="j")
    h.advance(600)
    assert _visible(h, names) == []
    assert h.counts("j") == {"Canceled": 6}


def test_tick_with_nothing_due_does_no_work(h) -> None:
    names = _names(50)
    h.things(*names)
    h.job("j", names, jobExecutionsRolloutConfig={"maximumPerMinute": 10})
    h.published.clear()
    for _ in range(100):
        h.advance(0.05)
    assert h.published == []
    assert len(h.svc.engine.timers) == 1
