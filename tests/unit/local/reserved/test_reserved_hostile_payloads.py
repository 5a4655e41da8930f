"""Hostile payloads on the reserved topics: deeply nested JSON or CBOR is a ``rejected`` reply
with AWS's code (Jobs: InvalidJson; file delivery: InvalidJson / InvalidCbor), never a
RecursionError, an InternalError or a logged traceback -- through the real handlers and the
real local AWS IoT (in memory), and the decoders' caps are exact."""

from __future__ import annotations

import json
import logging
from typing import Any

import cbor2
import pytest

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.jsonsafe import MAX_JSON_DEPTH
from ota_deploy.local.reserved import jobs_protocol, streams_codec
from ota_deploy.local.reserved.jobs_mqtt import JobsMqttHandler
from ota_deploy.local.reserved.streams_codec import MAX_CBOR_DEPTH, Format
from ota_deploy.local.reserved.streams_mqtt import StreamsMqttHandler

T = "thing-1"
S = "stream-1"
LEVELS = 60_000  # issue 10's hostile depth: CPython's json decoder raised RecursionError


def deep_json(levels: int = LEVELS) -> bytes:
    return b'{"clientToken": "tok", "x": ' + b"[" * levels + b"]" * levels + b"}"


def deep_cbor(levels: int = LEVELS) -> bytes:
    # a map {"c": "tok", "x": [[[ ... ]]]}: 0x81 is an array of one item, 0x80 the empty one
    return b"\xa2\x61c\x63tok\x61x" + b"\x81" * (levels - 1) + b"\x80"


class Replies:
    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.items.append((topic, payload))


@pytest.mark.parametrize("topic", [f"$aws/things/{T}/jobs/get", f"$aws/things/{T}/jobs/j1/update"])
def test_jobs_deep_json_is_invalid_json(
    iot: Any, clock: FakeClock, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    iot.add_thing(T)
    handler = JobsMqttHandler(iot, clock)
    replies = Replies()
    with caplog.at_level(logging.DEBUG):
        handler.handle("client", topic, deep_json(), replies)
    [(reply_topic, payload)] = replies.items
    body = json.loads(payload)
    assert reply_topic == f"{topic}/rejected"
    assert body["code"] == "InvalidJson"
    assert f"nests deeper than {MAX_JSON_DEPTH} levels" in body["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # no traceback
    assert iot.calls == []  # refused before any service call


def test_jobs_decoder_cap_is_exact() -> None:
    inner = MAX_JSON_DEPTH - 1  # the object itself is one level
    at_cap = b'{"x": ' + b"[" * inner + b"]" * inner + b"}"
    assert jobs_protocol.decode_json_object(at_cap)["x"] is not None
    with pytest.raises(jobs_protocol.MqttJobsError) as info:
        jobs_protocol.decode_json_object(b'{"x": [' + b"[" * inner + b"]" * inner + b"]}")
    assert info.value.code == "InvalidJson"


@pytest.mark.parametrize(("fmt", "payload", "code"), [
    ("json", deep_json(), "InvalidJson"),
    ("cbor", deep_cbor(), "InvalidCbor"),
])  # fmt: skip
async def test_streams_deep_payload_is_rejected(
    iot: Any, fmt: str, payload: bytes, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    iot.add_stream(S, {0: ("bkt", "fw.bin")})
    handler = StreamsMqttHandler(iot, lambda bucket, key, version: b"x" * 1000)
    replies = Replies()
    base = f"$aws/things/{T}/streams/{S}"
    for op in ("get", "describe"):
        with caplog.at_level(logging.DEBUG):
            result = handler.handle("client", f"{base}/{op}/{fmt}", payload, replies)
            if result is not None:
                await result
    assert [t for t, _ in replies.items] == [f"{base}/rejected/{fmt}"] * 2
    for _, raw in replies.items:
        body = cbor2.loads(raw) if fmt == "cbor" else json.loads(raw)
        assert body["o"] == code
        assert "nest" in body["m"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_streams_codec_caps_are_exact() -> None:
    flat = {"c": "tok", "f": 0, "l": 256}
    for fmt in Format:
        assert streams_codec.decode(fmt, streams_codec.encode(fmt, flat)) == flat
    inner_json = MAX_JSON_DEPTH - 1
    at_cap_json = b'{"x": ' + b"[" * inner_json + b"]" * inner_json + b"}"
    assert streams_codec.decode(Format.JSON, at_cap_json)["x"] is not None
    at_cap_cbor = b"\xa1\x61x" + b"\x81" * (MAX_CBOR_DEPTH - 2) + b"\x80"
    assert streams_codec.decode(Format.CBOR, at_cap_cbor)["x"] is not None
    for fmt, deeper in (
        (Format.JSON, b'{"x": [' + b"[" * inner_json + b"]" * inner_json + b"]}"),
        (Format.CBOR, b"\xa1\x61x" + b"\x81" * (MAX_CBOR_DEPTH - 1) + b"\x80"),
    ):
        with pytest.raises(streams_codec.DecodeError) as info:
            streams_codec.decode(fmt, deeper)
        assert info.value.code == ("InvalidCbor" if fmt is Format.CBOR else "InvalidJson")
