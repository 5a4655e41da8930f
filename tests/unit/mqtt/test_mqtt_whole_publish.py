"""The client's receive hot path (``StreamParser.whole_publish``, ``ClientConnection.
receive_publish``) gives what ``feed`` / ``receive`` give, or declines with nothing consumed.

Property tests over whole packets of every kind (3.1.1 and 5), concatenations, and damaged
bytes: when the hot path answers, the general path gives that one QoS 0 PUBLISH and nothing
else; the usual delivery (one QoS 0 PUBLISH per chunk) is always taken by it.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.core.clock import FakeClock
from ota_deploy.mqtt.codec import encode, encode_publish
from ota_deploy.mqtt.errors import KeepAliveTimeout, ProtocolError
from ota_deploy.mqtt.packets import Connack, Connect, Packet, Pingresp, Publish, Suback
from ota_deploy.mqtt.parser import StreamParser
from ota_deploy.mqtt.session import ClientConnection, State

TOPICS = st.text(alphabet="ab/$ é€😀+#\x00", max_size=12)
OTHER_PACKETS = st.sampled_from(
    [Connack(), Pingresp(), Suback(3, [0, 1]), Publish("a", b"x", 1, packet_id=9)]
)


def connected(version: int = 4) -> ClientConnection:
    """A client connection with a PINGREQ outstanding: what it receives next keeps it alive."""
    clock = FakeClock()
    conn = ClientConnection(version, clock=clock)
    conn.start(Connect("dev", keepalive=10, protocol_level=version))
    conn.receive(encode(Connack(), version))
    assert conn.state is State.CONNECTED
    for expected in (b"", b"\xc0\x00"):  # a check with the CONNECT sent, then a PINGREQ
        clock.advance(5)
        assert conn.handle_timer() == expected
    clock.advance(5)
    return conn


def alive(conn: ClientConnection) -> bool:
    """Whether the next keep-alive check finds the server alive (something was received)."""
    try:
        conn.handle_timer()
    except KeepAliveTimeout:
        return False
    return True


def general(conn: ClientConnection, data: bytes) -> list[Packet] | str:
    try:
        return conn.receive(data)
    except ProtocolError as exc:
        return f"error: {exc}"


@st.composite
def chunks(draw: st.DrawFn, version: int) -> bytes:
    """One packet (most often a QoS 0 PUBLISH), two in a row, or a damaged one."""
    packets: list[bytes] = []
    for _ in range(draw(st.sampled_from([1, 1, 2]))):
        if draw(st.sampled_from([True, True, False])):
            packets.append(
                encode_publish(
                    draw(TOPICS),
                    draw(st.binary(max_size=300)),
                    retain=draw(st.sampled_from([False, False, True])),
                    version=version,
                )
            )
        else:
            packets.append(encode(draw(OTHER_PACKETS), version))
    data = b"".join(packets)
    kind = draw(st.sampled_from([None, None, "cut", "flip", "add"]))
    if kind is not None and data:
        at = draw(st.integers(0, len(data) - 1))
        if kind == "cut":
            data = data[:at]
        elif kind == "flip":
            data = data[:at] + bytes((data[at] ^ draw(st.integers(1, 255)),)) + data[at + 1 :]
        else:
            data = data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at:]
    return data


@settings(max_examples=1000, deadline=None)
@given(
    version=st.sampled_from([4, 4, 5]),
    wire_version=st.sampled_from([4, 4, 5]),
    limit=st.sampled_from([64, 1 << 20, 1 << 20]),
    draw=st.data(),
)
def test_the_hot_path_answers_as_the_general_path_or_declines(
    version: int, wire_version: int, limit: int, draw: st.DataObject
) -> None:
    data = draw.draw(chunks(wire_version))
    fast_conn, slow_conn = connected(version), connected(version)
    fast_conn.parser.max_packet_size = slow_conn.parser.max_packet_size = limit
    fast = fast_conn.receive_publish(data)
    if fast is None:
        assert fast_conn.parser.buffered == 0  # nothing consumed: the caller feeds it
        assert not alive(fast_conn)  # nor counted as heard
        return
    topic, payload = fast
    assert general(slow_conn, data) == [Publish(topic, payload)]
    assert alive(fast_conn) and alive(slow_conn)  # the keep-alive heard it on both paths


@settings(max_examples=200, deadline=None)
@given(
    topic=TOPICS.filter(lambda t: t != ""),
    payload=st.binary(max_size=20_000),
)
def test_one_qos0_publish_per_chunk_is_always_taken(topic: str, payload: bytes) -> None:
    data = encode_publish(topic, payload)
    assert StreamParser().whole_publish(data) == (topic, payload)
    assert StreamParser().feed(data) == [Publish(topic, payload)]


def test_what_the_hot_path_leaves_to_feed() -> None:
    publish = encode_publish("a/b", b"x")
    parser = StreamParser()
    assert parser.feed(publish[:3]) == []  # a partial packet is buffered ...
    assert parser.whole_publish(publish) is None  # ... so the next chunk must follow it
    assert StreamParser(version=5).whole_publish(encode_publish("a", b"", version=5)) is None
    assert StreamParser().whole_publish(encode_publish("a", b"", retain=True)) is None
    assert StreamParser().whole_publish(publish + publish) is None
    assert StreamParser().whole_publish(bytearray(publish)) is None  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):  # an empty topic: the session's error, not ours
        connected().receive(encode_publish("", b"x"))
    assert connected().receive_publish(encode_publish("", b"x")) is None
    conn = ClientConnection(4, clock=FakeClock())
    assert conn.receive_publish(publish) is None  # not connected: the general path decides
