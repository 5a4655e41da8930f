"""``ClientConnection.publish_qos0`` (the topic's encoded head kept from the previous call)
answers what ``encode_publish`` answers, byte for byte, over topic changes and payload sizes
across the remaining-length boundaries."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.mqtt.codec import encode_publish
from ota_deploy.mqtt.packets import Connect
from ota_deploy.mqtt.session import ClientConnection

TOPICS = st.sampled_from(["a/b", "$aws/things/dev-1/streams/s1/get/cbor", "é/ü", "x" * 300])
SIZES = st.sampled_from([0, 1, 100, 120, 127, 128, 4200, 16250, 16383, 16384, 20000])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(TOPICS, SIZES, st.binary(max_size=8)), min_size=1, max_size=8))
def test_publish_qos0_is_encode_publish(calls: list[tuple[str, int, bytes]]) -> None:
    conn = ClientConnection(4)
    for topic, size, tail in calls:
        payload = bytes(size) + tail
        conn._sent = False
        assert conn.publish_qos0(topic, payload) == encode_publish(topic, payload)
        assert conn._sent  # counts as traffic for keep-alive, as publish_bytes does


def test_publish_qos0_under_mqtt5_is_publish_bytes() -> None:
    conn = ClientConnection(5)
    conn.start(Connect("c", 60, True, 5))
    for _ in range(2):
        assert conn.publish_qos0("a/b", b"x") == conn.publish_bytes("a/b", b"x")
        assert conn.publish_qos0("a/b", b"x") == encode_publish("a/b", b"x", version=5)
