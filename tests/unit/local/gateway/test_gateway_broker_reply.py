"""Broker.reply (a reserved-topic answer) delivers exactly what route(..., also=requester) does."""

from __future__ import annotations

import pytest

from ota_deploy.local.gateway.broker import Broker
from ota_deploy.mqtt.packets import Connect, Publish
from ota_deploy.mqtt.parser import StreamParser


class Link:
    def __init__(self, client_id: str, version: int = 4) -> None:
        self.client_id = client_id
        self._version = version
        self.parser = StreamParser(version)
        self.received: list[tuple[str, bytes, int]] = []

    @property
    def version(self) -> int:
        return self._version

    def write(self, data: bytes) -> None:
        for p in self.parser.feed(data):
            if isinstance(p, Publish):
                self.received.append((p.topic, p.payload, p.qos))

    def close(self, reason_code: int | None = None) -> None:
        pass


TOPIC = "$aws/things/dev/streams/s/data/cbor"

# (requester's subscription, other subscribers' filters, is the requester connected)
CASES = [
    (None, [], True),
    ("$aws/things/dev/streams/+/data/cbor", [], True),
    ("$aws/things/dev/streams/+/data/cbor", ["$aws/things/+/streams/#"], True),
    (None, ["$aws/things/dev/streams/s/data/cbor"], True),
    ("$aws/things/dev/streams/s/data/cbor", [], False),
    (None, [], False),
]


def world(
    own: str | None, others: list[str], connected: bool, version: int
) -> tuple[Broker, dict[str, Link]]:
    b = Broker()
    links: dict[str, Link] = {}
    for cid in ["dev", *[f"o{i}" for i in range(len(others))]]:
        link = Link(cid, version)
        b.attach(link, Connect(cid, clean_session=False, protocol_level=version))
        links[cid] = link
    if own is not None:
        b.subscribe(links["dev"], [(own, 1)])
    for i, f in enumerate(others):
        b.subscribe(links[f"o{i}"], [(f, 1)])
    if not connected:
        b.detach(links["dev"])
    return b, links


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize(("own", "others", "connected"), CASES)
def test_reply_equals_route_with_also(
    own: str | None, others: list[str], connected: bool, version: int
) -> None:
    b1, l1 = world(own, others, connected, version)
    b2, l2 = world(own, others, connected, version)
    n1 = b1.reply(TOPIC, b"block", "dev")
    n2 = b2.route(TOPIC, b"block", 0, also="dev")
    assert n1 == n2
    assert {c: link.received for c, link in l1.items()} == {
        c: link.received for c, link in l2.items()
    }
    assert b1.stats == b2.stats
    assert not any(s.pending for s in b1.sessions.values())
    if connected:
        assert l1["dev"].received == [(TOPIC, b"block", 0)]  # once, at QoS 0
