"""Codec and stream parser: round trips and split-independence (hypothesis), known bytes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.mqtt import packets as p
from ota_deploy.mqtt.codec import UnsupportedProtocol, decode, encode, encode_publish
from ota_deploy.mqtt.errors import ProtocolError
from ota_deploy.mqtt.packets import (
    Connack,
    Connect,
    Disconnect,
    Pingreq,
    Puback,
    Publish,
    Suback,
    Subscribe,
    Unsuback,
)
from ota_deploy.mqtt.parser import StreamParser
from ota_deploy.mqtt.properties import PROPERTY_TYPES, REPEATABLE

# -- strategies: any valid packet for a protocol version ---------------------------------------

# 1-, 2-, 3- and 4-byte UTF-8 characters and the MQTT separators; small alphabet = fast draws
text = st.text(alphabet="ab/$ é€😀+#", max_size=12)
topic_name = text.filter(lambda t: t and "+" not in t and "#" not in t)
binary = st.binary(max_size=40)
u16 = st.integers(1, 65535)
reason = st.integers(0, 255)

_VALUE = {0: st.integers(0, 255), 1: st.integers(0, 65535), 2: st.integers(0, 2**32 - 1),
          3: st.integers(1, 268_435_455), 4: text, 5: binary, 6: st.tuples(text, text)}  # fmt: skip


@st.composite
def properties(draw: Any) -> dict[int, Any]:
    idents = draw(st.lists(st.sampled_from(sorted(PROPERTY_TYPES)), max_size=4, unique=True))
    out: dict[int, Any] = {}
    for ident in idents:
        strat = _VALUE[PROPERTY_TYPES[ident]]
        out[ident] = (
            draw(st.lists(strat, min_size=1, max_size=3)) if ident in REPEATABLE else draw(strat)
        )
    return out


def _packets(version: int) -> st.SearchStrategy[p.Packet]:
    v5 = version >= 5
    props = properties() if v5 else st.just({})
    rc = reason if v5 else st.just(0)

    def publish(qos: int) -> st.SearchStrategy[p.Publish]:
        return st.builds(
            p.Publish, topic_name, st.binary(max_size=300), st.just(qos), st.booleans(),
            st.booleans() if qos else st.just(False), u16 if qos else st.none(), props,
        )  # fmt: skip

    will = st.builds(p.Will, topic_name, binary, st.integers(0, 2), st.booleans(), props)
    connect = st.builds(
        p.Connect, text, st.integers(0, 65535), st.booleans(), st.just(version),
        st.none() | text, st.none() | binary, st.none() | will, props,
    )  # fmt: skip
    v5_options = st.integers(0, 0x3F).filter(lambda o: o & 3 != 3)
    sub_options = v5_options if v5 else st.integers(0, 2)
    subscriptions = st.lists(st.tuples(text, sub_options), min_size=1, max_size=4)
    choices = [
        connect,
        st.builds(p.Connack, st.booleans(), reason, props),
        publish(0), publish(1), publish(2),
        st.builds(p.Puback, u16, rc, props), st.builds(p.Pubrec, u16, rc, props),
        st.builds(p.Pubrel, u16, rc, props), st.builds(p.Pubcomp, u16, rc, props),
        st.builds(p.Subscribe, u16, subscriptions, props),
        st.builds(p.Suback, u16, st.lists(reason, max_size=5), props),
        st.builds(p.Unsubscribe, u16, st.lists(text, min_size=1, max_size=4), props),
        st.builds(p.Unsuback, u16, st.lists(reason, max_size=5) if v5 else st.just([]), props),
        st.just(p.Pingreq()), st.just(p.Pingresp()),
        st.builds(p.Disconnect, rc, props),
    ]  # fmt: skip
    if v5:
        choices.append(st.builds(p.Auth, reason, props))
    return st.one_of(choices)


_STRATEGIES = {4: _packets(4), 5: _packets(5)}


def packets(version: int) -> st.SearchStrategy[p.Packet]:
    return _STRATEGIES[version]


# -- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [4, 5])
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_encode_decode_round_trip_every_packet_type(version: int, data: st.DataObject) -> None:
    packet = data.draw(packets(version))
    wire = encode(packet, version)
    out = StreamParser(version).feed(wire)
    assert out == [packet]


@pytest.mark.parametrize("version", [4, 5])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_parser_independent_of_how_the_stream_is_split(version: int, data: st.DataObject) -> None:
    items = data.draw(st.lists(packets(version), min_size=1, max_size=8))
    # a CONNECT switches the parser's version: keep it to the first position only
    items = [x for x in items if not isinstance(x, Connect)]
    wire = b"".join(encode(x, version) for x in items)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    parser = StreamParser(version)
    out = []
    prev = 0
    for cut in [*cuts, len(wire)]:
        out += parser.feed(wire[prev:cut])
        prev = cut
    assert out == items
    assert parser.buffered == 0


def test_byte_by_byte_with_connect_switching_version() -> None:
    items = [
        Connect("dev", protocol_level=5, properties={0x11: 60}),
        Publish("a/b", b"x" * 200, 1, packet_id=9, properties={0x26: [("k", "v")]}),
        Disconnect(0x04),
    ]
    wire = b"".join(encode(x, 5) for x in items)
    parser = StreamParser()  # starts at 3.1.1, like a server
    out = []
    for i in range(len(wire)):
        out += parser.feed(wire[i : i + 1])
    assert out == items
    assert parser.version == 5


def test_known_encodings_match_the_spec() -> None:
    assert encode(Pingreq()) == b"\xc0\x00"
    assert encode(Puback(10)) == b"\x40\x02\x00\x0a"
    assert encode(Connack(True, 0)) == b"\x20\x02\x01\x00"
    assert encode(Suback(1, [0, 1, 0x80])) == b"\x90\x05\x00\x01\x00\x01\x80"
    assert encode(Publish("a/b", b"hi")) == b"\x30\x07\x00\x03a/bhi"
    assert encode(Publish("t", b"", 1, True, True, 2)) == b"\x3b\x05\x00\x01t\x00\x02"
    assert encode(Subscribe(1, [("x", 1)])) == b"\x82\x06\x00\x01\x00\x01x\x01"
    assert encode(Connect("c", 30)) == b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x1e\x00\x01c"
    assert encode(Publish("a", b"p"), 5) == b"\x30\x05\x00\x01a\x00p"
    assert encode(Unsuback(3)) == b"\xb0\x02\x00\x03"
    assert encode(Disconnect(), 5) == b"\xe0\x00"


def test_encode_publish_fast_path_equals_encode() -> None:
    for version in (4, 5):
        pkt = Publish("x/y", b"z" * 300, 1, True, False, 77)
        assert encode_publish("x/y", b"z" * 300, 1, True, False, 77, version) == encode(
            pkt, version
        )


def test_long_remaining_length() -> None:
    payload = b"\x01" * 200_000
    wire = encode(Publish("big", payload))
    assert wire[1:4] == bytes((0xC5, 0x9A, 0x0C))  # 200005 as a 3-byte varint
    assert StreamParser().feed(wire) == [Publish("big", payload)]


@pytest.mark.parametrize(
    "wire",
    [
        b"\x36\x05\x00\x01a\x00\x01",  # QoS 3
        b"\x38\x04\x00\x01ab",  # QoS 0 with DUP
        b"\x32\x05\x00\x01a\x00\x00",  # packet id 0
        b"\x80\x06\x00\x01\x00\x01x\x01",  # SUBSCRIBE with flags 0
        b"\x82\x02\x00\x01",  # SUBSCRIBE without filters
        b"\x82\x06\x00\x01\x00\x01x\x03",  # requested QoS 3
        b"\x00\x00",  # reserved type 0
        b"\x30\x04\x00\x05ab",  # topic longer than the packet
        b"\x30\x05\x00\x02\xff\xfeX",  # invalid UTF-8
        b"\xc0\x01\x00",  # PINGREQ with a body
        b"\x30\xff\xff\xff\xff\x01",  # remaining length over 4 bytes
    ],
)
def test_malformed_packets_raise_protocol_error(wire: bytes) -> None:
    with pytest.raises(ProtocolError):
        StreamParser().feed(wire)


def test_unsupported_protocol_level() -> None:
    body = b"\x00\x04MQTT\x07\x02\x00\x3c\x00\x01z"
    with pytest.raises(UnsupportedProtocol) as info:
        StreamParser().feed(bytes((0x10, len(body))) + body)
    assert info.value.level == 7


def test_valid_prefix_survives_a_later_error() -> None:
    wire = encode(Connect("a")) + encode(Pingreq()) + b"\x00\x00"
    with pytest.raises(ProtocolError) as info:
        StreamParser().feed(wire)
    assert info.value.packets == [Connect("a"), Pingreq()]


def test_max_packet_size() -> None:
    with pytest.raises(ProtocolError) as info:
        StreamParser(max_packet_size=100).feed(encode(Publish("a", b"x" * 200))[:10])
    assert info.value.reason_code == 0x95


def test_decode_directly() -> None:
    assert decode(0xC0, memoryview(b"")) == Pingreq()
