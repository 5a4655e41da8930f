"""One client connection of the gateway: the thin socket layer over ``ServerConnection``.

asyncio calls ``data_received`` with raw bytes; the sans-I/O ``ServerConnection`` turns them
into packets (checking order and validity); ``PacketActions._act`` (``packet_actions.py``) maps
each packet to a broker action or a call on its :class:`ConnectionHost`, and this class writes
the answers with ``transport.write`` (no per-message drain: asyncio buffers, and the client's
request/response pacing bounds the buffer). What is written to this connection while its own
received bytes are being dispatched (a GetStream request's several data blocks,
acknowledgements) is gathered and written once at the end: one ``send`` instead of one per
message; it is flushed before any close, so nothing is lost or reordered. A read that is
exactly one valid QoS 0 PUBLISH (a download's block request, the usual read) skips the packet
object and goes straight to ``_on_publish`` (``_whole_publish``); everything else, errors
included, goes through ``ServerConnection.receive``.

Sharing the loop: once the gateway has used up this loop iteration's slice of work
(``fair_share.py``), a connected client's bytes are kept until its turn (``backlog.py``), in
order; the HTTP control plane and the timers on the same loop run in between.

What a connection needs from the server that accepted it is :class:`ConnectionHost`: the
broker, the clock, the limits, the loop's slices, the log of repeated failures, and five calls
(link opened/closed, client connected/disconnected, a PUBLISH from the client). ``MqttGateway``
implements it; this module does not import the server, and neither side touches the other's
private members.

Timers are the session's: no CONNECT within the connect timeout, or a client silent for 1.5x
its keep-alive (MQTT 3.1.1 section 3.1.2.10), and the link is dropped. The keep-alive is the one
AWS IoT applies (``aws_rules.effective_keepalive``: 0 and values over 1,200 s become 1,200 s,
values under 30 s become 30 s), told to MQTT 5 clients in the CONNACK's Server Keep Alive. One
loop timer per connection, armed for ``ServerConnection.deadline()`` and re-armed lazily when
it fires early. Protocol errors close the connection (MQTT 5 clients first get a DISCONNECT with
the reason).

Mutual TLS: a connection accepted on the TLS listener carries a ``DeviceGuard``
(``authorization.py``): admission after the handshake, iot:Connect at CONNECT, iot:Subscribe
per topic filter, iot:Publish (and iot:RetainPublish) per PUBLISH, iot:Receive per delivery
(in the broker). AWS IoT's reactions to a denial are applied by ``Refusals``
(``refusals.py``), each with its page.
Connections of the plain listener have no guard: anyone may do anything there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Protocol

from ota_deploy.core.clock import TimeSource
from ota_deploy.local.auth import peer_certificate_der
from ota_deploy.local.faults import FaultInjector
from ota_deploy.local.gateway.authorization import DeviceGuard
from ota_deploy.local.gateway.aws_rules import AUTH_ERROR, effective_keepalive
from ota_deploy.local.gateway.backlog import Backlog
from ota_deploy.local.gateway.broker import Broker
from ota_deploy.local.gateway.fair_share import FairShare
from ota_deploy.local.gateway.packet_actions import ActionHost, PacketActions
from ota_deploy.local.gateway.preconnect import PreConnectBudget
from ota_deploy.mqtt.codec import UnsupportedProtocol, encode
from ota_deploy.mqtt.errors import ConnectTimeout, KeepAliveTimeout, ProtocolError
from ota_deploy.mqtt.packets import CONNACK_BAD_PROTOCOL, Connack, Disconnect, Packet
from ota_deploy.mqtt.session import ServerConnection, State
from ota_deploy.mqtt.transport import call_at_deadline, stream_transport
from ota_deploy.runtime.failure_log import FailureLog

log = logging.getLogger(__name__)

AWS_MAX_PAYLOAD = 128 * 1024  # https://docs.aws.amazon.com/general/latest/gr/iot-core.html

# MQTT 5 reason code of a server-side close -> AWS lifecycle disconnectReason
# (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html).
_AWS_REASONS: dict[int | None, str] = {
    None: "SERVER_INITIATED_DISCONNECT",
    0x8B: "SERVER_INITIATED_DISCONNECT",  # server shutting down
    0x8E: "DUPLICATE_CLIENTID",  # session taken over
}


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one connection may do: PUBLISH payload size (AWS IoT rejects larger publishes
    and disconnects the client), seconds to send CONNECT, bytes buffered for a client that
    does not read."""

    max_payload: int
    connect_timeout: float
    max_write_buffer: int

    @property
    def max_packet_size(self) -> int:
        """A PUBLISH of ``max_payload`` with the longest topic and MQTT 5 properties."""
        return self.max_payload + 65536 + 16


class ConnectionHost(ActionHost, Protocol):
    """What a connection needs from the server that accepted it (``MqttGateway``)."""

    @property
    def broker(self) -> Broker: ...

    @property
    def clock(self) -> TimeSource: ...

    @property
    def limits(self) -> ConnectionLimits: ...

    @property
    def pre_connect(self) -> PreConnectBudget:
        """What connections may buffer before their CONNECT, all together."""
        ...

    @property
    def faults(self) -> FaultInjector | None:
        """The fault injector to ask per packet (``mqtt_faults.py``), None when inactive."""
        ...

    @property
    def turns(self) -> FairShare:
        """The gateway's slices of loop time, shared by its connections (``fair_share.py``)."""
        ...

    @property
    def failures(self) -> FailureLog:
        """Where a failure that may repeat per connection is logged once per condition."""
        ...

    def link_opened(self, link: GatewayConnection) -> None:
        """A socket was accepted (the server drops the open links when it stops)."""

    def link_closed(self, link: GatewayConnection) -> None:
        """The socket is gone."""

    def client_disconnected(
        self, client_id: str, session_id: str, version_number: int, reason: str
    ) -> None:
        """A connected client's link is gone; ``reason`` is AWS's disconnectReason."""


class GatewayConnection(PacketActions, Backlog, asyncio.Protocol):
    host: ConnectionHost

    def __init__(self, host: ConnectionHost, guard: DeviceGuard | None = None) -> None:
        self.host = host
        self.guard = guard  # mutual-TLS connections only
        self.broker = host.broker
        self.clock = host.clock
        limits = host.limits
        self._max_payload = limits.max_payload
        self._max_write_buffer = limits.max_write_buffer
        self._budget = host.pre_connect
        self._claimed = 0  # bytes of the pre-CONNECT budget this connection holds
        self._faults = host.faults
        self._turns = host.turns
        self._failures = host.failures
        self._backlog: list[bytes] | None = None  # received, kept for a later turn
        self._backlog_bytes = 0
        self._reading_paused = False
        self.conn = ServerConnection(
            max_packet_size=limits.max_packet_size,
            max_qos=1,
            clock=self.clock,
            connect_timeout=limits.connect_timeout,
            keepalive_rule=effective_keepalive,
        )
        self.client_id = ""
        self.transport: asyncio.Transport | None = None
        self.attached = False
        self.graceful = False
        # AWS lifecycle-event disconnectReason; the first cause recorded wins.
        self.disconnect_reason: str | None = None
        self.session_id = ""
        self.version_number = 0
        self._timer: asyncio.TimerHandle | None = None
        self._paused = False  # the transport's write buffer is over its high-water mark
        self._corked: list[bytes] | None = None  # writes gathered during _dispatch_all

    # -- Link ----------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._corked is not None:
            self._corked.append(data)
            return
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)
            if self._paused and transport.get_write_buffer_size() > self._max_write_buffer:
                # A client that stops reading must not make the gateway buffer without bound.
                log.warning("closing %s: it does not read (write buffer full)", self.client_id)
                self.abort("THROTTLED")

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

    def abort(self, reason: str) -> None:
        """Drop the link at once, nothing flushed; ``reason`` is AWS's disconnectReason."""
        self.set_reason(reason)
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = stream_transport(transport)
        guard = self.guard
        if guard is not None:
            ssl_object = transport.get_extra_info("ssl_object")
            der = peer_certificate_der(ssl_object) if ssl_object is not None else None
            admission = guard.admit(der)
            if not admission.admitted:
                # Only registered, ACTIVE certificates connect (authorization.py's sources).
                log.info("refused a TLS client: %s", admission.reason)
                self.set_reason(AUTH_ERROR)
                self.transport.abort()
                return
        self.host.link_opened(self)
        self._arm_timer()  # the connect timeout

    def connection_lost(self, exc: Exception | None) -> None:
        if self._backlog is not None:
            self._receive_after_loss()
        self.host.link_closed(self)
        if self._claimed:
            self._budget.release(self._claimed)
            self._claimed = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.attached:
            return
        connect = self.conn.connect
        will = connect.will if connect is not None and not self.graceful else None
        guard = self.guard
        if (
            will is not None
            and guard is not None
            and not guard.can_publish(will.topic, will.retain)
        ):
            will = None  # iot:Publish on the will's topic is checked like any PUBLISH
        if will is not None:
            self.host.client_published(
                self.client_id, will.topic, will.payload, will.qos, will.retain
            )
        self.broker.detach(self)
        self.set_reason("CONNECTION_LOST")
        self.host.client_disconnected(
            self.client_id,
            self.session_id,
            self.version_number,
            self.disconnect_reason or "CONNECTION_LOST",
        )

    def data_received(self, data: bytes) -> None:
        # A connected client's bytes wait their turn when the gateway has used up this loop
        # iteration's slice or others wait before them (``backlog.py``); bytes before the
        # CONNECT never wait (the pre-CONNECT budget bounds what those may hold).
        if self.attached and (self._backlog is not None or not self._turns.admit()):
            self._keep(data)
            return
        self._receive(data)

    def _receive(self, data: bytes) -> None:
        if self.attached and self._faults is None:
            message = self._whole_publish(data)
            if message is not None:  # the usual read: one QoS 0 PUBLISH (a block request)
                self._corked = []
                try:
                    if self.transport is not None and not self.transport.is_closing():
                        self._on_publish(message[0], message[1], 0, False, None, None)
                finally:
                    self._uncork()
                return
        try:
            packets = self.conn.receive(data)
        except UnsupportedProtocol as exc:
            # 3.1.1 section 3.1.2.2: answer CONNACK 0x01 and close. (0x84 for MQTT 5, in the
            # same 3.1.1 layout: the client's level is not one we speak.)
            code = 0x84 if exc.level == 5 else CONNACK_BAD_PROTOCOL
            if self.transport is not None:
                self.transport.write(encode(Connack(False, code), 4))
            self.close()
            return
        except ProtocolError as exc:
            log.debug("closing %s: %s", self.client_id or "<unknown>", exc)
            self._dispatch_all(exc.packets)
            self.close(exc.reason_code)
            return
        if not self.attached:  # before CONNECT (one test per read once connected)
            if self.conn.state is State.AWAIT_CONNECT:
                self._hold_pre_connect()
            elif self._claimed:
                self._budget.release(self._claimed)  # the CONNECT is complete
                self._claimed = 0
        self._dispatch_all(packets)

    def _whole_publish(self, data: bytes) -> tuple[str, bytes] | None:
        """``(topic, payload)`` when ``data`` is exactly one QoS 0 PUBLISH that
        ``conn.receive`` would give as a valid ``Publish`` (``StreamParser.whole_publish``,
        and the topic checks of ``ServerConnection._validate``), which then counts as heard
        from the client as ``receive`` does; None, with nothing consumed, for anything else
        (``receive`` then takes it, errors included). Spares the packet object, the list and
        the per-packet dispatch on a download's hot path."""
        conn = self.conn
        if conn.state is not State.CONNECTED:
            return None
        message = conn.parser.whole_publish(data)
        if message is None:
            return None
        topic = message[0]
        if "+" in topic or "#" in topic or "\x00" in topic:
            return None
        conn.last_heard = conn.clock.now()
        return message

    def _dispatch_all(self, packets: list[Packet]) -> None:
        self._corked = []
        dispatch = self._act if self._faults is None else self._dispatch
        try:
            for packet in packets:
                if self.transport is None or self.transport.is_closing():
                    return
                dispatch(packet)
        finally:
            self._uncork()

    def _uncork(self) -> None:
        """Write what was gathered during dispatch, in one ``transport.write``."""
        corked, self._corked = self._corked, None
        if corked:
            self.write(corked[0] if len(corked) == 1 else b"".join(corked))

    # -- timers ------------------------------------------------------------------------------

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = call_at_deadline(self.clock, self.conn.deadline(), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self.conn.handle_timer()
        except ConnectTimeout:
            self.close()
            return
        except KeepAliveTimeout as exc:
            log.debug("closing %s: %s", self.client_id, exc)
            self.abort("MQTT_KEEP_ALIVE_TIMEOUT")
            return
        self._arm_timer()
