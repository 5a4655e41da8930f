"""A client PUBLISH to MQTT file delivery's subscribe-only topics closes its connection, and no
subscriber gets the message: ``$aws/things/ThingName/streams/StreamId/data/payload-format``,
``.../description/...`` and ``.../rejected/...`` are "Subscribe" topics only AWS IoT publishes
to (https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html); "Unsupported
publish or subscribe operations to reserved topics can result in a terminated connection" (same
page). Otherwise one device could feed another blocks the service never sent. Real gateway,
real sockets, the project's MQTT client, no reserved-topic handler (so nothing but the rule
keeps the message from the broker's routing)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ota_deploy.local.gateway import MqttGateway
from ota_deploy.mqtt.client import MqttClient

WAIT = 10.0
VICTIM = "$aws/things/victim/streams/s1"


@pytest.fixture
async def plain_gateway() -> AsyncIterator[MqttGateway]:
    gw = MqttGateway(handlers=[])
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.mark.parametrize("protocol", [4, 5])
@pytest.mark.parametrize(
    "topic", [f"{VICTIM}/data/cbor", f"{VICTIM}/description/json", f"{VICTIM}/rejected/cbor"]
)
async def test_publishing_to_a_file_delivery_reply_topic_closes_the_connection(
    plain_gateway: MqttGateway, topic: str, protocol: int
) -> None:
    port = plain_gateway.port
    async with MqttClient("victim", host="127.0.0.1", port=port) as victim:
        assert await victim.subscribe([(f"{VICTIM}/+/+", 1)]) == [1]
        rogue = MqttClient("rogue", host="127.0.0.1", port=port, protocol=protocol)
        await rogue.connect()
        # a request topic is the client's to publish to: routed, the connection stays
        await rogue.publish(f"{VICTIM}/get/cbor", b"request", qos=1)
        assert (await asyncio.wait_for(victim.messages.get(), WAIT)).payload == b"request"
        assert not rogue.closed.is_set()
        # the spoof: the connection closes before anything is routed
        await rogue.publish(topic, b"spoofed block", qos=0)
        await asyncio.wait_for(rogue.closed.wait(), WAIT)
        assert "rogue" not in plain_gateway.connected_clients()
        # a round trip on the victim's own connection flushes anything in flight
        await victim.subscribe([("__flush__", 0)])
        await victim.publish("__flush__", b"", qos=1)
        assert (await asyncio.wait_for(victim.messages.get(), WAIT)).topic == "__flush__"
        assert victim.messages.empty()
        assert "victim" in plain_gateway.connected_clients()
