"""Wire codec of MQTT-based file delivery: JSON and CBOR messages, and the block bitmap.

Pure functions, no I/O. The two formats carry the same short-keyed maps (``c``, ``s``, ``f``,
``l``, ``o``, ``n``, ``b``, ``i``, ``p``, ...); they differ only in how binary members (the data
block ``p`` and the request bitmap ``b``) travel. In CBOR both are byte strings. In JSON the
block ``p`` is base64 text, and the bitmap ``b`` is a hexadecimal string: the page's GetStream
example ``"b": "0x130080"`` selects 4 blocks (bytes 13 00 80 have four bits set).
Spec: https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery-in-devices.html

A JSON ``b`` without the ``0x`` prefix is read as base64, as this project's device agent
(``fleet.protocol``) has sent it so far: no AWS page uses that form, and ``encode`` writes the
page's. A hex string of odd length is read as if a leading ``0`` completed its first byte.

Bitmap layout (what AWS's embedded OTA agent sends, ``ota.c`` in
aws/ota-for-aws-iot-embedded-sdk: ``byte = block >> 3``, ``mask = 1 << (block % 8)``): bit ``i``
of the bitmap is bit ``i % 8`` (least significant first) of byte ``i // 8``, and a set bit asks
for block ``o + i``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from enum import Enum
from typing import Any

import cbor2

from ota_deploy.local.jsonsafe import MAX_JSON_DEPTH, JsonError, decode_json

_BINARY_KEYS = ("p", "b")


# Nesting a request may have. The requests are flat maps; the caps bound the decoders' work on
# hostile input: JSON through ``jsonsafe.decode_json`` (CPython's decoder recurses per level:
# 60,000 ``[`` raised RecursionError), CBOR through cbor2's ``max_depth`` (cbor2 before 6.0
# decoded recursively; 5.9 added ``max_depth`` for CVE-2026-26209, so cbor2 >= 5.9). A payload
# nested deeper is InvalidJson / InvalidCbor, the page's codes for a request that "is not a
# valid JSON document" / "not valid CBOR document" (mqtt-based-file-delivery-in-devices.html).
MAX_CBOR_DEPTH = MAX_JSON_DEPTH


class Format(Enum):
    JSON = "json"
    CBOR = "cbor"


class DecodeError(Exception):
    """A payload that is not a well-formed message; ``code`` is InvalidJson or InvalidCbor."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


HEX_PREFIX = "0x"


def _json_binary(key: str, value: Any) -> Any:
    if not isinstance(value, bytes | bytearray):
        return value
    if key == "b":
        return HEX_PREFIX + bytes(value).hex()
    return base64.b64encode(value).decode("ascii")


def encode(fmt: Format, message: dict[str, Any]) -> bytes:
    """Serialise a message; in JSON the bitmap ``b`` becomes ``0x`` hex, other ``bytes``
    members base64 text."""
    if fmt is Format.CBOR:
        return bytes(cbor2.dumps(message))
    body = {k: _json_binary(k, v) for k, v in message.items()}
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def decode(fmt: Format, payload: bytes) -> dict[str, Any]:
    """Parse a message into a dict; binary members ``p``/``b`` are returned as ``bytes``.

    Raises ``DecodeError`` (InvalidJson / InvalidCbor) when the payload is not a map, and
    ``BinaryMemberError`` (a ``ValueError``) when a binary member is neither bytes nor valid
    text for it; it carries the decoded map, so the reply can still echo the client token.
    """
    doc: Any
    if fmt is Format.CBOR:
        try:
            # cbor2 counts the outermost container as depth 0
            doc = cbor2.loads(payload, max_depth=MAX_CBOR_DEPTH - 1)
        except Exception as exc:  # cbor2 raises several types for malformed input
            raise DecodeError("InvalidCbor", f"Could not parse the request as CBOR: {exc}") from exc
        if not isinstance(doc, dict):
            raise DecodeError("InvalidCbor", "The request payload must be a CBOR map")
    else:
        try:
            doc = decode_json(payload.decode("utf-8"))
        except (UnicodeDecodeError, JsonError) as exc:
            raise DecodeError("InvalidJson", f"Could not parse the request as JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise DecodeError("InvalidJson", "The request payload must be a JSON object")
    converted: list[tuple[str, bytes]] = []
    for key, value in doc.items():
        if not isinstance(key, str):
            raise DecodeError(
                "InvalidCbor" if fmt is Format.CBOR else "InvalidJson", "map keys must be text"
            )
        if key in _BINARY_KEYS and type(value) is not bytes:
            try:
                converted.append((key, _binary(value, hex_form=key == "b")))
            except ValueError as exc:
                raise BinaryMemberError(str(exc), doc) from exc
    for key, data in converted:  # the decoded map is ours: no copy of it is made
        doc[key] = data
    return doc  # type: ignore[no-any-return]


class BinaryMemberError(ValueError):
    """A binary member (``b``) that cannot be read; ``doc`` is the rest of the request."""

    def __init__(self, message: str, doc: dict[str, Any]) -> None:
        super().__init__(message)
        self.doc = doc


def _binary(value: Any, *, hex_form: bool = False) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and hex_form and value[:2].lower() == HEX_PREFIX:
        digits = value[2:]
        try:
            return bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits)
        except ValueError as exc:
            raise ValueError(f"not a hexadecimal bitmap: {value[:40]!r}") from exc
    if isinstance(value, str):
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise ValueError(f"not valid base64: {exc}") from exc
    raise ValueError("must be binary (CBOR byte string or base64 text)")


# ---------------------------------------------------------------------------------------------
# Bitmap


def bitmap_blocks(bitmap: bytes, offset: int = 0) -> Iterator[int]:
    """The block indexes a bitmap asks for, ascending: bit i (LSB-first) => block offset + i."""
    for byte_index, byte in enumerate(bitmap):
        if not byte:
            continue
        base = offset + byte_index * 8
        for bit in range(8):
            if byte & (1 << bit):
                yield base + bit


def make_bitmap(blocks: Iterable[int], offset: int = 0) -> bytes:
    """The smallest bitmap asking for ``blocks`` (each >= ``offset``), relative to ``offset``."""
    rel = sorted({b - offset for b in blocks})
    if rel and rel[0] < 0:
        raise ValueError("a block precedes the bitmap offset")
    if not rel:
        return b""
    out = bytearray(rel[-1] // 8 + 1)
    for i in rel:
        out[i >> 3] |= 1 << (i & 7)
    return bytes(out)
