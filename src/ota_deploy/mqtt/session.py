"""Sans-I/O MQTT connection state machines for the server and the client side (h11 style).

Neither class touches a socket, and time comes only from the injected clock. The socket layer
hands received bytes to ``receive(data)``, gets back the packets in order (already checked
against the connection's state: CONNECT first and only once, no packet types the role may not
receive, valid topic names), and turns the packets it wants to send into bytes with
``send(packet)``.

    bytes from the socket --receive()--> [Packet, ...]  --> application logic
    application logic --send(Packet)--> bytes --> socket

Timing is decided here too, on the injected :class:`~ota_deploy.core.clock.Clock` (aioquic's
``get_timer``/``handle_timer`` pattern): the socket layer arms one timer for ``deadline()``
and, when it fires, calls ``handle_timer()``, which raises :class:`KeepAliveTimeout` (server:
the client was silent for 1.5x its keep-alive; client: a PINGREQ went unanswered) or
:class:`ConnectTimeout` (server: no CONNECT in time), and on the client returns the PINGREQ
bytes to write when one is due. Then it re-arms for the new ``deadline()``. A keep-alive of
0 turns keep-alive off on both sides, unless the server applies a ``keepalive_rule`` (a broker
may impose its own keep-alive: AWS IoT replaces 0 by 1,200 s) and, under MQTT 5, tells the
client so with the CONNACK's Server Keep Alive, which the client then uses (section 3.2.2.3.14).

Persistent-session data that outlives a connection (subscriptions, queued QoS 1 messages,
unacknowledged deliveries) is :class:`ServerSessionState`; the gateway keeps one per client id
and attaches it to each new connection of that client.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ota_deploy.core.clock import Clock, SystemClock
from ota_deploy.mqtt.codec import encode, encode_puback, encode_publish
from ota_deploy.mqtt.errors import ConnectTimeout, KeepAliveTimeout, ProtocolError
from ota_deploy.mqtt.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Unsuback,
    Unsubscribe,
)
from ota_deploy.mqtt.parser import StreamParser
from ota_deploy.mqtt.properties import SERVER_KEEP_ALIVE
from ota_deploy.mqtt.topics import valid_topic_name


class State(Enum):
    AWAIT_CONNECT = "await_connect"  # server: nothing received yet
    CONNECTING = "connecting"  # client: CONNECT sent, waiting for CONNACK
    CONNECTED = "connected"
    CLOSED = "closed"


_SERVER_RECEIVES = (
    Connect,
    Publish,
    Puback,
    Pubrec,
    Pubrel,
    Pubcomp,
    Subscribe,
    Unsubscribe,
    Pingreq,
    Disconnect,
    Auth,
)
_CLIENT_RECEIVES = (
    Connack,
    Publish,
    Puback,
    Pubrec,
    Pubrel,
    Pubcomp,
    Suback,
    Unsuback,
    Pingresp,
    Disconnect,
    Auth,
)


class _Connection:
    def __init__(
        self, receives: tuple[type, ...], version: int, max_packet_size: int, clock: Clock | None
    ) -> None:
        self._receives = receives
        self.parser = StreamParser(version, max_packet_size)
        self.state = State.AWAIT_CONNECT
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.keepalive = 0  # seconds, from the CONNECT; 0: keep-alive off
        self._sent = False  # bytes produced since the last keep-alive check (client)

    @property
    def version(self) -> int:
        return self.parser.version

    def send(self, packet: Packet) -> bytes:
        if isinstance(packet, Disconnect):
            self.state = State.CLOSED
        self._sent = True
        return encode(packet, self.version)

    def puback_bytes(self, packet_id: int) -> bytes:
        """PUBACK (success) bytes for a received QoS 1 PUBLISH (no packet object)."""
        self._sent = True
        return encode_puback(packet_id)

    def publish_bytes(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        dup: bool = False,
        packet_id: int | None = None,
    ) -> bytes:
        """PUBLISH bytes for this connection's protocol version (no packet object)."""
        self._sent = True
        return encode_publish(topic, payload, qos, retain, dup, packet_id, self.parser.version)

    def _check(self, packet: Packet) -> None:
        if not isinstance(packet, self._receives):
            raise ProtocolError(f"unexpected {type(packet).__name__}", 0x82)
        if isinstance(packet, Publish) and not valid_topic_name(packet.topic):
            raise ProtocolError(f"invalid topic name {packet.topic!r}", 0x90)


class ServerConnection(_Connection):
    """The broker's view of one network connection.

    ``max_qos`` is the highest PUBLISH QoS accepted from the client; AWS IoT does not support
    QoS 2 and drops the connection of a client that publishes with it
    (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences).

    Timers: a connection that sends no CONNECT within ``connect_timeout`` seconds of being
    opened, or that is silent for 1.5x its keep-alive (MQTT 3.1.1 section 3.1.2.10), is to be
    dropped; ``deadline()`` says when to check next. The keep-alive is what the CONNECT asked
    for, or ``keepalive_rule(asked)`` when the broker imposes its own (``keepalive``).
    """

    def __init__(
        self,
        max_packet_size: int = 268_435_455,
        max_qos: int = 1,
        *,
        clock: Clock | None = None,
        connect_timeout: float = 30.0,
        keepalive_rule: Callable[[int], int] | None = None,
    ) -> None:
        super().__init__(_SERVER_RECEIVES, 4, max_packet_size, clock)
        self.max_qos = max_qos
        self.connect: Connect | None = None
        self.connect_timeout = connect_timeout
        self.keepalive_rule = keepalive_rule
        self.opened_at = self.last_heard = self.clock.now()

    def receive(self, data: bytes | bytearray | memoryview) -> list[Packet]:
        if self.state is State.CLOSED:
            return []
        try:
            packets = self.parser.feed(data)
        except ProtocolError as exc:
            # Keep the valid prefix (this may raise earlier, with its own prefix).
            exc.packets = self._validate(exc.packets)
            self.state = State.CLOSED
            raise
        packets = self._validate(packets)
        self.last_heard = self.clock.now()
        return packets

    def deadline(self) -> float | None:
        """When ``handle_timer`` has something to check (clock seconds), or None."""
        if self.state is State.AWAIT_CONNECT:
            return self.opened_at + self.connect_timeout
        if self.state is State.CONNECTED and self.keepalive:
            return self.last_heard + self.keepalive * 1.5
        return None

    def handle_timer(self) -> None:
        """Raise :class:`ConnectTimeout` or :class:`KeepAliveTimeout` (and close) when the
        deadline has passed; otherwise nothing is due yet (re-arm for ``deadline()``)."""
        deadline = self.deadline()
        if deadline is None or self.clock.now() < deadline:
            return
        waiting_for_connect = self.state is State.AWAIT_CONNECT
        self.state = State.CLOSED
        if waiting_for_connect:
            raise ConnectTimeout(f"no CONNECT within {self.connect_timeout:g} s")
        raise KeepAliveTimeout(f"nothing received for 1.5 x {self.keepalive} s")

    def _validate(self, packets: list[Packet]) -> list[Packet]:
        connected = self.state is State.CONNECTED
        max_qos = self.max_qos
        for i, packet in enumerate(packets):
            if connected and type(packet) is Publish:  # hot path
                topic = packet.topic
                if (
                    packet.qos <= max_qos
                    and topic
                    and "+" not in topic
                    and "#" not in topic
                    and "\x00" not in topic
                ):
                    continue
            try:
                self._check_server(packet)
            except ProtocolError as exc:
                exc.packets = packets[:i]
                self.state = State.CLOSED
                raise
            if isinstance(packet, Disconnect):
                self.state = State.CLOSED
                return packets[: i + 1]
        return packets

    def _check_server(self, packet: Packet) -> None:
        self._check(packet)
        if self.state is State.AWAIT_CONNECT:
            if not isinstance(packet, Connect):
                raise ProtocolError("first packet is not CONNECT", 0x82)
            self.connect = packet
            rule = self.keepalive_rule
            self.keepalive = packet.keepalive if rule is None else rule(packet.keepalive)
            self.state = State.CONNECTED
        elif isinstance(packet, Connect):
            raise ProtocolError("second CONNECT", 0x82)
        elif isinstance(packet, Publish) and packet.qos > self.max_qos:
            raise ProtocolError(f"PUBLISH QoS {packet.qos} not supported", 0x9B)


class ClientConnection(_Connection):
    """A client's view of its connection: CONNECT out, CONNACK in, then traffic.

    Allocates packet identifiers for QoS 1 PUBLISH, SUBSCRIBE and UNSUBSCRIBE.

    Keep-alive: from the CONNACK on, a check every keepalive/2 seconds sends a PINGREQ unless
    something was sent since the previous check; a PINGREQ followed by nothing at all received
    by the next check means the server is gone (:class:`KeepAliveTimeout`).
    """

    def __init__(
        self, version: int = 4, max_packet_size: int = 268_435_455, *, clock: Clock | None = None
    ) -> None:
        super().__init__(_CLIENT_RECEIVES, version, max_packet_size, clock)
        self._next_id = 0
        self.in_use: set[int] = set()
        self._next_check: float | None = None
        self._received = False  # bytes received since the last keep-alive check
        self._ping_outstanding = False
        self._head_topic: str | None = None  # publish_qos0's last topic and its encoded head
        self._head = b""

    def start(self, connect: Connect) -> bytes:
        if self.state is not State.AWAIT_CONNECT:
            raise RuntimeError("CONNECT already sent")
        self.state = State.CONNECTING
        self.keepalive = connect.keepalive
        self._sent = True
        return encode(connect, connect.protocol_level)

    def deadline(self) -> float | None:
        """When the next keep-alive check is due (clock seconds), or None (keep-alive off,
        not connected)."""
        return self._next_check if self.state is State.CONNECTED else None

    def handle_timer(self) -> bytes:
        """Run the keep-alive check if it is due: the bytes to write now (a PINGREQ, or
        nothing); raises :class:`KeepAliveTimeout` (and closes) when the last PINGREQ got no
        answer."""
        deadline = self.deadline()
        now = self.clock.now()
        if deadline is None or now < deadline:
            return b""
        if self._ping_outstanding and not self._received:
            self.state = State.CLOSED
            raise KeepAliveTimeout(f"PINGREQ unanswered for {self.keepalive / 2:g} s")
        self._ping_outstanding = not self._sent
        self._sent = self._received = False
        self._next_check = now + self.keepalive / 2
        return encode(Pingreq()) if self._ping_outstanding else b""

    def next_packet_id(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self.in_use:
                self.in_use.add(self._next_id)
                return self._next_id
        raise RuntimeError("all 65535 packet identifiers are in use")

    def release(self, packet_id: int) -> None:
        self.in_use.discard(packet_id)

    def publish_qos0(self, topic: str, payload: bytes) -> bytes:
        """``publish_bytes(topic, payload)``: a QoS 0 PUBLISH. A client publishing again and
        again to one topic (a download's request topic) reuses the topic's encoded head
        from the previous call; MQTT 5's properties and long packets go the general way."""
        if topic != self._head_topic:
            if self.parser.version >= 5:
                return self.publish_bytes(topic, payload)
            encoded = topic.encode("utf-8")
            self._head = len(encoded).to_bytes(2, "big") + encoded
            self._head_topic = topic
        head = self._head
        remaining = len(head) + len(payload)
        if remaining < 128:
            fixed = bytes((0x30, remaining))
        elif remaining < 16384:
            fixed = bytes((0x30, (remaining & 0x7F) | 0x80, remaining >> 7))
        else:
            return self.publish_bytes(topic, payload)
        self._sent = True
        return b"".join((fixed, head, payload))

    def receive_publish(self, data: bytes) -> tuple[str, bytes] | None:
        """``receive``'s hot path for the usual delivery, ``data`` being exactly one QoS 0
        PUBLISH (``StreamParser.whole_publish``): its ``(topic, payload)``, as ``receive``
        would give it. None, with nothing consumed, for anything else: then ``receive`` it."""
        if self.state is not State.CONNECTED:
            return None
        message = self.parser.whole_publish(data)
        if message is not None:
            self._received = True
        return message

    def receive(self, data: bytes | bytearray | memoryview) -> list[Packet]:
        if self.state is State.CLOSED:
            return []
        self._received = True
        packets = self.parser.feed(data)
        connected = self.state is State.CONNECTED
        for i, packet in enumerate(packets):
            if connected and type(packet) is Publish and packet.topic:  # hot path
                continue
            self._check(packet)
            if self.state is State.CONNECTING:
                if not isinstance(packet, Connack):
                    raise ProtocolError("first packet from server is not CONNACK", 0x82)
                self.state = (
                    State.CONNECTED
                    if packet.return_code < 0x80 and (self.version >= 5 or packet.return_code == 0)
                    else State.CLOSED
                )
                if self.state is State.CONNECTED:
                    # MQTT 5: the server may impose its keep-alive (section 3.2.2.3.14).
                    self.keepalive = int(packet.properties.get(SERVER_KEEP_ALIVE, self.keepalive))
                    if self.keepalive:
                        self._next_check = self.clock.now() + self.keepalive / 2
            elif isinstance(packet, Connack):
                raise ProtocolError("second CONNACK", 0x82)
            if isinstance(packet, Disconnect) or self.state is State.CLOSED:
                self.state = State.CLOSED
                return packets[: i + 1]
        return packets


@dataclass(slots=True)
class QueuedMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool = False
    properties: dict[int, Any] | None = None  # MQTT 5 properties to forward


@dataclass
class ServerSessionState:
    """What the broker remembers about a client id (kept while offline when persistent)."""

    client_id: str
    persistent: bool = False
    subscriptions: dict[str, int] = field(default_factory=dict)  # filter -> granted QoS
    pending: deque[QueuedMessage] = field(default_factory=deque)  # waiting to be sent
    inflight: dict[int, QueuedMessage] = field(default_factory=dict)  # sent QoS 1, no PUBACK
    max_pending: int = 10_000
    dropped: int = 0
    receive_maximum: int = 65535  # MQTT 5: the client's limit on unacknowledged QoS 1
    expiry: float = 3600.0  # seconds an offline persistent session is kept
    disconnected_at: float | None = None
    _next_id: int = 0

    def next_packet_id(self) -> int | None:
        """A free packet id, or None when ``receive_maximum`` deliveries are in flight."""
        if len(self.inflight) >= self.receive_maximum:
            return None
        while True:
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self.inflight:
                return self._next_id

    def enqueue(self, message: QueuedMessage) -> None:
        """Keep a message for later delivery (oldest dropped beyond ``max_pending``)."""
        if len(self.pending) >= self.max_pending:
            self.pending.popleft()
            self.dropped += 1
        self.pending.append(message)

    def acknowledge(self, packet_id: int) -> QueuedMessage | None:
        return self.inflight.pop(packet_id, None)
