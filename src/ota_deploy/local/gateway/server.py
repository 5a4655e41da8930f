"""MqttGateway: the asyncio MQTT server of the local AWS IoT.

Two listeners (``listener.Listener``): plain TCP, open to anyone (the local convenience), and,
after ``start_tls``, MQTT over mutual TLS (AWS's port 8883 protocol), where every connection
carries a ``DeviceGuard`` and AWS IoT policies apply (``tls_front.TlsFront`` keeps the TLS
connections in step with the device registry). Both feed the same broker.

Client PUBLISHes on ``$aws/...`` topics go to the first :class:`ReservedTopicHandler` whose
``handles(topic)`` is true (AWS IoT answers them itself; they are not routed); every other
PUBLISH is routed to subscribers by the :class:`Broker`. A handler answers through ``reply``,
which reaches the requesting client even without a subscription: the Jobs replies reach it
alone, other replies (MQTT file delivery) also every other subscriber of the topic
(``aws_rules.requester_only``; ``Broker.reply``). A handler may
return an awaitable; it then runs as a task so the connection keeps reading, and its errors
are counted (``handler_errors``) and logged once per condition (``runtime.failure_log``), never
fatal to the connection.

The service side publishes with :meth:`MqttGateway.publish` (the ``Publisher`` contract);
everything runs on the gateway's event loop.

Who does what: :class:`Broker` (sessions, subscriptions, retained messages, fan-out) and
:class:`Presence` (lifecycle events) are sans-I/O; each accepted socket is a
:class:`GatewayConnection`, which asks this server for what it needs through the
:class:`ConnectionHost` methods below (link opened/closed, client connected/disconnected,
client published). ``clock`` times the protocol (connect timeout, keep-alive, session expiry)
(a ``MonotonicClock`` by default: the clients count keep-alive in real seconds, so only tests
give it a scaled clock); ``event_clock`` stamps lifecycle events (the wall clock).

Sharing the loop: the gateway does at most a slice of work per loop iteration
(``fair_share.FairShare``, ``turns``); connections whose bytes arrive after the slice is used
up are handled in the next iterations, first come first served, so the HTTP control plane,
the service's tick and the timers on the same loop answer promptly under a fleet's load.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from ota_deploy.core.clock import Clock, MonotonicClock, SystemClock, TimeSource
from ota_deploy.local.auth import MutualTls
from ota_deploy.local.contracts import DeviceAuthority, ReservedTopicHandler
from ota_deploy.local.faults import FaultInjector
from ota_deploy.local.gateway.aws_rules import requester_only, reserved_operation
from ota_deploy.local.gateway.broker import Broker
from ota_deploy.local.gateway.connection import (
    AWS_MAX_PAYLOAD,
    ConnectionLimits,
    GatewayConnection,
)
from ota_deploy.local.gateway.fair_share import FairShare
from ota_deploy.local.gateway.listener import Listener, bind_socket
from ota_deploy.local.gateway.mqtt_faults import (
    INTERNAL_ERROR,
    REQUEST_THROTTLED,
    SERVICE,
    active,
    rejected_reply,
)
from ota_deploy.local.gateway.preconnect import PreConnectBudget
from ota_deploy.local.gateway.presence import Presence
from ota_deploy.local.gateway.tls_front import TlsFront
from ota_deploy.mqtt.packets import Properties
from ota_deploy.runtime.failure_log import FailureLog

log = logging.getLogger(__name__)

_MAX_ROUTES = 65_536  # remembered $aws/ topics; simply forgotten when full (a few per device)


class MqttGateway:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        handlers: Sequence[ReservedTopicHandler] = (),
        max_payload: int = AWS_MAX_PAYLOAD,
        connect_timeout: float = 30.0,
        session_expiry: float = 3600.0,
        max_write_buffer: int = 64 * 1024 * 1024,
        clock: TimeSource | None = None,
        event_clock: Clock | None = None,
        faults: FaultInjector | None = None,
        failures: FailureLog | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls_port: int | None = None
        self.handlers: list[ReservedTopicHandler] = list(handlers)
        self.limits = ConnectionLimits(max_payload, connect_timeout, max_write_buffer)
        self.pre_connect = PreConnectBudget()
        self.turns = FairShare()  # bounded work per loop iteration (fair_share.py)
        self.faults = active(faults)  # asked per packet only when it may inject something
        self.clock: TimeSource = clock if clock is not None else MonotonicClock()
        self.broker = Broker(clock=self.clock, session_expiry=session_expiry)
        self.presence = Presence(self.broker, event_clock or SystemClock())
        self.sweep_interval = 10.0
        self.tls: TlsFront | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id = 0
        self._links: set[GatewayConnection] = set()
        # $aws/ topic -> (its handler or None, replies to the requester alone), for the
        # handlers there were (their count: the list is only ever added to)
        self._routes: dict[str, tuple[ReservedTopicHandler | None, bool]] = {}
        self._routes_for = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.handler_errors = 0
        # repeated failures: one line per condition (shared with the rest of LocalAwsIot)
        self.failures = failures if failures is not None else FailureLog(log)

    async def start(self) -> int:
        """Listen on plain TCP; returns the bound port."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._thread_id = threading.get_ident()
        self.turns.bind(loop)
        listener = Listener(
            bind_socket(self.host, self.port), lambda: GatewayConnection(self), name="mqtt"
        )
        listener.start()
        self._listeners.append(listener)
        self.port = listener.port
        self._sweeper = loop.create_task(self._sweep_sessions())
        return self.port

    async def start_tls(self, tls: MutualTls, authority: DeviceAuthority, *, port: int = 0) -> int:
        """Listen for MQTT over mutual TLS (``tls.context``), admitting and authorizing with
        ``authority``; returns the bound port. The front registers itself as the authority's
        listener, so certificate, policy and trust-anchor changes reach the live connections."""
        front = TlsFront(self, tls, authority)
        listener = Listener(
            bind_socket(self.host, port),
            front.new_connection,
            name="mqtts",
            ssl=tls.context,
            handshake_timeout=self.limits.connect_timeout,
        )
        listener.start()
        self._listeners.append(listener)
        self.tls = front
        authority.add_listener(front)
        self.tls_port = listener.port
        return listener.port

    async def _sweep_sessions(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            self.broker.expire_sessions()
            self.failures.report_due()

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            await listener.close()
        for link in list(self._links):
            link.abort("SERVER_INITIATED_DISCONNECT")
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.failures.flush()

    def disconnect_client(self, client_id: str) -> bool:
        """Drop a client's connection (fault injection, tests); False if not connected."""
        link = self.broker.links.get(client_id)
        if link is None:
            return False
        link.close()
        return True

    def add_handler(self, handler: ReservedTopicHandler) -> None:
        self.handlers.append(handler)

    def connected_clients(self) -> set[str]:
        return self.broker.connected_clients()

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """Service-side publish to the subscribers of ``topic`` (the ``Publisher`` contract).

        Safe to call from any thread: off the gateway's loop thread it is handed over with
        ``call_soon_threadsafe`` (transports are not thread-safe)."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._thread_id:
            loop.call_soon_threadsafe(self.broker.route, topic, payload, qos)
            return
        self.broker.route(topic, payload, qos)

    def stats(self) -> dict[str, int]:
        s = self.broker.stats
        return {
            "connected": len(self.broker.links),
            "sessions": len(self.broker.sessions),
            "messages_in": s.messages_in,
            "messages_out": s.messages_out,
            "bytes_out": s.bytes_out,
            "connections": s.connections,
            "takeovers": s.takeovers,
            "handler_errors": self.handler_errors,
            "accepted": sum(lst.accepted for lst in self._listeners),
            "pre_connect_refused": self.pre_connect.refused,
            "tls_refused": sum(lst.refused for lst in self._listeners),
            "turns_waited": self.turns.deferred,  # connections queued behind a used-up slice
        }

    def call_on_loop(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the gateway's loop: now when called there, else handed over (the
        connections and the broker are not thread-safe)."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._thread_id:
            loop.call_soon_threadsafe(fn)
            return
        fn()

    # -- ConnectionHost: what the connections call ---------------------------------------------

    def link_opened(self, link: GatewayConnection) -> None:
        self._links.add(link)
        if link.guard is not None and self.tls is not None:
            self.tls.link_opened(link)

    def link_closed(self, link: GatewayConnection) -> None:
        self._links.discard(link)
        if link.guard is not None and self.tls is not None:
            self.tls.link_closed(link)

    def client_connected(self, client_id: str, session_id: str, ip_address: str | None) -> int:
        return self.presence.connected(client_id, session_id, ip_address)

    def client_disconnected(
        self, client_id: str, session_id: str, version_number: int, reason: str
    ) -> None:
        self.presence.disconnected(client_id, session_id, version_number, reason)

    def client_published(
        self,
        client_id: str,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: Properties | None = None,
    ) -> None:
        """``$aws/...`` topics go to the first handler that takes them (faults first, when
        one is aimed at the request); the rest are routed."""
        if topic.startswith("$aws/"):
            route = self._routes.get(topic)
            if route is None or self._routes_for != len(self.handlers):
                route = self._route(topic)
            handler, alone = route
            if handler is not None:
                if self.faults is None or not self._aimed(handler, client_id, topic, payload):
                    broker = self.broker

                    def reply(reply_topic: str, reply_payload: bytes) -> None:
                        broker.reply(reply_topic, reply_payload, client_id, alone)

                    self._run_handler(handler, client_id, topic, payload, reply)
                return
        self.broker.publish(topic, payload, qos, retain, properties)

    def _route(self, topic: str) -> tuple[ReservedTopicHandler | None, bool]:
        """The first handler that takes ``topic`` (None: routed to subscribers) and whether
        its replies go to the requester alone; kept per topic (``handles`` answers by the
        topic alone), forgotten when handlers are added."""
        if self._routes_for != len(self.handlers) or len(self._routes) >= _MAX_ROUTES:
            self._routes.clear()
            self._routes_for = len(self.handlers)
        chosen = next((h for h in self.handlers if h.handles(topic)), None)
        route = self._routes[topic] = (chosen, requester_only(topic))
        return route

    def _aimed(
        self, handler: ReservedTopicHandler, client_id: str, topic: str, payload: bytes
    ) -> bool:
        """Whether a fault is aimed at this request (then it is dealt with here)."""
        operation = reserved_operation(topic)
        if operation is None or self.faults is None:
            return False
        decision = self.faults.decide(SERVICE, operation)
        action = decision.action
        if decision.latency_s:
            delayed = self._after(
                decision.latency_s,
                lambda: self._request_fault(handler, client_id, topic, payload, action),
            )
            self._spawn(self._guard(delayed, handler, topic))
            return True
        if action is None:
            return False
        self._request_fault(handler, client_id, topic, payload, action)
        return True

    def _reply_to(self, client_id: str, request_topic: str) -> Callable[[str, bytes], None]:
        """The ``reply`` of one request: to the requester alone for a Jobs request, else also
        to the reply topic's subscribers (``aws_rules.requester_only``)."""
        broker = self.broker
        alone = requester_only(request_topic)

        def reply(reply_topic: str, reply_payload: bytes) -> None:
            broker.reply(reply_topic, reply_payload, client_id, alone)

        return reply

    def _request_fault(
        self,
        handler: ReservedTopicHandler,
        client_id: str,
        topic: str,
        payload: bytes,
        action: str | None,
    ) -> None:
        """A reserved request hit by an injected fault (``mqtt_faults.py``)."""
        link = self.broker.links.get(client_id)
        if action is None:
            self._run_handler(handler, client_id, topic, payload, self._reply_to(client_id, topic))
        elif action == "lose_reply":  # the request is carried out; its replies are lost
            self._run_handler(
                handler, client_id, topic, payload, lambda t, p: None, lambda: _drop(link)
            )
        elif action == "drop":
            _drop(link)
        else:
            code = REQUEST_THROTTLED if action == "throttle" else INTERNAL_ERROR
            message = "Rate exceeded" if action == "throttle" else "An internal error occurred"
            rejected = rejected_reply(topic, payload, code, message, self.presence.clock.now())
            if rejected is not None:
                self._reply_to(client_id, topic)(*rejected)

    def _run_handler(
        self,
        handler: ReservedTopicHandler,
        client_id: str,
        topic: str,
        payload: bytes,
        reply: Callable[[str, bytes], None],
        then: Callable[[], None] | None = None,
    ) -> None:
        """Run the handler; ``then`` once it is done (at once, or when its awaitable is)."""
        try:
            result = handler.handle(client_id, topic, payload, reply)
        except Exception as err:
            self._handler_failed(handler, topic, err)
            result = None
        if result is not None and inspect.isawaitable(result):
            self._spawn(self._guard(result, handler, topic, then))
        elif then is not None:
            then()

    def _handler_failed(self, handler: object, topic: str, err: Exception) -> None:
        self.handler_errors += 1
        what = f"reserved-topic handler {type(handler).__name__}"
        self.failures.failed(what, err, detail=f"on {topic}")

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _after(delay: float, fn: Callable[[], None]) -> None:
        await asyncio.sleep(delay)
        fn()

    async def _guard(
        self,
        awaitable: Awaitable[None],
        handler: object,
        topic: str,
        then: Callable[[], None] | None = None,
    ) -> None:
        try:
            await awaitable
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self._handler_failed(handler, topic, err)
        if then is not None:
            then()


def _drop(link: object) -> None:
    """Close a requester's connection for an injected fault (if it is still there)."""
    if isinstance(link, GatewayConnection):
        link.fault_close()
