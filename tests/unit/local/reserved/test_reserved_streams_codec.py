"""Property tests of the file-delivery codec, bitmap and block selection (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.local.reserved import streams_protocol as proto
from ota_deploy.local.reserved.streams_codec import (
    DecodeError,
    Format,
    bitmap_blocks,
    decode,
    encode,
    make_bitmap,
)

formats = st.sampled_from([Format.JSON, Format.CBOR])
tokens = st.none() | st.text(max_size=20)


@settings(deadline=None)
@given(
    fmt=formats,
    token=tokens,
    f=st.integers(0, 255),
    i=st.integers(0, 98_304),
    p=st.binary(max_size=600),
)
def test_data_message_round_trip(fmt: Format, token: str | None, f: int, i: int, p: bytes) -> None:
    msg = proto.data_message(token, f, i, p)
    assert decode(fmt, encode(fmt, msg)) == msg
    assert msg["l"] == len(p)


@settings(deadline=None)
@given(
    fmt=formats,
    token=tokens,
    version=st.integers(1, 10_000),
    description=st.none() | st.text(max_size=30),
    files=st.lists(st.tuples(st.integers(0, 255), st.integers(0, 10**9)), max_size=5),
)
def test_description_round_trip(fmt, token, version, description, files) -> None:
    msg = proto.description_message(token, version, description, files)
    back = decode(fmt, encode(fmt, msg))
    assert back == msg
    assert [(r["f"], r["z"]) for r in back["r"]] == files


@settings(deadline=None)
@given(
    fmt=formats,
    token=st.none() | st.text(max_size=16),
    f=st.integers(0, 255),
    l_=st.integers(256, 131_072),
    o=st.integers(0, 98_304),
    n=st.none() | st.integers(0, 98_304),
    b=st.none() | st.binary(min_size=1, max_size=64),
    s=st.none() | st.integers(0, 100),
)
def test_get_stream_request_round_trip(fmt, token, f, l_, o, n, b, s) -> None:
    raw: dict[str, object] = {"f": f, "l": l_, "o": o}
    for key, value in (("c", token), ("n", n), ("b", b), ("s", s)):
        if value is not None:
            raw[key] = value
    req = proto.parse_get_stream(decode(fmt, encode(fmt, raw)))
    assert (req.file_id, req.block_size, req.offset) == (f, l_, o)
    assert req.count == (n or None) and req.bitmap == b and req.stream_version == s
    assert req.client_token == token


@settings(deadline=None)
@given(fmt=formats, code=st.text(min_size=1, max_size=20), m=st.text(max_size=40), c=tokens)
def test_rejected_round_trip(fmt, code, m, c) -> None:
    msg = proto.rejected_message(code, m, c)
    assert decode(fmt, encode(fmt, msg)) == msg


@settings(deadline=None)
@given(blocks=st.sets(st.integers(0, 2000), max_size=60), offset=st.integers(0, 500))
def test_bitmap_round_trip(blocks: set[int], offset: int) -> None:
    shifted = {b + offset for b in blocks}
    bitmap = make_bitmap(shifted, offset)
    assert list(bitmap_blocks(bitmap, offset)) == sorted(shifted)
    if blocks:
        assert len(bitmap) == max(blocks) // 8 + 1


def test_bitmap_bit_order_is_lsb_first() -> None:
    assert make_bitmap([0]) == b"\x01"
    assert make_bitmap([7]) == b"\x80"
    assert make_bitmap([8, 9]) == b"\x00\x03"
    assert list(bitmap_blocks(b"\x81\x01", 10)) == [10, 17, 18]
    with pytest.raises(ValueError):
        make_bitmap([1], offset=2)


@settings(deadline=None)
@given(
    size=st.integers(1, 400_000),
    block=st.sampled_from([256, 1024, 4096, 32768, 131072]),
    offset=st.integers(0, 50),
    count=st.none() | st.integers(1, 100),
    wanted=st.none() | st.sets(st.integers(0, 300), min_size=1, max_size=40),
)
def test_select_blocks_properties(size, block, offset, count, wanted) -> None:
    total = proto.block_count(size, block)
    bitmap = make_bitmap({w + offset for w in wanted}, offset) if wanted else None
    req = proto.GetStreamRequest(
        file_id=0, block_size=block, offset=offset, count=count, bitmap=bitmap
    )
    try:
        chosen = proto.select_blocks(req, size)
    except proto.StreamError as err:
        assert err.code in {"OffsetOutOfBounds", "InvalidRequest"}
        if err.code == "OffsetOutOfBounds":
            assert offset >= total
        else:
            assert wanted and min(wanted) + offset >= total
        return
    assert chosen == sorted(set(chosen))
    assert all(offset <= c < total for c in chosen)
    assert 1 <= len(chosen) * block <= max(block, proto.MAX_BYTES_PER_REQUEST)
    if count is not None:
        assert len(chosen) <= count
    if wanted:
        assert set(chosen) <= {w + offset for w in wanted}
        expected = sorted(w + offset for w in wanted if w + offset < total)
        assert chosen == expected[: len(chosen)]  # the first ones asked for
    else:
        assert chosen == list(range(offset, offset + len(chosen)))


@settings(deadline=None)
@given(payload=st.binary(max_size=80), fmt=formats)
def test_decode_never_raises_unexpected(payload: bytes, fmt: Format) -> None:
    try:
        decode(fmt, payload)
    except DecodeError as err:
        assert err.code == ("InvalidCbor" if fmt is Format.CBOR else "InvalidJson")
    except ValueError:
        pass  # a binary member that is not binary: the handler answers InvalidRequest


def test_parse_topics() -> None:
    t = proto.parse_streams_topic("$aws/things/a:b/streams/s-1/get/cbor")
    assert (t.thing_name, t.stream_id, t.op, t.fmt) == (
        "a:b",
        "s-1",
        proto.StreamsOp.GET,
        Format.CBOR,
    )
    assert t.data_topic == "$aws/things/a:b/streams/s-1/data/cbor"
    assert t.rejected_topic == "$aws/things/a:b/streams/s-1/rejected/cbor"
    d = proto.parse_streams_topic("$aws/things/a/streams/s/describe/json")
    assert d.op is proto.StreamsOp.DESCRIBE and d.description_topic.endswith("/description/json")
    assert proto.parse_streams_topic("$aws/things/a/streams/s/get").op is proto.StreamsOp.INVALID
    assert (
        proto.parse_streams_topic("$aws/things/a/streams/s/put/json").op is proto.StreamsOp.INVALID
    )


@settings(deadline=None)
@given(b=st.binary(min_size=1, max_size=64), prefix=st.sampled_from(["0x", "0X"]))
def test_json_bitmap_is_hex_as_the_page_writes_it(b: bytes, prefix: str) -> None:
    # mqtt-based-file-delivery-in-devices.html: "b": "0x130080" (a hexadecimal string)
    wire = encode(Format.JSON, {"f": 0, "l": 256, "b": b})
    assert f'"b":"0x{b.hex()}"'.encode() in wire
    assert decode(Format.JSON, f'{{"b":"{prefix}{b.hex().upper()}"}}'.encode())["b"] == b
    legacy = decode(Format.JSON, b'{"b":"AQ=="}')  # base64 without the prefix, as read so far
    assert legacy["b"] == b"\x01"


def test_page_example_bitmap_selects_four_blocks() -> None:
    bitmap = decode(Format.JSON, b'{"b":"0x130080"}')["b"]
    assert bitmap == b"\x13\x00\x80" and list(bitmap_blocks(bitmap, 0)) == [0, 1, 4, 23]
    assert decode(Format.JSON, b'{"b":"0x1"}')["b"] == b"\x01"  # odd length: a leading 0
    with pytest.raises(ValueError, match="hexadecimal"):
        decode(Format.JSON, b'{"b":"0xnothex"}')
