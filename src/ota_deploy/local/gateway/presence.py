"""AWS IoT's lifecycle events for client connects and disconnects, free of sockets.

A connection tells the server that its client connected (after the CONNACK) or disconnected
(once the link is gone); the server hands that to :class:`Presence`, which numbers the
client's connections (``versionNumber``) and, when anyone subscribes to the event's topic,
routes the event through the broker at QoS 1:
``$aws/events/presence/{connected|disconnected}/{clientId}``
(https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ota_deploy.core.clock import Clock
from ota_deploy.local.gateway.broker import Broker


class Presence:
    """``clock`` stamps the events (``timestamp``, epoch milliseconds)."""

    def __init__(self, broker: Broker, clock: Clock) -> None:
        self.broker = broker
        self.clock = clock
        self._versions: dict[str, int] = {}  # client id -> last versionNumber

    def connected(self, client_id: str, session_id: str, ip_address: str | None) -> int:
        """The ``versionNumber`` of this connection of ``client_id`` (0 for the first)."""
        if _no_events(client_id):
            return 0
        version = self._versions[client_id] = self._versions.get(client_id, -1) + 1
        topic = f"$aws/events/presence/connected/{client_id}"
        if self.broker.index.lookup(topic):
            body = self._body(client_id, "connected", session_id)
            if ip_address:
                body["ipAddress"] = ip_address
            self._send(topic, body, version)
        return version

    def disconnected(
        self, client_id: str, session_id: str, version_number: int, reason: str
    ) -> None:
        """``reason`` is AWS's ``disconnectReason`` (CLIENT_INITIATED_DISCONNECT, ...)."""
        if _no_events(client_id):
            return
        topic = f"$aws/events/presence/disconnected/{client_id}"
        if self.broker.index.lookup(topic):
            body = self._body(client_id, "disconnected", session_id)
            body["clientInitiatedDisconnect"] = reason == "CLIENT_INITIATED_DISCONNECT"
            body["disconnectReason"] = reason
            self._send(topic, body, version_number)

    def _body(self, client_id: str, event: str, session_id: str) -> dict[str, Any]:
        return {
            "clientId": client_id,
            "timestamp": int(self.clock.now() * 1000),
            "eventType": event,
            "sessionIdentifier": session_id,
            "principalIdentifier": hashlib.sha256(client_id.encode()).hexdigest(),
        }

    def _send(self, topic: str, body: dict[str, Any], version_number: int) -> None:
        body["versionNumber"] = version_number
        self.broker.route(topic, json.dumps(body).encode(), 1)


def _no_events(client_id: str) -> bool:
    """AWS sends no lifecycle events for client ids with MQTT wildcards."""
    return "+" in client_id or "#" in client_id
