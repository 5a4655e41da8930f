"""MQTT 3.1.1 and MQTT 5, sans-I/O, plus a thin asyncio client.

Modules, in the order data flows through them:

* :mod:`.packets` - one dataclass per control packet (the "events").
* :mod:`.properties` - primitive encodings and MQTT 5 properties.
* :mod:`.codec` - ``encode(packet, version) -> bytes``, ``decode(first, body, version)``,
  and ``encode_publish`` (the hot path, no packet object).
* :mod:`.parser` - ``StreamParser.feed(bytes) -> [packets]``, independent of how the stream
  is split.
* :mod:`.session` - ``ServerConnection`` / ``ClientConnection`` state machines (which packet
  may come when, and when keep-alive or the connect timeout is due, on an injected clock)
  and ``ServerSessionState`` (what a broker keeps per client id).
* :mod:`.topics` - topic-name/filter validation, wildcard matching, ``SubscriptionIndex``.
* :mod:`.transport` - the asyncio plumbing both socket layers share (TCP_NODELAY, the loop
  timer for a session's deadline).
* :mod:`.client` - ``MqttClient``: asyncio transport + ``ClientConnection``.

Nothing here but :mod:`.client` and :mod:`.transport` touches a socket; the gateway
(:mod:`ota_deploy.local.gateway`) is the server-side socket layer. This package imports only
:mod:`ota_deploy.core`.
"""
