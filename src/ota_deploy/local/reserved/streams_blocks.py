"""One stream file's bytes with its GetStream data messages encoded once, not once per request.

A fleet downloads the same image block by block: 10,000 devices x 64 blocks ask for the same
64 data messages, which differ only in the client token ``c``. So each block's message is
encoded once per (format, block size) -- everything but the token -- and a reply is that
encoding with the token put in front::

    data_message(None, f, i, block)  --streams_codec.encode-->  head + tail
        CBOR: head = map of 4 (0xA4); tail = "f" f "l" len "i" i "p" <bytes>
        JSON: head = "{";             tail = "f":f,"l":len,"i":i,"p":"<base64>"}
    reply without a token: head + tail
    reply with token c:    CBOR: map of 5 (0xA5) + "c" + cbor(c) + tail
                           JSON: {"c": + json(c) + , + tail

which is byte for byte what ``streams_codec.encode(fmt, data_message(c, f, i, block))`` gives
(the tail is cut from that very encoder's output; ``data_message`` puts ``c`` first; the unit
tests compare the two for both formats). Encodings are made lazily, block by block, for the
last ``MAX_LAYOUTS`` (format, block size) pairs asked of the file; older pairs are dropped
(a fleet uses one).
Spec: https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery-in-devices.html
"""

from __future__ import annotations

import json
from collections import OrderedDict

import cbor2

from ota_deploy.local.reserved import streams_codec as codec
from ota_deploy.local.reserved.streams_codec import Format
from ota_deploy.local.reserved.streams_protocol import block_count, data_message

MAX_LAYOUTS = 2  # (format, block size) pairs whose encodings are kept per file

_CBOR_TOKEN_HEAD = b"\xa5\x61c"  # a map of five pairs, then the text "c"
_JSON_TOKEN_HEAD = b'{"c":'


class ServedFile:
    """A stream file's bytes (``data``) and its data messages, encoded on first use."""

    __slots__ = ("_layouts", "data", "file_id")

    def __init__(self, file_id: int, data: bytes) -> None:
        self.file_id = file_id
        self.data = data
        self._layouts: OrderedDict[tuple[Format, int], list[bytes | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.data)

    def message(self, fmt: Format, block_size: int, index: int, token: str | None) -> bytes:
        """The data message of block ``index`` (which must exist) with ``token`` as ``c``."""
        if token is None:
            return (b"\xa4" if fmt is Format.CBOR else b"{") + self._tail_of(fmt, block_size, index)
        item = cbor2.dumps(token) if fmt is Format.CBOR else json.dumps(token).encode("ascii")
        return self.message_with(fmt, block_size, index, item)

    def message_with(self, fmt: Format, block_size: int, index: int, token_item: bytes) -> bytes:
        """``message`` for a token given as written: ``token_item`` is ``cbor2.dumps(token)``
        (CBOR) or ``json.dumps(token)`` (JSON), as the request had it."""
        tail = self._tail_of(fmt, block_size, index)
        if fmt is Format.CBOR:
            return b"".join((_CBOR_TOKEN_HEAD, token_item, tail))
        return b"".join((_JSON_TOKEN_HEAD, token_item, b",", tail))

    def _tail_of(self, fmt: Format, block_size: int, index: int) -> bytes:
        tails = self._layouts.get((fmt, block_size))
        if tails is None:
            tails = self._layout(fmt, block_size)
        tail = tails[index]
        if tail is None:
            tail = tails[index] = self._tail(fmt, block_size, index)
        return tail

    def _layout(self, fmt: Format, block_size: int) -> list[bytes | None]:
        tails: list[bytes | None] = [None] * block_count(len(self.data), block_size)
        self._layouts[(fmt, block_size)] = tails
        while len(self._layouts) > MAX_LAYOUTS:
            self._layouts.popitem(last=False)
        return tails

    def _tail(self, fmt: Format, block_size: int, index: int) -> bytes:
        start = index * block_size
        block = self.data[start : start + block_size]
        encoded = codec.encode(fmt, data_message(None, self.file_id, index, block))
        return encoded[1:]  # all but the head: 0xA4 (a map of four) or "{"
