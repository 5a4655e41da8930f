"""Faults a test can aim at the gateway: ``local/faults.py``'s service ``"mqtt"``.

Data flow: the connection asks ``FaultInjector.decide("mqtt", packet)`` once per CONNECT,
SUBSCRIBE, UNSUBSCRIBE and PUBLISH it receives (``"CONNECT"``, ``"SUBSCRIBE"``, ...), the server
a second time for a PUBLISH to a reserved request topic, with the operation's AWS name
(``aws_rules.reserved_operation``: ``"UpdateJobExecution"``, ``"GetStream"``, ...). What each
action does is ``local/faults.py``'s contract, applied by ``connection.py`` and ``server.py``:

* ``drop``: the connection is closed before the packet is acted on.
* ``lose_reply``: the packet is acted on -- the client connected, the subscription made, the
  message routed, the execution updated -- then the connection is closed before its CONNACK,
  SUBACK, PUBACK or ``.../accepted`` goes out.
* ``throttle``: CONNECT: CONNACK 3 (server unavailable) / MQTT 5 0x97 (quota exceeded);
  SUBSCRIBE: every filter refused (0x80 / 0x97); a PUBLISH: MQTT 5 PUBACK 0x97, 3.1.1: dropped
  unacknowledged; a reserved request: its ``.../rejected`` reply with ``RequestThrottled``
  (``rejected_reply``).
* ``error500`` / ``error503``: a reserved request: ``.../rejected`` with ``InternalError``;
  any other packet: the connection is closed. UNSUBSCRIBE treats ``throttle`` as an error too
  (MQTT 3.1.1's UNSUBACK cannot refuse).
* ``latency_s``: a reserved request is answered that much later (other packets are not
  delayed, which would reorder a connection's packets).

The gateway only asks when the injector has something configured (``active``), so the hot
path pays nothing otherwise.
"""

from __future__ import annotations

from ota_deploy.local.faults import FaultInjector
from ota_deploy.local.reserved import jobs_protocol, streams_codec, streams_protocol
from ota_deploy.local.reserved.streams_protocol import StreamsOp

SERVICE = "mqtt"
QUOTA_EXCEEDED = 0x97  # MQTT 5 reason code for a throttled packet
REQUEST_THROTTLED = "RequestThrottled"  # the Jobs MQTT API's throttling code
INTERNAL_ERROR = "InternalError"
DROPPED = "CONNECTION_LOST"  # lifecycle disconnectReason of an injected close


def active(injector: FaultInjector | None) -> FaultInjector | None:
    """``injector`` when it may inject anything, else None (nothing to ask)."""
    return injector if injector is not None and injector.config.active else None


def rejected_reply(
    topic: str, payload: bytes, code: str, message: str, now: float
) -> tuple[str, bytes] | None:
    """The ``.../rejected`` reply to a reserved request on ``topic``, in its API's format
    (Jobs: JSON with code, message, clientToken, timestamp; file delivery: ``{o, m, c}`` in
    the request's JSON or CBOR), or None when ``topic`` is neither."""
    if jobs_protocol.is_jobs_topic(topic):
        token = None
        try:
            token = jobs_protocol.client_token_of(jobs_protocol.decode_json_object(payload))
        except Exception:  # a malformed request still gets its rejection, without a token
            token = None
        body = jobs_protocol.rejected_payload(code, message, token, now)
        return f"{topic}/rejected", jobs_protocol.encode(body)
    if streams_protocol.is_streams_topic(topic):
        parsed = streams_protocol.parse_streams_topic(topic)
        if parsed.op is StreamsOp.INVALID:
            return None
        token = None
        try:
            token = streams_protocol.client_token(streams_codec.decode(parsed.fmt, payload))
        except Exception:
            token = None
        body = streams_protocol.rejected_message(code, message, token)
        return parsed.rejected_topic, streams_codec.encode(parsed.fmt, body)
    return None
