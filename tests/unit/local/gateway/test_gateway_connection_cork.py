"""A request's replies reach the client in one transport write, in order, and before a close."""

from __future__ import annotations

import asyncio
from typing import Any

from ota_deploy.local.gateway import MqttGateway
from ota_deploy.local.gateway.connection import GatewayConnection
from ota_deploy.mqtt.codec import encode, encode_publish
from ota_deploy.mqtt.packets import Connack, Connect, Publish
from ota_deploy.mqtt.parser import StreamParser


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class ThreeBlocks:
    def handles(self, topic: str) -> bool:
        return topic.startswith("$aws/things/")

    def handle(self, client_id: str, topic: str, payload: bytes, reply: Any) -> None:
        for i in range(3):
            reply(f"{topic}/data", b"%d" % i)


def packets(data: list[bytes]) -> list[Any]:
    parser = StreamParser(4)
    return [p for chunk in data for p in parser.feed(chunk)]


async def test_replies_to_one_request_go_out_in_one_write() -> None:
    gw = MqttGateway(handlers=[ThreeBlocks()])
    conn = GatewayConnection(gw)
    t = Transport()
    conn.connection_made(t)
    conn.data_received(encode(Connect("dev", 60, True, 4), 4))
    assert [type(p) for p in packets(t.writes)] == [Connack]
    t.writes.clear()
    conn.data_received(encode_publish("$aws/things/dev/x", b"req"))
    assert len(t.writes) == 1
    got = packets(t.writes)
    assert [(p.topic, p.payload) for p in got if isinstance(p, Publish)] == [
        ("$aws/things/dev/x/data", b"0"),
        ("$aws/things/dev/x/data", b"1"),
        ("$aws/things/dev/x/data", b"2"),
    ]
    # A request followed by DISCONNECT in the same bytes: the replies are written first.
    t.writes.clear()
    conn.data_received(encode_publish("$aws/things/dev/x", b"req") + b"\xe0\x00")
    assert t.closed
    assert len([p for p in packets(t.writes) if isinstance(p, Publish)]) == 3
    conn.connection_lost(None)
