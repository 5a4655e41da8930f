"""The GetStream hot path: the plain-request parser, one-block selection and the stream cache.

The cache is exercised with the real ``LocalIotService``: DescribeStream is asked only when
the service's stream revision changed, and an UpdateStream is seen by the very next request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.iot import LocalIotService
from ota_deploy.local.reserved.streams_codec import bitmap_blocks
from ota_deploy.local.reserved.streams_mqtt import StreamsMqttHandler
from ota_deploy.local.reserved.streams_protocol import (
    GetStreamRequest,
    StreamError,
    parse_get_stream,
    plain_get_stream,
    select_blocks,
)

IMAGE = bytes(range(256)) * 48  # 12,288 bytes: three 4 KiB blocks

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 140_000),
    st.text(max_size=70),
    st.binary(max_size=20),
    st.floats(allow_nan=False),
)
docs = st.dictionaries(st.sampled_from(list("csflonbxz")), values, max_size=8)


@settings(max_examples=400, deadline=None)
@given(doc=docs)
def test_plain_parser_agrees_with_the_general_one(doc: dict[str, Any]) -> None:
    plain = plain_get_stream(doc)
    if plain is None:
        return  # the general parser decides (and produces any error)
    assert parse_get_stream(doc) == plain


def test_plain_parser_takes_the_agents_request() -> None:
    doc = {"c": "17", "s": 1, "f": 1, "l": 4096, "o": 5, "n": 1, "b": b"\x01"}
    assert plain_get_stream(doc) == GetStreamRequest(1, 4096, 5, 1, b"\x01", 1, "17")
    assert plain_get_stream({**doc, "x": 1}) is None  # unknown member: general path
    assert plain_get_stream({**doc, 7: 1}) is None  # non-text key: general path (InvalidCbor)


@settings(max_examples=200, deadline=None)
@given(
    offset=st.integers(0, 40),
    bitmap=st.binary(min_size=1, max_size=4),
    count=st.none() | st.integers(1, 9),
    size=st.sampled_from([256, 1024, 4096]),
)
def test_select_blocks_matches_the_bitmap_reading(
    offset: int, bitmap: bytes, count: int | None, size: int
) -> None:
    file_size = 30 * size - 7
    req = GetStreamRequest(1, size, offset, count, bitmap)
    total = -(-file_size // size)
    cap = min(131_072 // size, count or 10**9)
    expected = [b for b in bitmap_blocks(bitmap, offset) if b < total][:cap]
    try:
        got = select_blocks(req, file_size)
    except StreamError:
        assert offset >= total or not expected
        return
    assert got == expected


# ---------------------------------------------------------------------------------------------


class Service:
    """The real LocalIotService (fake clock), counting the DescribeStream calls it answers."""

    def __init__(self) -> None:
        self.inner = LocalIotService(
            clock=FakeClock(),
            region="us-east-1",
            account="123456789012",
            publish=lambda topic, payload: None,
            read_blob=lambda bucket, key, version: IMAGE,
            presign=lambda bucket, key, expires: "",
            mqtt_endpoint="127.0.0.1:1883",
        )
        self.describes = 0

    def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if (service, operation) == ("iot", "DescribeStream"):
            self.describes += 1
        return self.inner.call(service, operation, params)

    def stream_revision(self, stream_id: str) -> int | None:
        return self.inner.stream_revision(stream_id)

    def create_stream(self, stream_id: str) -> None:
        files = [{"fileId": 1, "s3Location": {"bucket": "b", "key": "k"}}]
        role = "arn:aws:iam::123456789012:role/ota"
        self.inner.call(
            "iot", "CreateStream", {"streamId": stream_id, "files": files, "roleArn": role}
        )


def get(h: StreamsMqttHandler, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    topic = "$aws/things/d/streams/s1/get/cbor"

    def reply(t: str, payload: bytes) -> None:
        out.append((t.rsplit("/", 2)[1], cbor2.loads(payload)))

    result = h.handle("d", topic, cbor2.dumps(body), reply)
    if result is not None:
        asyncio.run(result)  # type: ignore[arg-type]
    return out


def test_stream_cache_follows_the_services_records() -> None:
    svc = Service()
    svc.create_stream("s1")
    h = StreamsMqttHandler(svc, lambda b, k, v: IMAGE)
    req = {"c": "t", "s": 1, "f": 1, "l": 4096, "o": 0, "n": 1, "b": b"\x01"}
    assert [k for k, _ in get(h, req)] == ["data"]  # first one reads S3 (general path)
    for i in range(3):
        [(kind, msg)] = get(h, {**req, "o": i})
        assert (kind, msg) == (
            "data",
            {"c": "t", "f": 1, "l": 4096, "i": i, "p": IMAGE[i * 4096 :][:4096]},
        )
    assert svc.describes == 1 and h.blob_reads == 1  # while the record is unchanged

    svc.call("iot", "UpdateStream", {"streamId": "s1"})  # seen by the very next request
    [(kind, msg)] = get(h, req)
    assert kind == "rejected" and msg["o"] == "VersionMismatch" and msg["c"] == "t"
    assert svc.describes == 2
    assert [k for k, _ in get(h, {**req, "s": 2})] == ["data"]
    assert svc.describes == 2 and h.blob_reads == 2  # the new version's bytes: from S3 again

    svc.call("iot", "DeleteStream", {"streamId": "s1"})
    svc.create_stream("s1")  # deleted and created again: a new record
    assert [k for k, _ in get(h, req)] == ["data"]
    assert svc.describes == 3

    svc.call("iot", "DeleteStream", {"streamId": "s1"})
    [(kind, msg)] = get(h, req)
    assert kind == "rejected" and msg["o"] == "ResourceNotFound" and msg["c"] == "t"
