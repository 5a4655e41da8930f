"""A small asyncio MQTT client (3.1.1 or 5) over the sans-I/O :class:`ClientConnection`.

Data flow: the asyncio protocol feeds received bytes to ``ClientConnection.receive``; each
packet either completes a waiting future (CONNACK, SUBACK, UNSUBACK, PUBACK, keyed by packet
id) or, for PUBLISH, becomes a :class:`Message` on ``client.messages`` (QoS 1 deliveries are
acknowledged right away), or is handed to ``client.on_message`` when one is set (called from
the protocol's data callback: it must not block, and exceptions it raises are the caller's
bug, logged and dropped). A QoS 0 message that is not retained goes to
``client.on_publish(topic, payload)`` instead when that is set too: the usual delivery, with
no ``Message`` built for it. Outgoing packets are encoded by the connection and written straight
to the transport; ``publish`` only waits when the transport's write buffer is over its high
water mark (or for the PUBACK at QoS 1). ``closed`` is set when the link drops; every waiting
call then raises :class:`ConnectionClosed`. A client object may ``connect()`` again after it
was closed (same ``messages`` queue).

Keep-alive is decided by the connection on the injected ``clock``: one loop timer is armed
for ``ClientConnection.deadline()``; when it fires, ``handle_timer()`` gives a PINGREQ to
write, or says the server went silent (the link is aborted). The clock's ``scale`` converts
its seconds to the loop's (a scaled clock makes keep-alive run faster: tests only, since the
server counts keep-alive in real seconds).

Usage::

    async with MqttClient("thing-1", host="127.0.0.1", port=port) as c:
        await c.subscribe([("a/b", 1)])
        await c.publish("a/b", b"hi", qos=1)
        msg = await c.messages.get()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as ssl_module
from collections.abc import Callable
from types import TracebackType
from typing import Any, NamedTuple

from ota_deploy.core.clock import SystemClock, TimeSource
from ota_deploy.mqtt.errors import (
    ConnectionClosed,
    ConnectionRefused,
    KeepAliveTimeout,
    MqttError,
    ProtocolError,
    PublishRefused,
)
from ota_deploy.mqtt.packets import (
    CONNACK_ACCEPTED,
    Connack,
    Connect,
    Disconnect,
    Packet,
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
from ota_deploy.mqtt.properties import SESSION_EXPIRY_INTERVAL
from ota_deploy.mqtt.session import ClientConnection, State
from ota_deploy.mqtt.transport import call_at_deadline, stream_transport

log = logging.getLogger(__name__)


class Message(NamedTuple):
    """One application message received on a subscription (a NamedTuple: cheap to create)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


class _Protocol(asyncio.Protocol):
    __slots__ = ("can_write", "client", "transport")

    def __init__(self, client: MqttClient) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.can_write = asyncio.Event()
        self.can_write.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = stream_transport(transport)

    def data_received(self, data: bytes) -> None:
        self.client._on_data(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.can_write.set()
        self.client._on_lost(self, exc)

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()


class MqttClient:
    __slots__ = (
        "_conn",
        "_proto",
        "_timer",
        "_waiters",
        "clean_session",
        "client_id",
        "clock",
        "closed",
        "connect_timeout",
        "host",
        "keepalive",
        "messages",
        "on_message",
        "on_publish",
        "password",
        "port",
        "protocol",
        "server_hostname",
        "session_expiry",
        "session_present",
        "ssl",
        "username",
    )

    def __init__(
        self,
        client_id: str,
        *,
        host: str,
        port: int,
        ssl: ssl_module.SSLContext | None = None,
        keepalive: int = 60,
        clean_session: bool = True,
        protocol: int = 4,
        server_hostname: str | None = None,
        username: str | None = None,
        password: bytes | None = None,
        connect_timeout: float = 30.0,
        session_expiry: int | None = None,
        clock: TimeSource | None = None,
    ) -> None:
        if protocol not in (4, 5):
            raise ValueError("protocol must be 4 (MQTT 3.1.1) or 5 (MQTT 5)")
        self.client_id = client_id
        self.host = host
        self.port = port
        self.ssl = ssl
        self.keepalive = keepalive
        self.clean_session = clean_session
        self.protocol = protocol
        self.server_hostname = server_hostname
        self.username = username
        self.password = password
        self.connect_timeout = connect_timeout
        # MQTT 5 keeps a session only with a Session Expiry Interval; by default a
        # clean_session=False client gets one hour, like AWS IoT's default persistent session.
        if session_expiry is None:
            session_expiry = 0 if clean_session else 3600
        self.session_expiry = session_expiry
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        # When set, received messages go to this callback instead of ``messages``.
        self.on_message: Callable[[Message], None] | None = None
        # With on_message: QoS 0 messages that are not retained go here, as (topic, payload).
        self.on_publish: Callable[[str, bytes], None] | None = None
        self.closed = asyncio.Event()
        self.closed.set()
        self.session_present = False
        self.clock: TimeSource = clock if clock is not None else SystemClock()
        self._conn = ClientConnection(protocol, clock=self.clock)
        self._proto: _Protocol | None = None
        self._waiters: dict[Any, asyncio.Future[Any]] = {}
        self._timer: asyncio.TimerHandle | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def connect(self) -> bool:
        """Open the link and do the CONNECT/CONNACK exchange; returns "session present"."""
        if self._proto is not None and not self.closed.is_set():
            raise MqttError("already connected")
        loop = asyncio.get_running_loop()
        self._conn = ClientConnection(self.protocol, clock=self.clock)
        self.closed.clear()
        hostname = self.server_hostname or (self.host if self.ssl is not None else None)
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Protocol(self),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=hostname,
                ),
                self.connect_timeout,
            )
        except BaseException:
            self.closed.set()
            raise
        self._proto = proto
        connack: asyncio.Future[Connack] = loop.create_future()
        self._waiters["connack"] = connack
        packet = Connect(
            self.client_id,
            self.keepalive,
            self.clean_session,
            self.protocol,
            self.username,
            self.password,
            properties=(
                {SESSION_EXPIRY_INTERVAL: self.session_expiry}
                if self.protocol >= 5 and self.session_expiry
                else {}
            ),
        )
        self._write(self._conn.start(packet))
        try:
            ack = await asyncio.wait_for(connack, self.connect_timeout)
        except BaseException:
            self._abort()
            raise
        if ack.return_code != CONNACK_ACCEPTED:
            self._abort()
            raise ConnectionRefused(ack.return_code)
        self.session_present = ack.session_present
        self._arm_timer()
        return ack.session_present

    async def disconnect(self) -> None:
        """Send DISCONNECT and close the link (no will message is published)."""
        proto = self._proto
        if proto is None or proto.transport is None or self.closed.is_set():
            self.closed.set()
            return
        with contextlib.suppress(Exception):
            self._write(self._conn.send(Disconnect()))
        proto.transport.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.closed.wait(), 5)
        self.closed.set()

    async def __aenter__(self) -> MqttClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    # -- operations --------------------------------------------------------------------------

    async def subscribe(self, subscriptions: list[tuple[str, int]]) -> list[int]:
        """Subscribe; returns the granted QoS per filter (0x80 = refused)."""
        pid = self._conn.next_packet_id()
        fut = self._expect(("suback", pid))
        self._write(self._conn.send(Subscribe(pid, list(subscriptions))))
        ack: Suback = await self._await(fut, pid)
        return list(ack.return_codes)

    async def unsubscribe(self, topics: list[str]) -> None:
        pid = self._conn.next_packet_id()
        fut = self._expect(("unsuback", pid))
        self._write(self._conn.send(Unsubscribe(pid, list(topics))))
        await self._await(fut, pid)

    async def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """Publish; at QoS 1 returns once the server's PUBACK arrives (``PublishRefused`` when
        an MQTT 5 server refused it)."""
        proto = self._proto
        if proto is None or proto.transport is None or self.closed.is_set():
            raise ConnectionClosed("not connected")
        if not proto.can_write.is_set():
            await proto.can_write.wait()
            proto = self._live()
        if qos == 0:
            assert proto.transport is not None
            proto.transport.write(self._conn.publish_bytes(topic, payload))
            return
        if qos != 1:
            raise ValueError("only QoS 0 and 1 are supported")
        pid = self._conn.next_packet_id()
        fut = self._expect(("puback", pid))
        self._write(self._conn.publish_bytes(topic, payload, 1, packet_id=pid))
        puback: Puback = await self._await(fut, pid)
        if puback.reason_code >= 0x80:  # MQTT 5: refused (e.g. 0x87 Not authorized)
            raise PublishRefused(puback.reason_code)

    def publish_nowait(self, topic: str, payload: bytes) -> bool:
        """QoS 0 publish without a coroutine: True once written; False (nothing sent) when
        the link is down or its write buffer is over the high-water mark, in which case
        ``await publish(...)`` waits for room (or raises ``ConnectionClosed``)."""
        proto = self._proto
        if (
            proto is None
            or proto.transport is None
            or self.closed.is_set()
            or not proto.can_write.is_set()
        ):
            return False
        proto.transport.write(self._conn.publish_qos0(topic, payload))
        return True

    # -- internals ---------------------------------------------------------------------------

    def _live(self) -> _Protocol:
        proto = self._proto
        if proto is None or proto.transport is None or self.closed.is_set():
            raise ConnectionClosed("not connected")
        return proto

    def _expect(self, key: Any) -> asyncio.Future[Any]:
        self._live()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters[key] = fut
        return fut

    async def _await(self, fut: asyncio.Future[Any], pid: int) -> Any:
        try:
            return await fut
        finally:
            self._conn.release(pid)

    def _write(self, data: bytes) -> None:
        proto = self._live()
        assert proto.transport is not None
        proto.transport.write(data)

    def _arm_timer(self) -> None:
        """One loop timer for the connection's next keep-alive check (none when it has no
        deadline: keep-alive 0, or not connected)."""
        self._timer = call_at_deadline(self.clock, self._conn.deadline(), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.closed.is_set():
            return
        try:
            ping = self._conn.handle_timer()
        except KeepAliveTimeout as exc:
            log.debug("%s: %s", self.client_id, exc)
            self._abort()
            return
        if ping:
            with contextlib.suppress(MqttError):
                self._write(ping)
        self._arm_timer()

    def _abort(self) -> None:
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.abort()
        self.closed.set()

    def _on_data(self, proto: _Protocol, data: bytes) -> None:
        if proto is not self._proto:
            return
        message = self._conn.receive_publish(data)  # one QoS 0 PUBLISH: the usual delivery
        if message is not None:
            on_publish = self.on_publish
            if on_publish is None or self.on_message is None:
                self._deliver(message[0], message[1], 0, False)
                return
            try:  # _deliver's choice for a QoS 0 message that is not retained, written out
                on_publish(message[0], message[1])
            except Exception:  # never let a consumer's bug kill the connection
                log.exception("on_message callback failed on %s", message[0])
            return
        try:
            packets = self._conn.receive(data)
        except ProtocolError:
            self._abort()
            return
        for packet in packets:
            self._handle(packet)

    def _deliver(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        on_message = self.on_message
        if on_message is None:
            self.messages.put_nowait(Message(topic, payload, qos, retain))
            return
        try:
            on_publish = self.on_publish
            if on_publish is not None and not qos and not retain:
                on_publish(topic, payload)
            else:
                on_message(Message(topic, payload, qos, retain))
        except Exception:  # never let a consumer's bug kill the connection
            log.exception("on_message callback failed on %s", topic)

    def _handle(self, packet: Packet) -> None:
        if type(packet) is Publish:
            self._deliver(packet.topic, packet.payload, packet.qos, packet.retain)
            if packet.qos == 1 and packet.packet_id is not None:
                self._write(self._conn.puback_bytes(packet.packet_id))
            elif packet.qos == 2 and packet.packet_id is not None:
                self._write(self._conn.send(Pubrec(packet.packet_id)))
            return
        key: Any = None
        if isinstance(packet, Puback):
            key = ("puback", packet.packet_id)
        elif isinstance(packet, Suback):
            key = ("suback", packet.packet_id)
        elif isinstance(packet, Unsuback):
            key = ("unsuback", packet.packet_id)
        elif isinstance(packet, Connack):
            key = "connack"
        elif isinstance(packet, Pubrel):
            self._write(self._conn.send(Pubcomp(packet.packet_id)))
        elif isinstance(packet, Disconnect):
            self._abort()
        if key is not None:
            fut = self._waiters.pop(key, None)
            if fut is not None and not fut.done():
                fut.set_result(packet)
        if self._conn.state is State.CLOSED and not isinstance(packet, Connack):
            self._abort()

    def _on_lost(self, proto: _Protocol, exc: Exception | None) -> None:
        if proto is not self._proto:
            return
        self.closed.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiters, self._waiters = self._waiters, {}
        for fut in waiters.values():
            if not fut.done():
                fut.set_exception(ConnectionClosed(f"connection lost: {exc or 'closed'}"))
