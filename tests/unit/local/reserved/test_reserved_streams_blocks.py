"""The pre-encoded data messages and the one-block hot path answer exactly as the general path.

- ``ServedFile.message`` is byte for byte ``streams_codec.encode(fmt, data_message(c, ...))``,
  in CBOR and JSON, with and without a client token, for every block including a short last one.
- ``one_block_request`` takes only what ``plain_get_stream`` takes, and only one-block requests.
- A handler with the hot path and one without it (``hot_path=False``: every request the
  general way) give the same replies, topic and payload bytes, to the same requests: valid
  ones and every rejection, in both formats (the real ``LocalIotService`` behind both).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ota_deploy.local.reserved import streams_codec as codec
from ota_deploy.local.reserved.streams_blocks import MAX_LAYOUTS, ServedFile
from ota_deploy.local.reserved.streams_codec import Format
from ota_deploy.local.reserved.streams_mqtt import StreamsMqttHandler
from ota_deploy.local.reserved.streams_protocol import (
    StreamError,
    data_message,
    one_block_request,
    plain_get_stream,
    select_blocks,
)

IMAGE = bytes(range(256)) * 40 + b"tail!"  # 10,245 bytes: the last 1 KiB / 4 KiB block is short
OTHER = b"x" * 1000
THING, STREAM = "dev-1", "fw"
TOPIC = f"$aws/things/{THING}/streams/{STREAM}/get"
tokens = st.none() | st.text(max_size=20) | st.text(alphabet="abc0123456789-", max_size=64)


@settings(max_examples=300, deadline=None)
@given(
    fmt=st.sampled_from(list(Format)),
    size=st.sampled_from([256, 1000, 4096, 131_072]),
    data=st.data(),
    token=tokens,
    file_id=st.integers(0, 255),
)
def test_served_message_is_the_general_encoding(
    fmt: Format, size: int, data: st.DataObject, token: str | None, file_id: int
) -> None:
    served = ServedFile(file_id, IMAGE)
    blocks = -(-len(IMAGE) // size)
    index = data.draw(st.integers(0, blocks - 1))
    block = IMAGE[index * size : (index + 1) * size]
    expected = codec.encode(fmt, data_message(token, file_id, index, block))
    assert served.message(fmt, size, index, token) == expected
    assert served.message(fmt, size, index, token) == expected  # from the kept encoding


def test_served_file_keeps_the_last_layouts_only() -> None:
    served = ServedFile(1, IMAGE)
    sizes = [256, 512, 1024, 4096][: MAX_LAYOUTS + 2]
    for size in sizes:
        served.message(Format.CBOR, size, 0, "t")
    assert len(served._layouts) == MAX_LAYOUTS
    assert list(served._layouts) == [(Format.CBOR, s) for s in sizes[-MAX_LAYOUTS:]]
    last = IMAGE[40 * 256 :]  # block 40 of 256 bytes is the 5-byte tail
    assert served.message(Format.JSON, 256, 40, None) == codec.encode(
        Format.JSON, data_message(None, 1, 40, last)
    )


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 140_000),
    st.sampled_from([0, 1, 2, 3, 256, 4096, 1_000_000]),
    st.text(max_size=70),
    st.binary(max_size=4),
    st.sampled_from([b"\x01", b"\x03", b"", b"\x00\x01"]),
)
docs = st.dictionaries(st.sampled_from(list("csflonbx")), values, max_size=8)


@settings(max_examples=500, deadline=None)
@given(doc=docs)
def test_one_block_request_is_a_plain_one_block_request(doc: dict[str, Any]) -> None:
    got = one_block_request(doc)
    if got is None:
        return
    request = plain_get_stream(doc)
    assert request is not None
    token, file_id, size, index, version = got
    assert (request.client_token, request.file_id, request.block_size) == (token, file_id, size)
    assert (request.offset, request.stream_version) == (index, version)
    file_size = 50 * size
    if index < 50:
        assert select_blocks(request, file_size) == [index]
    else:
        with pytest.raises(StreamError):
            select_blocks(request, file_size)


def test_one_block_request_shapes() -> None:
    agent = {"c": "7", "s": 1, "f": 1, "l": 4096, "o": 5, "n": 1, "b": b"\x01"}
    assert one_block_request(agent) == ("7", 1, 4096, 5, 1)
    assert one_block_request({"f": 1, "l": 4096, "o": 5, "n": 1}) == (None, 1, 4096, 5, None)
    assert one_block_request({"f": 1, "l": 4096, "n": 7, "b": b"\x01"}) == (None, 1, 4096, 0, None)
    assert one_block_request({**agent, "b": b"\x03"}) is None  # two blocks
    assert one_block_request({"f": 1, "l": 4096, "o": 5}) is None  # up to the end of the file
    assert one_block_request({"f": 1, "l": 4096, "n": 2}) is None
    assert one_block_request({**agent, "c": "é"}) is None  # not ASCII: the general path
    assert one_block_request({**agent, "n": True}) is None


# ---------------------------------------------------------------------------------------------
# The handler with and without the hot path


class Blobs:
    def __call__(self, bucket: str, key: str, version: str | None) -> bytes:
        return {"fw.bin": IMAGE, "other.bin": OTHER}[key]


def replies_of(h: StreamsMqttHandler, fmt: str, payload: bytes) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    result = h.handle(THING, f"{TOPIC}/{fmt}", payload, lambda t, p: out.append((t, p)))
    if result is not None:
        asyncio.run(result)  # type: ignore[arg-type]
    return out


@pytest.fixture
def pair(iot: Any) -> tuple[StreamsMqttHandler, StreamsMqttHandler]:
    """A hot and a general handler on the same service, both with the files read."""
    iot.add_stream(STREAM, {0: ("bkt", "fw.bin"), 3: ("bkt", "other.bin")})
    hot = StreamsMqttHandler(iot, Blobs())
    general = StreamsMqttHandler(iot, Blobs(), hot_path=False)
    for h in (hot, general):
        for file_id in (0, 3):
            assert replies_of(h, "cbor", cbor2.dumps({"f": file_id, "l": 256, "o": 0, "n": 1}))
    return hot, general


def encode(fmt: str, doc: dict[str, Any]) -> bytes:
    if fmt == "cbor":
        return bytes(cbor2.dumps(doc))
    body = {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in doc.items()}
    return json.dumps(body).encode()


# Requests near the agent's (each member present or not, right or wrong), and random ones.
agent_docs = st.fixed_dictionaries(
    {},
    optional={
        "c": tokens | st.integers(0, 3),
        "s": st.sampled_from([1, 2, None, "1"]),
        "f": st.sampled_from([0, 3, 4, 256, -1]),
        "l": st.sampled_from([256, 4096, 255, 131_073]),
        "o": st.integers(0, 45) | st.sampled_from([98_304, 98_305]),
        "n": st.sampled_from([1, 0, 2, None, True]),
        "b": st.sampled_from([b"\x01", b"\x02", b"", None, "0x01"]),
    },
)


# Well-formed one-block requests, the hot path's, inside and past the files.
one_block_docs = st.fixed_dictionaries(
    {"f": st.sampled_from([0, 3]), "l": st.sampled_from([256, 4096]), "o": st.integers(0, 45)},
    optional={"c": tokens, "s": st.sampled_from([1, 2])},
).flatmap(
    lambda d: st.sampled_from([{**d, "n": 1}, {**d, "b": b"\x01"}, {**d, "n": 3, "b": b"\x01"}])
)


# The fixture is the same for every example on purpose: requests change no state.
@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=one_block_docs | agent_docs | docs, fmt=st.sampled_from(["cbor", "json"]))
def test_hot_and_general_paths_answer_alike(
    pair: tuple[StreamsMqttHandler, StreamsMqttHandler], doc: dict[str, Any], fmt: str
) -> None:
    hot, general = pair
    payload = encode(fmt, doc)
    assert replies_of(hot, fmt, payload) == replies_of(general, fmt, payload)


CASES: list[tuple[dict[str, Any], str | None]] = [
    ({"c": "t", "s": 1, "f": 0, "l": 4096, "o": 2, "n": 1, "b": b"\x01"}, None),  # data
    ({"c": "t", "f": 3, "l": 256, "o": 3, "n": 1}, None),  # the last, short block of file 3
    ({"c": "t", "s": 2, "f": 0, "l": 4096, "o": 0, "n": 1}, "VersionMismatch"),
    ({"c": "t", "f": 9, "l": 4096, "o": 0, "n": 1}, "ResourceNotFound"),
    ({"c": "t", "f": 0, "l": 4096, "o": 3, "n": 1}, "OffsetOutOfBounds"),
    ({"c": "t", "f": 0, "l": 4096, "o": 98_305, "n": 1}, "OffsetOutOfBounds"),
    ({"c": "t", "f": 0, "l": 255, "o": 0, "n": 1}, "BlockSizeOutOfBounds"),
    ({"c": "t", "f": 0, "l": 4096, "o": 0, "n": 98_305}, "BlockCountLimitExceeded"),
    ({"c": "t", "f": 0, "l": 4096, "b": b"\x01" * 12_289}, "BlockBitmapLimitExceeded"),
    ({"c": "t", "f": 256, "l": 4096, "o": 0, "n": 1}, "InvalidRequest"),
    ({"c": "x" * 65, "f": 0, "l": 4096, "o": 0, "n": 1}, "InvalidRequest"),
    ({"c": "t", "l": 4096, "o": 0, "n": 1}, "InvalidRequest"),
    ({"c": "t", "f": 0, "l": 4096, "b": b"\x00"}, "InvalidRequest"),
]


@pytest.mark.parametrize("fmt", ["cbor", "json"])
@pytest.mark.parametrize(("doc", "code"), CASES)
def test_every_answer_and_rejection_alike(
    pair: tuple[StreamsMqttHandler, StreamsMqttHandler],
    fmt: str,
    doc: dict[str, Any],
    code: str | None,
) -> None:
    hot, general = pair
    payload = encode(fmt, doc)
    got = replies_of(hot, fmt, payload)
    assert got == replies_of(general, fmt, payload)
    [(topic, body)] = got
    message = cbor2.loads(body) if fmt == "cbor" else json.loads(body)
    if code is None:
        assert topic.endswith(f"/data/{fmt}") and message["c"] == "t"
    else:
        assert topic.endswith(f"/rejected/{fmt}") and message["o"] == code


@pytest.mark.parametrize("fmt", ["cbor", "json"])
def test_bad_payloads_and_a_missing_stream_alike(
    pair: tuple[StreamsMqttHandler, StreamsMqttHandler], iot: Any, fmt: str
) -> None:
    hot, general = pair
    for payload, code in [
        (b"\xff\x00", "InvalidCbor" if fmt == "cbor" else "InvalidJson"),
        (encode(fmt, {"c": "t", "f": 0, "l": 4096, "o": 0, "n": 1, "z": 1}), None),
    ]:
        got = replies_of(hot, fmt, payload)
        assert got == replies_of(general, fmt, payload)
        if code is not None:
            body = got[0][1]
            message = cbor2.loads(body) if fmt == "cbor" else json.loads(body)
            assert message["o"] == code
    iot.call("iot", "DeleteStream", {"streamId": STREAM})
    payload = encode(fmt, {"c": "t", "f": 0, "l": 4096, "o": 0, "n": 1})
    got = replies_of(hot, fmt, payload)
    assert got == replies_of(general, fmt, payload)
    message = cbor2.loads(got[0][1]) if fmt == "cbor" else json.loads(got[0][1])
    assert message == {"o": "ResourceNotFound", "m": f"Stream {STREAM} not found", "c": "t"}
