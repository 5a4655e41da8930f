"""MQTT file delivery handler against the real local AWS IoT and an in-memory blob store."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

import cbor2
import pytest

from ota_deploy.local.reserved.streams_codec import make_bitmap
from ota_deploy.local.reserved.streams_mqtt import StreamsMqttHandler

T = "dev-1"
S = "fw-stream"
BASE = f"$aws/things/{T}/streams/{S}"
FILE0 = bytes(range(256)) * 40 + b"tail!"  # 10,245 bytes: last 4 KiB block is short
FILE1 = b"x" * 1000


class Blobs:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {
            ("bkt", "fw.bin"): FILE0,
            ("bkt", "other.bin"): FILE1,
        }
        self.reads = 0

    def __call__(self, bucket: str, key: str, version: str | None) -> bytes:
        self.reads += 1
        return self.objects[(bucket, key)]


class Replies:
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.items: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        if self.fmt == "cbor":
            body = cbor2.loads(payload)
        else:
            body = json.loads(payload)
            for key in ("p",):
                if key in body:
                    body[key] = base64.b64decode(body[key])
        self.items.append((topic, body))

    def topics(self) -> set[str]:
        return {t for t, _ in self.items}


@pytest.fixture
def blobs() -> Blobs:
    return Blobs()


@pytest.fixture
def handler(iot: Any, blobs: Blobs) -> StreamsMqttHandler:
    iot.add_stream(S, {0: ("bkt", "fw.bin"), 3: ("bkt", "other.bin")}, "firmware")
    return StreamsMqttHandler(iot, blobs)


async def serve(h: StreamsMqttHandler, *args: Any) -> None:
    """Call ``handle`` as the gateway does: await it only if it returned an awaitable."""
    result = h.handle(*args)
    if result is not None:
        await result


def encode(fmt: str, body: dict[str, Any]) -> bytes:
    if fmt == "cbor":
        return cbor2.dumps(body)
    return json.dumps(
        {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in body.items()}
    ).encode()


async def ask(h: StreamsMqttHandler, op: str, fmt: str, body: Any, raw: bytes | None = None):
    topic = f"{BASE}/{op}/{fmt}"
    assert h.handles(topic)
    replies = Replies(fmt)
    await serve(h, "c", topic, raw if raw is not None else encode(fmt, body), replies)
    return replies


def test_handles(handler: StreamsMqttHandler) -> None:
    assert handler.handles(f"{BASE}/describe/json")
    assert handler.handles(f"{BASE}/get/cbor")
    assert handler.handles(f"{BASE}/get/xml")  # answered InvalidTopic
    assert not handler.handles(f"{BASE}/data/cbor")
    assert not handler.handles(f"{BASE}/description/json")
    assert not handler.handles(f"{BASE}/rejected/json")
    assert not handler.handles(f"$aws/things/{T}/jobs/get")
    assert not handler.handles("a/b")


@pytest.mark.parametrize("fmt", ["json", "cbor"])
async def test_describe(handler: StreamsMqttHandler, fmt: str) -> None:
    r = await ask(handler, "describe", fmt, {"c": "tok"})
    [(topic, body)] = r.items
    assert topic == f"{BASE}/description/{fmt}"
    assert body == {
        "c": "tok",
        "s": 1,
        "d": "firmware",
        "r": [{"f": 0, "z": len(FILE0)}, {"f": 3, "z": len(FILE1)}],
    }


async def test_describe_reflects_update_stream(handler, iot, blobs) -> None:
    await ask(handler, "describe", "json", {})
    iot.call("iot", "UpdateStream", {"streamId": S})
    r = await ask(handler, "describe", "json", {})
    assert r.items[0][1]["s"] == 2
    assert "c" not in r.items[0][1]
    # The new version is re-read (cache is keyed by stream version); the old one is rejected.
    reads = blobs.reads
    r = await ask(handler, "get", "cbor", {"c": "v", "s": 1, "f": 0, "l": 4096, "n": 1})
    assert r.items == [
        (f"{BASE}/rejected/cbor", {"o": "VersionMismatch", "m": r.items[0][1]["m"], "c": "v"})
    ]
    r = await ask(handler, "get", "cbor", {"s": 2, "f": 0, "l": 4096, "n": 1})
    assert r.topics() == {f"{BASE}/data/cbor"}
    assert blobs.reads == reads


@pytest.mark.parametrize("fmt", ["json", "cbor"])
async def test_whole_file_in_blocks(handler: StreamsMqttHandler, fmt: str) -> None:
    r = await ask(handler, "get", fmt, {"c": "g", "s": 1, "f": 0, "l": 4096, "o": 0, "n": 3})
    assert r.topics() == {f"{BASE}/data/{fmt}"}
    bodies = [b for _, b in r.items]
    assert [b["i"] for b in bodies] == [0, 1, 2]
    assert [b["l"] for b in bodies] == [4096, 4096, len(FILE0) - 8192]
    assert all(b["c"] == "g" and b["f"] == 0 for b in bodies)
    assert all(set(b) == {"c", "f", "l", "i", "p"} for b in bodies)
    assert b"".join(b["p"] for b in bodies) == FILE0


async def test_json_payload_is_base64_text(handler: StreamsMqttHandler) -> None:
    topic = f"{BASE}/get/json"
    raw: list[bytes] = []
    await serve(handler, "c", topic, b'{"f":3,"l":256,"n":1}', lambda t, p: raw.append(p))
    body = json.loads(raw[0])
    assert base64.b64decode(body["p"]) == FILE1[:256]
    assert body == {"f": 3, "l": 256, "i": 0, "p": body["p"]}


async def test_bitmap_request(handler: StreamsMqttHandler) -> None:
    # 41 blocks of 256 bytes; ask for 0, 5, 9 and 40 with LSB-first bits.
    bitmap = make_bitmap([0, 5, 9, 40])
    assert bitmap[0] == 0b0010_0001 and bitmap[1] == 0b0000_0010
    r = await ask(handler, "get", "cbor", {"f": 0, "l": 256, "o": 0, "b": bitmap})
    assert [b["i"] for _, b in r.items] == [0, 5, 9, 40]
    assert r.items[-1][1]["p"] == FILE0[40 * 256 :]
    # n caps how many of the bitmap's blocks come back (what AWS's OTA agent relies on).
    r = await ask(handler, "get", "cbor", {"f": 0, "l": 256, "o": 0, "b": bitmap, "n": 2})
    assert [b["i"] for _, b in r.items] == [0, 5]
    # The bitmap is relative to o: bit i asks for block o + i.
    r = await ask(
        handler, "get", "json", {"f": 0, "l": 256, "o": 30, "b": make_bitmap([31, 38], 30)}
    )
    assert [b["i"] for _, b in r.items] == [31, 38]
    assert r.items[0][1]["p"] == FILE0[31 * 256 : 32 * 256]


async def test_at_most_128_kib_per_request(iot, blobs) -> None:
    blobs.objects[("bkt", "big.bin")] = bytes(300 * 1024)
    iot.add_stream("big", {0: ("bkt", "big.bin")})
    h = StreamsMqttHandler(iot, blobs)
    replies = Replies("cbor")
    await serve(
        h,
        "c",
        "$aws/things/T/streams/big/get/cbor",
        cbor2.dumps({"f": 0, "l": 32768, "n": 8}),
        replies,
    )
    assert [b["i"] for _, b in replies.items] == [0, 1, 2, 3]  # 4 x 32 KiB = 128 KiB
    replies = Replies("cbor")
    await serve(
        h,
        "c",
        "$aws/things/T/streams/big/get/cbor",
        cbor2.dumps({"f": 0, "l": 131072, "o": 2}),
        replies,
    )
    [(_, only)] = replies.items
    assert only["i"] == 2 and only["l"] == 300 * 1024 - 2 * 131072


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"f": 0, "l": 255, "n": 1}, "BlockSizeOutOfBounds"),
        ({"f": 0, "l": 131073, "n": 1}, "BlockSizeOutOfBounds"),
        ({"f": 0, "l": 4096, "o": 98305, "n": 1}, "OffsetOutOfBounds"),
        ({"f": 0, "l": 4096, "o": 3, "n": 1}, "OffsetOutOfBounds"),  # past the 3-block file
        ({"f": 0, "l": 4096, "n": 98305}, "BlockCountLimitExceeded"),
        ({"f": 0, "l": 4096, "b": b"\x01" * 12289}, "BlockBitmapLimitExceeded"),
        ({"f": 0, "l": 4096, "b": b"\x00\x00"}, "InvalidRequest"),  # asks for nothing
        ({"f": 9, "l": 4096, "n": 1}, "ResourceNotFound"),
        ({"f": 256, "l": 4096, "n": 1}, "InvalidRequest"),
        ({"l": 4096, "n": 1}, "InvalidRequest"),
        ({"f": 0, "n": 1}, "InvalidRequest"),
        ({"f": "0", "l": 4096}, "InvalidRequest"),
        ({"f": 0, "l": 4096, "c": "x" * 65}, "InvalidRequest"),
        ({"f": 0, "l": 4096, "s": 2}, "VersionMismatch"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "cbor"])
async def test_get_rejections(handler, fmt: str, body: dict[str, Any], code: str) -> None:
    r = await ask(handler, "get", fmt, body)
    [(topic, reply)] = r.items
    assert topic == f"{BASE}/rejected/{fmt}"
    assert reply["o"] == code
    assert isinstance(reply["m"], str) and reply["m"]


async def test_bitmap_limit_is_inclusive(handler) -> None:
    r = await ask(handler, "get", "cbor", {"f": 0, "l": 4096, "b": b"\x01" + bytes(12287)})
    assert [b["i"] for _, b in r.items] == [0]


@pytest.mark.parametrize(
    ("fmt", "raw", "code"),
    [
        ("json", b"{oops", "InvalidJson"),
        ("json", b"[]", "InvalidJson"),
        ("cbor", b"\xff\xff", "InvalidCbor"),
        ("cbor", cbor2.dumps([1, 2]), "InvalidCbor"),
        ("json", b'{"f":0,"l":4096,"b":"!!notbase64"}', "InvalidRequest"),
        ("cbor", cbor2.dumps({"f": 0, "l": 4096, "b": 7}), "InvalidRequest"),
    ],
)
async def test_bad_payloads(handler, fmt: str, raw: bytes, code: str) -> None:
    r = await ask(handler, "get", fmt, None, raw=raw)
    [(topic, reply)] = r.items
    assert topic == f"{BASE}/rejected/{fmt}"
    assert reply["o"] == code
    assert "c" not in reply


async def test_client_token_echoed_in_rejection(handler) -> None:
    r = await ask(handler, "get", "cbor", {"c": "tok", "f": 0, "l": 10})
    assert r.items[0][1] == {"o": "BlockSizeOutOfBounds", "m": r.items[0][1]["m"], "c": "tok"}


async def test_invalid_topic(handler) -> None:
    replies = Replies("json")
    await serve(handler, "c", f"{BASE}/get/xml", b"{}", replies)
    [(topic, body)] = replies.items
    assert topic == f"{BASE}/rejected/json"
    assert body["o"] == "InvalidTopic"


async def test_unknown_stream_and_missing_object(iot, blobs) -> None:
    h = StreamsMqttHandler(iot, blobs)
    replies = Replies("json")
    await serve(h, "c", "$aws/things/T/streams/none/describe/json", b"{}", replies)
    assert replies.items[0][1]["o"] == "ResourceNotFound"
    iot.add_stream("gone", {0: ("bkt", "missing.bin")})
    replies = Replies("json")
    await serve(h, "c", "$aws/things/T/streams/gone/get/json", b'{"f":0,"l":256,"n":1}', replies)
    assert replies.items[0][1]["o"] == "ResourceNotFound"


async def test_one_s3_read_for_a_fleet(handler, blobs) -> None:
    """1,000 devices asking at once (and again) read the object from S3 once."""
    got: dict[str, list[bytes]] = {}

    async def device(n: int) -> None:
        topic = f"$aws/things/d{n}/streams/{S}/get/cbor"
        parts: list[bytes] = []
        await serve(
            handler,
            f"d{n}",
            topic,
            cbor2.dumps({"c": str(n), "f": 0, "l": 4096, "n": 3}),
            lambda t, p: parts.append(cbor2.loads(p)["p"]),
        )
        got[str(n)] = parts

    await asyncio.gather(*(device(n) for n in range(1000)))
    assert blobs.reads == 1 and handler.blob_reads == 1
    digest = hashlib.md5(FILE0).hexdigest()
    assert all(hashlib.md5(b"".join(p)).hexdigest() == digest for p in got.values())
    assert len(got) == 1000


async def test_failed_read_is_not_cached(iot, blobs) -> None:
    iot.add_stream("late", {0: ("bkt", "late.bin")})
    h = StreamsMqttHandler(iot, blobs)
    topic = "$aws/things/T/streams/late/get/json"
    replies = Replies("json")
    await serve(h, "c", topic, b'{"f":0,"l":256,"n":1}', replies)
    assert replies.items[0][1]["o"] == "ResourceNotFound"
    blobs.objects[("bkt", "late.bin")] = b"now here"
    replies = Replies("json")
    await serve(h, "c", topic, b'{"f":0,"l":256,"n":1}', replies)
    assert replies.items[0][1]["p"] == b"now here"


async def test_service_failure_is_internal_error(handler, iot) -> None:
    def broken(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("bug")

    iot.call = broken
    r = await ask(handler, "describe", "cbor", {"c": "z"})
    assert r.items == [
        (f"{BASE}/rejected/cbor", {"o": "InternalError", "m": r.items[0][1]["m"], "c": "z"})
    ]


async def test_recreated_stream_is_read_again(iot, blobs, clock) -> None:
    """A new round deletes and re-creates the stream (version 1 again) over new bytes."""
    iot.add_stream("round", {0: ("bkt", "r.bin")})
    blobs.objects[("bkt", "r.bin")] = b"round one"
    h = StreamsMqttHandler(iot, blobs)
    topic = "$aws/things/T/streams/round/get/json"
    replies = Replies("json")
    await serve(h, "c", topic, b'{"f":0,"l":256,"n":1}', replies)
    assert replies.items[0][1]["p"] == b"round one"
    clock.advance(1)
    blobs.objects[("bkt", "r.bin")] = b"round two"
    iot.call("iot", "DeleteStream", {"streamId": "round"})
    iot.add_stream("round", {0: ("bkt", "r.bin")})
    replies = Replies("json")
    await serve(h, "c", topic, b'{"s":1,"f":0,"l":256,"n":1}', replies)
    assert replies.items[0][1]["p"] == b"round two"


async def test_cached_requests_are_answered_synchronously(handler, blobs) -> None:
    topic = f"{BASE}/get/cbor"
    request = cbor2.dumps({"f": 0, "l": 4096, "n": 1})
    got: list[bytes] = []
    first = handler.handle("c", topic, request, lambda t, p: got.append(p))
    assert first is not None and not got  # the S3 read happens in the coroutine
    await first
    assert len(got) == 1
    assert handler.handle("c", topic, request, lambda t, p: got.append(p)) is None
    assert len(got) == 2 and blobs.reads == 1
    # Rejections are synchronous too.
    assert handler.handle("c", topic, b"\xff", lambda t, p: got.append(p)) is None
    assert cbor2.loads(got[-1])["o"] == "InvalidCbor"
