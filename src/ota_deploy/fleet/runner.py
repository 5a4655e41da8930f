"""The fleet runner: one ``DeviceAgent`` per thing, each on its own MQTT connection.

Per device there is one asyncio task and one queue. The MQTT client delivers received
messages straight into that queue (its ``messages`` queue *is* the device queue), timers
(``loop.call_later``), HTTP downloads (aiohttp tasks) and connection changes put their events
there too, so the agent sees one ordered stream of events and its actions are performed in
order by the same task::

    MqttClient --Message--> device queue <--TimerFired / HttpCompleted / Connected / Lost--
    device task: event -> agent.handle -> actions -> publish / subscribe / call_later / GET

No threads per device: a thousand devices are a thousand tasks on one loop. Connects go
through a semaphore (and an optional rate limit for real AWS) so the gateway's accept backlog
is never flooded. The client id is the thing name, as AWS IoT policies expect.
``FleetThread`` runs a ``Fleet`` on a private loop in a background thread for synchronous
callers (``run --local``, ``demo``, tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl as ssl_module
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from ota_deploy.core.clock import Clock, SystemClock
from ota_deploy.fleet.agent import DeviceAgent
from ota_deploy.fleet.behaviour import BehaviourChooser
from ota_deploy.fleet.events import (
    Action,
    CancelTimer,
    Connected,
    ConnectionLost,
    DropConnection,
    Event,
    HttpCompleted,
    HttpGet,
    JobFinished,
    JobResult,
    MessageReceived,
    Publish,
    StartTimer,
    Subscribe,
    TimerFired,
)
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.stats import FleetStats
from ota_deploy.fleet.verify import load_public_key
from ota_deploy.mqtt.client import Message, MqttClient
from ota_deploy.mqtt.errors import MqttError

log = logging.getLogger(__name__)

MAX_CONCURRENT_CONNECTS = 64
RECONNECT_MAX_DELAY = 30.0


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
        self.client.messages = self.queue  # messages land in the device queue directly
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

    async def run(self) -> None:
        agent, queue, stats = self.agent, self.queue, self.fleet.counters
        dropping: float | None = None
        while True:
            item = await queue.get()
            event: Event
            if type(item) is Message:
                stats.messages_in += 1
                event = MessageReceived(item.topic, item.payload)
            else:
                event = item
                if isinstance(event, ConnectionLost):
                    self._watch = None
                    delay = dropping if dropping is not None else random.uniform(0.2, 1.0)
                    dropping = None
                    self._schedule_reconnect(delay)
            try:
                actions = agent.handle(event)
            except Exception:  # a bug must not silence the device for good: log, go on
                log.exception("%s: agent failed on %r", self.thing, type(event).__name__)
                continue
            for action in actions:
                if isinstance(action, DropConnection):
                    dropping = action.reconnect_after
                    with contextlib.suppress(Exception):
                        await self.client.disconnect()
                else:
                    await self._perform(action)

    async def _perform(self, action: Action) -> None:
        if isinstance(action, Publish):
            self.fleet.counters.messages_out += 1
            with contextlib.suppress(MqttError):
                await self.client.publish(action.topic, action.payload, 0)
        elif isinstance(action, StartTimer):
            old = self.timers.pop(action.name, None)
            if old is not None:
                old.cancel()
            self.timers[action.name] = asyncio.get_running_loop().call_later(
                action.delay, self.queue.put_nowait, self.fleet.timer_event(action)
            )
        elif isinstance(action, CancelTimer):
            handle = self.timers.pop(action.name, None)
            if handle is not None:
                handle.cancel()
        elif isinstance(action, Subscribe):
            try:
                await self.client.subscribe([(t, 0) for t in action.topics])
            except MqttError:
                return  # the link dropped: ConnectionLost follows, we subscribe again
            self.ready.set()
        elif isinstance(action, HttpGet):
            self.fleet.spawn(self._http_get(action.url))
        elif isinstance(action, JobFinished):
            self.fleet.record(action.result)

    async def _http_get(self, url: str) -> None:
        event = await self.fleet.http_get(url)
        self.queue.put_nowait(event)


class Fleet:
    """Simulated devices for ``things``, connected to an MQTT endpoint (the gateway or AWS)."""

    def __init__(
        self,
        things: Sequence[str],
        *,
        mqtt_host: str,
        mqtt_port: int,
        options: FleetOptions | None = None,
        ssl: ssl_module.SSLContext | None = None,
        ssl_for: Callable[[str], ssl_module.SSLContext] | None = None,
        clock: Clock | None = None,
        server_hostname: str | None = None,
        keepalive: int = 60,
        connects_per_second: float | None = None,
        on_result: Callable[[JobResult], None] | None = None,
    ) -> None:
        if len(set(things)) != len(things):
            raise ValueError("thing names must be unique (each is an MQTT client id)")
        self.things = list(things)
        self.mqtt_host = mqtt_host
        self.mqtt_port = mqtt_port
        self.options = options or FleetOptions.model_validate({})
        self.ssl = ssl
        self.ssl_for = ssl_for  # per-thing TLS context (mutual TLS: one certificate per thing)
        self.clock: Clock = clock or SystemClock()
        self.server_hostname = server_hostname
        self.keepalive = keepalive
        self.connects_per_second = connects_per_second
        self.on_result = on_result
        self.public_key = (
            load_public_key(self.options.public_key) if self.options.public_key else None
        )
        self.chooser = BehaviourChooser(self.options, self.things)  # exact fault shares
        self.counters = FleetStats(devices=len(self.things))  # live; stats() copies it
        self.devices: dict[str, _Device] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._http: Any = None  # aiohttp.ClientSession, made in start()
        self._next_connect = 0.0
        self.connect_slots = asyncio.Semaphore(MAX_CONCURRENT_CONNECTS)

    async def start(self, *, ready_timeout: float = 120.0) -> None:
        """Connect every device; returns once each is subscribed (or failing to connect)."""
        for thing in self.things:
            dev = _Device(self, thing)
            self.devices[thing] = dev
            dev.task = asyncio.create_task(dev.run(), name=f"device-{thing}")
            self.spawn(dev.connect())
        waits = [dev.ready.wait() for dev in self.devices.values()]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), ready_timeout)

    async def stop(self) -> None:
        """Disconnect every device and cancel what is still running."""
        await asyncio.gather(*(dev.close() for dev in self.devices.values()))
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None

    def stats(self) -> FleetStats:
        """A snapshot of the statistics."""
        s = self.counters
        return FleetStats(
            devices=s.devices,
            connected=s.connected,
            connects=s.connects,
            reconnects=s.reconnects,
            connect_failures=s.connect_failures,
            messages_in=s.messages_in,
            messages_out=s.messages_out,
            results=list(s.results),
        )

    # -- services for devices -----------------------------------------------------------

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def record(self, result: JobResult) -> None:
        self.counters.results.append(result)
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:
                log.exception("on_result callback failed")

    @staticmethod
    def timer_event(action: StartTimer) -> Event:
        return TimerFired(action.name, action.token)

    async def pace_connect(self) -> None:
        """Space CONNECTs out to ``connects_per_second`` (AWS IoT limits the connect rate)."""
        if not self.connects_per_second:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next_connect)
        self._next_connect = slot + 1.0 / self.connects_per_second
        if slot > now:
            await asyncio.sleep(slot - now)

    async def http_get(self, url: str) -> HttpCompleted:
        if self._http is None:  # made on first use: building its TLS context takes a while
            import aiohttp

            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=self.options.request_timeout_sec,
                    sock_read=self.options.request_timeout_sec,
                ),
                connector=aiohttp.TCPConnector(limit=64),
            )
        try:
            async with self._http.get(url) as resp:
                body = await resp.read()
                return HttpCompleted(url, resp.status, body)
        except Exception as err:  # aiohttp's errors, timeouts, bad URLs
            return HttpCompleted(url, None, b"", error=f"{type(err).__name__}: {err}")


class FleetThread:
    """A ``Fleet`` on its own event loop in a background thread; a context manager."""

    def __init__(self, things: Sequence[str], **kwargs: Any) -> None:
        self.things = list(things)
        self.kwargs = kwargs
        self.fleet: Fleet | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FleetThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fleet", daemon=True)
        self._thread.start()

        async def boot() -> None:
            self.fleet = Fleet(self.things, **self.kwargs)
            await self.fleet.start()

        try:
            asyncio.run_coroutine_threadsafe(boot(), self._loop).result(timeout=300)
        except BaseException:
            self._shutdown()
            raise

    def stop(self) -> None:
        if self._loop is None:
            return
        if self.fleet is not None:
            try:
                asyncio.run_coroutine_threadsafe(self.fleet.stop(), self._loop).result(60)
            except Exception:
                log.exception("stopping the fleet failed")
        self._shutdown()

    def _shutdown(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        if not loop.is_running():
            loop.close()
        self._loop = None
        self._thread = None

    def stats(self) -> FleetStats:
        """A consistent snapshot, taken on the fleet's loop."""
        if self._loop is None or self.fleet is None:
            return FleetStats(devices=len(self.things))
        fleet = self.fleet

        async def snap() -> FleetStats:
            return fleet.stats()

        fut: Future[FleetStats] = asyncio.run_coroutine_threadsafe(snap(), self._loop)
        return fut.result(timeout=30)
