"""MqttClient's callback delivery (on_message) and publish_nowait against the real gateway."""

from __future__ import annotations

import asyncio

from ota_deploy.local.gateway import MqttGateway
from ota_deploy.mqtt.client import Message, MqttClient


async def test_on_message_and_publish_nowait_round_trip(gateway: MqttGateway) -> None:
    got: list[Message] = []
    done = asyncio.Event()
    c = MqttClient("cb", host="127.0.0.1", port=gateway.port)

    def on_message(msg: Message) -> None:
        got.append(msg)
        if len(got) == 1:
            raise RuntimeError("a consumer bug is logged, the link stays up")
        if len(got) == 3:
            done.set()

    c.on_message = on_message
    async with c:
        await c.subscribe([("cb/t", 0)])
        for i in range(3):
            assert c.publish_nowait("cb/t", b"%d" % i)
        await asyncio.wait_for(done.wait(), 10)
        assert [m.payload for m in got] == [b"0", b"1", b"2"]
        assert c.messages.empty()  # the callback replaced the queue
        assert not c.closed.is_set()
    assert c.publish_nowait("cb/t", b"late") is False  # closed: refused, nothing written
