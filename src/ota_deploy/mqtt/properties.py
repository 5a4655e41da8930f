"""MQTT 5 properties and the primitive encodings they share with the codec.

Primitive types of the MQTT spec (section 1.5): two-byte and four-byte integers, variable byte
integers, UTF-8 strings and binary data, each with a length prefix. The property section is a
variable-byte length followed by (identifier, value) items; the value type is fixed by the
identifier (table :data:`PROPERTY_TYPES`).

Decoders take a ``memoryview`` and an offset and return ``(value, new_offset)`` so one packet is
parsed without copying; they raise :class:`ProtocolError` on truncated or invalid input.
"""

from __future__ import annotations

from typing import Any

from ota_deploy.mqtt.errors import ProtocolError

BYTE, INT2, INT4, VARINT, UTF8, BINARY, PAIR = range(7)

USER_PROPERTY = 0x26
SUBSCRIPTION_IDENTIFIER = 0x0B
SESSION_EXPIRY_INTERVAL = 0x11
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS = 0x23
REASON_STRING = 0x1F
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
ASSIGNED_CLIENT_IDENTIFIER = 0x12
SERVER_KEEP_ALIVE = 0x13
SHARED_SUBSCRIPTION_AVAILABLE = 0x2A
SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
MAXIMUM_PACKET_SIZE = 0x27

PROPERTY_TYPES: dict[int, int] = {
    0x01: BYTE,  # payload format indicator
    0x02: INT4,  # message expiry interval
    0x03: UTF8,  # content type
    0x08: UTF8,  # response topic
    0x09: BINARY,  # correlation data
    0x0B: VARINT,  # subscription identifier (repeatable in PUBLISH)
    0x11: INT4,  # session expiry interval
    0x12: UTF8,  # assigned client identifier
    0x13: INT2,  # server keep alive
    0x15: UTF8,  # authentication method
    0x16: BINARY,  # authentication data
    0x17: BYTE,  # request problem information
    0x18: INT4,  # will delay interval
    0x19: BYTE,  # request response information
    0x1A: UTF8,  # response information
    0x1C: UTF8,  # server reference
    0x1F: UTF8,  # reason string
    0x21: INT2,  # receive maximum
    0x22: INT2,  # topic alias maximum
    0x23: INT2,  # topic alias
    0x24: BYTE,  # maximum QoS
    0x25: BYTE,  # retain available
    0x26: PAIR,  # user property (repeatable)
    0x27: INT4,  # maximum packet size
    0x28: BYTE,  # wildcard subscription available
    0x29: BYTE,  # subscription identifier available
    0x2A: BYTE,  # shared subscription available
}
REPEATABLE = frozenset({USER_PROPERTY, SUBSCRIPTION_IDENTIFIER})


def encode_varint(value: int) -> bytes:
    if value < 128:
        return bytes((value,))
    if not 0 <= value <= 268_435_455:
        raise ValueError(f"variable byte integer out of range: {value}")
    out = bytearray()
    while True:
        digit = value & 0x7F
        value >>= 7
        if value:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


def decode_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = 0
    shift = 0
    for _ in range(4):
        if pos >= len(buf):
            raise ProtocolError("truncated variable byte integer")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
    raise ProtocolError("variable byte integer longer than 4 bytes")


def encode_str(value: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > 65535:
        raise ValueError("UTF-8 string longer than 65535 bytes")
    return len(raw).to_bytes(2, "big") + raw


def encode_bin(value: bytes) -> bytes:
    if len(value) > 65535:
        raise ValueError("binary data longer than 65535 bytes")
    return len(value).to_bytes(2, "big") + value


def decode_u16(buf: memoryview, pos: int) -> tuple[int, int]:
    if pos + 2 > len(buf):
        raise ProtocolError("truncated two-byte integer")
    return (buf[pos] << 8) | buf[pos + 1], pos + 2


def decode_bin(buf: memoryview, pos: int) -> tuple[bytes, int]:
    n, pos = decode_u16(buf, pos)
    end = pos + n
    if end > len(buf):
        raise ProtocolError("truncated length-prefixed field")
    return bytes(buf[pos:end]), end


def decode_str(buf: memoryview, pos: int) -> tuple[str, int]:
    n, pos = decode_u16(buf, pos)
    end = pos + n
    if end > len(buf):
        raise ProtocolError("truncated UTF-8 string")
    try:
        text = str(buf[pos:end], "utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError("invalid UTF-8 string") from exc
    if "\x00" in text:
        raise ProtocolError("UTF-8 string contains U+0000")
    return text, end


def _encode_value(kind: int, value: Any) -> bytes:
    if kind == BYTE:
        return bytes((value,))
    if kind == INT2:
        return int(value).to_bytes(2, "big")
    if kind == INT4:
        return int(value).to_bytes(4, "big")
    if kind == VARINT:
        return encode_varint(value)
    if kind == UTF8:
        return encode_str(value)
    if kind == BINARY:
        return encode_bin(value)
    name, val = value
    return encode_str(name) + encode_str(val)


def encode_properties(props: dict[int, Any]) -> bytes:
    """The property section: variable-byte length + items (empty dict -> b"\\x00")."""
    if not props:
        return b"\x00"
    body = bytearray()
    for ident, value in props.items():
        kind = PROPERTY_TYPES.get(ident)
        if kind is None:
            raise ValueError(f"unknown MQTT 5 property 0x{ident:02x}")
        values = value if ident in REPEATABLE else (value,)
        for v in values:
            body += encode_varint(ident)
            body += _encode_value(kind, v)
    return encode_varint(len(body)) + bytes(body)


def decode_properties(buf: memoryview, pos: int) -> tuple[dict[int, Any], int]:
    length, pos = decode_varint(buf, pos)
    end = pos + length
    if end > len(buf):
        raise ProtocolError("truncated properties")
    props: dict[int, Any] = {}
    while pos < end:
        ident, pos = decode_varint(buf, pos)
        kind = PROPERTY_TYPES.get(ident)
        if kind is None:
            raise ProtocolError(f"unknown property 0x{ident:02x}")
        value: Any
        if kind == BYTE:
            if pos >= end:
                raise ProtocolError("truncated property")
            value, pos = buf[pos], pos + 1
        elif kind == INT2:
            value, pos = decode_u16(buf, pos)
        elif kind == INT4:
            if pos + 4 > end:
                raise ProtocolError("truncated property")
            value, pos = int.from_bytes(buf[pos : pos + 4], "big"), pos + 4
        elif kind == VARINT:
            value, pos = decode_varint(buf, pos)
        elif kind == UTF8:
            value, pos = decode_str(buf, pos)
        elif kind == BINARY:
            value, pos = decode_bin(buf, pos)
        else:
            name, pos = decode_str(buf, pos)
            val, pos = decode_str(buf, pos)
            value = (name, val)
        if ident in REPEATABLE:
            props.setdefault(ident, []).append(value)
        elif ident in props:
            raise ProtocolError(f"property 0x{ident:02x} given twice", 0x82)
        else:
            props[ident] = value
    if pos != end:
        raise ProtocolError("property overruns its section")
    return props, end
