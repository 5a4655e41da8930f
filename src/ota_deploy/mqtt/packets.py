"""MQTT control packets as plain data (MQTT 3.1.1 and MQTT 5).

These dataclasses are what :mod:`ota_deploy.mqtt.codec` encodes and the stream parser yields.
One class per packet type; fields that only exist in MQTT 5 (``properties``, reason codes)
default to "absent" so MQTT 3.1.1 code never needs to mention them.

MQTT 5 properties are a ``dict[int, value]`` keyed by property identifier (see
:mod:`ota_deploy.mqtt.properties`); User Property (0x26) maps to a list of ``(name, value)``
pairs and Subscription Identifier (0x0B) to a list of ints, because both may repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Properties = dict[int, Any]

PROTOCOL_311 = 4
PROTOCOL_5 = 5


@dataclass(slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Connect:
    client_id: str
    keepalive: int = 60
    clean_session: bool = True  # "clean start" in MQTT 5
    protocol_level: int = PROTOCOL_311  # 3 (MQIsdp), 4 (3.1.1) or 5
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Connack:
    session_present: bool = False
    return_code: int = 0  # 3.1.1 return code or MQTT 5 reason code
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None  # present iff qos > 0
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Puback:
    packet_id: int
    reason_code: int = 0
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Pubrec:
    packet_id: int
    reason_code: int = 0
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Pubrel:
    packet_id: int
    reason_code: int = 0
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Pubcomp:
    packet_id: int
    reason_code: int = 0
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Subscribe:
    packet_id: int
    # (topic filter, options byte): in 3.1.1 the options byte is the requested QoS; in MQTT 5
    # it is qos | no_local << 2 | retain_as_published << 3 | retain_handling << 4.
    subscriptions: list[tuple[str, int]]
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Suback:
    packet_id: int
    return_codes: list[int]  # granted QoS 0/1/2 or 0x80 (failure) / MQTT 5 reason codes
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Unsubscribe:
    packet_id: int
    topics: list[str]
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Unsuback:
    packet_id: int
    reason_codes: list[int] = field(default_factory=list)  # MQTT 5 only
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Pingreq:
    pass


@dataclass(slots=True)
class Pingresp:
    pass


@dataclass(slots=True)
class Disconnect:
    reason_code: int = 0  # MQTT 5 only
    properties: Properties = field(default_factory=dict)


@dataclass(slots=True)
class Auth:  # MQTT 5 only
    reason_code: int = 0
    properties: Properties = field(default_factory=dict)


Packet = (
    Connect
    | Connack
    | Publish
    | Puback
    | Pubrec
    | Pubrel
    | Pubcomp
    | Subscribe
    | Suback
    | Unsubscribe
    | Unsuback
    | Pingreq
    | Pingresp
    | Disconnect
    | Auth
)

# CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3).
CONNACK_ACCEPTED = 0
CONNACK_BAD_PROTOCOL = 1
CONNACK_IDENTIFIER_REJECTED = 2
CONNACK_SERVER_UNAVAILABLE = 3
CONNACK_BAD_CREDENTIALS = 4
CONNACK_NOT_AUTHORIZED = 5
SUBACK_FAILURE = 0x80
