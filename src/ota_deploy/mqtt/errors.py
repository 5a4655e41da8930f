"""Errors of the MQTT protocol package.

The codec and the session state machines raise :class:`ProtocolError` for malformed or
out-of-order packets (the socket layer closes the connection) and, from their timer check,
:class:`KeepAliveTimeout` / :class:`ConnectTimeout` when the peer was silent too long; the
client raises
:class:`ConnectionRefused` when the server answers CONNECT with a failure code and
:class:`MqttError`/:class:`ConnectionClosed` when the link is gone.
"""

from __future__ import annotations

from typing import Any


class MqttError(Exception):
    """Base class of every MQTT failure."""


class ProtocolError(MqttError):
    """The peer broke the protocol (malformed packet, wrong order); close the connection.

    ``reason_code`` is the MQTT 5 reason code to put in a DISCONNECT (0x81 malformed packet,
    0x82 protocol error, 0x95 packet too large, 0x9B QoS not supported, ...).
    """

    def __init__(self, message: str, reason_code: int = 0x81) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        # Valid packets that arrived before the bad one in the same data: the caller should
        # still act on them (e.g. answer the CONNECT) before closing.
        self.packets: list[Any] = []


class ConnectionRefused(MqttError):
    """The server refused the CONNECT with ``return_code`` (3.1.1) or reason code (5)."""

    def __init__(self, return_code: int) -> None:
        super().__init__(f"MQTT connection refused, code 0x{return_code:02x}")
        self.return_code = return_code


class PublishRefused(MqttError):
    """An MQTT 5 server answered a QoS 1 PUBLISH with a failure reason code (0x80 and up, e.g.
    0x87 Not authorized); the message was not accepted, the connection stays."""

    def __init__(self, reason_code: int) -> None:
        super().__init__(f"PUBLISH refused, reason code 0x{reason_code:02x}")
        self.reason_code = reason_code


class ConnectionClosed(MqttError, ConnectionError):
    """The network link dropped or was closed before the operation finished."""


class KeepAliveTimeout(MqttError):
    """The peer was silent too long: a server heard nothing for 1.5x the keep-alive, or a
    client's PINGREQ went unanswered (MQTT 3.1.1 section 3.1.2.10). Drop the link."""


class ConnectTimeout(MqttError):
    """A server waited its connect timeout for a CONNECT that never came. Drop the link."""
