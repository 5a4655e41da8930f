"""The per-block shortcuts (``fleet.block_messages``) answer what the general codecs answer.

``DataMessages.read`` against ``decode_stream_message`` plus the agent's checks of a block
(this file, an int index, bytes), on the local AWS IoT's own data messages and on arbitrary,
reordered and damaged ones: the shortcut may decline (None: the general path decides), never
differ. ``GetStreamRequests.encode`` against ``encode_get_stream``, byte for byte.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.fleet import protocol as proto
from ota_deploy.fleet.block_messages import DataMessages, GetStreamRequests
from ota_deploy.local.reserved.streams_blocks import ServedFile
from ota_deploy.local.reserved.streams_codec import Format

PROTOCOLS = st.sampled_from(["cbor", "json"])
PLAIN_TOKENS = st.text("abcXYZ0123456789", min_size=1, max_size=23)
TOKENS = PLAIN_TOKENS | st.text(max_size=30)


def general_block(payload: bytes, protocol: proto.Protocol, file_id: int) -> Any:
    """What the agent makes of a data message the general way: (index, block) or None."""
    msg = proto.decode_stream_message(payload, protocol)
    if msg is None or msg.get("f") != file_id:
        return None
    index, data = msg.get("i"), msg.get("p")
    if not isinstance(index, int) or not isinstance(data, bytes | bytearray):
        return None
    return index, bytes(data)


@settings(max_examples=100, deadline=None)
@given(
    protocol=PROTOCOLS,
    file_id=st.integers(0, 255),
    block_size=st.sampled_from([256, 1000, 4096, 65536]),
    blocks=st.integers(1, 3),
    short_tail=st.integers(0, 255),
    token=TOKENS | st.none(),
)
def test_the_services_data_messages_read_as_the_general_way(
    protocol: proto.Protocol,
    file_id: int,
    block_size: int,
    blocks: int,
    short_tail: int,
    token: str | None,
) -> None:
    data = bytes(i * 31 % 251 for i in range(blocks * block_size - short_tail))
    served = ServedFile(file_id, data)
    reader = DataMessages(file_id, block_size, protocol)
    fmt = Format.CBOR if protocol == "cbor" else Format.JSON
    plain = token is not None and token.isascii() and token.isalnum() and len(token) < 24
    for index in range(-(-len(data) // block_size)):
        payload = served.message(fmt, block_size, index, token)
        fast = reader.read(payload)
        assert fast is None or fast == general_block(payload, protocol, file_id)
        full = len(data) - index * block_size >= block_size
        if plain and full:  # the common shape: the shortcut takes it
            assert fast == (index, data[index * block_size : (index + 1) * block_size])
    other = DataMessages(file_id + 1, block_size, protocol)  # another file's messages
    assert other.read(served.message(fmt, block_size, 0, token)) is None


VALUES = (
    st.integers(-(2**70), 2**70)
    | st.booleans()
    | st.none()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=40)
    | st.lists(st.integers(0, 9), max_size=3)
)


def encode_any(obj: dict[str, Any], protocol: str) -> bytes:
    if protocol == "cbor":
        return bytes(cbor2.dumps(obj))
    plain = {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in obj.items()}
    return json.dumps(plain, separators=(",", ":")).encode()


@settings(max_examples=500, deadline=None)
@given(
    protocol=PROTOCOLS,
    file_id=st.integers(0, 3),
    block_size=st.sampled_from([16, 300]),
    token=PLAIN_TOKENS,
    index=st.integers(0, 70000),
    block=st.binary(max_size=300),
    changes=st.dictionaries(st.sampled_from(["c", "f", "l", "i", "p", "x"]), VALUES, max_size=2),
    dropped=st.sets(st.sampled_from(["c", "f", "l", "i", "p"]), max_size=1),
    order=st.permutations(range(6)) | st.none(),
    damage=st.none() | st.tuples(st.sampled_from(["cut", "flip", "insert"]), st.integers(0, 500)),
    extra=st.binary(max_size=3),
)
def test_arbitrary_and_damaged_messages_read_as_the_general_way_or_not_at_all(
    protocol: proto.Protocol,
    file_id: int,
    block_size: int,
    token: str,
    index: int,
    block: bytes,
    changes: dict[str, Any],
    dropped: set[str],
    order: list[int] | None,
    damage: tuple[str, int] | None,
    extra: bytes,
) -> None:
    # the common shape, then other values, a missing key, another order, damage
    message = {"c": token, "f": file_id, "l": block_size, "i": index, "p": block}
    pairs = [(k, v) for k, v in (message | changes).items() if k not in dropped]
    if order is not None:
        pairs = [pairs[i] for i in order if i < len(pairs)]
    payload = encode_any(dict(pairs), protocol) + extra
    if damage is not None and payload:
        kind, at = damage
        at %= len(payload)
        if kind == "cut":
            payload = payload[:at]
        elif kind == "flip":
            payload = payload[:at] + bytes((payload[at] ^ 0x41,)) + payload[at + 1 :]
        else:
            payload = payload[:at] + b"\x00" + payload[at:]
    fast = DataMessages(file_id, block_size, protocol).read(payload)
    assert fast is None or fast == general_block(payload, protocol, file_id)


def test_a_plain_message_and_a_foreign_one() -> None:
    block = bytes(range(256)) * 16
    msg = {"c": "17", "f": 1, "l": 4096, "i": 300, "p": block}
    for protocol in ("cbor", "json"):
        reader = DataMessages(1, 4096, protocol)  # type: ignore[arg-type]
        assert reader.read(encode_any(msg, protocol)) == (300, block)
        assert reader.read(encode_any({**msg, "f": 2}, protocol)) is None
        assert reader.read(b"") is None


@settings(max_examples=400, deadline=None)
@given(
    protocol=PROTOCOLS,
    token=TOKENS,
    stream_version=st.none() | st.integers(-2, 2**65) | st.booleans(),
    file_id=st.integers(0, 255),
    block_size=st.integers(256, 131072),
    offset=st.integers(0, 2**33),
    window=st.just((1, b"\x01")) | st.tuples(st.integers(1, 40), st.binary(max_size=5) | st.none()),
)
def test_requests_are_the_general_encoders_bytes(
    protocol: proto.Protocol,
    token: str,
    stream_version: int | None,
    file_id: int,
    block_size: int,
    offset: int,
    window: tuple[int, bytes | None],
) -> None:
    count, bitmap = window
    requests = GetStreamRequests(
        stream_version=stream_version, file_id=file_id, block_size=block_size, protocol=protocol
    )
    expected = proto.encode_get_stream(
        client_token=token,
        stream_version=stream_version,
        file_id=file_id,
        block_size=block_size,
        offset=offset,
        count=count,
        bitmap=bitmap,
        protocol=protocol,
    )
    assert requests.encode(token, offset, count, bitmap) == expected


@pytest.mark.parametrize("protocol", ["cbor", "json"])
@pytest.mark.parametrize("offset", [0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32])
@pytest.mark.parametrize("token", ["1", "12345678901234567890123", "a1B2"])
def test_one_block_requests_at_every_cbor_length_boundary(
    protocol: proto.Protocol, offset: int, token: str
) -> None:
    """Where a CBOR unsigned int changes length (the encoder writes those heads itself)."""
    requests = GetStreamRequests(stream_version=3, file_id=1, block_size=4096, protocol=protocol)
    expected = proto.encode_get_stream(
        client_token=token,
        stream_version=3,
        file_id=1,
        block_size=4096,
        offset=offset,
        count=1,
        bitmap=b"\x01",
        protocol=protocol,
    )
    assert requests.encode(token, offset, 1, b"\x01") == expected
