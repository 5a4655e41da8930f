"""Reading the per-block GetStream request by position answers what the general decoder does.

``OneBlockReader.read`` is held to ``cbor2`` / ``streams_codec.decode`` followed by
``one_block_request``: whatever it answers, the general way answers the same (and the token's
wire bytes are what the data message's encoder writes for it); it may decline anything. The
reader keeps what it learnt, so each example runs many requests through one reader: the
fleet's and the OTA library's shapes, other key orders, duplicate ``c`` members, odd tokens,
and damaged bytes.
"""

from __future__ import annotations

import json
from typing import Any

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.fleet.block_messages import GetStreamRequests
from ota_deploy.local.reserved import streams_codec as codec
from ota_deploy.local.reserved.streams_codec import Format
from ota_deploy.local.reserved.streams_protocol import one_block_request
from ota_deploy.local.reserved.streams_requests import OneBlockReader


def general(fmt: Format, payload: bytes) -> Any:
    """What ``StreamsMqttHandler._one_block`` reads without the reader."""
    try:
        if fmt is Format.CBOR:
            doc = cbor2.loads(payload, max_depth=codec.MAX_CBOR_DEPTH - 1)
        else:
            doc = codec.decode(fmt, payload)
    except Exception:
        return None
    return one_block_request(doc) if type(doc) is dict else None


def check(reader: OneBlockReader, fmt: Format, payload: bytes) -> bool:
    """Asserts the reader agrees with the general way; True when it read the request."""
    got = reader.read(fmt, payload)
    if got is None:
        return False
    token, item, file_id, size, index, version = got
    assert general(fmt, payload) == (token, file_id, size, index, version)
    written = cbor2.dumps(token) if fmt is Format.CBOR else json.dumps(token).encode()
    assert item == written
    return True


def encode(fmt: Format, doc: dict[Any, Any]) -> bytes:
    if fmt is Format.CBOR:
        return cbor2.dumps(doc)
    plain = {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in doc.items()}
    return json.dumps(plain, separators=(",", ":")).encode()


formats = st.sampled_from([Format.CBOR, Format.JSON])
tokens = st.one_of(
    st.integers(0, 10**6).map(str),
    st.text(alphabet="abcXYZ019", min_size=1, max_size=30),
    st.text(max_size=8),  # anything: quotes, escapes, non-ASCII, empty
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 70_000),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.floats(allow_nan=False),
)


@st.composite
def requests(draw: st.DrawFn) -> dict[Any, Any]:
    """A GetStream request: mostly plain one-block ones, with ``c`` first or not, extra or
    duplicate-looking members, and odd values."""
    doc: dict[Any, Any] = {"c": draw(tokens)}
    members: dict[Any, Any] = {
        "f": draw(st.sampled_from([0, 1, 7]) | values),
        "l": draw(st.sampled_from([256, 4096]) | values),
        "o": draw(st.integers(0, 70) | values),
        "n": draw(st.sampled_from([1, 2]) | values),
        "b": draw(st.sampled_from([b"\x01", b"\x03"]) | values),
    }
    if draw(st.booleans()):
        members["s"] = draw(st.sampled_from([1, 2]) | values)
    order = draw(st.permutations(list(members)))
    for key in order:
        if draw(st.integers(0, 9)) > 0:
            doc[key] = members[key]
    if draw(st.integers(0, 9)) == 0:
        doc[draw(st.sampled_from(["x", "c"]))] = draw(values)  # "c" again: moves to the end
    if draw(st.integers(0, 9)) == 0:
        doc = {k: v for k, v in doc.items() if k != "c"} | {"c": doc.get("c")}
    return doc


def with_late_token(fmt: Format, payload: bytes, late: str) -> bytes:
    """The request with a second ``c`` at its end (a CBOR map one pair longer; in JSON the
    later member wins): the tail's own token must override the one read by position."""
    if fmt is Format.CBOR:
        if not 0xA0 <= payload[0] < 0xB7:
            return payload
        return bytes((payload[0] + 1,)) + payload[1:] + cbor2.dumps("c") + cbor2.dumps(late)
    if not payload.endswith(b"}"):
        return payload
    return payload[:-1] + b',"c":' + json.dumps(late).encode() + b"}"


@settings(max_examples=300, deadline=None)
@given(fmt=formats, docs=st.lists(requests(), min_size=1, max_size=12), data=st.data())
def test_reader_agrees_with_the_general_decoder(
    fmt: Format, docs: list[dict[Any, Any]], data: st.DataObject
) -> None:
    reader = OneBlockReader()
    for doc in docs:
        payload = encode(fmt, doc)
        check(reader, fmt, payload)
        # the same tail with other tokens (what the reader keeps is per tail)
        rest = {k: v for k, v in doc.items() if k != "c"}
        for token in data.draw(st.lists(tokens, max_size=3)):
            check(reader, fmt, encode(fmt, {"c": token, **rest}))
        check(reader, fmt, with_late_token(fmt, payload, data.draw(tokens)))


@settings(max_examples=300, deadline=None)
@given(
    fmt=formats,
    version=st.none() | st.integers(1, 3),
    offsets=st.lists(st.integers(0, 63), min_size=1, max_size=8),
    tokens_=st.lists(st.integers(1, 10**9).map(str), min_size=1, max_size=8),
    damage=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 255)), max_size=3),
)
def test_fleet_requests_are_read_by_position_and_damage_is_judged_alike(
    fmt: Format,
    version: int | None,
    offsets: list[int],
    tokens_: list[str],
    damage: list[tuple[int, int]],
) -> None:
    """The fleet's own requests are read by position (none declined), and damaged ones get
    the general answer whatever the reader learnt before."""
    wire = GetStreamRequests(
        stream_version=version,
        file_id=0,
        block_size=4096,
        protocol=fmt.value,  # type: ignore[arg-type]
    )
    reader = OneBlockReader()
    for offset in offsets:
        for token in tokens_:
            assert check(reader, fmt, wire.encode(token, offset, 1, b"\x01"))
    for offset, token in zip(offsets, tokens_, strict=False):
        damaged = bytearray(wire.encode(token, offset, 1, b"\x01"))
        for at, byte in damage:
            if at < len(damaged):
                damaged[at] = byte
        check(reader, fmt, bytes(damaged))


def test_the_ota_librarys_order_and_multi_block_requests() -> None:
    """The AWS IoT OTA library (embedded C) writes {c, f, l, o, b, n}; a bitmap of several
    blocks is not one block: declined (the general path selects the blocks)."""
    reader = OneBlockReader()
    one = {"c": "rdy", "f": 0, "l": 1024, "o": 3, "b": b"\x01", "n": 1}
    assert check(reader, Format.CBOR, cbor2.dumps(one))
    assert check(reader, Format.CBOR, cbor2.dumps({**one, "c": "abc"}))
    assert not check(reader, Format.CBOR, cbor2.dumps({**one, "b": b"\xff\x03", "n": 10}))
    assert not check(reader, Format.CBOR, cbor2.dumps({**one, "c": "r-y"}))  # not alphanumeric
    assert not check(reader, Format.CBOR, cbor2.dumps({"f": 0, **one}))  # c not first
    assert not check(reader, Format.JSON, b'{"c":"ab\\"c","f":0,"l":1024,"o":3,"n":1}')


def test_a_late_token_in_the_tail_is_never_taken_for_the_first() -> None:
    reader = OneBlockReader()
    plain = cbor2.dumps({"c": "one", "f": 0, "l": 1024, "o": 3, "n": 1})
    late = with_late_token(Format.CBOR, plain, "zz")
    assert cbor2.loads(late)["c"] == "zz"
    assert not check(reader, Format.CBOR, late)
    assert not check(reader, Format.CBOR, late.replace(b"one", b"two"))
    assert general(Format.CBOR, late) == ("zz", 0, 1024, 3, None)  # the general way serves it
    assert check(reader, Format.CBOR, plain)
    # the same token twice: learnt from it, the tail must still not be read by position
    same = with_late_token(Format.CBOR, plain.replace(b"\x63one", b"\x62zz"), "zz")
    json_same = b'{"c":"zz","f":0,"l":1024,"o":3,"n":1,"c":"zz"}'
    for fmt, payload in ((Format.CBOR, same), (Format.JSON, json_same)):
        assert general(fmt, payload) == ("zz", 0, 1024, 3, None)
        check(reader, fmt, payload)
        assert not check(reader, fmt, payload.replace(b"zz", b"ab", 1))
