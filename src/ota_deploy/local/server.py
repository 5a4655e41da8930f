"""Wiring of the embedded local AWS IoT: S3, the service, the MQTT gateway and HTTP, on one loop.

Start order (``LocalAwsIot.start``)::

    LocalS3.start on a worker thread, meanwhile:  (moto's import and bind, the slowest part)
    MqttGateway.start()         -> MQTT port (handlers are added once the service exists)
    gateway_identity(...)       -> the local CA and the gateway's TLS certificate
    LocalIotService(clock, publish=gateway.publish, read_blob, presign,
                    mqtt_endpoint="host:port", ca=...)
    LocalS3 started (moto, own thread) -> BlobReader + Presigner; load_state from --state-dir
    gateway.add_handler(JobsMqttHandler(service, clock)); add_handler(StreamsMqttHandler(...))
    gateway.start_tls(MutualTls(identity, trusted=...), service.device_authority)
                                -> MQTT over mutual TLS port (``mqtts_port``; None: no TLS)
    ControlPlaneServer.start()  -> iot and iot-jobs-data URLs
    tasks: service.tick() every 50 ms; the virtual time saved every 10 s when --state-dir is set

Failures that repeat (a tick failing every 50 ms, a handler failing on every request) go to one
``runtime.failure_log.FailureLog`` shared with the HTTP control plane and the gateway: one line
per condition, then counts (the tick reports what is due; ``stop`` flushes the rest).

Mutual TLS: the CA lives under ``<state_dir>/tls`` (persisted) or in memory with its PEM in a
private temporary directory for the server's lifetime (``gateway/tls_identity.py``);
``LocalEndpoints.mqtts_port`` and ``.ca`` say where. DescribeEndpoint answers the TLS listener
for iot:Data-ATS and iot:Data (what devices with certificates dial, as on AWS), the jobs data
plane for iot:Jobs. The plain listener stays open to anyone: a local convenience.

Everything but moto's S3 thread runs on the caller's event loop, so the service (not
thread-safe) only ever runs on that loop. ``LocalAwsIotThread`` runs the whole thing on a
private loop in a background thread (``runtime.loop_thread.LoopThread``) for synchronous
callers (tests, ``run --local``).

Time: the caller injects the time source (``clock``, a ``core.clock.TimeSource``: the run's
``ScaledClock(--time-scale)`` for ``run --local`` and ``local serve``, so minute-based AWS
settings elapse in seconds); without one the service runs on the wall clock.

State persistence (``state_dir``): ``local.state_dir.StateDir`` reads it at start (the clock
resumes at the saved virtual time when that is ahead), restores the records and S3 objects, and
from then on every change is written through before its reply; the 10 s task and the stop only
record the virtual time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ota_deploy.core.clock import SystemClock, TimeSource
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.local.contracts import LocalEndpoints
from ota_deploy.local.faults import FaultConfig, FaultInjector, injector_for
from ota_deploy.local.http.app import ControlPlaneServer
from ota_deploy.local.s3 import LocalS3
from ota_deploy.local.state_dir import StateDir, resumed_clock
from ota_deploy.runtime.failure_log import FailureLog
from ota_deploy.runtime.loop_thread import LoopThread

log = logging.getLogger(__name__)

TICK_SECONDS = 0.05
CLOCK_SAVE_SECONDS = 10.0

T = TypeVar("T")


class LocalAwsIot:
    """The embedded AWS IoT on the running event loop (see the module docstring)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        iot_port: int = 0,
        mqtt_port: int = 0,
        s3_port: int = 0,
        clock: TimeSource | None = None,
        region: str = DEFAULT_REGION,
        account: str = LOCAL_ACCOUNT,
        state_dir: Path | None = None,
        faults: FaultConfig | FaultInjector | None = None,
        jobs_data_port: int = 0,
        mqtts_port: int | None = 0,
    ) -> None:
        self.host = host
        self.iot_port = iot_port
        self.jobs_data_port = jobs_data_port
        self.mqtt_port = mqtt_port
        self.mqtts_port = mqtts_port  # MQTT over mutual TLS; None: no TLS listener
        self.region = region
        self.account = account
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.state = StateDir(self.state_dir) if self.state_dir is not None else None
        self.clock: TimeSource = clock or SystemClock()
        self.faults = injector_for(faults)  # one seeded injector for the control plane and S3
        self.failures = FailureLog(log)  # repeated failures of the tick, HTTP and the gateway
        self.s3 = LocalS3(host=host, port=s3_port, region=region, faults=self.faults)
        self.http = ControlPlaneServer(
            None,
            host=host,
            iot_port=iot_port,
            jobs_data_port=jobs_data_port,
            faults=self.faults,
            failures=self.failures,
        )
        self.service: Any = None
        self.gateway: Any = None
        self.endpoints: LocalEndpoints | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._tls_identity: Any = None  # gateway.tls_identity.GatewayIdentity
        self._s3_started = False
        self._may_save = False

    async def start(self) -> LocalEndpoints:
        """Start every part on free (or the given) ports; returns where they listen."""
        from ota_deploy.local.auth import MutualTls
        from ota_deploy.local.gateway.server import MqttGateway
        from ota_deploy.local.gateway.tls_identity import gateway_identity
        from ota_deploy.local.iot.service import LocalIotService
        from ota_deploy.local.reserved.jobs_mqtt import JobsMqttHandler
        from ota_deploy.local.reserved.streams_mqtt import StreamsMqttHandler

        loop = asyncio.get_running_loop()
        # S3 (moto's import and bind, the slowest part) starts on a worker thread meanwhile.
        s3_start = loop.run_in_executor(None, self.s3.start)
        try:
            self.gateway = MqttGateway(
                host=self.host, port=self.mqtt_port, faults=self.faults, failures=self.failures
            )
            mqtt_port = await self.gateway.start()
            saved = self.state.read() if self.state is not None else None
            if saved is not None:
                self.clock = resumed_clock(self.clock, saved.get("virtual_now"))
            tls_dir = self.state_dir / "tls" if self.state_dir is not None else None
            self._tls_identity = identity = gateway_identity(
                hosts=[self.host], directory=tls_dir, now=min(self.clock.now(), time.time())
            )
            self.service = LocalIotService(
                clock=self.clock,
                region=self.region,
                account=self.account,
                publish=self.gateway.publish,
                read_blob=self.s3.read_blob,
                presign=self.s3.presign,
                mqtt_endpoint=f"{self.host}:{mqtt_port}",
                ca=identity.ca,
            )
            s3_url = await s3_start
            self._s3_started = True
            if self.state is not None and saved is not None:
                self.state.restore(saved, self.service, self.s3)
            self._may_save = True  # never overwrite a state that failed to load
            self.gateway.add_handler(JobsMqttHandler(self.service, self.clock))
            self.gateway.add_handler(StreamsMqttHandler(self.service, self.s3.read_blob))
            mqtts_port = None
            if self.mqtts_port is not None:
                authority = self.service.device_authority
                tls = MutualTls(identity.identity, trusted=authority.trust_anchor_pems())
                mqtts_port = await self.gateway.start_tls(tls, authority, port=self.mqtts_port)
                for kind in ("iot:Data-ATS", "iot:Data"):
                    self.service.set_endpoint(kind, f"{self.host}:{mqtts_port}")
            self.http.set_service(self.service)
            urls = await self.http.start()
            self.service.set_endpoint("iot:Jobs", urls["iot-jobs-data"].split("://", 1)[-1])
        except BaseException:
            if not self._s3_started:  # let a start under way finish, so stop() can stop it
                with contextlib.suppress(Exception):
                    await s3_start
                    self._s3_started = True
            await self.stop()
            raise
        self._tasks.append(asyncio.create_task(self._tick_loop(), name="local-iot-tick"))
        if self.state_dir is not None:
            self._tasks.append(asyncio.create_task(self._clock_loop(), name="local-iot-clock"))
        self.endpoints = LocalEndpoints(
            iot=urls["iot"],
            jobs_data=urls["iot-jobs-data"],
            s3=s3_url,
            mqtt_host=self.host,
            mqtt_port=mqtt_port,
            region=self.region,
            account=self.account,
            mqtts_port=mqtts_port,
            ca=str(identity.ca_path) if mqtts_port is not None else None,
        )
        return self.endpoints

    async def stop(self) -> None:
        """Stop serving; with a state directory, record the virtual time before closing it."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.http.stop()
        if self.gateway is not None:
            try:
                await self.gateway.stop()
            except Exception:
                log.exception("stopping the MQTT gateway failed")
            self.gateway = None
        if self._tls_identity is not None:
            self._tls_identity.close()
            self._tls_identity = None
        if self.state_dir is not None and self.service is not None:
            try:
                self.save_clock()
            except Exception as err:
                self.failures.failed("saving the local AWS IoT's virtual time", err)
        if self._s3_started:
            await asyncio.get_running_loop().run_in_executor(None, self.s3.stop)
            self._s3_started = False
        if self.state is not None:
            self.state.close()  # after S3 stopped: no request is saving any more
        self.failures.flush()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self.tick()

    def tick(self) -> None:
        """One turn of the service's timers; a failure is logged once per condition."""
        try:
            self.service.tick()
        except Exception as err:
            self.failures.failed("the local AWS IoT's tick", err)
        self.failures.report_due()

    async def _clock_loop(self) -> None:
        while True:
            await asyncio.sleep(CLOCK_SAVE_SECONDS)
            try:
                self.save_clock()
            except Exception as err:
                self.failures.failed("saving the local AWS IoT's virtual time", err)

    def save_clock(self) -> None:
        """Record the virtual time under ``state_dir`` (if set): the records and S3 objects
        need nothing here, each change was written through when it was made."""
        if self.state is not None and self.service is not None and self._may_save:
            self.state.save(self.clock.now())


class LocalAwsIotThread:
    """``LocalAwsIot`` on its own event loop in a background thread; a context manager.

    Takes ``LocalAwsIot``'s keyword arguments (``clock=``, ``state_dir=``, ``faults=``, ...).
    """

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.local: LocalAwsIot | None = None
        self.endpoints: LocalEndpoints | None = None
        self._loop = LoopThread("local-aws-iot")

    def __enter__(self) -> LocalEndpoints:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalEndpoints:
        self._loop.start()
        local = self.local = LocalAwsIot(**self.kwargs)
        try:
            self.endpoints = self._loop.run(local.start, timeout=60)
        except BaseException:
            self._loop.stop()
            raise
        return self.endpoints

    def stop(self) -> None:
        if not self._loop.running:
            return
        if self.local is not None:
            try:
                self._loop.run(self.local.stop, timeout=30)
            except Exception:
                log.exception("stopping the local AWS IoT failed")
        self._loop.stop()

    @property
    def service(self) -> Any:
        return self.local.service if self.local else None

    @property
    def gateway(self) -> Any:
        return self.local.gateway if self.local else None

    def call_in_loop(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Run ``fn()`` on the server's loop (awaiting it if it returns an awaitable)."""
        if not self._loop.running:
            raise RuntimeError("LocalAwsIotThread is not running")
        return self._loop.run(fn, timeout=timeout)
