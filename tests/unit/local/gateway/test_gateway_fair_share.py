"""The gateway shares its event loop: at most a slice of work per loop iteration, then the rest
of the loop (the HTTP control plane, the service's tick, timers) gets its turn.

Structural, not timed: the slice is measured on a hand-moved time source, each request costs
1 ms of it (the handler moves it), and what the tests count is loop iterations -- a callback
that re-schedules itself with ``call_soon`` runs once per iteration, as aiohttp's steps do.
Connections are real ``GatewayConnection``s of a real ``MqttGateway`` on in-memory transports.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.unit.local.gateway.memory_transport import MemoryTransport

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.gateway import MqttGateway
from ota_deploy.local.gateway.backlog import BACKLOG_PAUSE
from ota_deploy.local.gateway.connection import GatewayConnection
from ota_deploy.local.gateway.fair_share import FairShare
from ota_deploy.mqtt.codec import encode, encode_publish
from ota_deploy.mqtt.packets import Connect, Publish, Subscribe

COST = 1.0  # what one request costs, in the hand-moved time (whole numbers: exact sums)
SLICE = 3.0  # three requests' worth
PER_SLICE = 3


class Costly:
    """A reserved-topic handler: each request costs ``COST`` of ``time`` and is recorded."""

    def __init__(self, time: FakeClock) -> None:
        self.time = time
        self.handled: list[tuple[str, bytes]] = []

    def handles(self, topic: str) -> bool:
        return topic.startswith("$aws/things/")

    def handle(self, client_id: str, topic: str, payload: bytes, reply: Any) -> None:
        self.time.advance(COST)
        self.handled.append((client_id, payload))
        reply(f"{topic}/accepted", payload)


def gateway(time: FakeClock) -> tuple[MqttGateway, Costly]:
    handler = Costly(time)
    gw = MqttGateway(handlers=[handler])
    gw.turns = FairShare(SLICE, now=time.now)
    gw.turns.bind(asyncio.get_running_loop())
    return gw, handler


def connect(gw: MqttGateway, client_id: str) -> tuple[GatewayConnection, MemoryTransport]:
    conn, t = GatewayConnection(gw), MemoryTransport()
    conn.connection_made(t)
    conn.data_received(encode(Connect(client_id, 60, True, 4), 4))
    t.data.clear()
    return conn, t


def request(client_id: str, n: int = 0) -> bytes:
    return encode_publish(f"$aws/things/{client_id}/x", b"%d" % n)


def use_up_the_slice(gw: MqttGateway) -> None:
    """Three requests in one read: this iteration's slice is used up, what arrives next waits."""
    busy, _ = connect(gw, "busy")
    busy.data_received(b"".join(request("busy", i) for i in range(PER_SLICE)))
    assert not gw.turns.admit()


class Iterations:
    """Counts loop iterations: a callback that re-schedules itself once per iteration and
    records how many requests were handled when it ran."""

    def __init__(self, handler: Costly) -> None:
        self.handler = handler
        self.seen: list[int] = []
        asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self.seen.append(len(self.handler.handled))
        if len(self.seen) < 1000:
            asyncio.get_running_loop().call_soon(self._tick)


async def test_a_burst_is_served_a_slice_per_iteration_first_come_first_served() -> None:
    time = FakeClock()
    gw, handler = gateway(time)
    links = [connect(gw, f"dev-{i}") for i in range(40)]
    probe = Iterations(handler)
    for conn, _ in links:  # one loop iteration's reads: every device holds a request
        conn.data_received(request(conn.client_id))
    assert len(handler.handled) == PER_SLICE  # the rest waits for the next iterations
    assert gw.turns.waiting == len(links) - PER_SLICE
    while len(handler.handled) < len(links):
        await asyncio.sleep(0)
    # between two runs of the probe (one loop iteration) at most one slice was served: the
    # rest of the loop ran after every slice
    assert probe.seen[0] == PER_SLICE
    steps = [b - a for a, b in zip(probe.seen, probe.seen[1:], strict=False)]
    assert max(steps) <= PER_SLICE and probe.seen[-1] >= len(links) - PER_SLICE
    assert [c for c, _ in handler.handled] == [f"dev-{i}" for i in range(40)]  # arrival order
    assert all(len(t.packets()) == 1 for _, t in links)  # each answered once
    assert gw.turns.deferred == len(links) - PER_SLICE and gw.turns.waiting == 0


async def test_an_idle_gateway_answers_at_once() -> None:
    time = FakeClock()
    gw, handler = gateway(time)
    conn, t = connect(gw, "dev")
    await asyncio.sleep(0)
    conn.data_received(request("dev"))
    assert handler.handled == [("dev", b"0")] and len(t.packets()) == 1
    assert gw.turns.deferred == 0


async def test_a_connection_keeps_its_order_and_stops_reading_past_the_bound() -> None:
    time = FakeClock()
    gw, handler = gateway(time)
    conn, t = connect(gw, "dev")
    use_up_the_slice(gw)
    conn.data_received(request("dev", 1))
    conn.data_received(request("dev", 2) + request("dev", 3)[:5])
    conn.data_received(request("dev", 3)[5:])
    assert t.reading and gw.turns.waiting == 1  # one place in the queue per connection
    big = b"z" * 100_000  # AWS IoT's payload limit is 128 KiB
    for _ in range(BACKLOG_PAUSE // len(big)):
        conn.data_received(encode_publish("$aws/things/dev/x", big))
        assert t.reading
    conn.data_received(encode_publish("$aws/things/dev/x", big))
    assert not t.reading  # kept bytes past the bound: reading stops until its turn
    while gw.turns.waiting:
        await asyncio.sleep(0)
    assert t.reading and not t.closed
    bigs = [big] * (BACKLOG_PAUSE // len(big) + 1)
    assert [p for c, p in handler.handled if c == "dev"] == [b"1", b"2", b"3", *bigs]


async def test_kept_bytes_of_a_client_that_hangs_up_are_handled_first() -> None:
    time = FakeClock()
    gw, handler = gateway(time)
    watcher, wt = connect(gw, "watcher")
    watcher.data_received(encode(Subscribe(1, [("news", 0)]), 4))
    wt.data.clear()
    conn, _ = connect(gw, "dev")
    eof, _ = connect(gw, "eof")
    use_up_the_slice(gw)
    # a request, a message for the watcher and a DISCONNECT; then a reset before its turn
    conn.data_received(request("dev") + encode_publish("news", b"hi") + b"\xe0\x00")
    eof.data_received(request("eof"))
    assert gw.turns.waiting == 2 and not handler.handled[PER_SLICE:]
    conn.connection_lost(ConnectionResetError())
    assert handler.handled[PER_SLICE:] == [("dev", b"0")]
    assert [p.payload for p in wt.packets() if isinstance(p, Publish)] == [b"hi"]
    assert conn.graceful  # the DISCONNECT counted: no will
    eof.eof_received()  # the client's EOF: what it sent is handled before the close
    assert handler.handled[PER_SLICE:] == [("dev", b"0"), ("eof", b"0")]
    while gw.turns.waiting:
        await asyncio.sleep(0)
    assert len(handler.handled) == PER_SLICE + 2  # nothing twice


async def test_kept_bytes_of_a_link_the_gateway_closed_are_dropped() -> None:
    time = FakeClock()
    gw, handler = gateway(time)
    old, t = connect(gw, "dev")
    use_up_the_slice(gw)
    old.data_received(request("dev", 1))  # kept for a later turn
    connect(gw, "dev")  # the same client id: the old link is taken over (closed)
    assert t.closed
    while gw.turns.waiting:
        await asyncio.sleep(0)
    old.connection_lost(None)
    assert ("dev", b"1") not in handler.handled


@pytest.mark.parametrize("started", [False, True])
async def test_before_connect_or_never_started_nothing_waits(started: bool) -> None:
    time = FakeClock()
    gw, handler = gateway(time)
    use_up_the_slice(gw)
    if not started:
        gw.turns = FairShare(SLICE, now=time.now)  # never bound to a loop: always admits
    conn, t = GatewayConnection(gw), MemoryTransport()
    conn.connection_made(t)
    conn.data_received(encode(Connect("dev", 60, True, 4), 4))  # before CONNECT: never waits
    assert conn.attached and t.packets()
    conn.data_received(request("dev"))
    assert (("dev", b"0") in handler.handled) is not started
    while gw.turns.waiting:
        await asyncio.sleep(0)
    assert ("dev", b"0") in handler.handled
