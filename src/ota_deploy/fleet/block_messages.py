"""The two messages a downloading device handles once per block, read and written by shape.

Data flow, per block of an MQTT file delivery download (``agent_download`` calls this)::

    data message bytes --DataMessages.read-->  (block index, block bytes), or None
    token, offset, ... --GetStreamRequests.encode-->  the next GetStream request's bytes

The general codecs (``fleet.protocol.decode_stream_message`` and ``encode_get_stream``, on
cbor2 and json) build a dict for every message. Within one download the per-block messages
keep one shape: the service's data message ``{c, f, l, i, p}`` for one file and block size,
and the device's request ``{c, f, l, o, n, s, b}`` that changes only in its token ``c``, its
offset ``o`` and, with windows, ``n`` and ``b``. So the constant parts are encoded once per
download and the per-block parts are put in or read out by position.

Both shortcuts answer exactly what the general codecs answer. ``DataMessages.read`` gives
``None`` for anything that is not the common shape (a foreign file, an unusual token, a short
last block, another key order, a malformed payload, ...) and the caller then takes the general
path, which decides; so it never has to reproduce an error, only a success.
``GetStreamRequests.encode`` falls back to ``encode_get_stream`` for what it does not build.
The property tests (tests/unit/fleet/test_fleet_block_messages.py) hold both to the general
codecs, on the local AWS IoT's own messages and on arbitrary and damaged ones.

Formats (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery-in-devices.html):
CBOR maps with one-letter text keys, block and bitmap as byte strings; JSON objects with the
block as base64 text and the bitmap as ``0x`` hex (see ``fleet.protocol``).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable

from ota_deploy.fleet.protocol import Protocol, classify_topic, encode_get_stream, stream_topic

__all__ = ["DataMessages", "GetStreamRequests", "StreamWire"]

_ONE_BLOCK_BITMAP = b"\x01"
_TEXT_HEADS = [bytes((0x60 + n,)) for n in range(24)]  # CBOR text string heads, length 0-23


def _is_plain_uint(value: object) -> bool:
    """An int both codecs write the plain way: not a bool, 0 <= value < 2**64."""
    return type(value) is int and 0 <= value < 1 << 64


def _cbor_uint(value: int) -> bytes:
    """The shortest CBOR encoding of an unsigned int (what cbor2 writes), 0 <= value < 2**64."""
    if value < 24:
        return bytes((value,))
    if value < 0x100:
        return bytes((0x18, value))
    if value < 0x10000:
        return b"\x19" + value.to_bytes(2, "big")
    if value < 0x100000000:
        return b"\x1a" + value.to_bytes(4, "big")
    return b"\x1b" + value.to_bytes(8, "big")


class GetStreamRequests:
    """The GetStream requests of one download, each ``encode_get_stream``'s bytes exactly.

    Fixed for the download: the stream version, the file id, the block size, the format. Per
    request: the client token and the window (offset, count, bitmap). A one-block window with
    a plain token -- 1-23 ASCII letters and digits, which both codecs write as they are (a JSON
    string with nothing to escape, a CBOR text string whose length fits its head byte) -- is put
    together from pre-encoded parts; any other request is left to ``encode_get_stream``.
    """

    __slots__ = ("_fixed", "_head", "_mid", "_one_tail", "_protocol")

    def __init__(
        self, *, stream_version: int | None, file_id: int, block_size: int, protocol: Protocol
    ) -> None:
        self._fixed = (stream_version, file_id, block_size)
        self._protocol: Protocol = protocol
        self._head = self._mid = self._one_tail = b""
        plain = _is_plain_uint(file_id) and _is_plain_uint(block_size)
        if not plain or not (stream_version is None or _is_plain_uint(stream_version)):
            return  # never built here: every request goes the general way
        if protocol == "cbor":  # {c, f, l, o, n[, s], b}: cbor2 writes the dict in order
            pairs = 6 if stream_version is None else 7
            self._head = bytes((0xA0 + pairs,)) + b"\x61c"
            self._mid = (
                b"\x61f" + _cbor_uint(file_id) + b"\x61l" + _cbor_uint(block_size) + b"\x61o"
            )
            version = b"" if stream_version is None else b"\x61s" + _cbor_uint(stream_version)
            self._one_tail = b"\x61n\x01" + version + b"\x61b\x41\x01"
        else:  # json.dumps(..., separators=(",", ":")), the bitmap as 0x hex
            self._head = b'{"c":"'
            self._mid = f'","f":{file_id},"l":{block_size},"o":'.encode("ascii")
            version = b"" if stream_version is None else f',"s":{stream_version}'.encode("ascii")
            self._one_tail = b',"n":1' + version + b',"b":"0x01"}'

    def encode(self, token: str, offset: int, count: int, bitmap: bytes | None) -> bytes:
        """The request for ``count`` blocks from ``offset`` (``bitmap``: which of them).

        Called once per block: the plain-token check and ``_cbor_uint`` are written out here
        for the usual request (a device's own short numeric token, an offset below 65,536)."""
        if (
            count == 1
            and bitmap == _ONE_BLOCK_BITMAP
            and self._mid
            and _is_plain_uint(offset)
            and type(token) is str
            and 0 < len(token) < 24
            and token.isascii()
            and token.isalnum()
        ):
            plain = token.encode("ascii")
            if self._protocol == "cbor":
                if offset < 24:
                    at = bytes((offset,))
                elif offset < 0x100:
                    at = bytes((0x18, offset))
                elif offset < 0x10000:
                    at = bytes((0x19, offset >> 8, offset & 0xFF))
                else:
                    at = _cbor_uint(offset)
                text = _TEXT_HEADS[len(plain)]
                return b"".join((self._head, text, plain, self._mid, at, self._one_tail))
            return b"".join((self._head, plain, self._mid, b"%d" % offset, self._one_tail))
        stream_version, file_id, block_size = self._fixed
        return encode_get_stream(
            client_token=token,
            stream_version=stream_version,
            file_id=file_id,
            block_size=block_size,
            offset=offset,
            count=count,
            bitmap=bitmap,
            protocol=self._protocol,
        )


class DataMessages:
    """Reads the data messages of one file (``file_id``, ``block_size`` blocks) by shape.

    The shape is what the local AWS IoT sends, and what AWS's page shows, for a request with
    a client token: ``{c, f, l, i, p}`` in that order. ``read`` gives ``(index, block)`` for a
    message of that shape whose ``f`` and ``l`` are this download's file and block size and
    whose token is plain; None for anything else (the general path then decides).
    """

    __slots__ = ("_cbor", "_mid")

    def __init__(self, file_id: int, block_size: int, protocol: Protocol) -> None:
        self._cbor = protocol == "cbor"
        self._mid = b""
        if not (_is_plain_uint(file_id) and _is_plain_uint(block_size)):
            return  # read() never matches: the general path reads every message
        if self._cbor:
            self._mid = (
                b"\x61f" + _cbor_uint(file_id) + b"\x61l" + _cbor_uint(block_size) + b"\x61i"
            )
        else:
            self._mid = f'","f":{file_id},"l":{block_size},"i":'.encode("ascii")

    def read(self, payload: bytes) -> tuple[int, bytes] | None:
        """``(block index, block bytes)`` of a data message of the common shape, else None."""
        mid = self._mid
        if not mid:
            return None
        try:
            if self._cbor:
                return self._read_cbor(payload, mid)
            return self._read_json(payload, mid)
        except IndexError:  # cut short: not the common shape
            return None

    @staticmethod
    def _read_cbor(p: bytes, mid: bytes) -> tuple[int, bytes] | None:
        # A5 61 'c' <text token> 61 'f' <f> 61 'l' <l> 61 'i' <uint index> 61 'p' <bytes>.
        # Five distinct keys, so no key repeats; cbor2 ignores bytes after the map, so do we.
        if p[0] != 0xA5 or p[1] != 0x61 or p[2] != 0x63:
            return None
        pos = 4 + p[3] - 0x60
        if not 4 < pos < 28 or not p[4:pos].isalnum() or not p.startswith(mid, pos):
            return None  # a token that is not 1-23 ASCII letters and digits, or another file
        pos += len(mid)
        head = p[pos]
        if head < 0x18:
            index, pos = head, pos + 1
        elif head == 0x18:
            index, pos = p[pos + 1], pos + 2
        elif head == 0x19:
            index, pos = (p[pos + 1] << 8) | p[pos + 2], pos + 3
        else:
            return None
        if p[pos] != 0x61 or p[pos + 1] != 0x70:  # "p"
            return None
        head = p[pos + 2]
        if 0x40 <= head < 0x58:
            length, pos = head - 0x40, pos + 3
        elif head == 0x58:
            length, pos = p[pos + 3], pos + 4
        elif head == 0x59:
            length, pos = (p[pos + 3] << 8) | p[pos + 4], pos + 5
        elif head == 0x5A:
            length, pos = int.from_bytes(p[pos + 3 : pos + 7], "big"), pos + 7
        else:
            return None
        end = pos + length
        if end > len(p):
            return None
        return index, p[pos:end]

    @staticmethod
    def _read_json(p: bytes, mid: bytes) -> tuple[int, bytes] | None:
        # {"c":"<token>","f":F,"l":L,"i":<index>,"p":"<base64>"} with nothing around it.
        if not p.startswith(b'{"c":"'):
            return None
        pos = p.find(b'"', 6)
        if not 6 < pos < 30 or not p[6:pos].isalnum() or not p.startswith(mid, pos):
            return None
        start = pos + len(mid)
        end = p.find(b",", start)
        digits = p[start:end]
        if not 0 < len(digits) < 20 or not digits.isdigit() or digits[:1] == b"0" != digits:
            return None  # no number, or one JSON writes otherwise (a leading zero)
        if not p.startswith(b',"p":"', end) or not p.endswith(b'"}'):
            return None
        text = p[end + 6 : -2]
        try:  # what base64.b64decode(text, validate=True) does
            block = binascii.a2b_base64(text, strict_mode=True)
        except binascii.Error:
            return None
        return int(digits), block


class StreamWire:
    """What one MQTT download sends and hears per block: its two topics, the data reader and
    the request encoder, made once when the stream's description arrives.

    ``data_topic`` is the topic the general path (``classify_topic``) reads as this stream's
    data, so a message on exactly that topic may skip reading its topic; None when the
    stream id would not read back as itself (a ``/`` in it), and then no topic matches.
    """

    __slots__ = ("data_topic", "encode", "get_topic", "read")

    def __init__(
        self,
        thing: str,
        stream_id: str,
        *,
        file_id: int,
        block_size: int,
        stream_version: int | None,
        protocol: Protocol,
    ) -> None:
        topic = stream_topic(thing, stream_id, "data", protocol)
        info = classify_topic(thing, topic)
        readable = info is not None and (info.kind, info.name, info.stream_id) == (
            "stream",
            "data",
            stream_id,
        )
        self.data_topic: str | None = topic if readable else None
        self.get_topic = stream_topic(thing, stream_id, "get", protocol)
        self.read: Callable[[bytes], tuple[int, bytes] | None] = DataMessages(
            file_id, block_size, protocol
        ).read
        self.encode: Callable[[str, int, int, bytes | None], bytes] = GetStreamRequests(
            stream_version=stream_version, file_id=file_id, block_size=block_size, protocol=protocol
        ).encode
