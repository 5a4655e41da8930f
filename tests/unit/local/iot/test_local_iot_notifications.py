"""notify / notify-next and $aws/events payloads.

Spec: https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html ,
https://docs.aws.amazon.com/iot/latest/developerguide/jobs-workflow-jobs-online.html ,
https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html
"""

from __future__ import annotations


def test_notify_and_notify_next_follow_the_queue(h) -> None:
    h.things("a")
    h.job("j1", ["a"])
    notify = h.messages("$aws/things/a/jobs/notify")
    nxt = h.messages("$aws/things/a/jobs/notify-next")
    assert len(notify) == 1 and len(nxt) == 1
    assert notify[0]["jobs"]["QUEUED"][0]["jobId"] == "j1"
    assert set(notify[0]["jobs"]["QUEUED"][0]) == {
        "jobId",
        "queuedAt",
        "lastUpdatedAt",
        "executionNumber",
        "versionNumber",
    }
    assert isinstance(notify[0]["timestamp"], int)
    execution = nxt[0]["execution"]
    assert execution["jobId"] == "j1" and execution["thingName"] == "a"
    assert execution["jobDocument"] == {"operation": "ota"}  # an object over MQTT
    h.clock.advance(1)
    h.job("j2", ["a"])  # head unchanged: notify only
    assert len(h.messages("$aws/things/a/jobs/notify")) == 2
    assert len(h.messages("$aws/things/a/jobs/notify-next")) == 1
    h.data("StartNextPendingJobExecution", thingName="a")  # same head, same list: nothing
    assert len(h.published) == 3
    h.data("UpdateJobExecution", jobId="j1", thingName="a", status="SUCCEEDED")
    assert h.messages("$aws/things/a/jobs/notify-next")[-1]["execution"]["jobId"] == "j2"
    h.data("UpdateJobExecution", jobId="j2", thingName="a", status="SUCCEEDED")
    assert h.messages("$aws/things/a/jobs/notify")[-1]["jobs"] == {}
    assert "execution" not in h.messages("$aws/things/a/jobs/notify-next")[-1]


def test_notify_lists_at_most_ten(h) -> None:
    h.things("a")
    for i in range(12):
        h.job(f"j{i:02d}", ["a"])
    last = h.messages("$aws/things/a/jobs/notify")[-1]["jobs"]
    assert len(last["QUEUED"]) == 10


def test_events_only_when_enabled(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-events.html#iot-events-enable
    h.things("a", "b")
    h.job("j0", ["a"])
    h.data("UpdateJobExecution", jobId="j0", thingName="a", status="SUCCEEDED")
    assert h.topics("$aws/events") == []
    h.iot(
        "UpdateEventConfigurations",
        eventConfigurations={"JOB": {"Enabled": True}, "JOB_EXECUTION": {"Enabled": True}},
    )
    cfg = h.iot("DescribeEventConfigurations")["eventConfigurations"]
    assert cfg["JOB"] == {"Enabled": True} and cfg["THING"] == {"Enabled": False}
    h.job("j", ["a", "b"])
    h.data("UpdateJobExecution", jobId="j", thingName="a", status="SUCCEEDED")
    h.data("UpdateJobExecution", jobId="j", thingName="b", status="FAILED")
    assert h.topics("$aws/events") == [
        "$aws/events/jobExecution/j/succeeded",
        "$aws/events/jobExecution/j/failed",
        "$aws/events/job/j/completed",
    ]
    ev = h.messages("$aws/events/jobExecution/j/failed")[0]
    assert ev["eventType"] == "JOB_EXECUTION" and ev["thingArn"] == h.thing_arn("b")
    assert ev["status"] == "FAILED" and ev["operation"] == "failed"
    done = h.messages("$aws/events/job/j/completed")[0]
    assert done["eventType"] == "JOB" and done["status"] == "COMPLETED"
    assert done["jobProcessDetails"]["numberOfFailedThings"] == 1
    h.published.clear()
    h.iot("DeleteJob", jobId="j")
    h.advance(1)
    assert h.topics("$aws/events/job") == [
        "$aws/events/job/j/deletion_in_progress",
        "$aws/events/job/j/deleted",
    ]


def test_cancel_events(h) -> None:
    h.things("a")
    h.iot(
        "UpdateEventConfigurations",
        eventConfigurations={"JOB": {"Enabled": True}, "JOB_EXECUTION": {"Enabled": True}},
    )
    h.job("j", ["a"])
    h.iot("CancelJob", jobId="j")
    assert h.topics("$aws/events") == [
        "$aws/events/job/j/cancellation_in_progress",
        "$aws/events/jobExecution/j/canceled",
        "$aws/events/job/j/canceled",
    ]
