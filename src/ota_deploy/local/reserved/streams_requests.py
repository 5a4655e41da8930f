"""The per-block GetStream request, read by position: its token, and the rest looked up.

Data flow, per block request (``StreamsMqttHandler._one_block`` calls this first)::

    payload --OneBlockReader.read--> (token, token's wire bytes, file, block size, block,
                                      stream version)      the request of one block
                                 --> None                  anything else, or not known yet:
                                                           the caller decodes it the general way

Why: a download's requests differ only in their client token and block offset, and every
device of a fleet asks for the same blocks. A request that opens with its token ``c`` -- a
CBOR map whose first pair is ``"c"`` and a short ASCII text, or JSON that opens ``{"c":"`` --
is cut in two: the token, read here, and the bytes after it (the *tail*: every other member),
whose meaning does not depend on the token. What a tail means is worked out once, by the
general decoder and ``streams_protocol.one_block_request``, and kept (a few tails per
download: one per block offset). The fleet's agent and the AWS IoT OTA library's
(FreeRTOS / embedded C) CBOR requests both write ``c`` first.

It answers exactly what the general way answers: a tail is learnt by decoding the whole
request twice, with its token and with another one, and is kept only when both decode to
maps whose ``c`` is the token put in (a ``c`` later in the tail would override it; then the
tail is kept as "not by position"); the token is restricted to ASCII letters and digits (no
escapes, nothing the decoders read specially), at most 23 characters in CBOR (one head byte)
and 64 in JSON (``one_block_request``'s own limit). The property tests
(tests/unit/local/reserved/test_reserved_streams_requests.py) hold it to the general decoder.
Spec: https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery-in-devices.html
"""

from __future__ import annotations

from typing import Any

import cbor2

from ota_deploy.local.reserved import streams_codec as codec
from ota_deploy.local.reserved import streams_protocol as proto
from ota_deploy.local.reserved.streams_codec import Format

# (client token, the token as written in the data message, file id, block size, block index,
# stream version)
PositionalRequest = tuple[str, bytes, int, int, int, int | None]

# what a tail means: (map head byte or 0 for JSON, file id, block size, block, version), or
# None: not a one-block request by position (the general way decides)
_Tail = tuple[int, int, int, int, int | None] | None

_MAX_TAILS = 4096  # learnt tails kept per format; simply emptied when full
_JSON_HEAD = b'{"c":"'
_MAX_JSON_TOKEN = 64  # one_block_request takes tokens of at most 64 characters


def _general(fmt: Format, payload: bytes) -> dict[Any, Any] | None:
    """What ``StreamsMqttHandler._one_block`` decodes a request to, or None (not a map, or
    an error: the general path reports it)."""
    try:
        if fmt is Format.CBOR:
            doc = cbor2.loads(payload, max_depth=codec.MAX_CBOR_DEPTH - 1)
        else:
            doc = codec.decode(fmt, payload)
    except Exception:
        return None
    return doc if type(doc) is dict else None


class OneBlockReader:
    """Reads one-block requests by position (see the module docstring); one per handler."""

    __slots__ = ("_cbor", "_json")

    def __init__(self) -> None:
        self._cbor: dict[bytes, _Tail] = {}
        self._json: dict[bytes, _Tail] = {}

    def read(self, fmt: Format, payload: bytes) -> PositionalRequest | None:
        """The one-block request ``payload`` is, or None (the general way decides)."""
        if fmt is Format.CBOR:
            # map head (a2-b7), "c" (61 63), a text of 1-23 bytes (61-77), the token
            if len(payload) < 5 or payload[1] != 0x61 or payload[2] != 0x63:
                return None
            end = payload[3] - 0x5C  # 4 + the text's length: where the tail starts
            head = payload[0]
            if not 4 < end < 28 or not 0xA1 < head < 0xB8:
                return None
            raw = payload[4:end]
            item = payload[3:end]
            memo = self._cbor
        else:
            if not payload.startswith(_JSON_HEAD):
                return None
            quote = payload.find(b'"', 6)
            if not 6 < quote <= 6 + _MAX_JSON_TOKEN:
                return None
            raw = payload[6:quote]
            item = payload[5 : quote + 1]
            end = quote + 1
            head = 0
            memo = self._json
        if not (raw.isascii() and raw.isalnum()):
            return None
        tail = payload[end:]
        try:
            known = memo[tail]
        except KeyError:
            known = self._learn(fmt, payload, item, tail, head)
        if known is None or known[0] != head:
            return None
        _, file_id, size, index, version = known
        return raw.decode("ascii"), item, file_id, size, index, version

    def _learn(self, fmt: Format, payload: bytes, item: bytes, tail: bytes, head: int) -> _Tail:
        """What ``tail`` means, worked out the general way and kept."""
        token = item[1:-1].decode("ascii") if fmt is Format.JSON else item[1:].decode("ascii")
        other = "0" if token != "0" else "1"
        start = len(payload) - len(tail) - len(item)
        swapped = payload[:start] + _item(fmt, other) + tail
        doc, doc2 = _general(fmt, payload), _general(fmt, swapped)
        known: _Tail = None
        alike = doc is not None and doc2 is not None and doc2.get("c") == other
        if alike and doc is not None and doc.get("c") == token:
            request = proto.one_block_request(doc)
            if request is not None:
                _, file_id, size, index, version = request
                known = (head, file_id, size, index, version)
        memo = self._cbor if fmt is Format.CBOR else self._json
        if len(memo) >= _MAX_TAILS:
            memo.clear()
        memo[tail] = known
        return known


def _item(fmt: Format, token: str) -> bytes:
    """A short ASCII token as the request writes it (CBOR text; JSON string)."""
    raw = token.encode("ascii")
    if fmt is Format.CBOR:
        return bytes((0x60 + len(raw),)) + raw
    return b'"' + raw + b'"'
