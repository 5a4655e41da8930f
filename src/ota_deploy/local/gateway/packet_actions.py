"""What a gateway connection does with each packet its client sends.

``GatewayConnection`` (``connection.py``) turns bytes into packets and hands each to
``_act`` (or ``_dispatch`` when faults may be injected: ask the injector first, then act or
refuse); ``_act`` maps the packet to a broker action or a call on the server, and writes the
answer::

    PUBLISH      -> size and reserved-topic checks, iot:Publish -> host.client_published, PUBACK
    PUBACK       -> broker.acknowledge
    PINGREQ      -> PINGRESP
    SUBSCRIBE    -> reserved request topics refused, iot:Subscribe per filter -> SUBACK,
                    retained messages
    UNSUBSCRIBE  -> UNSUBACK
    CONNECT      -> _on_connect: client id rules, iot:Connect, broker.attach, CONNACK,
                    host.client_connected (the lifecycle event), queued messages resumed
    DISCONNECT   -> the will is dropped (unless 0x04), the link closed
    anything else (QoS 2, AUTH) -> closed with 0x82

This is the hot path of a download (a PUBLISH per block request), so the common case is a few
type checks and one call. A mixin of ``GatewayConnection``, whose state and primitives it
uses (declared here, defined there); refusals are ``Refusals``'s (``refusals.py``).
"""

from __future__ import annotations

import functools
import logging
import uuid
from typing import Protocol

from ota_deploy.core.clock import TimeSource
from ota_deploy.local.faults import FaultInjector
from ota_deploy.local.gateway.authorization import DeviceGuard
from ota_deploy.local.gateway.aws_rules import TOPIC_NAME_INVALID, client_may_publish
from ota_deploy.local.gateway.broker import TOPIC_FILTER_INVALID, Broker
from ota_deploy.local.gateway.mqtt_faults import SERVICE
from ota_deploy.local.gateway.refusals import Refusals
from ota_deploy.local.reserved.subscribe_rules import client_may_subscribe
from ota_deploy.mqtt.packets import (
    CONNACK_ACCEPTED,
    CONNACK_IDENTIFIER_REJECTED,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Properties,
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
    SERVER_KEEP_ALIVE,
    SHARED_SUBSCRIPTION_AVAILABLE,
    SUBSCRIPTION_IDENTIFIER_AVAILABLE,
)

log = logging.getLogger(__name__)

MAX_CLIENT_ID = 128  # AWS IoT limit on client id length

# client_may_publish is a pure function of the topic, asked per PUBLISH to $aws/things/...: a
# device uses the same few request topics for a whole download, so the answers are kept
# (least recently used dropped first).
_may_publish = functools.lru_cache(maxsize=16_384)(client_may_publish)


class ActionHost(Protocol):
    """The two calls on the server that packets cause (part of ``ConnectionHost``)."""

    def client_connected(self, client_id: str, session_id: str, ip_address: str | None) -> int:
        """After the CONNACK: the lifecycle event; returns this connection's versionNumber."""
        ...

    def client_published(
        self,
        client_id: str,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: Properties | None = None,
    ) -> None:
        """A PUBLISH from the client (or its will): a reserved topic's handler, or routing."""


class PacketActions(Refusals):
    """The packet actions of one connection (a mixin of ``GatewayConnection``)."""

    host: ActionHost
    guard: DeviceGuard | None
    broker: Broker
    clock: TimeSource
    attached: bool
    graceful: bool
    session_id: str
    version_number: int
    _max_payload: int
    _faults: FaultInjector | None

    def _arm_timer(self) -> None:
        raise NotImplementedError

    def _dispatch(self, packet: Packet) -> None:
        """``_act`` under fault injection (``mqtt_faults.py``): ask first, then act or not."""
        if self._faults is not None and isinstance(
            packet, Publish | Subscribe | Unsubscribe | Connect
        ):
            action = self._faults.decide(SERVICE, type(packet).__name__.upper()).action
            if action is not None and action != "lose_reply":
                self._refuse_by_fault(packet, action)
                return
            self._act(packet)
            if action == "lose_reply":
                self.fault_close()  # acted on; its acknowledgement never goes out
            return
        self._act(packet)

    def _act(self, packet: Packet) -> None:
        if isinstance(packet, Publish):
            self._on_publish(
                packet.topic,
                packet.payload,
                packet.qos,
                packet.retain,
                packet.packet_id,
                packet.properties,
            )
        elif isinstance(packet, Puback):
            self.broker.acknowledge(self, packet.packet_id)
        elif isinstance(packet, Pingreq):
            self.write(self.conn.send(Pingresp()))
        elif isinstance(packet, Subscribe):
            self._on_subscribe(packet)
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

    def _on_publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        packet_id: int | None,
        properties: Properties | None,
    ) -> None:
        """A PUBLISH from the client (from ``_act``, or straight from the connection's read
        of one QoS 0 PUBLISH, ``GatewayConnection._receive``)."""
        if len(payload) > self._max_payload:
            # AWS IoT: publishes over 128 KB are rejected and the client disconnected.
            self.close(0x95)
            return
        if topic.startswith("$aws/things/") and not _may_publish(topic):
            # A service-only reserved topic (aws_rules.py, reserved-topics.html).
            log.debug("closing %s: PUBLISH to service-only topic %s", self.client_id, topic)
            self.close(TOPIC_NAME_INVALID)
            return
        guard = self.guard
        if guard is not None and not guard.can_publish(topic, retain):
            self._deny_publish(
                Publish(topic, payload, qos, retain, False, packet_id, properties or {})
            )
            return
        self.host.client_published(self.client_id, topic, payload, qos, retain, properties)
        if qos == 1 and packet_id is not None:
            self.write(self.conn.puback_bytes(packet_id))

    def _on_subscribe(self, packet: Subscribe) -> None:
        refused = [f for f, _ in packet.subscriptions if not client_may_subscribe(f)]
        if refused:
            # A publish-only reserved request topic: the connection is closed, as for a
            # PUBLISH to a subscribe-only one (reserved-topics.html: "Unsupported publish
            # or subscribe operations to reserved topics can result in a terminated
            # connection"; local/reserved/subscribe_rules.py). MQTT 5: DISCONNECT 0x8F.
            log.debug("closing %s: SUBSCRIBE to request topic %s", self.client_id, refused[0])
            self.close(TOPIC_FILTER_INVALID)
            return
        guard = self.guard
        granted = self.broker.subscribe(
            self, packet.subscriptions, None if guard is None else guard.can_subscribe
        )
        self.write(self.conn.send(Suback(packet.packet_id, granted)))
        if self.broker.retained:
            accepted = [
                (f, g) for (f, _), g in zip(packet.subscriptions, granted, strict=True) if g < 0x80
            ]
            self.broker.send_retained(self, accepted)

    def _on_connect(self, connect: Connect) -> None:
        v5 = connect.protocol_level >= 5
        client_id = connect.client_id
        props: dict[int, object] = {}
        if not client_id:
            if not connect.clean_session and not v5:
                self._refuse(CONNACK_IDENTIFIER_REJECTED)
                return
            client_id = f"auto-{uuid.uuid4().hex}"
            props[ASSIGNED_CLIENT_IDENTIFIER] = client_id
        if len(client_id) > MAX_CLIENT_ID:
            self._refuse(0x85 if v5 else CONNACK_IDENTIFIER_REJECTED)  # 0x85: id not valid
            return
        self.client_id = client_id
        guard = self.guard
        if guard is not None and not guard.bind(client_id):
            self._deny_connect(v5)
            return
        present = self.broker.attach(self, connect, None if guard is None else guard.can_receive)
        self.attached = True
        if v5:
            props[MAXIMUM_QOS] = 1
            props[RETAIN_AVAILABLE] = 1
            props[SHARED_SUBSCRIPTION_AVAILABLE] = 0
            props[SUBSCRIPTION_IDENTIFIER_AVAILABLE] = 0
            if self.conn.keepalive != connect.keepalive:
                props[SERVER_KEEP_ALIVE] = self.conn.keepalive  # aws_rules.effective_keepalive
        self.write(self.conn.send(Connack(present, CONNACK_ACCEPTED, props if v5 else {})))
        self.session_id = uuid.uuid4().hex
        peer = self.transport.get_extra_info("peername") if self.transport is not None else None
        self.version_number = self.host.client_connected(
            client_id, self.session_id, str(peer[0]) if peer else None
        )
        self.broker.resume(self)
        self._arm_timer()  # from the connect timeout to the keep-alive (none for 0)
