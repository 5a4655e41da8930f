"""What connections may buffer before CONNECT: a free allowance each, one shared budget beyond
it; a connection that does not fit is closed and its buffer dropped (issue 10, case 5).
bench/bench_gateway_preconnect.py measures the memory of 1,000 such connections."""

from __future__ import annotations

from tests.unit.local.gateway.memory_transport import MemoryTransport as Transport

from ota_deploy.local.gateway import MqttGateway
from ota_deploy.local.gateway.connection import GatewayConnection
from ota_deploy.local.gateway.preconnect import PreConnectBudget
from ota_deploy.mqtt.codec import encode
from ota_deploy.mqtt.packets import Connack, Connect, Will
from ota_deploy.mqtt.parser import StreamParser


def test_the_budget_counts_only_bytes_beyond_the_free_allowance() -> None:
    budget = PreConnectBudget(total=10_000, free_per_connection=1_000)
    assert budget.claim(0, 800) == 0 and budget.in_use == 0
    a = budget.claim(0, 6_000)
    assert a == 5_000 and budget.in_use == 5_000
    b = budget.claim(0, 6_000)
    assert b == 5_000 and budget.in_use == 10_000
    assert budget.claim(0, 1_001) is None and budget.refused == 1  # full
    assert budget.claim(a, 5_500) == 4_500 and budget.in_use == 9_500  # shrinking always fits
    budget.release(4_500)
    budget.release(b)
    assert budget.in_use == 0


def stalled(gw: MqttGateway, sent: bytes) -> tuple[GatewayConnection, Transport]:
    conn, t = GatewayConnection(gw), Transport()
    conn.connection_made(t)
    conn.data_received(sent)
    return conn, t


async def test_connections_stalled_in_a_large_connect_are_closed_once_the_budget_is_full() -> None:
    gw = MqttGateway()
    gw.pre_connect = PreConnectBudget(total=100_000, free_per_connection=4_096)
    big = encode(Connect("dev", will=Will("w", b"x" * 60_000)))  # a large but valid CONNECT
    first, t1 = stalled(gw, big[:50_000])
    assert not t1.closed and gw.pre_connect.in_use == 50_000 - 4_096
    second, t2 = stalled(gw, big[:50_000])
    assert not t2.closed
    third, t3 = stalled(gw, big[:50_000])  # does not fit: closed, buffer dropped
    assert t3.closed and third.conn.parser.buffered == 0 and gw.pre_connect.refused == 1
    # small partial CONNECTs keep working whatever the budget says
    _small, ts = stalled(gw, encode(Connect("tiny"))[:10])
    assert not ts.closed
    # completing the CONNECT gives the claim back
    first.data_received(big[50_000:])
    assert StreamParser().feed(bytes(t1.data)) == [Connack(False, 0)]
    assert gw.pre_connect.in_use == 50_000 - 4_096  # only the second's claim is left
    second.connection_lost(None)
    third.connection_lost(None)
    assert gw.pre_connect.in_use == 0


def test_the_parser_gives_a_consumed_buffer_back() -> None:
    parser = StreamParser()
    packet = encode(Connect("dev", will=Will("w", b"x" * 60_000)))
    assert parser.feed(packet[:30_000]) == [] and parser.buffered == 30_000
    assert len(parser.feed(packet[30_000:])) == 1
    assert parser.buffered == 0 and parser._buf.__alloc__() <= 1
    parser.feed(packet[:1000])
    parser.clear()
    assert parser.buffered == 0
