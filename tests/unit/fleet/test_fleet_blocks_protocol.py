"""Block assembly, bitmaps, stream codecs and job-document parsing (pure functions)."""

from __future__ import annotations

import hashlib
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.fleet import protocol as proto
from ota_deploy.fleet.blocks import BlockAssembler, BlockError
from ota_deploy.local.reserved.streams_codec import bitmap_blocks


@settings(deadline=None, max_examples=60)
@given(
    data=st.binary(min_size=0, max_size=3000),
    block=st.integers(min_value=1, max_value=700),
    order_seed=st.randoms(use_true_random=False),
    dups=st.integers(min_value=0, max_value=5),
)
def test_any_arrival_order_gives_the_file_digest(
    data: bytes, block: int, order_seed: Any, dups: int
) -> None:
    asm = BlockAssembler(len(data), block, want_sha256=True)
    idx = list(range(asm.total_blocks))
    order_seed.shuffle(idx)
    idx += idx[:dups]  # duplicates are ignored
    for i in idx:
        asm.add(i, data[i * block : (i + 1) * block])
    assert asm.complete and asm.received_bytes == len(data)
    assert asm.md5_hex() == hashlib.md5(data).hexdigest()
    assert asm.sha256_digest() == hashlib.sha256(data).digest()
    assert asm.next_window(4) is None


def test_windows_and_bad_blocks() -> None:
    asm = BlockAssembler(10 * 256, 256)
    assert asm.next_window(4) == (0, 4, b"\x0f")
    asm.add(1, b"x" * 256)
    assert asm.next_window(4) == (0, 4, b"\x0d")
    asm.add(0, b"x" * 256)
    assert asm.next_window(4) == (2, 4, b"\x0f") and asm.window_done(0, 2)
    with pytest.raises(BlockError):
        asm.add(10, b"x" * 256)
    with pytest.raises(BlockError):
        asm.add(3, b"short")
    with pytest.raises(BlockError):
        asm.md5_hex()  # incomplete


@settings(deadline=None, max_examples=60)
@given(st.sets(st.integers(min_value=0, max_value=2000), min_size=1), st.integers(0, 50))
def test_bitmap_round_trip(indices: set[int], offset: int) -> None:
    """The device's bitmap asks for exactly its blocks, as the local AWS IoT reads it."""
    idx = sorted(i + offset for i in indices)
    bm = proto.make_bitmap(idx, offset)
    assert list(bitmap_blocks(bm, offset)) == idx
    assert len(bm) == (max(idx) - offset) // 8 + 1


@settings(deadline=None, max_examples=60)
@given(
    st.text(max_size=64),
    st.integers(0, 255),
    st.integers(0, 98304),
    st.binary(max_size=64),
    st.sampled_from(["cbor", "json"]),
)
def test_get_stream_request_round_trip(
    token: str, file_id: int, offset: int, bitmap: bytes, protocol: Any
) -> None:
    raw = proto.encode_get_stream(
        client_token=token,
        stream_version=3,
        file_id=file_id,
        block_size=4096,
        offset=offset,
        count=4,
        bitmap=bitmap,
        protocol=protocol,
    )
    if protocol == "cbor":
        back = cbor2.loads(raw)
    else:  # the bitmap as 0x hex (the AWS page's form): what the local AWS IoT reads back
        import json

        from ota_deploy.local.reserved.streams_codec import Format, decode

        assert json.loads(raw)["b"] == "0x" + bitmap.hex()
        back = decode(Format.JSON, raw)
    assert back == {"c": token, "s": 3, "f": file_id, "l": 4096, "o": offset, "n": 4, "b": bitmap}


@settings(deadline=None, max_examples=60)
@given(st.binary(max_size=5000), st.sampled_from(["cbor", "json"]))
def test_data_message_decodes_payload_bytes(payload: bytes, protocol: Any) -> None:
    msg = {"c": "1", "f": 1, "l": len(payload), "i": 0, "p": payload}
    raw = proto.encode_stream_message(msg, protocol)
    assert proto.decode_stream_message(raw, protocol) == msg


@settings(deadline=None, max_examples=60)
@given(st.binary(max_size=200))
def test_garbage_never_raises(raw: bytes) -> None:
    for p in ("cbor", "json"):
        out = proto.decode_stream_message(raw, p)  # type: ignore[arg-type]
        assert out is None or isinstance(out, dict)
    assert proto.decode_json(raw) is None or isinstance(proto.decode_json(raw), dict)


def test_classify_topics() -> None:
    c = proto.classify_topic
    assert c("t", "$aws/things/t/jobs/notify-next") == proto.TopicInfo("jobs", "notify-next")
    assert c("t", "$aws/things/t/jobs/j1/update/accepted") == proto.TopicInfo(
        "jobs", "update/accepted", job_id="j1"
    )
    assert c("t", "$aws/things/t/jobs/start-next/rejected").name == "start-next/rejected"
    assert c("t", "$aws/things/t/streams/S/data/cbor") == proto.TopicInfo(
        "stream", "data", stream_id="S"
    )
    assert c("t", "$aws/things/u/jobs/notify-next") is None
    assert c("t", "$aws/things/t/shadow/update") is None
    assert len(proto.device_subscriptions("t", "json")) == 10


def test_parse_documents() -> None:
    spec = proto.parse_job_document(
        {
            "command": "fota",
            "streamId": "s",
            "fileId": "69",
            "fileSize": 10,
            "imageVer": 1,
            "md5sum": "ABC",
            "Info1": "x",
            "url": "https://u",
        }
    )
    assert (spec.stream_id, spec.file_id, spec.file_size, spec.image_version, spec.md5_hex) == (
        "s",
        69,
        10,
        "1",
        "abc",
    )
    assert spec.url_usable
    placeholder = proto.parse_job_document(
        {"streamId": "s", "url": "${aws:iot:s3-presigned-url:https://b.s3.amazonaws.com/k}"}
    )
    assert not placeholder.url_usable
    afr = proto.parse_job_document(
        {
            "afr_ota": {
                "streamname": "AFR",
                "files": [
                    {"filesize": 5, "fileid": 0, "filepath": "/f", "sig-sha256-ecdsa": "AAAA"}
                ],
            }
        }
    )
    assert afr.stream_id == "AFR" and afr.signature == b"\0\0\0" and afr.file_size == 5
    for bad in (
        None,
        [],
        {"command": "x"},
        {"streamId": 5},
        {"streamId": "s", "fileId": True},
        {"streamId": "s", "signature": "***"},
        {"afr_ota": {"files": []}},
    ):
        with pytest.raises(proto.DocumentError):
            proto.parse_job_document(bad)
