"""A read that is one QoS 0 PUBLISH takes the connection's short way; it must do what the
general way (parse, validate, dispatch) does, and the per-topic route must follow the handlers.

Two real gateways with the MQTT file delivery and Jobs handlers (on a real ``LocalIotService``)
get the same traffic from a connected client and a subscriber: one in whole reads (the short
way wherever it applies), the other split so that no read is a whole PUBLISH (the general way).
What each wrote to each client, whether the link was closed, and the broker's counts must match.
"""

from __future__ import annotations

import asyncio
from typing import Any

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.service import memory_service

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.gateway import MqttGateway
from ota_deploy.local.gateway.connection import GatewayConnection
from ota_deploy.local.reserved.jobs_mqtt import JobsMqttHandler
from ota_deploy.local.reserved.streams_mqtt import StreamsMqttHandler
from ota_deploy.mqtt.codec import encode, encode_publish
from ota_deploy.mqtt.packets import Connect, Subscribe

from .memory_transport import MemoryTransport

IMAGE = bytes(range(256)) * 40
ROLE = "arn:aws:iam::123456789012:role/ota"


async def gateway() -> MqttGateway:
    """The gateway, with the image already read (the first request's S3 read is a task)."""
    clock = FakeClock(1_700_000_000.0)
    service = memory_service(clock, read_blob=lambda b, k, v: IMAGE)
    service.call(
        "iot",
        "CreateStream",
        {
            "streamId": "s1",
            "files": [{"fileId": 0, "s3Location": {"bucket": "b", "key": "k"}}],
            "roleArn": ROLE,
        },
    )
    streams = StreamsMqttHandler(service, lambda b, k, v: IMAGE)
    first = streams.handle("x", "$aws/things/x/streams/s1/describe/json", b"{}", lambda t, p: None)
    if first is not None:
        await first
    return MqttGateway(handlers=[JobsMqttHandler(service, clock), streams], clock=clock)


def link(gw: MqttGateway, client_id: str, filters: list[str]) -> GatewayConnection:
    conn = GatewayConnection(gw)
    conn.connection_made(MemoryTransport())
    conn.data_received(encode(Connect(client_id, 60, True, 4), 4))
    if filters:
        conn.data_received(encode(Subscribe(1, [(f, 0) for f in filters]), 4))
    return conn


def written(conn: GatewayConnection) -> tuple[bytes, bool]:
    t: Any = conn.transport
    data, t.data = bytes(t.data), bytearray()
    return data, t.closed


topics = st.one_of(
    st.sampled_from(
        [
            "$aws/things/dev/streams/s1/get/cbor",
            "$aws/things/dev/streams/s1/get/json",
            "$aws/things/dev/streams/nope/get/cbor",
            "$aws/things/dev/streams/s1/data/cbor",  # service-only: closed
            "$aws/things/dev/jobs/start-next",
            "$aws/things/dev/jobs/notify",  # service-only: closed
            "$aws/things/dev/shadow/get",
            "dev/echo",
            "dev/+",  # wildcard in a topic name: protocol error
            "dev/\x00",
            "$aws/events/x",
        ]
    ),
    st.text(min_size=1, max_size=12),
)
payloads = st.one_of(
    st.builds(
        lambda c, o, n: cbor2.dumps({"c": c, "f": 0, "l": 1024, "o": o, "n": n, "b": b"\x01"}),
        st.integers(0, 99).map(str),
        st.integers(0, 12),
        st.sampled_from([1, 2]),
    ),
    st.sampled_from([b'{"c":"7","f":0,"l":1024,"o":2,"n":1,"b":"0x01"}', b"{}", b""]),
    st.binary(max_size=20),
)
flags = st.sampled_from([(0, False), (0, False), (1, False), (0, True)])


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(st.tuples(topics, payloads, flags), min_size=1, max_size=8),
    raw=st.lists(st.binary(min_size=1, max_size=12), max_size=2),
)
def test_whole_reads_do_what_split_reads_do(
    messages: list[tuple[str, bytes, tuple[int, bool]]], raw: list[bytes]
) -> None:
    runs = [asyncio.run(exchange(messages, raw, split)) for split in (False, True)]
    assert runs[0] == runs[1]


async def exchange(
    messages: list[tuple[str, bytes, tuple[int, bool]]], raw: list[bytes], split: bool
) -> Any:
    gw = await gateway()
    watcher = link(gw, "watcher", ["$aws/things/dev/streams/+/data/cbor", "dev/#"])
    device = link(gw, "dev", ["$aws/things/dev/streams/+/data/cbor"])
    written(watcher), written(device)
    seen = []
    chunks = [
        encode_publish(topic, payload, qos, retain, False, 1 if qos else None)
        for topic, payload, (qos, retain) in messages
    ] + raw
    for chunk in chunks:
        if split:
            device.data_received(chunk[:1])
            device.data_received(chunk[1:])
        else:
            device.data_received(chunk)
        seen.append((written(device), written(watcher)))
    await gw.stop()
    return seen, gw.stats(), device.disconnect_reason


async def test_a_handler_added_later_takes_its_topics_from_then_on() -> None:
    gw = MqttGateway()
    device = link(gw, "dev", ["$aws/things/dev/custom/+"])
    written(device)
    device.data_received(encode_publish("$aws/things/dev/custom/ask", b"1"))
    data, _ = written(device)
    assert b"custom/ask" in data  # routed: the device subscribed to it

    class Echo:
        def handles(self, topic: str) -> bool:
            return topic.endswith("/custom/ask")

        def handle(self, client_id: str, topic: str, payload: bytes, reply: Any) -> None:
            reply("$aws/things/dev/custom/answer", payload + b"!")

    gw.add_handler(Echo())
    device.data_received(encode_publish("$aws/things/dev/custom/ask", b"2"))
    data, _ = written(device)
    assert b"custom/answer" in data and b"2!" in data and b"custom/ask" not in data


async def test_a_whole_publish_counts_as_heard_for_the_keep_alive() -> None:
    gw = await gateway()
    device = link(gw, "dev", [])
    clock: Any = gw.clock
    clock.advance(80.0)
    device.data_received(encode_publish("dev/echo", b"x"))
    assert device.conn.last_heard == clock.now()
    assert device.conn.deadline() == clock.now() + 90.0  # 1.5 x the keep-alive of 60 s
    await gw.stop()
