"""ActivityTracker: MQTT topics/payloads folded into per-device activity (no sockets)."""

from __future__ import annotations

import json

from ota_deploy.core.clock import FakeClock
from ota_deploy.monitor.events import ActivityTracker
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


def test_update_accepted_and_execution_events_give_details() -> None:
    t = ActivityTracker(FakeClock(5.0))
    t.observe(
        "$aws/things/a/jobs/J-1/update/accepted",
        json.dumps(
            {"executionState": {"status": "IN_PROGRESS", "statusDetails": {"progress": "40%"}}}
        ).encode(),
    )
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
    assert merged.things["a"].status_details == {"progress": "40%"}
    assert merged.things["a"].last_activity_at == 5.0
    assert merged.things["b"].status_details == {"reason": "md5"}
    assert t.job_status == {"J-1": "COMPLETED"}


def test_details_of_another_job_or_status_not_merged() -> None:
    t = ActivityTracker(FakeClock())
    t.observe(
        "$aws/events/jobExecution/J-0/failed",
        json.dumps({"thingArn": "arn:aws:iot:r:1:thing/b", "statusDetails": {"x": "1"}}).encode(),
    )
    assert t.merge(_snap()).things["b"].status_details == {}
    snap = _snap()
    snap.things["a"].status_details = {"progress": "90%"}  # polled details win
    t.observe(
        "$aws/things/a/jobs/J-1/update/accepted",
        json.dumps(
            {"executionState": {"status": "IN_PROGRESS", "statusDetails": {"progress": "1%"}}}
        ).encode(),
    )
    assert t.merge(snap).things["a"].status_details == {"progress": "90%"}


def test_garbage_is_ignored_and_merge_does_not_mutate() -> None:
    t = ActivityTracker(FakeClock())
    t.observe("$aws/things/a/jobs/J-1/update/accepted", b"\xff not json")
    t.observe("$aws/events/jobExecution/J-1/failed", b"[1,2]")
    t.observe("plain/topic", b"x")
    assert t.messages == 3
    snap = _snap()
    merged = t.merge(snap)
    assert snap.things["a"].last_activity_at is None
    assert merged.things["a"].last_activity_at is not None
