"""A link drop while the agent waits on a timer the link does not carry must not stall the job.

Regression: in the runner, a device that drops its link mid-window (``DropConnection``) still
handles the blocks already read from the socket before ``ConnectionLost`` reaches it. When
those complete the image on a slow link, the agent waits on the pace timer ("link-pacing")
before verifying and reporting SUCCEEDED; ``ConnectionLost`` used to disarm that timer and
nothing re-armed it after the resync, so the execution stayed IN_PROGRESS at its last
progress ("75%") for good. The same held for the HTTP retry backoff.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from tests.support.device_pair import DevicePair

from ota_deploy.fleet.events import Action, DropConnection, Event
from ota_deploy.fleet.options import FleetOptions

IMAGE = os.urandom(4096 * 8)  # one GetStream window of 8 blocks


def _doc(**extra: Any) -> dict[str, Any]:
    return {
        "command": "fota",
        "streamId": "s1",
        "fileId": 7,
        "fileSize": len(IMAGE),
        "md5sum": hashlib.md5(IMAGE).hexdigest(),
        **extra,
    }


class _LateDrop:
    """Holds back the agent's ``DropConnection`` so the test decides when the link goes, as
    the runner does (it closes the socket after the messages already read)."""

    def __init__(self, h: DevicePair) -> None:
        self.drops: list[DropConnection] = []
        handle = h.agent.handle

        def held(event: Event) -> list[Action]:
            out = handle(event)
            self.drops += [a for a in out if isinstance(a, DropConnection)]
            return [a for a in out if not isinstance(a, DropConnection)]

        h.agent.handle = held  # type: ignore[method-assign]


def _drop_and_reconnect(h: DevicePair) -> None:
    h.disconnect()  # whatever was still on the wire is lost with the link
    h.advance(0.2)
    h.connect()


def test_drop_after_the_last_block_arrived_still_succeeds() -> None:
    h = DevicePair(
        "dev-1",
        FleetOptions(disconnect_rate=1.0, blocks_per_request=8, slow_link_bps=64 * 1024, seed=3),
    )
    h.add_stream("s1", {7: IMAGE})
    late = _LateDrop(h)
    h.connect()
    ex = h.add_job("j", _doc())
    # the agent asks to drop mid-window; the rest of the window is already on the wire
    while not late.drops:
        assert h.step()
    job = h.agent.job
    assert job is not None and job.assembler is not None and not job.assembler.complete
    h.deliver()
    assert job.assembler.complete and job.phase == "link-pacing"
    assert ex.status == "IN_PROGRESS"
    # only now does the runner see the link go; it reconnects after the drop's delay
    _drop_and_reconnect(h)
    h.run()
    assert ex.status == "SUCCEEDED" and ex.details["progress"] == "100%"
    [res] = h.finished
    assert res.status == "SUCCEEDED" and res.md5_hex == hashlib.md5(IMAGE).hexdigest()
    assert res.reconnects == 1
    # every block was in before the drop: nothing is asked again
    assert len(h.stream_requests()) == 1


def test_drop_during_the_http_retry_backoff_still_finishes() -> None:
    h = DevicePair("dev-1", FleetOptions(max_retries=2))
    h.add_stream("s1", {7: IMAGE})
    h.connect()
    ex = h.add_job("j", _doc(url="https://denied"))  # 403: retry with backoff, then MQTT
    while "stream" not in h.timers:
        assert h.step()
    job = h.agent.job
    assert job is not None and job.phase == "http"
    _drop_and_reconnect(h)
    h.run()
    assert ex.status == "SUCCEEDED"
    assert len(h.http_gets) == 3 and h.finished[0].transport == "mqtt"
