"""The sans-I/O client and server connections joined in memory (no sockets)."""

from __future__ import annotations

import pytest

from ota_deploy.mqtt.codec import encode
from ota_deploy.mqtt.errors import ProtocolError
from ota_deploy.mqtt.packets import (
    Connack,
    Connect,
    Disconnect,
    Pingreq,
    Pingresp,
    Puback,
    Publish,
    Suback,
    Subscribe,
)
from ota_deploy.mqtt.session import (
    ClientConnection,
    QueuedMessage,
    ServerConnection,
    ServerSessionState,
    State,
)


@pytest.mark.parametrize("version", [4, 5])
def test_client_and_server_talk_in_memory(version: int) -> None:
    client = ClientConnection(version)
    server = ServerConnection()
    assert server.receive(client.start(Connect("dev", protocol_level=version))) == [
        Connect("dev", protocol_level=version)
    ]
    assert server.state is State.CONNECTED and server.version == version
    assert client.receive(server.send(Connack(False, 0))) == [Connack(False, 0)]
    assert client.state is State.CONNECTED
    pid = client.next_packet_id()
    sub = Subscribe(pid, [("a/#", 1)])
    assert server.receive(client.send(sub)) == [sub]
    assert client.receive(server.send(Suback(pid, [1]))) == [Suback(pid, [1])]
    data = client.publish_bytes("a/b", b"x", 1, packet_id=client.next_packet_id())
    assert server.receive(data) == [Publish("a/b", b"x", 1, packet_id=2)]
    assert client.receive(server.send(Puback(2))) == [Puback(2)]
    assert server.receive(client.send(Pingreq())) == [Pingreq()]
    assert client.receive(server.send(Pingresp())) == [Pingresp()]
    assert server.receive(client.send(Disconnect()) + encode(Pingreq())) == [Disconnect()]
    assert server.state is State.CLOSED and client.state is State.CLOSED
    assert server.receive(encode(Pingreq())) == []  # nothing after DISCONNECT


def test_server_requires_connect_first_and_once() -> None:
    with pytest.raises(ProtocolError):
        ServerConnection().receive(encode(Pingreq()))
    server = ServerConnection()
    with pytest.raises(ProtocolError) as info:
        server.receive(encode(Connect("a")) + encode(Connect("a")))
    assert info.value.packets == [Connect("a")]  # the first one is still to be answered


def test_server_refuses_qos2_publish_and_wildcard_topics() -> None:
    server = ServerConnection()
    server.receive(encode(Connect("a")))
    with pytest.raises(ProtocolError) as info:
        server.receive(encode(Publish("t", b"", 2, packet_id=1)))
    assert info.value.reason_code == 0x9B
    server = ServerConnection()
    server.receive(encode(Connect("a")))
    with pytest.raises(ProtocolError):
        server.receive(encode(Publish("t/+", b"")))


def test_server_rejects_client_only_packets() -> None:
    server = ServerConnection()
    server.receive(encode(Connect("a")))
    with pytest.raises(ProtocolError):
        server.receive(encode(Connack()))


def test_client_sees_refusal_and_requires_connack_first() -> None:
    client = ClientConnection()
    client.start(Connect("a"))
    assert client.receive(encode(Connack(False, 5))) == [Connack(False, 5)]
    assert client.state is State.CLOSED
    client = ClientConnection()
    client.start(Connect("a"))
    with pytest.raises(ProtocolError):
        client.receive(encode(Pingresp()))


def test_client_packet_ids_skip_those_in_use() -> None:
    client = ClientConnection()
    ids = [client.next_packet_id() for _ in range(3)]
    assert ids == [1, 2, 3]
    client.release(2)
    client._next_id = 65535
    assert client.next_packet_id() == 2  # wraps past 1 (in use) to the released 2


def test_session_state_queue_and_inflight() -> None:
    s = ServerSessionState("c", persistent=True, max_pending=2)
    for i in range(3):
        s.enqueue(QueuedMessage("t", bytes([i]), 1))
    assert [m.payload for m in s.pending] == [b"\x01", b"\x02"] and s.dropped == 1
    pid = s.next_packet_id()
    assert pid == 1
    s.inflight[pid] = s.pending.popleft()
    assert s.next_packet_id() == 2
    assert s.acknowledge(1) is not None and s.acknowledge(1) is None
