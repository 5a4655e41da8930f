"""The fleet runner: one ``DeviceAgent`` per thing, each on its own MQTT connection.

Per device there is one asyncio task and one queue. Timers (``loop.call_later``), HTTP
downloads (aiohttp tasks) and connection changes put their events in that queue, and so does
the MQTT client with received messages (its ``messages`` queue *is* the device queue), so the
agent sees one ordered stream of events and its actions are performed in order::

    MqttClient --Message--> device queue <--TimerFired / HttpCompleted / Connected / Lost--
    device task: event -> agent.handle -> actions -> publish / subscribe / call_later / GET

The hot path skips the queue: a message that arrives while the device task is idle with an
empty queue (the usual case during a download: one block answers one request) is handled
right in the client's data callback (``Device._deliver``), and the actions that need no
waiting (QoS 0 publish while the socket buffer has room, timers, results) are performed there
too; from the first action that must be awaited (SUBSCRIBE, disconnect, a full buffer) the
rest goes to the task through the queue, and later messages queue behind it. That spares a
queue hop and a task switch per block while keeping the order the agent sees.

No threads per device: a thousand devices are a thousand tasks on one loop. Connects go
through a semaphore (and an optional rate limit for real AWS) so the gateway's accept backlog
is never flooded. The client id is the thing name, as AWS IoT policies expect.
Devices see the fleet only through one ``DeviceContext`` (``fleet.device``).
``FleetThread`` runs a ``Fleet`` on a ``LoopThread`` (``ota_deploy.runtime``) for synchronous
callers (``run --local``, ``demo``, tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import ssl as ssl_module
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from ota_deploy.core.clock import Clock, SystemClock
from ota_deploy.fleet.behaviour import BehaviourChooser
from ota_deploy.fleet.connect_guard import FATAL_AFTER, ConnectGuard
from ota_deploy.fleet.device import Device, DeviceContext
from ota_deploy.fleet.events import HttpCompleted, JobResult
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.stats import FleetStats
from ota_deploy.fleet.verify import load_public_key
from ota_deploy.runtime.asyncio_tls import trim_asyncio_tls_buffers
from ota_deploy.runtime.loop_thread import LoopThread

log = logging.getLogger(__name__)

MAX_CONCURRENT_CONNECTS = 64


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
        on_fatal: Callable[[str], object] | None = None,
        fatal_after: float = FATAL_AFTER,
    ) -> None:
        if len(set(things)) != len(things):
            raise ValueError("thing names must be unique (each is an MQTT client id)")
        if ssl is not None or ssl_for is not None:
            trim_asyncio_tls_buffers()  # 256 KiB per TLS connection otherwise
        self.things = list(things)
        self.mqtt_host = mqtt_host
        self.mqtt_port = mqtt_port
        self.options = options or FleetOptions.model_validate({})
        self.clock: Clock = clock or SystemClock()
        self.connects_per_second = connects_per_second
        self.on_result = on_result
        self.public_key = (
            load_public_key(self.options.public_key) if self.options.public_key else None
        )
        self.chooser = BehaviourChooser(self.options, self.things)  # exact fault shares
        self.counters = FleetStats(devices=len(self.things))  # live; stats() copies it
        # connect failures: one warning per condition; on_fatal when exhaustion persists
        self.guard = ConnectGuard(
            f"{mqtt_host}:{mqtt_port}", on_fatal=on_fatal, fatal_after=fatal_after
        )
        self.devices: dict[str, Device] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._http: Any = None  # aiohttp.ClientSession, made on the first GET
        self._next_connect = 0.0
        self.context = DeviceContext(
            options=self.options,
            clock=self.clock,
            public_key=self.public_key,
            chooser=self.chooser,
            mqtt_host=mqtt_host,
            mqtt_port=mqtt_port,
            keepalive=keepalive,
            server_hostname=server_hostname,
            # per-thing TLS context (mutual TLS: one certificate per thing), else one for all
            ssl_for=ssl_for if ssl_for is not None else (lambda thing: ssl),
            connect_slots=asyncio.Semaphore(MAX_CONCURRENT_CONNECTS),
            pace_connect=self._pace_connect,
            counters=self.counters,
            guard=self.guard,
            http_get=self._http_get,
            record=self._record,
            spawn=self._spawn,
        )

    async def start(self, *, ready_timeout: float = 120.0) -> None:
        """Connect every device; returns once each is subscribed (or failing to connect)."""
        for thing in self.things:
            dev = Device(self.context, thing)
            self.devices[thing] = dev
            dev.task = asyncio.create_task(dev.run(), name=f"device-{thing}")
            self._spawn(dev.connect())
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
        if (failures := self.guard.summary()) is not None:
            log.info("fleet: %s", failures)

    def stats(self) -> FleetStats:
        """A snapshot of the statistics."""
        return dataclasses.replace(self.counters, results=list(self.counters.results))

    # -- services for devices (through the DeviceContext) --------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _record(self, result: JobResult) -> None:
        self.counters.results.append(result)
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:
                log.exception("on_result callback failed")

    async def _pace_connect(self) -> None:
        """Space CONNECTs out to ``connects_per_second`` (AWS IoT limits the connect rate)."""
        if not self.connects_per_second:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next_connect)
        self._next_connect = slot + 1.0 / self.connects_per_second
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _http_get(self, url: str) -> HttpCompleted:
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
        self._loop = LoopThread("fleet")

    def __enter__(self) -> FleetThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._loop.start()

        async def boot() -> None:
            self.fleet = Fleet(self.things, **self.kwargs)
            await self.fleet.start()

        try:
            self._loop.run(boot, timeout=300)
        except BaseException:
            self._loop.stop()
            raise

    def stop(self) -> None:
        if not self._loop.running:
            return
        fleet = self.fleet
        if fleet is not None:
            try:
                self._loop.run(fleet.stop, timeout=60)
            except Exception:
                log.exception("stopping the fleet failed")
        self._loop.stop()

    def stats(self) -> FleetStats:
        """A consistent snapshot, taken on the fleet's loop."""
        fleet = self.fleet
        if not self._loop.running or fleet is None:
            return FleetStats(devices=len(self.things))
        return self._loop.run(fleet.stats, timeout=30)
