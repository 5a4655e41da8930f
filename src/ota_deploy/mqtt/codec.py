"""Encode MQTT packets to bytes and decode one packet body back (MQTT 3.1.1 and 5).

``encode(packet, version)`` returns the complete wire bytes (fixed header included).
``decode(first_byte, body, version)`` turns one packet (its first byte and a memoryview of the
bytes after the remaining-length field) into a packet object; the stream parser
(:mod:`ota_deploy.mqtt.parser`) does the framing. ``version`` is the protocol level: 3 and 4
share the 3.1.1 layout, 5 adds properties and reason codes. CONNECT carries its own level, so
a server decodes it before it knows the version.

``encode_publish`` is the fast path used for fan-out: it builds PUBLISH bytes without creating
a packet object; ``encode_puback`` likewise for the PUBACK that answers a QoS 1 PUBLISH.
"""

from __future__ import annotations

from ota_deploy.mqtt.errors import ProtocolError
from ota_deploy.mqtt.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Properties,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Unsuback,
    Unsubscribe,
    Will,
)
from ota_deploy.mqtt.properties import (
    decode_bin,
    decode_properties,
    decode_str,
    decode_u16,
    encode_bin,
    encode_properties,
    encode_str,
    encode_varint,
)

_PINGREQ = b"\xc0\x00"
_PINGRESP = b"\xd0\x00"


def _frame(first: int, body: bytes | bytearray) -> bytes:
    return bytes((first,)) + encode_varint(len(body)) + bytes(body)


def encode_publish(
    topic: str,
    payload: bytes,
    qos: int = 0,
    retain: bool = False,
    dup: bool = False,
    packet_id: int | None = None,
    version: int = 4,
    properties: Properties | None = None,
) -> bytes:
    """PUBLISH wire bytes, built directly (the hot path of the gateway and client)."""
    t = topic.encode("utf-8")
    head = len(t).to_bytes(2, "big") + t
    if qos:
        if packet_id is None:
            raise ValueError("QoS > 0 PUBLISH needs a packet id")
        head += packet_id.to_bytes(2, "big")
    if version >= 5:
        head += encode_properties(properties or {})
    first = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    remaining = len(head) + len(payload)
    if remaining < 128:
        fixed = bytes((first, remaining))
    elif remaining < 16384:
        fixed = bytes((first, (remaining & 0x7F) | 0x80, remaining >> 7))
    else:
        fixed = bytes((first,)) + encode_varint(remaining)
    return b"".join((fixed, head, payload))


def encode_puback(packet_id: int) -> bytes:
    """A success PUBACK: the 3.1.1 layout, which MQTT 5 also accepts when the reason code is
    0 and there are no properties (MQTT 5 section 3.4.2.1)."""
    return b"\x40\x02" + packet_id.to_bytes(2, "big")


def _ack(first: int, p: Puback | Pubrec | Pubrel | Pubcomp, version: int) -> bytes:
    pid = p.packet_id.to_bytes(2, "big")
    if version >= 5 and (p.reason_code or p.properties):
        body = pid + bytes((p.reason_code,))
        if p.properties:
            body += encode_properties(p.properties)
        return _frame(first, body)
    return bytes((first, 2)) + pid


def encode(packet: Packet, version: int = 4) -> bytes:
    """The wire bytes of ``packet`` for protocol level ``version``."""
    v5 = version >= 5
    if isinstance(packet, Publish):
        return encode_publish(
            packet.topic,
            packet.payload,
            packet.qos,
            packet.retain,
            packet.dup,
            packet.packet_id,
            version,
            packet.properties,
        )
    if isinstance(packet, Puback):
        return _ack(0x40, packet, version)
    if isinstance(packet, Pubrec):
        return _ack(0x50, packet, version)
    if isinstance(packet, Pubrel):
        return _ack(0x62, packet, version)
    if isinstance(packet, Pubcomp):
        return _ack(0x70, packet, version)
    if isinstance(packet, Pingreq):
        return _PINGREQ
    if isinstance(packet, Pingresp):
        return _PINGRESP
    if isinstance(packet, Connect):
        return _encode_connect(packet)
    if isinstance(packet, Connack):
        body = bytes((1 if packet.session_present else 0, packet.return_code))
        if v5:
            body += encode_properties(packet.properties)
        return _frame(0x20, body)
    if isinstance(packet, Subscribe):
        sb = bytearray(packet.packet_id.to_bytes(2, "big"))
        if v5:
            sb += encode_properties(packet.properties)
        for topic_filter, options in packet.subscriptions:
            sb += encode_str(topic_filter)
            sb.append(options)
        return _frame(0x82, sb)
    if isinstance(packet, Suback):
        body = packet.packet_id.to_bytes(2, "big")
        if v5:
            body += encode_properties(packet.properties)
        return _frame(0x90, body + bytes(packet.return_codes))
    if isinstance(packet, Unsubscribe):
        ub = bytearray(packet.packet_id.to_bytes(2, "big"))
        if v5:
            ub += encode_properties(packet.properties)
        for topic in packet.topics:
            ub += encode_str(topic)
        return _frame(0xA2, ub)
    if isinstance(packet, Unsuback):
        body = packet.packet_id.to_bytes(2, "big")
        if v5:
            body += encode_properties(packet.properties) + bytes(packet.reason_codes)
        return _frame(0xB0, body)
    if isinstance(packet, Disconnect):
        if v5 and (packet.reason_code or packet.properties):
            body = bytes((packet.reason_code,))
            if packet.properties:
                body += encode_properties(packet.properties)
            return _frame(0xE0, body)
        return b"\xe0\x00"
    if isinstance(packet, Auth):
        if not v5:
            raise ValueError("AUTH exists only in MQTT 5")
        if packet.reason_code or packet.properties:
            return _frame(0xF0, bytes((packet.reason_code,)) + encode_properties(packet.properties))
        return b"\xf0\x00"
    raise TypeError(f"not an MQTT packet: {packet!r}")


def _encode_connect(p: Connect) -> bytes:
    v5 = p.protocol_level >= 5
    name = "MQIsdp" if p.protocol_level == 3 else "MQTT"
    flags = 0x02 if p.clean_session else 0
    if p.will is not None:
        flags |= 0x04 | (p.will.qos << 3) | (0x20 if p.will.retain else 0)
    if p.password is not None:
        flags |= 0x40
    if p.username is not None:
        flags |= 0x80
    body = bytearray(encode_str(name))
    body.append(p.protocol_level)
    body.append(flags)
    body += p.keepalive.to_bytes(2, "big")
    if v5:
        body += encode_properties(p.properties)
    body += encode_str(p.client_id)
    if p.will is not None:
        if v5:
            body += encode_properties(p.will.properties)
        body += encode_str(p.will.topic)
        body += encode_bin(p.will.payload)
    if p.username is not None:
        body += encode_str(p.username)
    if p.password is not None:
        body += encode_bin(p.password)
    return _frame(0x10, body)


def _props(buf: memoryview, pos: int, v5: bool) -> tuple[Properties, int]:
    if v5:
        return decode_properties(buf, pos)
    return {}, pos


def _check_flags(first: int, expected: int) -> None:
    if first & 0x0F != expected:
        raise ProtocolError(f"reserved flags 0x{first & 0x0F:x} in packet type {first >> 4}")


def decode(first: int, body: memoryview, version: int = 4) -> Packet:
    """Decode one packet from its first byte and its body (after the remaining length)."""
    ptype = first >> 4
    v5 = version >= 5
    n = len(body)
    if ptype == 3:
        qos = (first >> 1) & 0x03
        if qos == 3:
            raise ProtocolError("PUBLISH with QoS 3")
        dup = bool(first & 0x08)
        if dup and qos == 0:
            raise ProtocolError("PUBLISH QoS 0 with DUP set")
        if n < 2:
            raise ProtocolError("truncated PUBLISH")
        pos = ((body[0] << 8) | body[1]) + 2
        if pos > n:
            raise ProtocolError("truncated topic name")
        try:
            topic = str(body[2:pos], "utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("invalid UTF-8 topic name") from exc
        packet_id = None
        if qos:
            packet_id, pos = decode_u16(body, pos)
            if packet_id == 0:
                raise ProtocolError("packet identifier 0")
        props, pos = _props(body, pos, v5)
        return Publish(topic, bytes(body[pos:]), qos, bool(first & 1), dup, packet_id, props)
    if 4 <= ptype <= 7:
        _check_flags(first, 0x02 if ptype == 6 else 0)
        packet_id, pos = decode_u16(body, 0)
        reason, props = 0, {}
        if v5 and n > 2:
            reason = body[2]
            if n > 3:
                props, pos = decode_properties(body, 3)
        elif n != 2:
            raise ProtocolError("acknowledgement with wrong length")
        cls = (Puback, Pubrec, Pubrel, Pubcomp)[ptype - 4]
        return cls(packet_id, reason, props)
    if ptype == 12 or ptype == 13:
        _check_flags(first, 0)
        if n:
            raise ProtocolError("PINGREQ/PINGRESP with a body")
        return Pingreq() if ptype == 12 else Pingresp()
    if ptype == 1:
        _check_flags(first, 0)
        return _decode_connect(body)
    if ptype == 2:
        _check_flags(first, 0)
        if n < 2 or body[0] & 0xFE:
            raise ProtocolError("malformed CONNACK")
        props, pos = _props(body, 2, v5)
        return Connack(bool(body[0] & 1), body[1], props)
    if ptype == 8:
        _check_flags(first, 0x02)
        packet_id, pos = decode_u16(body, 0)
        props, pos = _props(body, pos, v5)
        subs: list[tuple[str, int]] = []
        while pos < n:
            topic_filter, pos = decode_str(body, pos)
            if pos >= n:
                raise ProtocolError("SUBSCRIBE without options byte")
            options = body[pos]
            pos += 1
            if options & (0xC0 if v5 else 0xFC) or options & 0x03 == 3:
                raise ProtocolError("invalid subscription options")
            subs.append((topic_filter, options))
        if not subs:
            raise ProtocolError("SUBSCRIBE without topic filters", 0x82)
        return Subscribe(packet_id, subs, props)
    if ptype == 9:
        _check_flags(first, 0)
        packet_id, pos = decode_u16(body, 0)
        props, pos = _props(body, pos, v5)
        return Suback(packet_id, list(body[pos:]), props)
    if ptype == 10:
        _check_flags(first, 0x02)
        packet_id, pos = decode_u16(body, 0)
        props, pos = _props(body, pos, v5)
        topics: list[str] = []
        while pos < n:
            topic, pos = decode_str(body, pos)
            topics.append(topic)
        if not topics:
            raise ProtocolError("UNSUBSCRIBE without topic filters", 0x82)
        return Unsubscribe(packet_id, topics, props)
    if ptype == 11:
        _check_flags(first, 0)
        packet_id, pos = decode_u16(body, 0)
        if not v5:
            if n != 2:
                raise ProtocolError("UNSUBACK with wrong length")
            return Unsuback(packet_id)
        props, pos = decode_properties(body, pos)
        return Unsuback(packet_id, list(body[pos:]), props)
    if ptype == 14 or ptype == 15:
        _check_flags(first, 0)
        if ptype == 15 and not v5:
            raise ProtocolError("AUTH before MQTT 5", 0x82)
        reason, props = 0, {}
        if n:
            if not v5:
                raise ProtocolError("DISCONNECT with a body")
            reason = body[0]
            if n > 1:
                props, pos = decode_properties(body, 1)
                if pos != n:
                    raise ProtocolError("trailing bytes")
        return Disconnect(reason, props) if ptype == 14 else Auth(reason, props)
    raise ProtocolError(f"reserved packet type {ptype}")


def _decode_connect(body: memoryview) -> Connect:
    name, pos = decode_str(body, 0)
    if pos + 4 > len(body):
        raise ProtocolError("truncated CONNECT")
    level = body[pos]
    flags = body[pos + 1]
    keepalive = (body[pos + 2] << 8) | body[pos + 3]
    pos += 4
    if (name, level) not in (("MQTT", 4), ("MQTT", 5), ("MQIsdp", 3)):
        # The server answers CONNACK 0x01 (3.1.1) / 0x84 (5) for an unknown level.
        raise UnsupportedProtocol(name, level)
    if flags & 0x01:
        raise ProtocolError("CONNECT reserved flag set")
    v5 = level >= 5
    props, pos = _props(body, pos, v5)
    client_id, pos = decode_str(body, pos)
    will = None
    if flags & 0x04:
        will_props, pos = _props(body, pos, v5)
        will_topic, pos = decode_str(body, pos)
        will_payload, pos = decode_bin(body, pos)
        will_qos = (flags >> 3) & 0x03
        if will_qos == 3:
            raise ProtocolError("will QoS 3")
        will = Will(will_topic, will_payload, will_qos, bool(flags & 0x20), will_props)
    elif flags & 0x38:
        raise ProtocolError("will QoS/retain without will flag")
    username = password = None
    if flags & 0x80:
        username, pos = decode_str(body, pos)
    if flags & 0x40:
        password, pos = decode_bin(body, pos)
    if pos != len(body):
        raise ProtocolError("trailing bytes in CONNECT")
    return Connect(client_id, keepalive, bool(flags & 0x02), level, username, password, will, props)


class UnsupportedProtocol(ProtocolError):
    """CONNECT named a protocol or level this server does not speak."""

    def __init__(self, name: str, level: int) -> None:
        super().__init__(f"unsupported protocol {name!r} level {level}", 0x84)
        self.level = level
