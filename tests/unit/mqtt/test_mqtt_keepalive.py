"""Keep-alive and connect-timeout timing of the sans-I/O sessions, on a FakeClock.

The socket layers only arm a loop timer for ``deadline()`` and call ``handle_timer()``; every
decision is made here, so these tests need no sockets and no real waiting.
"""

from __future__ import annotations

import pytest

from ota_deploy.core.clock import FakeClock
from ota_deploy.mqtt.codec import encode, encode_publish
from ota_deploy.mqtt.errors import ConnectTimeout, KeepAliveTimeout
from ota_deploy.mqtt.packets import Connack, Connect, Pingreq, Pingresp
from ota_deploy.mqtt.properties import SERVER_KEEP_ALIVE
from ota_deploy.mqtt.session import ClientConnection, ServerConnection, State


def connected_server(clock: FakeClock, keepalive: int) -> ServerConnection:
    server = ServerConnection(clock=clock)
    server.receive(encode(Connect("dev", keepalive=keepalive)))
    return server


def connected_client(clock: FakeClock, keepalive: int) -> ClientConnection:
    client = ClientConnection(clock=clock)
    client.start(Connect("dev", keepalive=keepalive))
    client.receive(encode(Connack(False, 0)))
    return client


def test_server_drops_a_client_silent_for_one_and_a_half_keepalives() -> None:
    clock = FakeClock()
    start = clock.now()
    server = connected_server(clock, keepalive=10)
    assert server.deadline() == start + 15
    clock.advance(14.9)
    server.handle_timer()  # not due yet: nothing happens
    assert server.state is State.CONNECTED
    assert server.receive(encode(Pingreq())) == [Pingreq()]  # any packet restarts the wait
    assert server.deadline() == pytest.approx(start + 14.9 + 15)
    clock.advance(15)
    with pytest.raises(KeepAliveTimeout):
        server.handle_timer()
    assert server.state is State.CLOSED and server.deadline() is None


def test_server_drops_a_link_that_never_sends_connect() -> None:
    clock = FakeClock()
    server = ServerConnection(clock=clock, connect_timeout=30)
    assert server.deadline() == clock.now() + 30
    clock.advance(29.5)
    server.handle_timer()
    assert server.state is State.AWAIT_CONNECT
    clock.advance(0.5)
    with pytest.raises(ConnectTimeout):
        server.handle_timer()
    assert server.state is State.CLOSED


def test_server_keepalive_starts_with_the_connect() -> None:
    clock = FakeClock()
    server = ServerConnection(clock=clock, connect_timeout=30)
    clock.advance(20)
    server.receive(encode(Connect("late", keepalive=4)))
    assert server.deadline() == clock.now() + 6  # the connect timeout no longer applies


def test_keepalive_zero_never_times_out_nor_pings() -> None:
    clock = FakeClock()
    server = connected_server(clock, keepalive=0)
    client = connected_client(clock, keepalive=0)
    assert server.deadline() is None and client.deadline() is None
    clock.advance(10**6)
    server.handle_timer()
    assert client.handle_timer() == b""
    assert server.state is State.CONNECTED and client.state is State.CONNECTED


def test_client_pings_only_when_idle_and_gives_up_when_unanswered() -> None:
    clock = FakeClock()
    client = connected_client(clock, keepalive=10)
    assert client.deadline() == clock.now() + 5  # checks every keepalive/2
    clock.advance(4)
    assert client.handle_timer() == b""  # not due
    clock.advance(1)
    assert client.handle_timer() == b""  # the CONNECT went out since the last check
    client.publish_bytes("t", b"x")
    clock.advance(5)
    assert client.handle_timer() == b""  # something was sent: no PINGREQ needed
    clock.advance(5)
    assert client.handle_timer() == encode(Pingreq())
    clock.advance(5)
    with pytest.raises(KeepAliveTimeout):  # nothing at all came back
        client.handle_timer()
    assert client.state is State.CLOSED and client.deadline() is None


def test_any_answer_satisfies_an_outstanding_ping() -> None:
    clock = FakeClock()
    client = connected_client(clock, keepalive=2)
    clock.advance(1)
    client.handle_timer()
    clock.advance(1)
    assert client.handle_timer() == encode(Pingreq())
    client.receive(encode_publish("t", b"data"))  # not the PINGRESP, but the server is alive
    clock.advance(1)
    assert client.handle_timer() == encode(Pingreq())
    assert client.state is State.CONNECTED


def test_client_keepalive_starts_at_the_connack() -> None:
    clock = FakeClock()
    client = ClientConnection(clock=clock)
    client.start(Connect("dev", keepalive=10))
    assert client.deadline() is None  # not connected yet
    clock.advance(3)
    client.receive(encode(Connack(False, 0)))
    assert client.deadline() == clock.now() + 5


def connected_pair(clock: FakeClock, keepalive: int) -> tuple[ClientConnection, ServerConnection]:
    """A client and a server session on one clock, joined in memory, past CONNECT/CONNACK."""
    client = ClientConnection(clock=clock)
    server = ServerConnection(clock=clock)
    server.receive(client.start(Connect("dev", keepalive=keepalive)))
    client.receive(server.send(Connack(False, 0)))
    return client, server


def run_pair(
    clock: FakeClock,
    client: ClientConnection,
    server: ServerConnection,
    seconds: float,
    *,
    server_answers: bool = True,
    step: float = 0.25,
) -> int:
    """Move time on in small steps, firing both timers when due and carrying the client's
    PINGREQs to the server (and, if it answers, the PINGRESPs back); returns PINGREQs sent."""
    pings = 0
    for _ in range(round(seconds / step)):
        clock.advance(step)
        data = client.handle_timer()
        if data:
            pings += 1
            for packet in server.receive(data):
                assert packet == Pingreq()
                if server_answers:
                    client.receive(server.send(Pingresp()))
        server.handle_timer()
    return pings


def test_pings_keep_an_idle_client_connected() -> None:
    clock = FakeClock()
    client, server = connected_pair(clock, keepalive=1)
    pings = run_pair(clock, client, server, seconds=20)  # 20 keep-alive periods, all idle
    assert pings >= 10
    assert client.state is State.CONNECTED
    assert server.state is State.CONNECTED


def test_client_detects_a_server_that_stops_answering() -> None:
    clock = FakeClock()
    client, server = connected_pair(clock, keepalive=1)
    with pytest.raises(KeepAliveTimeout):
        run_pair(clock, client, server, seconds=5, server_answers=False)
    assert client.state is State.CLOSED


def test_a_server_keepalive_rule_replaces_what_the_connect_asked_for() -> None:
    clock = FakeClock()
    server = ServerConnection(clock=clock, keepalive_rule=lambda asked: asked or 100)
    server.receive(encode(Connect("dev", keepalive=0)))
    assert server.keepalive == 100
    assert server.deadline() == clock.now() + 150  # 0 no longer turns keep-alive off
    clock.advance(150)
    with pytest.raises(KeepAliveTimeout):
        server.handle_timer()


def test_the_client_uses_the_server_keep_alive_of_an_mqtt5_connack() -> None:
    clock = FakeClock()
    client = ClientConnection(version=5, clock=clock)
    client.start(Connect("dev", keepalive=0, protocol_level=5))
    client.receive(encode(Connack(False, 0, {SERVER_KEEP_ALIVE: 30}), 5))
    assert client.keepalive == 30 and client.deadline() == clock.now() + 15
    clock.advance(15)
    assert client.handle_timer() == b""  # the CONNECT counts as sent since the last check
    clock.advance(15)
    assert client.handle_timer() == encode(Pingreq())  # idle: it pings as the server asked
