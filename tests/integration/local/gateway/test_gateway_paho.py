"""Interoperability: paho-mqtt 2.x (MQTT 3.1.1 and MQTT 5) against the gateway."""

from __future__ import annotations

import queue
import uuid
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

WAIT = 10.0


class PahoPeer:
    def __init__(self, port: int, protocol: int, client_id: str, clean: bool = True) -> None:
        self.messages: queue.Queue[tuple[str, bytes, int, bool]] = queue.Queue()
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        proto = paho.MQTTv5 if protocol == 5 else paho.MQTTv311
        kw: dict[str, Any] = {"protocol": proto}
        if protocol != 5:
            kw["clean_session"] = clean
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id, **kw)
        self.client.on_connect = lambda c, u, flags, rc, props: self.events.put(
            ("connect", (flags.session_present, rc))
        )
        self.client.on_subscribe = lambda c, u, mid, rcs, props: self.events.put(
            ("suback", [int(r.value) if hasattr(r, "value") else int(r) for r in rcs])
        )
        self.client.on_message = lambda c, u, m: self.messages.put(
            (m.topic, m.payload, m.qos, bool(m.retain))
        )
        self.client.on_disconnect = lambda c, u, flags, rc, props: self.events.put(
            ("disconnect", rc)
        )
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        kind, (_present, rc) = self.events.get(timeout=WAIT)
        assert kind == "connect" and not rc.is_failure

    def event(self, kind: str) -> Any:
        got, value = self.events.get(timeout=WAIT)
        assert got == kind
        return value

    def subscribe(self, topic: str, qos: int) -> list[int]:
        self.client.subscribe(topic, qos)
        return self.event("suback")  # type: ignore[no-any-return]

    def publish(self, topic: str, payload: bytes, qos: int) -> None:
        info = self.client.publish(topic, payload, qos)
        info.wait_for_publish(WAIT)
        assert info.is_published()

    def message(self) -> tuple[str, bytes, int, bool]:
        return self.messages.get(timeout=WAIT)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.parametrize("protocol", [4, 5])
def test_paho_pubsub_and_reserved_topics(gateway_thread: Any, handler: Any, protocol: int) -> None:
    cid = f"paho-{uuid.uuid4().hex[:8]}"
    sub = PahoPeer(gateway_thread.port, protocol, cid + "-sub")
    pub = PahoPeer(gateway_thread.port, protocol, cid + "-pub")
    try:
        assert sub.subscribe("fleet/+/status", 1) == [1]
        assert sub.subscribe("nope", 2) == [0x80]
        pub.publish("fleet/t1/status", b"ok", 1)
        assert sub.message() == ("fleet/t1/status", b"ok", 1, False)
        pub.publish("fleet/t2/status", b"zero", 0)
        assert sub.message() == ("fleet/t2/status", b"zero", 0, False)
        # reserved topic: the stub service answers, the requester gets it unsubscribed
        pub.publish(f"$aws/things/{cid}/jobs/get", b"{}", 1)
        assert pub.message() == (f"$aws/things/{cid}/jobs/get/accepted", b"{}", 0, False)
        assert handler.calls[-1] == (cid + "-pub", f"$aws/things/{cid}/jobs/get", b"{}")
        # service-side publish
        gateway_thread.call(lambda: gateway_thread.gateway.publish("fleet/x/status", b"svc", 1))
        assert sub.message() == ("fleet/x/status", b"svc", 1, False)
    finally:
        sub.close()
        pub.close()


def test_paho_persistent_session_311(gateway_thread: Any) -> None:
    dev = PahoPeer(gateway_thread.port, 4, "paho-persist", clean=False)
    assert dev.subscribe("cmd/paho-persist", 1) == [1]
    dev.close()
    pub = PahoPeer(gateway_thread.port, 4, "paho-pub")
    pub.publish("cmd/paho-persist", b"queued", 1)
    pub.close()
    dev2 = PahoPeer(gateway_thread.port, 4, "paho-persist", clean=False)
    try:
        assert dev2.message() == ("cmd/paho-persist", b"queued", 1, False)
    finally:
        dev2.close()


def test_paho_retained(gateway_thread: Any) -> None:
    pub = PahoPeer(gateway_thread.port, 4, "paho-ret-pub")
    info = pub.client.publish("state/lamp", b"on", 1, retain=True)
    info.wait_for_publish(WAIT)
    sub = PahoPeer(gateway_thread.port, 5, "paho-ret-sub")
    try:
        assert sub.subscribe("state/#", 1) == [1]
        assert sub.message() == ("state/lamp", b"on", 1, True)
    finally:
        sub.close()
        pub.close()


def test_paho_mqtt5_user_properties_are_forwarded(gateway_thread: Any) -> None:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    got: queue.Queue[Any] = queue.Queue()
    sub = PahoPeer(gateway_thread.port, 5, "paho-props-sub")
    sub.client.on_message = lambda c, u, m: got.put(m)
    pub = PahoPeer(gateway_thread.port, 5, "paho-props-pub")
    try:
        assert sub.subscribe("props/t", 1) == [1]
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("trace", "abc")]
        props.ResponseTopic = "props/reply"
        props.CorrelationData = b"\x01\x02"
        info = pub.client.publish("props/t", b"p", 1, properties=props)
        info.wait_for_publish(WAIT)
        m = got.get(timeout=WAIT)
        assert m.payload == b"p"
        assert m.properties.UserProperty == [("trace", "abc")]
        assert m.properties.ResponseTopic == "props/reply"
        assert m.properties.CorrelationData == b"\x01\x02"
    finally:
        sub.close()
        pub.close()


def test_service_publish_from_another_thread(gateway_thread: Any) -> None:
    sub = PahoPeer(gateway_thread.port, 4, "paho-thread-sub")
    try:
        assert sub.subscribe("from/thread", 0) == [0]
        gateway_thread.gateway.publish("from/thread", b"hop")  # called on this test thread
        assert sub.message() == ("from/thread", b"hop", 0, False)
    finally:
        sub.close()
