"""MQTT-based file delivery, protocol rules without I/O: topics, limits, block selection.

Data flows like this (``streams_mqtt.StreamsMqttHandler`` does the service calls and S3 reads)::

    $aws/things/T/streams/S/{describe|get}/{json|cbor}  --parse_streams_topic-->  StreamsTopic
    decoded request map  --parse_get_stream-->  GetStreamRequest (limits checked)
    GetStreamRequest + file size  --select_blocks-->  block indexes to send, one message each
    -> description / data / rejected messages (short keys, see the builders below)

Rules, from "Using AWS IoT MQTT-based file delivery in devices"
(https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery-in-devices.html):
- ``c`` client token: optional, at most 64 bytes, else InvalidRequest; echoed in replies.
- ``s`` stream version: optional; if it differs from the stream's current version the request
  is rejected with VersionMismatch.
- ``f`` file id (0..255), ``l`` block size 256..131,072 bytes (else BlockSizeOutOfBounds).
- ``o`` block offset and ``n`` number of blocks: 0..98,304 (OffsetOutOfBounds /
  BlockCountLimitExceeded); ``b`` bitmap of wanted blocks, at most 12,288 bytes
  (BlockBitmapLimitExceeded); bit i asks for block o+i.
- "You can make a request for multiple blocks whose total size is greater than 128 KB ... the
  request doesn't fail, but your device must make multiple requests": one request yields at most
  128 KiB of block data (the first blocks asked for), never a rejection for asking more.
- With both ``b`` and ``n``, ``n`` caps how many of the bitmap's blocks are sent: AWS's OTA agent
  sends its whole missing-block bitmap with ``o`` = 0 and ``n`` = blocks per request
  (``requestFileBlock_Mqtt`` in aws/ota-for-aws-iot-embedded-sdk ``ota_mqtt.c``).
- With neither ``n`` nor ``b`` the blocks from ``o`` to the end of the file are sent (within the
  128 KiB cap); AWS documents this case as possibly invalid, we are lenient.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Any

from ota_deploy.local.reserved.streams_codec import Format, bitmap_blocks

THINGS_PREFIX = "$aws/things/"

MIN_BLOCK_SIZE = 256
MAX_BLOCK_SIZE = 131_072
MAX_BYTES_PER_REQUEST = 131_072
MAX_OFFSET = 98_304
MAX_BLOCK_COUNT = 98_304
MAX_BITMAP_BYTES = 12_288
MAX_CLIENT_TOKEN_BYTES = 64
MAX_FILE_ID = 255


class StreamsOp(Enum):
    DESCRIBE = "describe"
    GET = "get"
    INVALID = "invalid"


# Topics the service publishes (replies): never requests.
_REPLY_LEAVES = ("description", "data", "rejected")


@dataclass(frozen=True)
class StreamsTopic:
    thing_name: str
    stream_id: str
    op: StreamsOp
    fmt: Format

    def _base(self) -> str:
        return f"{THINGS_PREFIX}{self.thing_name}/streams/{self.stream_id}"

    # cached: a parsed topic is memoised by the handler and answered on thousands of times
    @cached_property
    def description_topic(self) -> str:
        return f"{self._base()}/description/{self.fmt.value}"

    @cached_property
    def data_topic(self) -> str:
        return f"{self._base()}/data/{self.fmt.value}"

    @cached_property
    def rejected_topic(self) -> str:
        return f"{self._base()}/rejected/{self.fmt.value}"


class StreamError(Exception):
    """A rejected request: ``code`` is one of AWS's file-delivery error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def is_streams_topic(topic: str) -> bool:
    """True for ``$aws/things/T/streams/S/...`` topics a device may publish requests to."""
    if not topic.startswith(THINGS_PREFIX):
        return False
    parts = topic.split("/")
    if len(parts) < 5 or parts[3] != "streams" or not parts[2]:
        return False
    return not (len(parts) == 7 and parts[5] in _REPLY_LEAVES)


def parse_streams_topic(topic: str) -> StreamsTopic:
    """Split a request topic; a malformed one gives ``StreamsOp.INVALID`` (answered in JSON
    unless it ends in ``/cbor``)."""
    parts = topic.split("/")
    thing = parts[2]
    stream = parts[4] if len(parts) > 4 else ""
    fmt = Format.CBOR if parts[-1] == "cbor" else Format.JSON
    if len(parts) == 7 and stream and parts[6] in ("json", "cbor"):
        if parts[5] == "describe":
            return StreamsTopic(thing, stream, StreamsOp.DESCRIBE, fmt)
        if parts[5] == "get":
            return StreamsTopic(thing, stream, StreamsOp.GET, fmt)
    return StreamsTopic(thing, stream, StreamsOp.INVALID, fmt)


def client_token(doc: dict[str, Any]) -> str | None:
    """The ``c`` member, validated (text, at most 64 bytes)."""
    token = doc.get("c")
    if token is None:
        return None
    if type(token) is str and token.isascii() and len(token) <= MAX_CLIENT_TOKEN_BYTES:
        return token  # ASCII: as many bytes as characters, no need to encode it
    if not isinstance(token, str):
        raise StreamError("InvalidRequest", "c (client token) must be a string")
    if len(token.encode("utf-8")) > MAX_CLIENT_TOKEN_BYTES:
        raise StreamError("InvalidRequest", "c (client token) must be at most 64 bytes")
    return token


@dataclass(frozen=True)
class GetStreamRequest:
    file_id: int
    block_size: int
    offset: int = 0
    count: int | None = None
    bitmap: bytes | None = None
    stream_version: int | None = None
    client_token: str | None = None


def _int(doc: dict[str, Any], key: str, what: str) -> int | None:
    value = doc.get(key)
    if value is None or type(value) is int:  # (bool is not: type(True) is bool)
        return value  # type: ignore[no-any-return]
    if isinstance(value, bool) or not isinstance(value, int):
        raise StreamError("InvalidRequest", f"{key} ({what}) must be an integer")
    return value


def parse_get_stream(doc: dict[str, Any]) -> GetStreamRequest:
    """Validate a decoded GetStream request against AWS's limits."""
    token = client_token(doc)
    file_id = _int(doc, "f", "file id")
    if file_id is None:
        raise StreamError("InvalidRequest", "f (file id) is required")
    if not 0 <= file_id <= MAX_FILE_ID:
        raise StreamError("InvalidRequest", "f (file id) must be between 0 and 255")
    block_size = _int(doc, "l", "block size")
    if block_size is None:
        raise StreamError("InvalidRequest", "l (block size) is required")
    if not MIN_BLOCK_SIZE <= block_size <= MAX_BLOCK_SIZE:
        raise StreamError(
            "BlockSizeOutOfBounds",
            f"l (block size) must be between {MIN_BLOCK_SIZE} and {MAX_BLOCK_SIZE} bytes",
        )
    offset = _int(doc, "o", "block offset") or 0
    if not 0 <= offset <= MAX_OFFSET:
        raise StreamError("OffsetOutOfBounds", f"o (block offset) must be 0..{MAX_OFFSET}")
    count = _int(doc, "n", "number of blocks")
    if count is not None and not 0 <= count <= MAX_BLOCK_COUNT:
        raise StreamError(
            "BlockCountLimitExceeded", f"n (number of blocks) must be 0..{MAX_BLOCK_COUNT}"
        )
    bitmap = doc.get("b")
    if bitmap is not None and not isinstance(bitmap, bytes):
        raise StreamError("InvalidRequest", "b (bitmap) must be binary")
    if bitmap is not None and len(bitmap) > MAX_BITMAP_BYTES:
        raise StreamError(
            "BlockBitmapLimitExceeded", f"b (bitmap) must be at most {MAX_BITMAP_BYTES} bytes"
        )
    version = _int(doc, "s", "stream version")
    return GetStreamRequest(
        file_id=file_id,
        block_size=block_size,
        offset=offset,
        count=count or None,  # n = 0 asks for nothing in particular: like no n
        bitmap=bitmap or None,
        stream_version=version,
        client_token=token,
    )


_GET_KEYS = frozenset("csflonb")


# The members of a plain request: c, f, l, o, n, b, s (None where absent)
_Plain = tuple[str | None, int, int, int | None, int | None, bytes | None, int | None]


def _plain_members(doc: dict[Any, Any]) -> _Plain | None:
    """The members of a plain request (only known keys, binary ``b``, every member of the
    right type and within AWS's limits), else None."""
    if not doc.keys() <= _GET_KEYS:
        return None
    get = doc.get
    token, file_id, size = get("c"), get("f"), get("l")
    offset, count, bitmap, version = get("o"), get("n"), get("b"), get("s")
    if not (
        (token is None or (type(token) is str and token.isascii() and len(token) <= 64))
        and type(file_id) is int
        and 0 <= file_id <= MAX_FILE_ID
        and type(size) is int
        and MIN_BLOCK_SIZE <= size <= MAX_BLOCK_SIZE
        and (offset is None or (type(offset) is int and 0 <= offset <= MAX_OFFSET))
        and (count is None or (type(count) is int and 0 <= count <= MAX_BLOCK_COUNT))
        and (version is None or type(version) is int)
    ):
        return None
    if bitmap is None:
        if "b" in doc:  # b: null is no bitmap to the decoder (streams_codec.decode rejects it)
            return None
    elif type(bitmap) is not bytes or len(bitmap) > MAX_BITMAP_BYTES:
        return None
    return token, file_id, size, offset, count, bitmap, version


def plain_get_stream(doc: dict[Any, Any]) -> GetStreamRequest | None:
    """``parse_get_stream`` for the plain request a device sends per block; None for anything
    else, which the caller hands to ``parse_get_stream`` (the one place errors come from).
    Whenever it returns a request, it is the one ``parse_get_stream`` would return."""
    members = _plain_members(doc)
    if members is None:
        return None
    token, file_id, size, offset, count, bitmap, version = members
    return GetStreamRequest(
        file_id=file_id,
        block_size=size,
        offset=offset or 0,
        count=count or None,
        bitmap=bitmap or None,
        stream_version=version,
        client_token=token,
    )


# (client token, file id, block size, block index, stream version)
OneBlock = tuple[str | None, int, int, int, int | None]


def one_block_request(doc: dict[Any, Any]) -> OneBlock | None:
    """The request a device sends per block, read without building a ``GetStreamRequest``:
    a plain request for exactly one block, ``o`` -- with the bitmap ``b`` = 0x01, or with no
    bitmap and ``n`` = 1. None for anything else (the caller then takes ``plain_get_stream``
    or ``parse_get_stream``). Whenever it answers, ``plain_get_stream(doc)`` is the same
    request and ``select_blocks`` selects ``[o]`` if block ``o`` exists (else it rejects the
    request: the caller checks ``o`` first)."""
    members = _plain_members(doc)
    if members is None:
        return None
    token, file_id, size, offset, count, bitmap, version = members
    if bitmap != b"\x01" and (bitmap or count != 1):
        return None
    return token, file_id, size, offset or 0, version


def block_count(file_size: int, block_size: int) -> int:
    return -(-file_size // block_size)


def select_blocks(req: GetStreamRequest, file_size: int) -> list[int]:
    """The block indexes to send for ``req``, in order (each becomes one data message)."""
    total = block_count(file_size, req.block_size)
    if req.offset >= total:  # an empty file has no block 0 either
        raise StreamError(
            "OffsetOutOfBounds", f"o (block offset) {req.offset} is past the file's {total} blocks"
        )
    cap = max(1, MAX_BYTES_PER_REQUEST // req.block_size)
    if req.count is not None:
        cap = min(cap, req.count)
    blocks: list[int] = []
    if req.bitmap == b"\x01":  # one block asked for (the OTA agent's usual request)
        blocks = [req.offset]
    elif req.bitmap is not None:
        for block in bitmap_blocks(req.bitmap, req.offset):
            if block >= total or len(blocks) >= cap:
                break
            blocks.append(block)
    else:
        blocks = list(range(req.offset, min(total, req.offset + cap)))
    if not blocks:
        raise StreamError("InvalidRequest", "b (bitmap) asks for no block of the file")
    return blocks


# ---------------------------------------------------------------------------------------------
# Replies


def _with_token(body: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token is not None:
        body = {"c": token, **body}
    return body


def description_message(
    token: str | None, version: int, description: str | None, files: list[tuple[int, int]]
) -> dict[str, Any]:
    """DescribeStream reply: ``{c, s, d, r: [{f, z}]}`` (``d`` only when the stream has one)."""
    body: dict[str, Any] = {"s": version}
    if description is not None:
        body["d"] = description
    body["r"] = [{"f": f, "z": z} for f, z in files]
    return _with_token(body, token)


def data_message(
    token: str | None, file_id: int, block_index: int, payload: bytes
) -> dict[str, Any]:
    """GetStream reply for one block: ``{c, f, l, i, p}``; ``l`` is the actual payload length
    (the last block of a file may be short)."""
    if token is None:
        return {"f": file_id, "l": len(payload), "i": block_index, "p": payload}
    return {"c": token, "f": file_id, "l": len(payload), "i": block_index, "p": payload}


def rejected_message(code: str, message: str, token: str | None) -> dict[str, Any]:
    """Error reply: ``{o: code, m: message, c}``."""
    body: dict[str, Any] = {"o": code, "m": message}
    if token is not None:
        body["c"] = token
    return body
