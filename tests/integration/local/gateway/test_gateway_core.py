"""The gateway with our own MqttClient: routing, reserved topics, QoS, sessions, keep-alive.

Keep-alive timing is decided by the sans-I/O sessions and tested there, in memory on a
FakeClock (tests/unit/mqtt/test_mqtt_keepalive.py); the keep-alive tests here only check that
the socket layers act on it, with protocol clocks running FAST times faster than real time.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from ota_deploy.core.clock import ScaledClock
from ota_deploy.local.gateway import MqttGateway
from ota_deploy.mqtt.client import Message, MqttClient
from ota_deploy.mqtt.codec import encode
from ota_deploy.mqtt.errors import ConnectionClosed, ConnectionRefused
from ota_deploy.mqtt.packets import Connack, Connect, Pingreq, Pingresp, Publish, Subscribe
from ota_deploy.mqtt.parser import StreamParser

WAIT = 10.0
# A fast gateway's protocol clock: AWS's shortest keep-alive (30 s, asked for 1 s) expires in
# 0.75 s, the connect timeout in 0.5 s.
FAST = 60


@pytest.fixture
async def fast_gateway() -> AsyncIterator[MqttGateway]:
    """A gateway whose protocol timers run FAST times faster than real time, for the thin
    socket-level keep-alive tests (the timing itself is tested in memory, on a FakeClock)."""
    gw = MqttGateway(clock=ScaledClock(FAST))
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


def client(gw: MqttGateway, cid: str, **kw: object) -> MqttClient:
    return MqttClient(cid, host="127.0.0.1", port=gw.port, **kw)  # type: ignore[arg-type]


async def get(c: MqttClient) -> Message:
    return await asyncio.wait_for(c.messages.get(), WAIT)


async def assert_nothing_more(c: MqttClient, gw: MqttGateway) -> None:
    # A round trip through the gateway on the same connection flushes anything in flight.
    await c.subscribe([("__flush__", 0)])
    await c.publish("__flush__", b"", qos=1)
    msg = await get(c)
    assert msg.topic == "__flush__"
    assert c.messages.empty()


@pytest.mark.parametrize("protocol", [4, 5])
async def test_pubsub_qos0_qos1_and_wildcards(gateway: MqttGateway, protocol: int) -> None:
    async with (
        client(gateway, "sub", protocol=protocol) as sub,
        client(gateway, "pub", protocol=protocol) as pub,
    ):
        granted = await sub.subscribe([("a/+/c", 1), ("a/#", 0), ("#", 0)])
        assert granted == [1, 0, 0]
        await pub.publish("a/b/c", b"one", qos=1)
        msg = await get(sub)
        # overlapping subscriptions: one copy, at the highest granted QoS
        assert msg == Message("a/b/c", b"one", 1, False)
        await pub.publish("a", b"two", qos=0)
        assert await get(sub) == Message("a", b"two", 0, False)
        # "#" does not match $-topics
        await pub.publish("$other/x", b"hidden", qos=1)
        await assert_nothing_more(sub, gateway)


async def test_unsubscribe_stops_delivery(gateway: MqttGateway) -> None:
    async with client(gateway, "s") as s:
        await s.subscribe([("t/1", 1)])
        await s.publish("t/1", b"x", qos=1)
        assert (await get(s)).payload == b"x"
        await s.unsubscribe(["t/1"])
        await s.publish("t/1", b"y", qos=1)
        await assert_nothing_more(s, gateway)


async def test_reserved_topic_goes_to_handler_and_reply_reaches_requester(
    gateway: MqttGateway, handler: object
) -> None:
    async with client(gateway, "thing-1") as dev, client(gateway, "watcher") as watcher:
        await watcher.subscribe([("$aws/things/thing-1/jobs/get/accepted", 0)])
        await dev.publish("$aws/things/thing-1/jobs/get", b"req", qos=1)
        # the requester gets the reply without having subscribed; a Jobs reply reaches it
        # alone: "These response messages don't pass through the message broker and they
        # can't be subscribed to by other clients" (reserved-topics.html, Job topics)
        assert await get(dev) == Message("$aws/things/thing-1/jobs/get/accepted", b"REQ", 0, False)
        await assert_nothing_more(watcher, gateway)
        assert handler.calls == [("thing-1", "$aws/things/thing-1/jobs/get", b"req")]  # type: ignore[attr-defined]
        # subscribed requester: exactly one copy
        await dev.subscribe([("$aws/things/thing-1/jobs/+/accepted", 1)])
        await dev.publish("$aws/things/thing-1/jobs/get", b"again", qos=0)
        assert (await get(dev)).payload == b"AGAIN"
        await assert_nothing_more(dev, gateway)


async def test_file_delivery_replies_also_reach_the_topics_subscribers(
    gateway: MqttGateway, handler: object
) -> None:
    # MQTT file delivery's data/description/rejected topics are "Subscribe" topics AWS
    # publishes to (reserved-topics.html): unlike the Jobs replies, they are routed.
    async with client(gateway, "thing-2") as dev, client(gateway, "watcher") as watcher:
        await watcher.subscribe([("$aws/things/thing-2/streams/s1/get/json/accepted", 0)])
        await dev.publish("$aws/things/thing-2/streams/s1/get/json", b"blk", qos=1)
        assert (await get(dev)).payload == b"BLK"
        assert (await get(watcher)).payload == b"BLK"


async def test_publishing_to_a_service_only_jobs_topic_closes_the_connection(
    gateway: MqttGateway,
) -> None:
    # notify/notify-next and the accepted/rejected replies: "Subscribe" (and "Receive") only;
    # "Unsupported publish or subscribe operations to reserved topics can result in a
    # terminated connection" (reserved-topics.html).
    for topic in ("$aws/things/t/jobs/notify-next", "$aws/things/t/jobs/j1/update/accepted"):
        rogue = client(gateway, "rogue")
        await rogue.connect()
        await rogue.publish(topic, b"{}", qos=0)
        await asyncio.wait_for(rogue.closed.wait(), WAIT)
        assert "rogue" not in gateway.connected_clients()


async def test_unhandled_dollar_aws_topic_is_routed(gateway: MqttGateway) -> None:
    async with client(gateway, "a") as a:
        await a.subscribe([("$aws/rules/x", 1)])
        await a.publish("$aws/rules/x", b"r", qos=1)
        assert (await get(a)).payload == b"r"


async def test_async_handler_and_failing_handlers_keep_connection(gateway: MqttGateway) -> None:
    class Slow:
        def handles(self, topic: str) -> bool:
            return topic.startswith("$aws/slow/")

        async def handle(self, cid: str, topic: str, payload: bytes, reply) -> None:  # type: ignore[no-untyped-def]
            if payload == b"boom":
                raise RuntimeError("async failure")
            await asyncio.sleep(0.01)
            reply(topic + "/done", payload)

    class Broken:
        def handles(self, topic: str) -> bool:
            return topic.startswith("$aws/broken/")

        def handle(self, cid: str, topic: str, payload: bytes, reply) -> None:  # type: ignore[no-untyped-def]
            raise ValueError("sync failure")

    gateway.add_handler(Slow())
    gateway.add_handler(Broken())
    async with client(gateway, "d") as d:
        await d.publish("$aws/broken/x", b"1", qos=1)
        await d.publish("$aws/slow/x", b"boom", qos=1)
        await d.publish("$aws/slow/x", b"ok", qos=1)
        assert await get(d) == Message("$aws/slow/x/done", b"ok", 0, False)
        assert not d.closed.is_set()
    assert gateway.handler_errors == 2


async def test_service_publish_routes_to_subscribers(gateway: MqttGateway) -> None:
    async with client(gateway, "t") as t:
        await t.subscribe([("$aws/things/t/jobs/notify-next", 1)])
        gateway.publish("$aws/things/t/jobs/notify-next", b"{}")
        gateway.publish("$aws/things/other/jobs/notify-next", b"no")
        assert await get(t) == Message("$aws/things/t/jobs/notify-next", b"{}", 0, False)
        gateway.publish("$aws/things/t/jobs/notify-next", b"q1", qos=1)
        assert await get(t) == Message("$aws/things/t/jobs/notify-next", b"q1", 1, False)


async def test_qos2_subscribe_refused_and_qos2_publish_disconnects(gateway: MqttGateway) -> None:
    async with client(gateway, "q") as q:
        assert await q.subscribe([("a", 2), ("b", 1), ("bad/#/x", 0)]) == [0x80, 1, 0x80]
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(encode(Connect("raw")))
    writer.write(encode(Publish("a", b"x", qos=2, packet_id=1)))
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), WAIT)  # read to EOF: server closes
    assert StreamParser().feed(data) == [Connack(False, 0)]
    writer.close()


async def test_keepalive_expiry_disconnects(fast_gateway: MqttGateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fast_gateway.port)
    writer.write(encode(Connect("sleepy", keepalive=1)))
    await writer.drain()
    # silent client: the server must close the link (after 1.5 s of its clock)
    data = await asyncio.wait_for(reader.read(), WAIT)
    assert StreamParser().feed(data) == [Connack(False, 0)]
    assert "sleepy" not in fast_gateway.connected_clients()
    writer.close()


async def test_duplicate_client_id_disconnects_older(gateway: MqttGateway) -> None:
    first = client(gateway, "dup")
    await first.connect()
    async with client(gateway, "dup") as second:
        await asyncio.wait_for(first.closed.wait(), WAIT)
        await second.subscribe([("x", 0)])
        await second.publish("x", b"still here")
        assert (await get(second)).payload == b"still here"
        assert gateway.connected_clients() == {"dup"}
    with pytest.raises(ConnectionClosed):
        await first.publish("x", b"")


@pytest.mark.parametrize("protocol", [4, 5])
async def test_persistent_session_keeps_subscriptions_and_queues_qos1(
    gateway: MqttGateway, protocol: int
) -> None:
    kw: dict[str, object] = {"clean_session": False, "protocol": protocol}
    if protocol == 5:
        kw = {"clean_session": False, "protocol": 5, "session_expiry": 3600}
    dev = client(gateway, "persist", **kw)
    assert await dev.connect() is False
    await dev.subscribe([("cmd/persist", 1), ("cmd/zero", 0)])
    await dev.disconnect()
    async with client(gateway, "pub") as pub:
        await pub.publish("cmd/persist", b"while offline", qos=1)
        await pub.publish("cmd/zero", b"qos0 dropped", qos=0)
    dev2 = client(gateway, "persist", **kw)
    assert await dev2.connect() is True
    assert await get(dev2) == Message("cmd/persist", b"while offline", 1, False)
    await dev2.publish("cmd/persist", b"live", qos=1)  # subscription kept
    assert (await get(dev2)).payload == b"live"
    await dev2.disconnect()
    # a clean session discards it all
    async with client(gateway, "persist", protocol=protocol) as dev3:
        assert dev3.session_present is False
        await dev3.publish("cmd/persist", b"not subscribed", qos=1)
        await assert_nothing_more(dev3, gateway)


async def test_clean_session_forgets_subscriptions(gateway: MqttGateway) -> None:
    async with client(gateway, "c") as c:
        await c.subscribe([("t", 1)])
    async with client(gateway, "c") as c, client(gateway, "p") as p:
        await p.publish("t", b"x", qos=1)
        await assert_nothing_more(c, gateway)


async def test_retained_message_delivered_on_subscribe(gateway: MqttGateway) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(encode(Connect("retainer")))
    writer.write(encode(Publish("status/x", b"on", qos=1, retain=True, packet_id=7)))
    await writer.drain()
    async with client(gateway, "late") as late:
        await late.subscribe([("status/+", 1)])
        assert await get(late) == Message("status/x", b"on", 1, True)
    writer.close()


async def test_will_published_on_abnormal_disconnect(gateway: MqttGateway) -> None:
    from ota_deploy.mqtt.packets import Will

    async with client(gateway, "watch") as w:
        await w.subscribe([("wills/#", 1)])
        _reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        writer.write(encode(Connect("dying", will=Will("wills/dying", b"gone", 1))))
        await writer.drain()
        await asyncio.sleep(0)
        writer.transport.abort()
        assert await get(w) == Message("wills/dying", b"gone", 1, False)


async def test_connect_refusals(gateway: MqttGateway) -> None:
    with pytest.raises(ConnectionRefused) as info:
        await client(gateway, "x" * 129).connect()
    assert info.value.return_code == 0x02
    # unknown protocol level -> CONNACK 0x01 then close
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    body = b"\x00\x04MQTT\x09\x02\x00\x3c\x00\x01z"
    writer.write(bytes((0x10, len(body))) + body)
    assert await asyncio.wait_for(reader.read(), WAIT) == b"\x20\x02\x00\x01"
    writer.close()


async def test_first_packet_must_be_connect(gateway: MqttGateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(encode(Subscribe(1, [("a", 0)])))
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), WAIT) == b""
    writer.close()


async def test_oversized_payload_disconnects(gateway: MqttGateway) -> None:
    async with client(gateway, "big") as c:
        await c.publish("x", b"0" * (128 * 1024 + 1))
        await asyncio.wait_for(c.closed.wait(), WAIT)


async def test_disconnect_client_drops_the_link(gateway: MqttGateway) -> None:
    async with client(gateway, "victim") as v:
        assert gateway.disconnect_client("victim")
        await asyncio.wait_for(v.closed.wait(), WAIT)
    assert not gateway.disconnect_client("victim")


async def test_reconnect_same_client_object(gateway: MqttGateway) -> None:
    c = client(gateway, "again", clean_session=False)
    await c.connect()
    await c.subscribe([("r/1", 1)])
    gateway.disconnect_client("again")
    await asyncio.wait_for(c.closed.wait(), WAIT)
    assert await c.connect() is True
    await c.publish("r/1", b"back", qos=1)
    assert (await get(c)).payload == b"back"
    await c.disconnect()


async def test_client_that_stops_reading_is_dropped() -> None:
    gw = MqttGateway(max_write_buffer=256 * 1024)
    await gw.start()
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        writer.write(encode(Connect("deaf")) + encode(Subscribe(1, [("flood", 0)])))
        await writer.drain()
        for _ in range(200):
            if gw.broker.index.lookup("flood"):
                break
            await asyncio.sleep(0.01)
        block = b"x" * 65536
        for _ in range(2000):  # up to 128 MiB, far more than socket buffers hold
            gw.publish("flood", block)
            if "deaf" not in gw.connected_clients():
                break
            await asyncio.sleep(0)
        assert "deaf" not in gw.connected_clients()
        writer.close()
    finally:
        await gw.stop()


async def test_client_detects_a_silent_server() -> None:
    """A server that accepts, answers CONNACK and then never answers PINGREQ."""

    heard: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(64)
        writer.write(encode(Connack(False, 0)))
        await writer.drain()
        heard.set_result(await reader.read())  # read everything, answer nothing

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    c = MqttClient("lonely", host="127.0.0.1", port=port, keepalive=1, clock=ScaledClock(FAST))
    await c.connect()
    await asyncio.wait_for(c.closed.wait(), WAIT)  # PINGREQ unanswered: link declared dead
    assert StreamParser().feed(await asyncio.wait_for(heard, WAIT)) == [Pingreq()]
    server.close()


async def test_gateway_answers_pingreq(gateway: MqttGateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(encode(Connect("pinger", keepalive=60)) + encode(Pingreq()))
    await writer.drain()
    data = await asyncio.wait_for(reader.readexactly(6), WAIT)
    assert StreamParser().feed(data) == [Connack(False, 0), Pingresp()]
    writer.close()


async def test_lifecycle_presence_events(gateway: MqttGateway) -> None:
    import json

    async with client(gateway, "monitor") as mon:
        await mon.subscribe([("$aws/events/presence/+/+", 1)])
        dev = client(gateway, "dev-1")
        await dev.connect()
        connected = json.loads((await get(mon)).payload)
        assert connected["eventType"] == "connected" and connected["clientId"] == "dev-1"
        assert connected["ipAddress"] == "127.0.0.1" and connected["versionNumber"] == 0
        await dev.disconnect()
        msg = await get(mon)
        assert msg.topic == "$aws/events/presence/disconnected/dev-1"
        gone = json.loads(msg.payload)
        assert gone["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
        assert gone["clientInitiatedDisconnect"] is True
        assert gone["sessionIdentifier"] == connected["sessionIdentifier"]
        # a second connection with the same id: the first is dropped as DUPLICATE_CLIENTID
        first = client(gateway, "dev-1")
        await first.connect()
        second = client(gateway, "dev-1")
        await second.connect()
        events = [json.loads((await get(mon)).payload) for _ in range(3)]
        reasons = [e.get("disconnectReason") for e in events if e["eventType"] == "disconnected"]
        assert reasons == ["DUPLICATE_CLIENTID"]
        assert sorted(e["versionNumber"] for e in events) == [1, 1, 2]
        await second.disconnect()


async def test_lifecycle_event_of_a_keepalive_timeout(fast_gateway: MqttGateway) -> None:
    import json

    # keep-alive 0: the watcher itself is never timed out by the fast clock
    async with client(fast_gateway, "monitor", keepalive=0) as mon:
        await mon.subscribe([("$aws/events/presence/+/+", 1)])
        # a silent client: MQTT_KEEP_ALIVE_TIMEOUT
        _reader, writer = await asyncio.open_connection("127.0.0.1", fast_gateway.port)
        writer.write(encode(Connect("sleepy-2", keepalive=1)))
        await writer.drain()
        assert json.loads((await get(mon)).payload)["eventType"] == "connected"
        gone = json.loads((await get(mon)).payload)
        assert gone["disconnectReason"] == "MQTT_KEEP_ALIVE_TIMEOUT"
        assert gone["clientInitiatedDisconnect"] is False
        writer.close()
