"""Each outstanding Jobs request owns its timeout: one reply must not cancel another's timer.

Regression: the agent kept one timer for all Jobs requests. With an update in flight and a
``{jobId}/get`` resync outstanding at once (``notify-next`` naming another execution starts
the resync), the reply to one cancelled the timer of both; had the other reply been lost
without a disconnect, nothing would ever resend it and the execution stayed IN_PROGRESS.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from tests.support.device_pair import DevicePair

from ota_deploy.fleet.events import MessageReceived
from ota_deploy.fleet.options import FleetOptions

IMAGE = os.urandom(10_000)  # 3 blocks of 4096: one GetStream window
TIMEOUT = 5.0


def _doc() -> dict[str, Any]:
    return {
        "command": "fota",
        "streamId": "s1",
        "fileId": 7,
        "fileSize": len(IMAGE),
        "md5sum": hashlib.md5(IMAGE).hexdigest(),
    }


def _sent(h: DevicePair, verb: str) -> list[dict[str, Any]]:
    return [req for topic, req in h.sent if "/jobs/" in topic and topic.endswith("/" + verb)]


def _two_requests_outstanding(h: DevicePair) -> Any:
    """Start job "j"; leave its first update and a resync ``get`` both outstanding."""
    h.add_stream("s1", {7: IMAGE})
    h.connect()
    ex = h.add_job("j", _doc())
    while h.agent.job is None:  # start-next/accepted: the IN_PROGRESS update goes out
        h.feed(h.inbox.popleft())
    job = h.agent.job
    assert job.in_flight is not None and len(_sent(h, "update")) == 1
    # the service names another execution: the agent asks for its own one's state
    other = {"execution": {"jobId": "other", "status": "QUEUED", "versionNumber": 1}}
    h.feed(MessageReceived("$aws/things/dev-1/jobs/notify-next", json.dumps(other).encode()))
    assert job.resync_token is not None and job.in_flight is not None
    assert len(_sent(h, "get")) == 1
    return ex


def test_lost_update_is_resent_after_the_resync_reply() -> None:
    h = DevicePair("dev-1", FleetOptions(request_timeout_sec=TIMEOUT, progress_every_pct=100))
    h.lose("UpdateJobExecution", 1)  # lost on the way, the link stays up
    ex = _two_requests_outstanding(h)
    job = h.agent.job
    assert job is not None
    start = h.clock.now()
    h.deliver()  # the get/accepted arrives (and the download runs on, on the wire)
    assert job.resync_token is None and job.in_flight is not None
    assert len(_sent(h, "update")) == 1  # nothing resent before the timeout
    h.run()  # time passes beyond the request timeout
    assert h.clock.now() - start >= TIMEOUT
    first, resent = _sent(h, "update")[:2]
    assert resent["status"] == first["status"] == "IN_PROGRESS"
    assert resent["statusDetails"] == first["statusDetails"]
    assert resent["clientToken"] != first["clientToken"]
    assert len(_sent(h, "get")) == 1  # answered: never resent
    assert ex.status == "SUCCEEDED"
    [res] = h.finished
    assert res.status == "SUCCEEDED" and res.md5_hex == hashlib.md5(IMAGE).hexdigest()


def test_lost_resync_reply_is_resent_after_the_update_reply() -> None:
    h = DevicePair("dev-1", FleetOptions(request_timeout_sec=TIMEOUT, progress_every_pct=100))
    ex = _two_requests_outstanding(h)
    job = h.agent.job
    assert job is not None
    # the get/accepted is lost on the way; the update/accepted arrives
    lost = [
        e for e in h.inbox if isinstance(e, MessageReceived) and e.topic.endswith("/get/accepted")
    ]
    assert len(lost) == 1
    h.inbox.remove(lost[0])
    start = h.clock.now()
    h.deliver()
    assert job.in_flight is None and job.resync_token is not None
    h.run()
    assert h.clock.now() - start >= TIMEOUT
    gets = _sent(h, "get")
    assert len(gets) == 2 and gets[0]["clientToken"] != gets[1]["clientToken"]
    assert ex.status == "SUCCEEDED"
    assert [r.status for r in h.finished] == ["SUCCEEDED"]
