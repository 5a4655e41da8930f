"""How a gateway connection says no: AWS IoT's answers to denials, limits and injected faults.

``GatewayConnection`` (``connection.py``) inherits these from ``Refusals``; each is the one
place where one kind of refusal is written to the wire, with the AWS page it follows:

- ``_deny_connect`` / ``_deny_publish`` / ``revoke``: what a policy or the registry denies on a
  mutual-TLS connection (``authorization.py``); subscriptions are refused in the SUBACK by the
  broker.
- ``_hold_pre_connect``: the shared pre-CONNECT budget (``preconnect.py``).
- ``fault_close`` / ``_refuse_by_fault``: faults aimed at the gateway (``mqtt_faults.py``).
- ``_refuse``: a CONNACK with a failure code, then the close.
"""

from __future__ import annotations

import asyncio
import logging

from ota_deploy.local.gateway.aws_rules import AUTH_ERROR, NOT_AUTHORIZED
from ota_deploy.local.gateway.mqtt_faults import DROPPED, QUOTA_EXCEEDED
from ota_deploy.local.gateway.preconnect import PreConnectBudget
from ota_deploy.mqtt.packets import (
    CONNACK_SERVER_UNAVAILABLE,
    SUBACK_FAILURE,
    Connack,
    Connect,
    Packet,
    Puback,
    Publish,
    Suback,
    Subscribe,
    Unsubscribe,
)
from ota_deploy.mqtt.session import ServerConnection, State

log = logging.getLogger(__name__)


class Refusals:
    """The refusals of one connection (a mixin of ``GatewayConnection``, whose state and
    primitives it uses: declared here, defined there)."""

    conn: ServerConnection
    transport: asyncio.Transport | None
    client_id: str
    _corked: list[bytes] | None
    _budget: PreConnectBudget
    _claimed: int

    @property
    def version(self) -> int:
        return self.conn.version

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def close(self, reason_code: int | None = None) -> None:
        raise NotImplementedError

    def set_reason(self, reason: str) -> None:
        raise NotImplementedError

    def _uncork(self) -> None:
        raise NotImplementedError

    def _refuse(self, code: int) -> None:
        self.write(self.conn.send(Connack(False, code)))
        self._uncork()
        if self.transport is not None:
            self.transport.close()

    def _deny_connect(self, v5: bool) -> None:
        """iot:Connect denied. MQTT 3.1.1: AWS IoT closes the connection without a CONNACK --
        "AWS IoT returns the error code 7 instead of the CONNACK error code 5 when a connection
        is refused because the client isn't authorized to connect"
        (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences;
        7 is what clients such as paho report for a connection lost before a CONNACK). MQTT 5:
        CONNACK with reason code 0x87 Not authorized (same page, "MQTT reason codes"), then
        the close."""
        log.info("refused CONNECT of %s: iot:Connect not allowed", self.client_id)
        self.set_reason(AUTH_ERROR)
        if v5:
            self._refuse(NOT_AUTHORIZED)
            return
        self._uncork()
        self.conn.state = State.CLOSED
        if self.transport is not None:
            self.transport.close()

    def _deny_publish(self, packet: Publish) -> None:
        """iot:Publish (or iot:RetainPublish) denied. MQTT 3.1.1 has no way to refuse one
        PUBLISH: AWS IoT closes the connection. MQTT 5: a QoS 1 PUBLISH gets a PUBACK with
        reason code 0x87 Not authorized and the connection stays; a QoS 0 one is dropped
        (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html, "MQTT reason codes";
        https://docs.aws.amazon.com/iot/latest/developerguide/pub-sub-policy.html)."""
        if self.version < 5:
            log.info("closing %s: iot:Publish to %s not allowed", self.client_id, packet.topic)
            self.set_reason(AUTH_ERROR)
            self.close()
            return
        if packet.qos == 1 and packet.packet_id is not None:
            self.write(self.conn.send(Puback(packet.packet_id, NOT_AUTHORIZED)))

    def revoke(self) -> None:
        """The certificate of this (mutual-TLS) connection is no longer ACTIVE: close it
        (MQTT 5 clients first get DISCONNECT 0x87 Not authorized); lifecycle reason
        AUTH_ERROR."""
        log.info("closing %s: its certificate is no longer ACTIVE", self.client_id or "<tls>")
        self.set_reason(AUTH_ERROR)
        self.close(NOT_AUTHORIZED)

    def _hold_pre_connect(self) -> None:
        """No complete CONNECT yet: what the parser buffers must fit the gateway's
        pre-CONNECT budget (``preconnect.py``), else the connection is closed and its buffer
        dropped at once."""
        buffered = self.conn.parser.buffered
        if buffered <= self._budget.free_per_connection and not self._claimed:
            return
        claim = self._budget.claim(self._claimed, buffered)
        if claim is not None:
            self._claimed = claim
            return
        log.debug("closing a connection holding %d bytes before CONNECT (budget full)", buffered)
        self._budget.release(self._claimed)
        self._claimed = 0
        self.conn.parser.clear()
        self.conn.state = State.CLOSED
        if self.transport is not None:
            self.transport.abort()

    def fault_close(self) -> None:
        """An injected fault closes the link at once: what was gathered to be written (the
        CONNACK, SUBACK, PUBACK or reply of a lost reply) is dropped, not flushed."""
        self._corked = None
        self.set_reason(DROPPED)
        self.conn.state = State.CLOSED
        if self.transport is not None:
            self.transport.abort()

    def _refuse_by_fault(self, packet: Packet, action: str) -> None:
        """An injected drop, error or throttle (``mqtt_faults.py``): the packet is not acted
        on."""
        v5 = self.version >= 5 or (isinstance(packet, Connect) and packet.protocol_level >= 5)
        if action != "throttle" or isinstance(packet, Unsubscribe):
            self.fault_close()
        elif isinstance(packet, Connect):
            self._refuse(QUOTA_EXCEEDED if v5 else CONNACK_SERVER_UNAVAILABLE)
        elif isinstance(packet, Subscribe):
            refused = QUOTA_EXCEEDED if v5 else SUBACK_FAILURE
            self.write(
                self.conn.send(Suback(packet.packet_id, [refused] * len(packet.subscriptions)))
            )
        elif isinstance(packet, Publish) and v5 and packet.qos == 1 and packet.packet_id:
            self.write(self.conn.send(Puback(packet.packet_id, QUOTA_EXCEEDED)))
        # a throttled 3.1.1 (or QoS 0) PUBLISH is dropped unacknowledged
