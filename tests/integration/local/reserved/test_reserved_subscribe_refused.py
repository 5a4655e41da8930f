"""A SUBSCRIBE to a publish-only reserved request topic closes the connection, as a PUBLISH to a
subscribe-only one does ("Unsupported publish or subscribe operations to reserved topics can
result in a terminated connection", reserved-topics.html; ``local/reserved/subscribe_rules``);
under MQTT 5 with a DISCONNECT 0x8F "Topic Filter invalid". A wildcard that also reaches
subscribable topics is granted. Real local AWS IoT, real sockets, the project's MQTT client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ota_deploy.mqtt.client import MqttClient
from ota_deploy.mqtt.errors import MqttError

WAIT = 10.0


@pytest.mark.parametrize("protocol", [4, 5])
@pytest.mark.parametrize(
    "topic_filter",
    ["$aws/things/dev/jobs/get", "$aws/things/+/jobs/j1/update",
     "$aws/things/dev/streams/s1/get/cbor"],
)  # fmt: skip
async def test_subscribing_to_a_request_topic_closes_the_connection(
    local_iot_module: Any, topic_filter: str, protocol: int
) -> None:
    host, port = local_iot_module.mqtt_host, local_iot_module.mqtt_port
    async with MqttClient("dev", host=host, port=port, protocol=protocol) as device:
        assert await device.subscribe([("$aws/things/dev/jobs/#", 1)]) == [1]
        with pytest.raises((MqttError, ConnectionError, asyncio.TimeoutError)):
            await asyncio.wait_for(device.subscribe([(topic_filter, 1)]), WAIT)
        await asyncio.wait_for(device.closed.wait(), WAIT)
