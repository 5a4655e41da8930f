"""One simulated device as the fleet runner drives it: its agent, MQTT client, queue and task.

See ``fleet.runner`` for the flow: events (timers, HTTP results, connection changes, and
messages that arrive while the task is busy) go through the device queue to the device task;
messages that arrive while it is idle with nothing queued are handled at once in the MQTT
client's data callback (``Device._deliver``), with the actions that need no waiting. A block
of the download whose one outcome is the next GetStream request (nearly every block) takes
a fused path (``Device._deliver_publish``, ``DeviceAgent.handle_block``): the agent moves its
state as the general path would and hands back that request, written at once, with no action
list, ``Publish`` or ``Message`` built for it. The agent's timers (``StartTimer`` /
``CancelTimer``) share one loop handle per device (``fleet.device_timers``).

A device knows its fleet only through ``DeviceContext``: the settings every device shares and
the few services the fleet offers (connect slots and pacing, HTTP GET, result recording,
background tasks, the shared counters). ``Fleet`` builds one context for all its devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from ota_deploy.core.clock import Clock
from ota_deploy.fleet.agent import DeviceAgent
from ota_deploy.fleet.behaviour import BehaviourChooser
from ota_deploy.fleet.connect_guard import ConnectGuard
from ota_deploy.fleet.device_timers import DeviceTimers
from ota_deploy.fleet.events import (
    Action,
    CancelTimer,
    Connected,
    ConnectionLost,
    DropConnection,
    HttpCompleted,
    HttpGet,
    JobFinished,
    JobResult,
    Publish,
    StartTimer,
    Subscribe,
)
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.stats import FleetStats
from ota_deploy.mqtt.client import Message, MqttClient
from ota_deploy.mqtt.errors import MqttError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceContext:
    """What every device of one fleet shares: settings, and the fleet's services."""

    options: FleetOptions
    clock: Clock
    public_key: ec.EllipticCurvePublicKey | None
    chooser: BehaviourChooser | None  # exact fleet-wide fault shares
    mqtt_host: str
    mqtt_port: int
    keepalive: int
    server_hostname: str | None
    ssl_for: Callable[[str], ssl_module.SSLContext | None]  # the thing's TLS context, if any
    connect_slots: asyncio.Semaphore  # CONNECTs in progress at once
    pace_connect: Callable[[], Awaitable[None]]  # waits for this device's turn to CONNECT
    counters: FleetStats  # live counters, shared by the fleet's devices
    guard: ConnectGuard  # connect failures of the whole fleet: one warning per condition
    http_get: Callable[[str], Awaitable[HttpCompleted]]
    record: Callable[[JobResult], None]  # an agent finished an execution
    spawn: Callable[[Coroutine[Any, Any, Any]], None]  # a background task the fleet owns


@dataclass(frozen=True, slots=True)
class _Actions:
    """Actions left for the device task by ``Device._deliver`` (from one that must wait)."""

    actions: list[Action]


class Device:
    """Drives one agent with one MQTT client."""

    __slots__ = (
        "_busy",
        "_closing",
        "_reconnect",
        "_watch",
        "agent",
        "client",
        "counters",
        "ctx",
        "failures",
        "queue",
        "ready",
        "task",
        "thing",
        "timers",
        "up",
    )

    def __init__(self, ctx: DeviceContext, thing: str) -> None:
        self.ctx = ctx
        self.thing = thing
        self.counters = ctx.counters
        self.agent = DeviceAgent(
            thing,
            ctx.options,
            clock=ctx.clock,
            public_key=ctx.public_key,
            chooser=ctx.chooser,
        )
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.client = MqttClient(
            thing,
            host=ctx.mqtt_host,
            port=ctx.mqtt_port,
            ssl=ctx.ssl_for(thing),
            keepalive=ctx.keepalive,
            server_hostname=ctx.server_hostname,
        )
        self.client.messages = self.queue  # queued messages land in the device queue directly
        self.client.on_message = self._deliver
        self.client.on_publish = self._deliver_publish
        self._busy = False  # the device task is working on an item (it may be awaiting)
        self.timers = DeviceTimers(self.queue.put_nowait)
        self.ready = asyncio.Event()  # first connect + subscribe done (or failed for good)
        self.up = False
        self.failures = 0
        self.task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._reconnect: asyncio.Task[None] | None = None
        self._closing = False

    # -- connection --------------------------------------------------------------------

    async def connect(self, delay: float = 0.0) -> None:
        """Connect (retrying with backoff), then queue ``Connected`` for the agent.

        Failures go to the fleet's ``ConnectGuard``: one warning per condition for the whole
        fleet (never one per device), a shared pause while the process is out of files or
        memory, and this device's retry delay."""
        if delay:
            await asyncio.sleep(delay)
        ctx, counters, guard = self.ctx, self.counters, self.ctx.guard
        while not self._closing:
            try:
                await guard.wait_turn()
                async with ctx.connect_slots:
                    await ctx.pace_connect()
                    await self.client.connect()
            except (TimeoutError, OSError, MqttError, MemoryError) as err:
                self.failures += 1
                counters.connect_failures += 1
                if self.failures == 3:
                    self.ready.set()  # do not hold up Fleet.start for an unreachable device
                await asyncio.sleep(guard.failed(err, self.failures))
                continue
            guard.succeeded()
            self.failures = 0
            counters.connects += 1
            counters.connected += 1
            self.up = True
            self._watch = asyncio.create_task(self._watch_close())
            self.queue.put_nowait(Connected())
            return

    async def _watch_close(self) -> None:
        await self.client.closed.wait()
        if self.up:
            self.up = False
            self.counters.connected -= 1
        self.queue.put_nowait(ConnectionLost())

    def _schedule_reconnect(self, delay: float) -> None:
        if self._closing:
            return
        self.counters.reconnects += 1
        self._reconnect = asyncio.create_task(self.connect(delay))

    async def close(self) -> None:
        self._closing = True
        self.timers.close()
        for task in (self._reconnect, self._watch):
            if task is not None:
                task.cancel()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.disconnect(), 5)
        if self.up:
            self.up = False
            self.counters.connected -= 1

    # -- event loop --------------------------------------------------------------------

    def _deliver(self, msg: Message) -> None:
        """MqttClient callback: handle ``msg`` now if the device task is idle and nothing is
        queued before it, else queue it (see the module docstring)."""
        if self._busy or self._closing or self.task is None or not self.queue.empty():
            self.queue.put_nowait(msg)
            return
        self.counters.messages_in += 1
        try:
            actions = self.agent.handle_message(msg.topic, msg.payload)
        except Exception:  # a bug must not silence the device for good: log, go on
            log.exception("%s: agent failed on 'MessageReceived'", self.thing)
            return
        self._perform_all(actions)

    def _deliver_publish(self, topic: str, payload: bytes) -> None:
        """``_deliver`` for a QoS 0 message (MqttClient's ``on_publish``), fused with the
        agent's hot path: a block whose one outcome is the next request
        (``DeviceAgent.handle_block``) is answered by writing that request at once, without
        an action list; anything else is performed as ``_deliver`` performs it."""
        if self._busy or self._closing or self.task is None or not self.queue.empty():
            self.queue.put_nowait(Message(topic, payload, 0, False))
            return
        self.counters.messages_in += 1
        try:
            outcome = self.agent.handle_block(topic, payload)
        except Exception:  # a bug must not silence the device for good: log, go on
            log.exception("%s: agent failed on 'MessageReceived'", self.thing)
            return
        if isinstance(outcome, list):
            self._perform_all(outcome)
        elif self.client.publish_nowait(outcome[0], outcome[1]):
            self.counters.messages_out += 1
        else:  # the link is down or its buffer full: the device task waits for room
            self.queue.put_nowait(_Actions([Publish(outcome[0], outcome[1])]))

    def _perform_all(self, actions: list[Action]) -> None:
        """Perform ``actions`` now, up to the first that must be awaited: that one and those
        after it go to the device task, in order."""
        for i, action in enumerate(actions):
            try:
                done = self._perform_now(action)
            except Exception:
                log.exception("%s: performing %s failed", self.thing, type(action).__name__)
                done = True
            if not done:  # this one must be awaited: the task does it and what follows
                self.queue.put_nowait(_Actions(actions[i:]))
                return

    async def run(self) -> None:
        agent, queue, stats = self.agent, self.queue, self.counters
        dropping: float | None = None
        while True:
            item = await queue.get()
            self._busy = True
            try:
                if type(item) is _Actions:
                    actions = item.actions
                elif type(item) is Message:
                    stats.messages_in += 1
                    try:
                        actions = agent.handle_message(item.topic, item.payload)
                    except Exception:  # a bug must not silence the device for good
                        log.exception("%s: agent failed on 'MessageReceived'", self.thing)
                        continue
                else:
                    if isinstance(item, ConnectionLost):
                        self._watch = None
                        delay = dropping if dropping is not None else random.uniform(0.2, 1.0)
                        dropping = None
                        self._schedule_reconnect(delay)
                    try:
                        actions = agent.handle(item)
                    except Exception:  # a bug must not silence the device for good
                        log.exception("%s: agent failed on %r", self.thing, type(item).__name__)
                        continue
                for action in actions:
                    if isinstance(action, DropConnection):
                        dropping = action.reconnect_after
                        with contextlib.suppress(Exception):
                            await self.client.disconnect()
                    elif not self._perform_now(action):
                        await self._perform(action)
            finally:
                self._busy = False

    def _perform_now(self, action: Action) -> bool:
        """Perform ``action`` if that needs no waiting; False if it must be awaited."""
        kind = type(action)
        if kind is Publish:
            assert isinstance(action, Publish)
            if not self.client.publish_nowait(action.topic, action.payload):
                return False  # link down or buffer full: _perform awaits (or drops) it
            self.counters.messages_out += 1
        elif kind is StartTimer:
            assert isinstance(action, StartTimer)
            self.timers.start(action.name, action.delay, action.token)
        elif kind is CancelTimer:
            assert isinstance(action, CancelTimer)
            self.timers.cancel(action.name)
        elif kind is HttpGet:
            assert isinstance(action, HttpGet)
            self.ctx.spawn(self._http_get(action.url))
        elif kind is JobFinished:
            assert isinstance(action, JobFinished)
            self.ctx.record(action.result)
        else:
            return False  # Subscribe, DropConnection
        return True

    async def _perform(self, action: Action) -> None:
        """The actions that wait: a publish that could not be written now, SUBSCRIBE."""
        if isinstance(action, Publish):
            self.counters.messages_out += 1
            with contextlib.suppress(MqttError):
                await self.client.publish(action.topic, action.payload, 0)
        elif isinstance(action, Subscribe):
            try:
                await self.client.subscribe([(t, 0) for t in action.topics])
            except MqttError:
                return  # the link dropped: ConnectionLost follows, we subscribe again
            self.ready.set()
        elif not self._perform_now(action):
            raise TypeError(f"unknown action {action!r}")

    async def _http_get(self, url: str) -> None:
        event = await self.ctx.http_get(url)
        self.queue.put_nowait(event)
