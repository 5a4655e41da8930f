"""Incremental MQTT stream parser: bytes in (any split), packets out.

``StreamParser.feed(data)`` appends ``data`` to an internal buffer and returns every packet
that is now complete, in order. Framing reads the fixed header's remaining-length varint; the
body is decoded from a ``memoryview`` (no copy of the stream), and only an incomplete tail is
kept between calls. When the whole of ``data`` is consumed the buffer is not touched at all,
which is the common case for small request/response traffic.

``version`` (protocol level) is needed to decode MQTT 5 fields; on the server side the parser
starts at 4 and the session switches it once the CONNECT is decoded (``parser.version = 5``).

``whole_publish(data)`` is a client's hot path: a received chunk that is exactly one QoS 0
PUBLISH (the usual delivery: one message per read) gives its topic and payload without a
packet object; anything else gives None and goes through ``feed``.
"""

from __future__ import annotations

from ota_deploy.mqtt.codec import decode
from ota_deploy.mqtt.errors import ProtocolError
from ota_deploy.mqtt.packets import Connect, Packet

DEFAULT_MAX_PACKET = 268_435_455


class StreamParser:
    def __init__(self, version: int = 4, max_packet_size: int = DEFAULT_MAX_PACKET) -> None:
        self.version = version
        self.max_packet_size = max_packet_size
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete packet waiting for more data."""
        return len(self._buf)

    def clear(self) -> None:
        """Drop what is buffered (the connection is being closed): its memory goes back now."""
        self._buf = bytearray()

    def whole_publish(self, data: bytes) -> tuple[str, bytes] | None:
        """``(topic, payload)`` when nothing is buffered and ``data`` is exactly one complete
        QoS 0 PUBLISH with neither DUP nor RETAIN set, before MQTT 5 (no properties), under
        the size limit, whose topic is non-empty UTF-8: what ``feed`` would give as a
        ``Publish`` for it. None for anything else, with nothing consumed: ``feed`` it.
        (A topic's wildcards are the session's to check, as with ``feed``.)"""
        if self._buf or self.version >= 5 or type(data) is not bytes:
            return None
        n = len(data)
        if n < 5 or data[0] != 0x30 or n > self.max_packet_size:
            return None
        length = data[1]
        i = 2
        if length & 0x80 and not data[2] & 0x80:  # two bytes: a block's usual PUBLISH
            length = (length & 0x7F) | (data[2] << 7)
            i = 3
        elif length & 0x80:  # multi-byte remaining length (at most 4 bytes)
            length &= 0x7F
            shift = 7
            while True:
                if i >= n or shift > 21:
                    return None
                b = data[i]
                i += 1
                length |= (b & 0x7F) << shift
                if not b & 0x80:
                    break
                shift += 7
        if i + length != n or length < 3:  # 3: a topic's length and at least one byte of it
            return None
        start = i + 2
        end = start + ((data[i] << 8) | data[i + 1])
        if end > n or end == start:
            return None
        try:
            topic = data[start:end].decode("utf-8")
        except UnicodeDecodeError:
            return None
        return topic, data[end:]

    def feed(self, data: bytes | bytearray | memoryview) -> list[Packet]:
        if self._buf:
            self._buf += data
            buf: bytes | bytearray = self._buf
        else:
            buf = data if isinstance(data, bytes | bytearray) else bytes(data)
        out: list[Packet] = []
        n = len(buf)
        pos = 0
        version = self.version
        with memoryview(buf) as view:
            while n - pos >= 2:
                first = buf[pos]
                length = buf[pos + 1]
                i = pos + 2
                if length & 0x80:  # multi-byte remaining length
                    length &= 0x7F
                    shift = 7
                    complete = False
                    while i < n:
                        b = buf[i]
                        i += 1
                        length |= (b & 0x7F) << shift
                        if not b & 0x80:
                            complete = True
                            break
                        shift += 7
                        if shift > 21:
                            exc = ProtocolError("remaining length longer than 4 bytes")
                            exc.packets = out
                            raise exc
                    if not complete:
                        break
                end = i + length
                if end - pos > self.max_packet_size:
                    exc = ProtocolError("packet too large", 0x95)
                    exc.packets = out
                    raise exc
                if end > n:
                    break
                try:
                    packet = decode(first, view[i:end], version)
                except ProtocolError as exc:
                    exc.packets = out
                    self._buf = bytearray()
                    raise
                if first == 0x10 and isinstance(packet, Connect):
                    version = self.version = packet.protocol_level
                out.append(packet)
                pos = end
        if buf is self._buf:
            if pos == n:
                self._buf = bytearray()  # all consumed: give the (maybe large) buffer back
            elif pos:
                del self._buf[:pos]
        elif pos < n:
            self._buf = bytearray(buf[pos:])
        return out
