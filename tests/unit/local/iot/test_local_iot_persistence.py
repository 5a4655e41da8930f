"""dump_state / load_state round trip (--state-dir): records survive, time rules resume."""

from __future__ import annotations

import json


def test_round_trip_resumes_rollout_and_timeouts(h, harness_factory) -> None:
    names = [f"d{i}" for i in range(6)]
    h.things(*names, group="g")
    h.iot(
        "CreateStream",
        streamId="s",
        roleArn="arn:aws:iam::123456789012:role/ota",
        files=[{"fileId": 0, "s3Location": {"bucket": "fw", "key": "a.bin"}}],
    )
    h.iot("UpdateEventConfigurations", eventConfigurations={"JOB": {"Enabled": True}})
    h.job(
        "j",
        [],
        targets=[h.group_arn("g")],
        timeoutConfig={"inProgressTimeoutInMinutes": 2},
        jobExecutionsRolloutConfig={"maximumPerMinute": 2},
        jobExecutionsRetryConfig={
            "criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]
        },
    )
    h.data("StartNextPendingJobExecution", thingName="d0", statusDetails={"p": "1"})
    h.data("UpdateJobExecution", jobId="j", thingName="d1", status="FAILED")  # retried
    h.iot("CreateKeysAndCertificate", setAsActive=True)
    state = json.loads(json.dumps(h.svc.dump_state()))  # must be JSON-clean

    h2 = harness_factory(start=h.clock.now())
    h2.svc.load_state(state)
    assert h2.published == []
    assert h2.iot("DescribeJob", jobId="j") == h.iot("DescribeJob", jobId="j")
    assert h2.iot("ListJobExecutionsForJob", jobId="j") == h.iot(
        "ListJobExecutionsForJob", jobId="j"
    )
    assert h2.iot("DescribeStream", streamId="s") == h.iot("DescribeStream", streamId="s")
    assert h2.iot("ListThingsInThingGroup", thingGroupName="g")["things"] == names
    assert h2.svc.dump_state() == state
    # the rollout and the in-progress timer continue after the restart
    h2.advance(60)
    assert h2.data("GetPendingJobExecutions", thingName="d2")["queuedJobs"]
    h2.advance(60)
    assert h2.status("j", "d0") == "TIMED_OUT"
    retry = h2.data("StartNextPendingJobExecution", thingName="d1")["execution"]
    assert retry["executionNumber"] == 2
    assert h2.topics("$aws/things/d2/jobs/notify")
