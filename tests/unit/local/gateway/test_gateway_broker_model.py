"""Stateful property test: the broker routes exactly like a naive reference model.

Clients connect (clean or persistent), subscribe, unsubscribe, disconnect and publish in any
order; after every step each connected client must have received exactly the messages the
model predicts (one copy per matching publish, QoS = min(publish, highest granted)), and
persistent clients get their offline QoS 1 messages on reconnect.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ota_deploy.local.gateway.broker import Broker
from ota_deploy.mqtt.packets import Connect, Publish
from ota_deploy.mqtt.parser import StreamParser
from ota_deploy.mqtt.topics import topic_matches

CLIENTS = ["c1", "c2", "c3"]
FILTERS = ["a/b", "a/+", "a/#", "#", "+/b", "$x/#", "$x/b", "+"]
TOPICS = ["a/b", "a", "a/c", "b/b", "$x/b", "c"]


class Link:
    def __init__(self, cid: str) -> None:
        self.client_id = cid
        self.parser = StreamParser()
        self.got: list[tuple[str, bytes, int]] = []

    @property
    def version(self) -> int:
        return 4

    def write(self, data: bytes) -> None:
        for p in self.parser.feed(data):
            assert isinstance(p, Publish)
            self.got.append((p.topic, p.payload, p.qos))

    def close(self, reason_code: int | None = None) -> None:
        pass


class BrokerModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.broker = Broker()
        self.links: dict[str, Link] = {}
        self.persistent: dict[str, bool] = {}
        self.subs: dict[str, dict[str, int]] = {}  # kept for persistent offline clients
        self.expected: dict[str, list[tuple[str, bytes, int]]] = {}
        self.queued: dict[str, list[tuple[str, bytes, int]]] = {}
        self.n = 0

    @initialize(cleans=st.lists(st.booleans(), min_size=3, max_size=3))
    def connect_all(self, cleans: list[bool]) -> None:
        for cid, clean in zip(CLIENTS, cleans, strict=True):
            self.connect(cid, clean)

    @rule(cid=st.sampled_from(CLIENTS), clean=st.booleans())
    def connect(self, cid: str, clean: bool) -> None:
        if cid in self.links:
            return
        link = Link(cid)
        present = self.broker.attach(link, Connect(cid, clean_session=clean))
        had = cid in self.subs and self.persistent.get(cid, False)
        assert present == (had and not clean)
        if clean or not had:
            self.subs[cid] = {}
            self.queued[cid] = []
        self.persistent[cid] = not clean
        self.links[cid] = link
        self.broker.resume(link)
        self.expected[cid] = list(self.queued.pop(cid, []))
        self.queued[cid] = []
        for pid in list(self.broker.sessions[cid].inflight):  # ack what resume sent
            self.broker.acknowledge(link, pid)

    @rule(cid=st.sampled_from(CLIENTS))
    def disconnect(self, cid: str) -> None:
        link = self.links.pop(cid, None)
        if link is None:
            return
        self.broker.detach(link)
        if not self.persistent[cid]:
            self.subs.pop(cid, None)

    @rule(cid=st.sampled_from(CLIENTS), f=st.sampled_from(FILTERS), qos=st.integers(0, 1))
    def subscribe(self, cid: str, f: str, qos: int) -> None:
        link = self.links.get(cid)
        if link is None:
            return
        assert self.broker.subscribe(link, [(f, qos)]) == [qos]
        self.subs[cid][f] = qos

    @rule(cid=st.sampled_from(CLIENTS), f=st.sampled_from(FILTERS))
    def unsubscribe(self, cid: str, f: str) -> None:
        link = self.links.get(cid)
        if link is None:
            return
        self.broker.unsubscribe(link, [f])
        self.subs[cid].pop(f, None)

    @rule(topic=st.sampled_from(TOPICS), qos=st.integers(0, 1))
    def publish(self, topic: str, qos: int) -> None:
        self.n += 1
        payload = str(self.n).encode()
        self.broker.route(topic, payload, qos)
        for cid, filters in self.subs.items():
            granted = [g for f, g in filters.items() if topic_matches(f, topic)]
            if not granted:
                continue
            eff = min(qos, max(granted))
            if cid in self.links:
                self.expected[cid].append((topic, payload, eff))
            elif self.persistent.get(cid) and eff == 1:
                self.queued[cid].append((topic, payload, 1))
        for cid, link in self.links.items():  # clients acknowledge promptly
            for pid in list(self.broker.sessions[cid].inflight):
                self.broker.acknowledge(link, pid)

    @invariant()
    def deliveries_match_model(self) -> None:
        for cid, link in self.links.items():
            assert link.got == self.expected[cid]


BrokerModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestBrokerModel = BrokerModel.TestCase
