"""MqttClient's delivery: a QoS 0 message that is not retained goes to ``on_publish`` as
(topic, payload) when one is set (no ``Message`` built), every other message to
``on_message`` (or the queue) as before."""

from __future__ import annotations

from ota_deploy.mqtt.client import Message, MqttClient


def test_on_publish_takes_plain_qos0_messages_only() -> None:
    client = MqttClient("c", host="127.0.0.1", port=1)
    plain: list[tuple[str, bytes]] = []
    other: list[Message] = []
    client._deliver("t", b"0", 0, False)  # no callback: queued as a Message
    assert client.messages.get_nowait() == Message("t", b"0", 0, False)
    client.on_message = other.append
    client._deliver("t", b"1", 0, False)  # no on_publish: on_message, as before
    client.on_publish = lambda topic, payload: plain.append((topic, payload))
    client._deliver("t", b"2", 0, False)
    client._deliver("t", b"3", 1, False)
    client._deliver("t", b"4", 0, True)
    assert plain == [("t", b"2")]
    assert other == [
        Message("t", b"1", 0, False),
        Message("t", b"3", 1, False),
        Message("t", b"4", 0, True),
    ]
    assert client.messages.empty()
