"""The GetStream hot path: the plain-request parser, one-block selection and the stream cache.

The cache is exercised with the real ``LocalIotService`` (``conftest.Iot`` counts the calls):
DescribeStream is asked only when the service's stream revision changed, and an UpdateStream
is seen by the very next request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

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


def get(h: StreamsMqttHandler, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    topic = "$aws/things/d/streams/s1/get/cbor"

    def reply(t: str, payload: bytes) -> None:
        out.append((t.rsplit("/", 2)[1], cbor2.loads(payload)))

    result = h.handle("d", topic, cbor2.dumps(body), reply)
    if result is not None:
        asyncio.run(result)  # type: ignore[arg-type]
    return out


def test_stream_cache_follows_the_services_records(iot: Any) -> None:
    iot.add_stream("s1", {1: ("b", "k")})
    h = StreamsMqttHandler(iot, lambda b, k, v: IMAGE)
    req = {"c": "t", "s": 1, "f": 1, "l": 4096, "o": 0, "n": 1, "b": b"\x01"}
    assert [k for k, _ in get(h, req)] == ["data"]  # first one reads S3 (general path)
    for i in range(3):
        [(kind, msg)] = get(h, {**req, "o": i})
        assert (kind, msg) == (
            "data",
            {"c": "t", "f": 1, "l": 4096, "i": i, "p": IMAGE[i * 4096 :][:4096]},
        )
    assert iot.count("DescribeStream") == 1 and h.blob_reads == 1  # while the record is unchanged

    iot.call("iot", "UpdateStream", {"streamId": "s1"})  # seen by the very next request
    [(kind, msg)] = get(h, req)
    assert kind == "rejected" and msg["o"] == "VersionMismatch" and msg["c"] == "t"
    assert iot.count("DescribeStream") == 2
    assert [k for k, _ in get(h, {**req, "s": 2})] == ["data"]
    assert (
        iot.count("DescribeStream") == 2 and h.blob_reads == 2
    )  # the new version's bytes: from S3 again

    iot.call("iot", "DeleteStream", {"streamId": "s1"})
    iot.add_stream("s1", {1: ("b", "k")})  # deleted and created again: a new record
    assert [k for k, _ in get(h, req)] == ["data"]
    assert iot.count("DescribeStream") == 3

    iot.call("iot", "DeleteStream", {"streamId": "s1"})
    [(kind, msg)] = get(h, req)
    assert kind == "rejected" and msg["o"] == "ResourceNotFound" and msg["c"] == "t"
