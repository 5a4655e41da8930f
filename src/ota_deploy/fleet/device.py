"""One simulated device as the fleet runner drives it: its agent, MQTT client, queue and task.

See ``fleet.runner`` for the flow: events (timers, HTTP results, connection changes, and
messages that arrive while the task is busy) go through the device queue to the device task;
messages that arrive while it is idle with nothing queued are handled at once in the MQTT
client's data callback (``_Device._deliver``), with the actions that need no waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ota_deploy.fleet.agent import DeviceAgent
from ota_deploy.fleet.events import (
    Action,
    CancelTimer,
    Connected,
    ConnectionLost,
    DropConnection,
    HttpGet,
    JobFinished,
    Publish,
    StartTimer,
    Subscribe,
)
from ota_deploy.mqtt.client import Message, MqttClient
from ota_deploy.mqtt.errors import MqttError

if TYPE_CHECKING:
    from ota_deploy.fleet.runner import Fleet

log = logging.getLogger("ota_deploy.fleet.runner")

RECONNECT_MAX_DELAY = 30.0


@dataclass(frozen=True, slots=True)
class _Actions:
    """Actions left for the device task by ``_Device._deliver`` (from one that must wait)."""

    actions: list[Action]


class _Device:
    """Drives one agent with one MQTT client."""

    def __init__(self, fleet: Fleet, thing: str) -> None:
        self.fleet = fleet
        self.thing = thing
        self.agent = DeviceAgent(
            thing,
            fleet.options,
            clock=fleet.clock,
            public_key=fleet.public_key,
            chooser=fleet.chooser,
        )
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.client = MqttClient(
            thing,
            host=fleet.mqtt_host,
            port=fleet.mqtt_port,
            ssl=fleet.ssl_for(thing) if fleet.ssl_for is not None else fleet.ssl,
            keepalive=fleet.keepalive,
            server_hostname=fleet.server_hostname,
        )
        self.client.messages = self.queue  # queued messages land in the device queue directly
        self.client.on_message = self._deliver
        self._busy = False  # the device task is working on an item (it may be awaiting)
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.ready = asyncio.Event()  # first connect + subscribe done (or failed for good)
        self.up = False
        self.failures = 0
        self.task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._reconnect: asyncio.Task[None] | None = None
        self._closing = False

    # -- connection --------------------------------------------------------------------

    async def connect(self, delay: float = 0.0) -> None:
        """Connect (retrying with backoff), then queue ``Connected`` for the agent."""
        if delay:
            await asyncio.sleep(delay)
        fleet = self.fleet
        while not self._closing:
            try:
                async with fleet.connect_slots:
                    await fleet.pace_connect()
                    await self.client.connect()
            except (TimeoutError, OSError, MqttError) as err:
                self.failures += 1
                fleet.counters.connect_failures += 1
                if self.failures == 3:
                    log.warning("%s: cannot connect (%s); still trying", self.thing, err)
                    self.ready.set()  # do not hold up Fleet.start for an unreachable device
                await asyncio.sleep(min(RECONNECT_MAX_DELAY, 0.5 * 2 ** min(self.failures, 6)))
                continue
            self.failures = 0
            fleet.counters.connects += 1
            fleet.counters.connected += 1
            self.up = True
            self._watch = asyncio.create_task(self._watch_close())
            self.queue.put_nowait(Connected())
            return

    async def _watch_close(self) -> None:
        await self.client.closed.wait()
        if self.up:
            self.up = False
            self.fleet.counters.connected -= 1
        self.queue.put_nowait(ConnectionLost())

    def _schedule_reconnect(self, delay: float) -> None:
        if self._closing:
            return
        self.fleet.counters.reconnects += 1
        self._reconnect = asyncio.create_task(self.connect(delay))

    async def close(self) -> None:
        self._closing = True
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()
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
            self.fleet.counters.connected -= 1

    # -- event loop --------------------------------------------------------------------

    def _deliver(self, msg: Message) -> None:
        """MqttClient callback: handle ``msg`` now if the device task is idle and nothing is
        queued before it, else queue it (see the module docstring)."""
        if self._busy or self._closing or self.task is None or not self.queue.empty():
            self.queue.put_nowait(msg)
            return
        self.fleet.counters.messages_in += 1
        try:
            actions = self.agent.handle_message(msg.topic, msg.payload)
        except Exception:  # a bug must not silence the device for good: log, go on
            log.exception("%s: agent failed on 'MessageReceived'", self.thing)
            return
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
        agent, queue, stats = self.agent, self.queue, self.fleet.counters
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
            self.fleet.counters.messages_out += 1
        elif kind is StartTimer:
            assert isinstance(action, StartTimer)
            old = self.timers.pop(action.name, None)
            if old is not None:
                old.cancel()
            self.timers[action.name] = asyncio.get_running_loop().call_later(
                action.delay, self.queue.put_nowait, self.fleet.timer_event(action)
            )
        elif kind is CancelTimer:
            assert isinstance(action, CancelTimer)
            handle = self.timers.pop(action.name, None)
            if handle is not None:
                handle.cancel()
        elif kind is HttpGet:
            assert isinstance(action, HttpGet)
            self.fleet.spawn(self._http_get(action.url))
        elif kind is JobFinished:
            assert isinstance(action, JobFinished)
            self.fleet.record(action.result)
        else:
            return False  # Subscribe, DropConnection
        return True

    async def _perform(self, action: Action) -> None:
        """The actions that wait: a publish that could not be written now, SUBSCRIBE."""
        if isinstance(action, Publish):
            self.fleet.counters.messages_out += 1
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
        event = await self.fleet.http_get(url)
        self.queue.put_nowait(event)
