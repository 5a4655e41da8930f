"""ActivityTracker: MQTT topics/payloads folded into per-device activity (no sockets)."""

from __future__ import annotations

import json

from ota_deploy.core.clock import FakeClock
from ota_deploy.monitor.events import SUBSCRIPTIONS, ActivityTracker
from ota_deploy.monitor.snapshot import JobSnapshot, ThingState


def _snap() -> JobSnapshot:
    return JobSnapshot(
        "J-1",
        "IN_PROGRESS",
        0.0,
        things={
            "a": ThingState("a", "IN_PROGRESS", last_activity_at=None),
            "b": ThingState("b", "FAILED"),
            "c": ThingState("c", "QUEUED"),
        },
    )


def test_blocks_counted_per_stream() -> None:
    clock = FakeClock(100.0)
    t = ActivityTracker(clock)
    t.observe("$aws/things/a/streams/S1/description/cbor", b"\xa0")
    for _ in range(3):
        clock.advance(1)
        t.observe("$aws/things/a/streams/S1/data/cbor", b"\xa0")
    merged = t.merge(_snap())
    assert merged.things["a"].blocks_received == 3
    assert merged.things["a"].last_activity_at == 103.0
    assert merged.things["c"].blocks_received is None
    t.observe("$aws/things/a/streams/S2/data/json", b"{}")  # a new stream starts from zero
    assert t.merge(_snap()).things["a"].blocks_received == 1


def test_execution_events_give_details_and_activity() -> None:
    # what AWS delivers to a watcher: the file-delivery topics and (when enabled) the job and
    # job-execution events (events-jobs.html); never another device's Jobs replies.
    clock = FakeClock(5.0)
    t = ActivityTracker(clock)
    t.observe("$aws/things/a/streams/S1/data/cbor", b"\xa0")
    clock.advance(2)
    t.observe(
        "$aws/events/jobExecution/J-1/failed",
        json.dumps(
            {
                "thingArn": "arn:aws:iot:us-east-1:123456789012:thing/b",
                "status": "FAILED",
                "statusDetails": {"reason": "md5"},
            }
        ).encode(),
    )
    t.observe("$aws/events/job/J-1/completed", json.dumps({"status": "COMPLETED"}).encode())
    merged = t.merge(_snap())
    assert merged.things["a"].blocks_received == 1
    assert merged.things["a"].last_activity_at == 5.0
    assert merged.things["b"].status_details == {"reason": "md5"}
    assert merged.things["b"].last_activity_at == 7.0
    assert t.job_status == {"J-1": "COMPLETED"}


def test_jobs_replies_are_neither_subscribed_nor_read() -> None:
    # "Receive" topics reach only the requesting device (reserved-topics.html): the watcher
    # does not subscribe to them, and one that arrived anyway would not be a device's progress.
    assert not [f for f, _ in SUBSCRIPTIONS if "/jobs/" in f]
    t = ActivityTracker(FakeClock(5.0))
    t.observe(
        "$aws/things/a/jobs/J-1/update/accepted",
        json.dumps(
            {"executionState": {"status": "IN_PROGRESS", "statusDetails": {"progress": "40%"}}}
        ).encode(),
    )
    assert t.messages == 1 and t.devices == {}
    assert t.merge(_snap()).things["a"].status_details == {}


def test_details_of_another_job_or_status_not_merged() -> None:
    t = ActivityTracker(FakeClock())
    t.observe(
        "$aws/events/jobExecution/J-0/failed",
        json.dumps({"thingArn": "arn:aws:iot:r:1:thing/b", "statusDetails": {"x": "1"}}).encode(),
    )
    assert t.merge(_snap()).things["b"].status_details == {}
    snap = _snap()
    snap.things["b"].status_details = {"reason": "polled"}  # polled details win
    t.observe(
        "$aws/events/jobExecution/J-1/failed",
        json.dumps(
            {"thingArn": "arn:aws:iot:r:1:thing/b", "status": "FAILED",
             "statusDetails": {"reason": "event"}}
        ).encode(),
    )  # fmt: skip
    assert t.merge(snap).things["b"].status_details == {"reason": "polled"}


def test_garbage_is_ignored_and_merge_does_not_mutate() -> None:
    t = ActivityTracker(FakeClock())
    t.observe("$aws/things/a/streams/S1/description/json", b"\xff not json")
    t.observe("$aws/events/jobExecution/J-1/failed", b"[1,2]")
    t.observe("plain/topic", b"x")
    assert t.messages == 3
    snap = _snap()
    merged = t.merge(snap)
    assert snap.things["a"].last_activity_at is None
    assert merged.things["a"].last_activity_at is not None
