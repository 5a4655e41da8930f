"""The in-memory device pair itself: what reaches the agent, and that its knobs only intercept."""

from __future__ import annotations

import hashlib
import json

from tests.support.device_pair import PRESIGN, DevicePair, operation_of

from ota_deploy.fleet.options import FleetOptions

IMAGE = bytes(range(256)) * 20
DOC = {"command": "fota", "streamId": "s1", "fileId": 1, "md5sum": hashlib.md5(IMAGE).hexdigest()}


def test_service_publishes_reach_the_agent_only_while_subscribed() -> None:
    h = DevicePair()
    h.add_stream("s1", {1: IMAGE})
    ex = h.add_job("j", DOC)  # notify-next goes out while the device is offline: lost
    assert h.received == [] and ex.status == "QUEUED"
    h.connect()  # subscribes, then start-next finds the job anyway
    h.run()
    topics = [t for t, _ in h.received]
    assert "$aws/things/dev-1/jobs/notify" not in topics  # not subscribed to it
    assert ex.status == "SUCCEEDED" and [r.status for r in h.finished] == ["SUCCEEDED"]


def test_every_request_is_named_by_its_operation() -> None:
    h = DevicePair()
    h.add_stream("s1", {1: IMAGE})
    h.connect()
    h.add_job("j", DOC)
    h.run()
    ops = {operation_of(topic) for topic, _ in h.sent}
    assert ops == {
        "StartNextPendingJobExecution",
        "UpdateJobExecution",
        "DescribeStream",
        "GetStream",
    }
    assert operation_of("$aws/things/dev-1/jobs/j/get") == "DescribeJobExecution"
    assert operation_of("$aws/things/dev-1/jobs/notify-next") == "NotARequest"


def test_a_rejection_is_the_real_shape_and_the_agent_retries() -> None:
    h = DevicePair(options=FleetOptions(request_timeout_sec=5))
    h.add_stream("s1", {1: IMAGE})
    h.reject("StartNextPendingJobExecution", "RequestThrottled")
    h.connect()
    h.deliver()
    [(topic, payload)] = h.received
    body = json.loads(payload)
    assert topic == "$aws/things/dev-1/jobs/start-next/rejected"
    assert body["code"] == "RequestThrottled" and body["clientToken"] == "1"
    ex = h.add_job("j", DOC)
    h.run()
    assert ex.status == "SUCCEEDED" and len(h.requests("StartNextPendingJobExecution")) >= 2


def test_http_gets_resolve_presigned_urls_only() -> None:
    h = DevicePair(options=FleetOptions(max_retries=0))
    url = h.put_object("fw/a.bin", IMAGE)
    h.connect()
    ok = h.add_job("ok", {**DOC, "streamId": None, "url": url}, presignedUrlConfig=PRESIGN)
    h.run()
    bad = h.add_job("bad", {**DOC, "streamId": None, "url": "https://elsewhere/a.bin"})
    h.run()
    assert (ok.status, bad.status) == ("SUCCEEDED", "FAILED")
    assert "HTTP 403" in bad.details["reason"]
    assert h.http_gets[0].startswith("https://s3.local.test/firmware/fw/a.bin?")
