"""MqttClient.publish_nowait refuses (returns False, writes nothing) when it cannot write now."""

from __future__ import annotations

from ota_deploy.mqtt.client import MqttClient


def test_publish_nowait_before_connect_is_refused() -> None:
    c = MqttClient("x", host="127.0.0.1", port=1)
    assert c.publish_nowait("a/b", b"x") is False
