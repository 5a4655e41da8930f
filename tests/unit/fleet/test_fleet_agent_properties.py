"""Whatever the faults, the agent ends every execution the way its behaviour says, and agrees
with the service: a property test over the real pair (agent, handlers, LocalIotService).

It also walks the phase table (``fleet.phase.MOVES``) through slow links, link drops, lost
requests and the presigned-URL fallback: a move the table lacks raises ``PhaseError``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.device_pair import PRESIGN, DevicePair

from ota_deploy.fleet.options import FleetOptions

BLOCK = 256


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(0, 9 * BLOCK),
    fault=st.sampled_from(["none", "fail", "reject"]),
    disconnect=st.booleans(),
    corrupt=st.booleans(),
    protocol=st.sampled_from(["cbor", "json"]),
    blocks_per_request=st.integers(1, 4),
    slow_link_bps=st.none() | st.integers(500, 8000),
    source=st.sampled_from(["stream", "presigned", "denied url"]),
    lost=st.dictionaries(
        st.sampled_from(
            ["StartNextPendingJobExecution", "UpdateJobExecution", "DescribeStream", "GetStream"]
        ),
        st.integers(1, 3),
    ),
)
def test_every_execution_ends_as_its_behaviour_says(
    size: int,
    fault: str,
    disconnect: bool,
    corrupt: bool,
    protocol: str,
    blocks_per_request: int,
    slow_link_bps: int | None,
    source: str,
    lost: dict[str, int],
) -> None:
    image = bytes(i * 7 % 251 for i in range(size))
    options = FleetOptions(
        protocol=protocol,  # type: ignore[arg-type]
        block_size=BLOCK,
        blocks_per_request=blocks_per_request,
        slow_link_bps=slow_link_bps,
        fail_rate=1.0 if fault == "fail" else 0.0,
        reject_rate=1.0 if fault == "reject" else 0.0,
        disconnect_rate=1.0 if disconnect else 0.0,
        corrupt_rate=1.0 if corrupt else 0.0,
        request_timeout_sec=2,
        max_retries=3,
    )
    h = DevicePair("dev-1", options)
    h.add_stream("s1", {1: image})
    doc: dict[str, Any] = {
        "command": "fota",
        "streamId": "s1",
        "fileId": 1,
        "fileSize": size,
        "md5sum": hashlib.md5(image).hexdigest(),
    }
    params: dict[str, Any] = {}
    if source == "presigned":
        doc["url"] = h.put_object("fw/image.bin", image)
        params["presignedUrlConfig"] = PRESIGN
    elif source == "denied url":
        doc["url"] = "https://elsewhere.test/image.bin"  # 403, then the stream
    for operation, count in lost.items():
        h.lose(operation, count)  # at most max_retries in a row: never given up
    h.connect()
    ex = h.add_job("j", doc, **params)
    h.run()
    if fault == "reject":
        want = "REJECTED"
    elif fault == "fail" or (corrupt and size > 0):
        want = "FAILED"
    else:
        want = "SUCCEEDED"
    assert ex.status == want, ex.details
    assert [r.status for r in h.finished] == [want]
    if want == "SUCCEEDED":
        assert h.finished[0].md5_hex == hashlib.md5(image).hexdigest()
    assert not h.timers  # idle: nothing left armed but what start-next needs (nothing)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(0, 40),
    end=st.sampled_from(["cancel", "time out"]),
    disconnect=st.booleans(),
    slow_link_bps=st.none() | st.integers(500, 8000),
    lost_update=st.booleans(),
)
def test_an_execution_the_service_ends_is_ended_on_the_device_too(
    steps: int, end: str, disconnect: bool, slow_link_bps: int | None, lost_update: bool
) -> None:
    image = bytes(range(256)) * 8
    options = FleetOptions(
        block_size=BLOCK,
        slow_link_bps=slow_link_bps,
        disconnect_rate=1.0 if disconnect else 0.0,
        request_timeout_sec=2,
    )
    h = DevicePair("dev-1", options)
    h.add_stream("s1", {1: image})
    if lost_update:
        h.lose("UpdateJobExecution")
    h.connect()
    doc = {
        "command": "fota",
        "streamId": "s1",
        "fileId": 1,
        "md5sum": hashlib.md5(image).hexdigest(),
    }
    ex = h.add_job("j", doc, timeoutConfig={"inProgressTimeoutInMinutes": 1})
    for _ in range(steps):  # part of the conversation, maybe all of it
        if not h.step():
            break
    if ex.status == "IN_PROGRESS":
        if end == "cancel":
            h.cancel_execution("j")
        else:
            h.advance(61)
    h.run()
    assert ex.status in ("SUCCEEDED", "CANCELED", "TIMED_OUT")
    assert [r.status for r in h.finished] == [ex.status]  # the device agrees with the service
    assert not h.timers
