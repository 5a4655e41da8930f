"""One client connection of the gateway: the thin socket layer over ``ServerConnection``.

asyncio calls ``data_received`` with raw bytes; the sans-I/O ``ServerConnection`` turns them
into packets (checking order and validity); this class maps each packet to a broker or
gateway action and writes the answers with ``transport.write`` (no per-message drain: asyncio
buffers, and the client's request/response pacing bounds the buffer). What is written to this
connection while its own received bytes are being dispatched (a GetStream request's several
data blocks, acknowledgements) is gathered and written once at the end: one ``send`` instead
of one per message; it is flushed before any close, so nothing is lost or reordered.

Keep-alive: a client silent for 1.5x its keep-alive is disconnected (MQTT 3.1.1 section
3.1.2.10); one timer per connection, re-armed lazily from the time of the last packet.
Protocol errors close the connection (MQTT 5 clients first get a DISCONNECT with the reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from typing import TYPE_CHECKING

from ota_deploy.mqtt.codec import UnsupportedProtocol
from ota_deploy.mqtt.errors import ProtocolError
from ota_deploy.mqtt.packets import (
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Puback,
    Publish,
    Suback,
    Subscribe,
    Unsuback,
    Unsubscribe,
)
from ota_deploy.mqtt.properties import (
    ASSIGNED_CLIENT_IDENTIFIER,
    MAXIMUM_QOS,
    RETAIN_AVAILABLE,
    SHARED_SUBSCRIPTION_AVAILABLE,
    SUBSCRIPTION_IDENTIFIER_AVAILABLE,
)
from ota_deploy.mqtt.session import ServerConnection, State

if TYPE_CHECKING:
    from ota_deploy.local.gateway.server import MqttGateway

log = logging.getLogger(__name__)

MAX_CLIENT_ID = 128  # AWS IoT limit on client id length

# MQTT 5 reason code of a server-side close -> AWS lifecycle disconnectReason
# (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html).
_AWS_REASONS: dict[int | None, str] = {
    None: "SERVER_INITIATED_DISCONNECT",
    0x8B: "SERVER_INITIATED_DISCONNECT",  # server shutting down
    0x8E: "DUPLICATE_CLIENTID",  # session taken over
}
_PINGRESP = b"\xd0\x00"


class GatewayConnection(asyncio.Protocol):
    def __init__(self, gateway: MqttGateway) -> None:
        self.gateway = gateway
        self.broker = gateway.broker
        self.conn = ServerConnection(max_packet_size=gateway.max_packet_size, max_qos=1)
        self.client_id = ""
        self.transport: asyncio.Transport | None = None
        self.attached = False
        self.graceful = False
        # AWS lifecycle-event disconnectReason; the first cause recorded wins.
        self.disconnect_reason: str | None = None
        self.session_id = ""
        self.version_number = 0
        self.keepalive = 0
        self.last_rx = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._paused = False  # the transport's write buffer is over its high-water mark
        self._corked: list[bytes] | None = None  # writes gathered during _dispatch_all
        self._loop = asyncio.get_running_loop()

    @property
    def version(self) -> int:
        return self.conn.version

    # -- Link ----------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._corked is not None:
            self._corked.append(data)
            return
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)
            if self._paused and transport.get_write_buffer_size() > self.gateway.max_write_buffer:
                # A client that stops reading must not make the gateway buffer without bound.
                log.warning("closing %s: it does not read (write buffer full)", self.client_id)
                self.set_reason("THROTTLED")
                transport.abort()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False

    def set_reason(self, reason: str) -> None:
        if self.disconnect_reason is None:
            self.disconnect_reason = reason

    def close(self, reason_code: int | None = None) -> None:
        """Server-side close; ``reason_code`` (MQTT 5) goes in a DISCONNECT to v5 clients."""
        self._uncork()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.set_reason(_AWS_REASONS.get(reason_code, "CLIENT_ERROR"))
        if reason_code is not None and self.version >= 5 and self.conn.state is State.CONNECTED:
            with contextlib.suppress(Exception):
                transport.write(self.conn.send(Disconnect(reason_code)))
        self.conn.state = State.CLOSED
        transport.close()

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.gateway._links.add(self)
        self.last_rx = self._loop.time()
        # A connection that never sends CONNECT is dropped after connect_timeout.
        self._timer = self._loop.call_later(self.gateway.connect_timeout, self._connect_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gateway._links.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.attached:
            return
        connect = self.conn.connect
        if not self.graceful and connect is not None and connect.will is not None:
            will = connect.will
            self.gateway._publish_from_client(
                self.client_id, will.topic, will.payload, will.qos, will.retain
            )
        self.broker.detach(self)
        self.set_reason("CONNECTION_LOST")
        self.gateway._presence(self, connected=False)

    def data_received(self, data: bytes) -> None:
        try:
            packets = self.conn.receive(data)
        except UnsupportedProtocol as exc:
            # 3.1.1 section 3.1.2.2: answer CONNACK 0x01 and close. (0x84 for MQTT 5.)
            code = 0x84 if exc.level == 5 else 0x01
            if self.transport is not None:
                self.transport.write(bytes((0x20, 2, 0, code)))
            self.close()
            return
        except ProtocolError as exc:
            log.debug("closing %s: %s", self.client_id or "<unknown>", exc)
            self._dispatch_all(exc.packets)
            self.close(exc.reason_code)
            return
        self.last_rx = self._loop.time()
        self._dispatch_all(packets)

    def _dispatch_all(self, packets: list[Packet]) -> None:
        self._corked = []
        try:
            for packet in packets:
                if self.transport is None or self.transport.is_closing():
                    return
                self._dispatch(packet)
        finally:
            self._uncork()

    def _uncork(self) -> None:
        """Write what was gathered during dispatch, in one ``transport.write``."""
        corked, self._corked = self._corked, None
        if corked:
            self.write(corked[0] if len(corked) == 1 else b"".join(corked))

    # -- packets -----------------------------------------------------------------------------

    def _dispatch(self, packet: Packet) -> None:
        if isinstance(packet, Publish):
            if len(packet.payload) > self.gateway.max_payload:
                # AWS IoT: publishes over 128 KB are rejected and the client disconnected.
                self.close(0x95)
                return
            self.gateway._publish_from_client(
                self.client_id,
                packet.topic,
                packet.payload,
                packet.qos,
                packet.retain,
                packet.properties,
            )
            if packet.qos == 1 and packet.packet_id is not None:
                self.write(bytes((0x40, 2)) + packet.packet_id.to_bytes(2, "big"))
        elif isinstance(packet, Puback):
            self.broker.acknowledge(self, packet.packet_id)
        elif isinstance(packet, Pingreq):
            self.write(_PINGRESP)
        elif isinstance(packet, Subscribe):
            granted = self.broker.subscribe(self, packet.subscriptions)
            self.write(self.conn.send(Suback(packet.packet_id, granted)))
            if self.broker.retained:
                accepted = [
                    (f, g)
                    for (f, _), g in zip(packet.subscriptions, granted, strict=True)
                    if g < 0x80
                ]
                self.broker.send_retained(self, accepted)
        elif isinstance(packet, Unsubscribe):
            codes = self.broker.unsubscribe(self, packet.topics)
            self.write(self.conn.send(Unsuback(packet.packet_id, codes)))
        elif isinstance(packet, Connect):
            self._on_connect(packet)
        elif isinstance(packet, Disconnect):
            self.graceful = packet.reason_code != 0x04  # 0x04: disconnect with will message
            self.set_reason("CLIENT_INITIATED_DISCONNECT")
            self._uncork()
            if self.transport is not None:
                self.transport.close()
        else:  # PUBREC/PUBREL/PUBCOMP (we never use QoS 2) and AUTH (no enhanced auth)
            self.close(0x82)

    def _on_connect(self, connect: Connect) -> None:
        v5 = connect.protocol_level >= 5
        client_id = connect.client_id
        props: dict[int, object] = {}
        if not client_id:
            if not connect.clean_session and not v5:
                self._refuse(0x02)
                return
            client_id = f"auto-{uuid.uuid4().hex}"
            props[ASSIGNED_CLIENT_IDENTIFIER] = client_id
        if len(client_id) > MAX_CLIENT_ID:
            self._refuse(0x85 if v5 else 0x02)
            return
        self.client_id = client_id
        self.keepalive = connect.keepalive
        present = self.broker.attach(self, connect)
        self.attached = True
        if v5:
            props[MAXIMUM_QOS] = 1
            props[RETAIN_AVAILABLE] = 1
            props[SHARED_SUBSCRIPTION_AVAILABLE] = 0
            props[SUBSCRIPTION_IDENTIFIER_AVAILABLE] = 0
        self.write(self.conn.send(Connack(present, 0, props if v5 else {})))
        self.session_id = uuid.uuid4().hex
        self.gateway._presence(self, connected=True)
        self.broker.resume(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.keepalive:
            self._timer = self._loop.call_later(self.keepalive * 1.5, self._keepalive_check)

    def _refuse(self, code: int) -> None:
        self.write(self.conn.send(Connack(False, code)))
        self._uncork()
        if self.transport is not None:
            self.transport.close()

    def _connect_timeout(self) -> None:
        self._timer = None
        if not self.attached:
            self.close()

    def _keepalive_check(self) -> None:
        deadline = self.last_rx + self.keepalive * 1.5
        now = self._loop.time()
        if now >= deadline:
            self._timer = None
            log.debug("keep-alive expired for %s", self.client_id)
            self.set_reason("MQTT_KEEP_ALIVE_TIMEOUT")
            if self.transport is not None:
                self.transport.abort()
            return
        self._timer = self._loop.call_later(deadline - now, self._keepalive_check)
