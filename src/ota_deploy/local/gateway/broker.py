"""Routing state of the gateway, free of sockets: sessions, subscriptions, retained messages.

The sans-I/O core the server drives. A live connection is a :class:`Link` (anything that can
write bytes and close). The socket layer (:mod:`.connection`) calls ``attach`` after a CONNECT,
``detach`` when the link ends, ``subscribe``/``unsubscribe``/``acknowledge`` for the client's
packets; the server (:mod:`.server`) calls ``publish`` for a client's ordinary PUBLISH (retain,
then route), ``route`` for the service side's and the lifecycle events, ``reply`` for a
reserved-topic answer and ``expire_sessions`` now and then. Time comes from the injected clock.

Fan-out: subscribers matching a topic come from a :class:`SubscriptionIndex` (exact filters by
dict lookup, wildcard filters by a trie walk), merged per client id with the highest granted
QoS, so a client with overlapping subscriptions gets one copy. QoS 0 PUBLISH bytes are
encoded once per protocol version and reused for every subscriber. QoS 1 deliveries are kept
in the session's in-flight table until PUBACK; for an offline persistent session they are
queued and sent (with in-flight ones re-sent, DUP set) when the client reconnects.

Authorization (mutual-TLS connections only): a link attached with ``can_receive`` gets only
the deliveries its policy allows (iot:Receive, checked per delivery; denied ones are not sent,
as AWS IoT does not deliver them), and ``subscribe`` takes an ``authorize`` check per topic
filter (iot:Subscribe) whose refusals get a failure code in the SUBACK. Links without checks
(the plain listener) cost one dict test per routed message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from ota_deploy.core.clock import Clock, SystemClock
from ota_deploy.mqtt.codec import encode_publish
from ota_deploy.mqtt.packets import SUBACK_FAILURE, Connect, Properties
from ota_deploy.mqtt.properties import RECEIVE_MAXIMUM, SESSION_EXPIRY_INTERVAL
from ota_deploy.mqtt.session import QueuedMessage, ServerSessionState
from ota_deploy.mqtt.topics import SubscriptionIndex, topic_matches, valid_topic_filter

# MQTT 5 reason codes used below.
SESSION_TAKEN_OVER = 0x8E
TOPIC_FILTER_INVALID = 0x8F
NO_SUBSCRIPTION_EXISTED = 0x11
# A topic filter the client's policy does not allow: MQTT 3.1.1 has only the failure code 0x80;
# MQTT 5 says why, 0x87 Not authorized (AWS IoT's SUBACK reason codes:
# https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html, "MQTT reason codes").
NOT_AUTHORIZED = 0x87

ReceiveCheck = Callable[[str], bool]


class Link(Protocol):
    client_id: str

    @property
    def version(self) -> int: ...

    def write(self, data: bytes) -> None: ...

    def close(self, reason_code: int | None = None) -> None: ...


@dataclass
class BrokerStats:
    messages_in: int = 0
    messages_out: int = 0
    bytes_out: int = 0
    connections: int = 0
    takeovers: int = 0


class Broker:
    """``clock`` times persistent-session expiry; ``session_expiry`` is how long an offline
    3.1.1 persistent session is kept (AWS IoT's default is one hour,
    https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-persistent-sessions);
    MQTT 5 clients choose theirs with the Session Expiry Interval."""

    def __init__(self, *, clock: Clock | None = None, session_expiry: float = 3600.0) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.session_expiry = session_expiry
        self.sessions: dict[str, ServerSessionState] = {}
        self.links: dict[str, Link] = {}
        self.index: SubscriptionIndex[str, int] = SubscriptionIndex()
        self.retained: dict[str, QueuedMessage] = {}
        self.stats = BrokerStats()
        # client id -> its live link's iot:Receive check (mutual-TLS links only)
        self.receive_checks: dict[str, ReceiveCheck] = {}

    # -- connections -------------------------------------------------------------------------

    def attach(self, link: Link, connect: Connect, can_receive: ReceiveCheck | None = None) -> bool:
        """Make ``link`` the live connection of its client id; returns "session present".
        ``can_receive`` (topic -> allowed) filters what is delivered to it.

        An existing connection with the same client id is closed first (AWS IoT's
        DUPLICATE_CLIENTID disconnect; https://docs.aws.amazon.com/iot/latest/developerguide/
        life-cycle-events.html#connect-disconnect).
        """
        cid = link.client_id
        old = self.links.pop(cid, None)
        if old is not None and old is not link:
            self.stats.takeovers += 1
            old.close(SESSION_TAKEN_OVER)
        persistent = _is_persistent(connect)
        session = self.sessions.get(cid)
        present = False
        if session is not None and (connect.clean_session or not session.persistent):
            self._drop_session(session)
            session = None
        if session is None:
            session = ServerSessionState(cid, persistent)
            self.sessions[cid] = session
        else:
            present = True
            session.persistent = persistent
        session.disconnected_at = None
        if connect.protocol_level >= 5:
            session.expiry = float(connect.properties.get(SESSION_EXPIRY_INTERVAL, 0))
            session.receive_maximum = int(connect.properties.get(RECEIVE_MAXIMUM, 65535)) or 1
        else:
            session.expiry = self.session_expiry
            session.receive_maximum = 65535
        self.links[cid] = link
        if can_receive is not None:
            self.receive_checks[cid] = can_receive
        else:
            self.receive_checks.pop(cid, None)
        self.stats.connections += 1
        return present

    def resume(self, link: Link) -> None:
        """After CONNACK: re-send unacknowledged QoS 1 (DUP) and flush the offline queue."""
        session = self.sessions.get(link.client_id)
        if session is None or self.links.get(link.client_id) is not link:
            return
        for pid, msg in list(session.inflight.items()):
            link.write(
                encode_publish(
                    msg.topic, msg.payload, 1, False, True, pid, link.version, msg.properties
                )
            )
        self._flush(link, session)

    def _flush(self, link: Link, session: ServerSessionState) -> None:
        """Send queued messages while the client's in-flight window has room."""
        pending = session.pending
        check = self.receive_checks.get(link.client_id)
        while pending and len(session.inflight) < session.receive_maximum:
            msg = pending.popleft()
            if check is not None and not check(msg.topic):
                continue
            self._send(link, session, msg.topic, msg.payload, msg.qos, msg.retain, msg.properties)

    def detach(self, link: Link) -> None:
        """``link`` is gone; keep its session only if persistent and not taken over."""
        cid = link.client_id
        if self.links.get(cid) is not link:
            return  # taken over by a newer connection: the session is the new one's
        del self.links[cid]
        self.receive_checks.pop(cid, None)
        session = self.sessions.get(cid)
        if session is not None:
            if session.persistent and session.expiry > 0:
                session.disconnected_at = self.clock.now()
            else:
                self._drop_session(session)

    def expire_sessions(self) -> int:
        """Drop offline persistent sessions older than their expiry; returns how many."""
        now = self.clock.now()
        expired = [
            s
            for s in self.sessions.values()
            if s.disconnected_at is not None and s.disconnected_at + s.expiry <= now
        ]
        for session in expired:
            self._drop_session(session)
        return len(expired)

    def _drop_session(self, session: ServerSessionState) -> None:
        for topic_filter in session.subscriptions:
            self.index.remove(topic_filter, session.client_id)
        session.subscriptions.clear()
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    def connected_clients(self) -> set[str]:
        return set(self.links)

    # -- subscriptions -----------------------------------------------------------------------

    def subscribe(
        self,
        link: Link,
        requests: Iterable[tuple[str, int]],
        authorize: Callable[[str], bool] | None = None,
    ) -> list[int]:
        """Grant each (filter, options); QoS 2 is refused with 0x80 as AWS IoT does, and a
        filter ``authorize`` refuses gets 0x80 (3.1.1) / 0x87 Not authorized (MQTT 5)."""
        session = self.sessions[link.client_id]
        v5 = link.version >= 5
        granted: list[int] = []
        for topic_filter, options in requests:
            qos = options & 0x03
            if not valid_topic_filter(topic_filter) or topic_filter.startswith("$share/"):
                granted.append(TOPIC_FILTER_INVALID if v5 else SUBACK_FAILURE)
                continue
            if authorize is not None and not authorize(topic_filter):
                granted.append(NOT_AUTHORIZED if v5 else SUBACK_FAILURE)
                continue
            if qos > 1:
                granted.append(SUBACK_FAILURE)
                continue
            session.subscriptions[topic_filter] = qos
            self.index.add(topic_filter, link.client_id, qos)
            granted.append(qos)
        return granted

    def retained_for(self, filters: Iterable[tuple[str, int]]) -> list[QueuedMessage]:
        out: list[QueuedMessage] = []
        for topic_filter, qos in filters:
            for topic, msg in self.retained.items():
                if topic_matches(topic_filter, topic):
                    out.append(
                        QueuedMessage(topic, msg.payload, min(qos, msg.qos), True, msg.properties)
                    )
        return out

    def send_retained(self, link: Link, filters: Iterable[tuple[str, int]]) -> None:
        session = self.sessions.get(link.client_id)
        if session is None:
            return
        check = self.receive_checks.get(link.client_id)
        for msg in self.retained_for(filters):
            if check is not None and not check(msg.topic):
                continue
            self._send(link, session, msg.topic, msg.payload, msg.qos, True, msg.properties)

    def unsubscribe(self, link: Link, topics: Iterable[str]) -> list[int]:
        session = self.sessions[link.client_id]
        codes: list[int] = []
        for topic_filter in topics:
            existed = session.subscriptions.pop(topic_filter, None) is not None
            self.index.remove(topic_filter, link.client_id)
            codes.append(0 if existed else NO_SUBSCRIPTION_EXISTED)
        return codes

    def acknowledge(self, link: Link, packet_id: int) -> None:
        session = self.sessions.get(link.client_id)
        if session is not None and self.links.get(link.client_id) is link:
            session.acknowledge(packet_id)
            if session.pending:
                self._flush(link, session)

    # -- publishing --------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> int:
        """A client's PUBLISH (or will): kept as the topic's retained message when flagged,
        then routed; returns the number of deliveries."""
        if retain:
            self.retain(topic, payload, qos, properties)
        return self.route(topic, payload, qos, None, properties)

    def retain(
        self, topic: str, payload: bytes, qos: int, properties: Properties | None = None
    ) -> None:
        """Store (or, with an empty payload, clear) the retained message of ``topic``."""
        if payload:
            self.retained[topic] = QueuedMessage(topic, payload, qos, True, properties or None)
        else:
            self.retained.pop(topic, None)

    def route(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        also: str | None = None,
        properties: Properties | None = None,
    ) -> int:
        """Deliver to every matching subscriber (and to client ``also`` even if it has no
        matching subscription, at QoS 0); returns the number of deliveries. ``properties``
        (MQTT 5 PUBLISH properties such as user properties, response topic, correlation
        data) are forwarded to MQTT 5 subscribers."""
        if properties:
            properties = _forwardable(properties)
        self.stats.messages_in += 1
        targets = self.index.lookup(topic)
        cache: dict[int, bytes] = {}
        links = self.links
        checks = self.receive_checks
        n = 0
        if also is not None and also not in targets:
            link = links.get(also)
            check = checks.get(also) if checks else None
            if link is not None and (check is None or check(topic)):
                # the requester, at QoS 0 (it has no subscription)
                version = link.version
                first = cache[version] = encode_publish(
                    topic, payload, 0, False, False, None, version, properties
                )
                link.write(first)
                self.stats.bytes_out += len(first)
                self.stats.messages_out += 1
                n = 1
        if not targets:
            return n
        sessions = self.sessions
        for cid, granted in targets.items():
            if checks and cid in checks and not checks[cid](topic):
                continue  # iot:Receive denied: AWS IoT does not deliver it
            eff = granted if granted < qos else qos
            link = links.get(cid)
            if link is None:
                session = sessions.get(cid)
                if session is not None and session.persistent and eff == 1:
                    session.enqueue(QueuedMessage(topic, payload, 1, False, properties))
                    n += 1
                continue
            if eff == 0:
                version = link.version
                data = cache.get(version)
                if data is None:
                    data = cache[version] = encode_publish(
                        topic, payload, 0, False, False, None, version, properties
                    )
                link.write(data)
                self.stats.bytes_out += len(data)
                self.stats.messages_out += 1
            else:
                self._send(link, sessions[cid], topic, payload, 1, False, properties)
            n += 1
        return n

    def reply(
        self, topic: str, payload: bytes, client_id: str, requester_only: bool = False
    ) -> int:
        """A reserved-topic answer to ``client_id``, at QoS 0, whether it subscribed or not.

        ``requester_only``: the requester alone gets it (AWS IoT's Jobs replies). Otherwise it
        is ``route(topic, payload, 0, also=client_id)``: the topic's other subscribers get it
        too (the MQTT file delivery topics), with a short cut for the usual case where the
        requester is the topic's only subscriber (or it has none): the PUBLISH goes straight to
        its connection. Same deliveries, same counts."""
        if not requester_only:
            targets = self.index.lookup(topic)
            if targets and (len(targets) != 1 or client_id not in targets):
                return self.route(topic, payload, 0, also=client_id)
        self.stats.messages_in += 1
        link = self.links.get(client_id)
        if link is None:
            return 0  # QoS 0: nothing is kept for an offline session
        check = self.receive_checks.get(client_id) if self.receive_checks else None
        if check is not None and not check(topic):
            return 0
        data = encode_publish(topic, payload, 0, False, False, None, link.version)
        link.write(data)
        self.stats.bytes_out += len(data)
        self.stats.messages_out += 1
        return 1

    def _send(
        self,
        link: Link,
        session: ServerSessionState,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: Properties | None = None,
    ) -> None:
        pid = None
        if qos:
            pid = session.next_packet_id()
            if pid is None:  # the client's in-flight window is full: keep it for later
                session.enqueue(QueuedMessage(topic, payload, qos, retain, properties))
                return
            session.inflight[pid] = QueuedMessage(topic, payload, qos, retain, properties)
        data = encode_publish(topic, payload, qos, retain, False, pid, link.version, properties)
        link.write(data)
        self.stats.bytes_out += len(data)
        self.stats.messages_out += 1


def _is_persistent(connect: Connect) -> bool:
    """3.1.1: cleanSession=0. MQTT 5: Session Expiry Interval > 0 (clean start only says
    whether to discard an existing session)."""
    if connect.protocol_level >= 5:
        return bool(connect.properties.get(SESSION_EXPIRY_INTERVAL, 0))
    return not connect.clean_session


# MQTT 5 PUBLISH properties a broker forwards to subscribers (not topic alias, not subscription
# identifiers: those are per connection / per subscription).
_FORWARDED = frozenset({0x01, 0x02, 0x03, 0x08, 0x09, 0x26})


def _forwardable(properties: Properties) -> Properties | None:
    kept = {k: v for k, v in properties.items() if k in _FORWARDED}
    return kept or None
