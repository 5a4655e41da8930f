"""The local AWS IoT's MQTT device gateway (broker + reserved-topic dispatch).

Modules, in the order a client's bytes flow through them:

* :mod:`.connection` - ``GatewayConnection``: one accepted socket over the sans-I/O
  ``ServerConnection``; it asks its server for what it needs through ``ConnectionHost``.
  What each packet does is :mod:`.packet_actions`; how a connection says no, :mod:`.refusals`.
  Under load its bytes wait for their turn (:mod:`.backlog`, :mod:`.fair_share`: a slice of
  gateway work per loop iteration, so HTTP and timers on the same loop keep answering).
* :mod:`.server` - ``MqttGateway``: listens, implements ``ConnectionHost``, sends ``$aws/...``
  PUBLISHes to the reserved-topic handlers and everything else to the broker.
* :mod:`.broker` - ``Broker``: sessions, subscriptions, retained messages, fan-out (sans-I/O).
* :mod:`.presence` - ``Presence``: AWS IoT's lifecycle events, routed by the broker.

Imports run one way: server -> connection -> packet_actions -> refusals,
connection -> broker, server -> presence -> broker.
"""

from ota_deploy.local.gateway.server import MqttGateway

__all__ = ["MqttGateway"]
