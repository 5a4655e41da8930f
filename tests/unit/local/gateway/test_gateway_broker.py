"""The gateway's routing state (sessions, QoS, takeover, retained) with in-memory links."""

from __future__ import annotations

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.gateway.broker import Broker
from ota_deploy.mqtt.packets import Connect, Publish
from ota_deploy.mqtt.parser import StreamParser


class FakeLink:
    def __init__(self, client_id: str, version: int = 4) -> None:
        self.client_id = client_id
        self._version = version
        self.parser = StreamParser(version)
        self.received: list[Publish] = []
        self.closed_with: int | bool | None = False

    @property
    def version(self) -> int:
        return self._version

    def write(self, data: bytes) -> None:
        self.received += [p for p in self.parser.feed(data) if isinstance(p, Publish)]

    def close(self, reason_code: int | None = None) -> None:
        self.closed_with = reason_code


def connect(broker: Broker, cid: str, clean: bool = True, version: int = 4) -> FakeLink:
    link = FakeLink(cid, version)
    broker.attach(link, Connect(cid, clean_session=clean, protocol_level=version))
    broker.resume(link)
    return link


def test_routing_qos_is_min_of_publish_and_granted() -> None:
    b = Broker()
    a = connect(b, "a")
    c = connect(b, "c", version=5)
    assert b.subscribe(a, [("t/+", 1)]) == [1]
    assert b.subscribe(c, [("t/x", 0), ("#", 1)]) == [0, 1]
    assert b.route("t/x", b"p", 1) == 2
    assert [(m.topic, m.qos) for m in a.received] == [("t/x", 1)]
    assert [(m.topic, m.qos) for m in c.received] == [("t/x", 1)]  # one copy, highest QoS
    b.route("t/x", b"p", 0)
    assert a.received[-1].qos == 0


def test_qos1_inflight_until_puback() -> None:
    b = Broker()
    a = connect(b, "a")
    b.subscribe(a, [("t", 1)])
    b.route("t", b"1", 1)
    pid = a.received[0].packet_id
    assert pid is not None and pid in b.sessions["a"].inflight
    b.acknowledge(a, pid)
    assert not b.sessions["a"].inflight


def test_persistent_session_redelivers_unacked_with_dup_and_queued() -> None:
    b = Broker()
    a = connect(b, "a", clean=False)
    b.subscribe(a, [("t", 1)])
    b.route("t", b"unacked", 1)
    b.detach(a)
    b.route("t", b"queued", 1)
    b.route("t", b"qos0 is dropped offline", 0)
    a2 = FakeLink("a")
    assert b.attach(a2, Connect("a", clean_session=False)) is True
    b.resume(a2)
    assert [(m.payload, m.dup) for m in a2.received] == [(b"unacked", True), (b"queued", False)]


def test_clean_session_discards_state() -> None:
    b = Broker()
    a = connect(b, "a", clean=False)
    b.subscribe(a, [("t", 1)])
    b.detach(a)
    a2 = FakeLink("a")
    assert b.attach(a2, Connect("a", clean_session=True)) is False
    assert b.route("t", b"x", 1) == 0
    b.detach(a2)
    assert "a" not in b.sessions


def test_mqtt5_session_expiry_makes_session_persistent() -> None:
    b = Broker()
    link = FakeLink("v5", 5)
    b.attach(link, Connect("v5", clean_session=True, protocol_level=5, properties={0x11: 60}))
    b.subscribe(link, [("t", 1)])
    b.detach(link)
    assert "v5" in b.sessions
    b.route("t", b"x", 1)
    assert len(b.sessions["v5"].pending) == 1


def test_takeover_closes_older_link_and_keeps_new_one() -> None:
    b = Broker()
    old = connect(b, "dup")
    new = connect(b, "dup")
    assert old.closed_with == 0x8E
    b.detach(old)  # the old socket's late close must not remove the new link
    assert b.connected_clients() == {"dup"} and b.links["dup"] is new
    assert b.stats.takeovers == 1


def test_reply_reaches_unsubscribed_requester_once() -> None:
    b = Broker()
    req = connect(b, "req")
    other = connect(b, "other")
    b.subscribe(other, [("r", 0)])
    assert b.route("r", b"answer", 0, also="req") == 2
    assert len(req.received) == 1 and len(other.received) == 1
    b.subscribe(req, [("r", 1)])
    b.route("r", b"again", 0, also="req")
    assert len(req.received) == 2


def test_qos2_and_invalid_subscriptions_refused() -> None:
    b = Broker()
    a = connect(b, "a")
    assert b.subscribe(a, [("a", 2), ("a/#/b", 0), ("$share/g/t", 0)]) == [0x80, 0x80, 0x80]
    v5 = connect(b, "v5", version=5)
    assert b.subscribe(v5, [("a/#/b", 0)]) == [0x8F]


def test_retained_messages() -> None:
    b = Broker()
    b.retain("s/1", b"on", 1)
    b.retain("s/2", b"x", 0)
    b.retain("s/2", b"", 0)  # cleared
    a = connect(b, "a")
    b.send_retained(a, [("s/+", 0)])
    assert [(m.topic, m.payload, m.retain, m.qos) for m in a.received] == [("s/1", b"on", True, 0)]


def test_unsubscribe_codes() -> None:
    b = Broker()
    a = connect(b, "a")
    b.subscribe(a, [("t", 0)])
    assert b.unsubscribe(a, ["t", "never"]) == [0, 0x11]


def test_mqtt5_receive_maximum_limits_inflight_then_flushes_on_puback() -> None:
    b = Broker()
    link = FakeLink("rm", 5)
    b.attach(link, Connect("rm", protocol_level=5, properties={0x21: 2}))
    b.subscribe(link, [("t", 1)])
    for i in range(5):
        b.route("t", bytes([i]), 1)
    assert [m.payload for m in link.received] == [b"\x00", b"\x01"]
    pid = link.received[0].packet_id
    assert pid is not None
    b.acknowledge(link, pid)
    assert [m.payload for m in link.received] == [b"\x00", b"\x01", b"\x02"]


def test_offline_persistent_sessions_expire() -> None:
    clock = FakeClock()
    b = Broker(clock=clock, session_expiry=3600)
    a = connect(b, "a", clean=False)
    b.subscribe(a, [("t", 1)])
    b.detach(a)
    clock.advance(3599)
    assert b.expire_sessions() == 0
    clock.advance(1)
    assert b.expire_sessions() == 1
    assert "a" not in b.sessions and b.route("t", b"x", 1) == 0


def test_mqtt5_properties_forwarded_to_v5_subscribers_only() -> None:
    b = Broker()
    v5 = connect(b, "v5", version=5)
    v4 = connect(b, "v4")
    b.subscribe(v5, [("t", 0)])
    b.subscribe(v4, [("t", 0)])
    props = {0x26: [("k", "v")], 0x08: "reply/here", 0x23: 3}  # 0x23 topic alias: not forwarded
    b.route("t", b"x", 0, None, props)
    assert v5.received[0].properties == {0x26: [("k", "v")], 0x08: "reply/here"}
    assert v4.received[0].properties == {}
