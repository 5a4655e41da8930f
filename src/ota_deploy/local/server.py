"""Wiring of the embedded local AWS IoT: S3, the service, the MQTT gateway and HTTP, on one loop.

Start order (``LocalAwsIot.start``)::

    LocalS3 (moto, own thread)  -> BlobReader + Presigner
    MqttGateway.start()         -> MQTT port (handlers are added once the service exists)
    LocalIotService(clock, publish=gateway.publish, read_blob, presign,
                    mqtt_endpoint="host:port")  (+ load_state from --state-dir)
    gateway.add_handler(JobsMqttHandler(service, clock)); add_handler(StreamsMqttHandler(...))
    ControlPlaneServer.start()  -> iot and iot-jobs-data URLs
    tasks: service.tick() every 50 ms; state dump every 10 s when --state-dir is set

Everything but moto's S3 thread runs on the caller's event loop, so the service (not
thread-safe) only ever runs on that loop. ``LocalAwsIotThread`` runs the whole thing on a
private loop in a background thread (``runtime.loop_thread.LoopThread``) for synchronous
callers (tests, ``run --local``).

Time: the caller injects the time source (``clock``, a ``core.clock.TimeSource``: the run's
``ScaledClock(--time-scale)`` for ``run --local`` and ``local serve``, so minute-based AWS
settings elapse in seconds); without one the service runs on the wall clock.

State persistence (``state_dir``): ``iot-state.json`` holds ``{"virtual_now", "service":
service.dump_state()}`` (datetimes and bytes tagged so they round-trip through JSON; the
virtual time lets a ``--time-scale`` clock resume where it stopped instead of jumping back:
when the saved time is ahead of the injected clock, the service goes on from it with a
``ScaledClock(clock.scale, start=saved)``);
``s3/`` holds every local S3 object (``s3/index.json`` lists bucket/key/file; an object is
rewritten only when its ETag changed). Written atomically at stop and every 10 s, loaded at
start.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from ota_deploy.core.clock import ScaledClock, SystemClock, TimeSource
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.core.errors import InputError
from ota_deploy.local.contracts import LocalEndpoints
from ota_deploy.local.faults import FaultConfig
from ota_deploy.local.http.app import ControlPlaneServer
from ota_deploy.local.s3 import LocalS3
from ota_deploy.runtime.loop_thread import LoopThread

log = logging.getLogger(__name__)

TICK_SECONDS = 0.05
DUMP_SECONDS = 10.0
STATE_FILE = "iot-state.json"
S3_DIR = "s3"

T = TypeVar("T")


# -- JSON with datetimes and bytes ---------------------------------------------------------
def _encode(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return {"__datetime__": obj.isoformat()}
    if isinstance(obj, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(obj)).decode()}
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"cannot persist {type(obj).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "__datetime__" in obj:
            return datetime.fromisoformat(obj["__datetime__"])
        if "__bytes__" in obj:
            return base64.b64decode(obj["__bytes__"])
    return obj


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


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
        faults: FaultConfig | None = None,
        jobs_data_port: int = 0,
    ) -> None:
        self.host = host
        self.iot_port = iot_port
        self.jobs_data_port = jobs_data_port
        self.mqtt_port = mqtt_port
        self.region = region
        self.account = account
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.clock: TimeSource = clock or SystemClock()
        self.s3 = LocalS3(host=host, port=s3_port, region=region)
        self.http = ControlPlaneServer(
            None, host=host, iot_port=iot_port, jobs_data_port=jobs_data_port, faults=faults
        )
        self.service: Any = None
        self.gateway: Any = None
        self.endpoints: LocalEndpoints | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._s3_started = False
        self._s3_written: dict[str, str] = {}  # state file name -> etag already on disk
        self._may_save = False

    async def start(self) -> LocalEndpoints:
        """Start every part on free (or the given) ports; returns where they listen."""
        from ota_deploy.local.gateway.server import MqttGateway
        from ota_deploy.local.iot.service import LocalIotService
        from ota_deploy.local.reserved.jobs_mqtt import JobsMqttHandler
        from ota_deploy.local.reserved.streams_mqtt import StreamsMqttHandler

        loop = asyncio.get_running_loop()
        try:
            s3_url = await loop.run_in_executor(None, self.s3.start)
            self._s3_started = True
            self.gateway = MqttGateway(host=self.host, port=self.mqtt_port)
            mqtt_port = await self.gateway.start()
            saved = self._read_saved_state()
            if saved is not None:
                self.clock = _resumed_clock(self.clock, saved.get("virtual_now"))
            self.service = LocalIotService(
                clock=self.clock,
                region=self.region,
                account=self.account,
                publish=self.gateway.publish,
                read_blob=self.s3.read_blob,
                presign=self.s3.presign,
                mqtt_endpoint=f"{self.host}:{mqtt_port}",
            )
            if saved is not None:
                self._load_state(saved)
            self._may_save = True  # never overwrite a state that failed to load
            self.gateway.add_handler(JobsMqttHandler(self.service, self.clock))
            self.gateway.add_handler(StreamsMqttHandler(self.service, self.s3.read_blob))
            self.http.set_service(self.service)
            urls = await self.http.start()
        except BaseException:
            await self.stop()
            raise
        self._tasks.append(asyncio.create_task(self._tick_loop(), name="local-iot-tick"))
        if self.state_dir is not None:
            self._tasks.append(asyncio.create_task(self._dump_loop(), name="local-iot-dump"))
        self.endpoints = LocalEndpoints(
            iot=urls["iot"],
            jobs_data=urls["iot-jobs-data"],
            s3=s3_url,
            mqtt_host=self.host,
            mqtt_port=mqtt_port,
            region=self.region,
            account=self.account,
        )
        return self.endpoints

    async def stop(self) -> None:
        """Stop serving; dump the state first when a state directory is set."""
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
        if self.state_dir is not None and self.service is not None:
            try:
                self.dump_state()
            except Exception:
                log.exception("saving the local AWS IoT state failed")
        if self._s3_started:
            await asyncio.get_running_loop().run_in_executor(None, self.s3.stop)
            self._s3_started = False

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.service.tick()
            except Exception:
                log.exception("local AWS IoT tick failed")

    async def _dump_loop(self) -> None:
        while True:
            await asyncio.sleep(DUMP_SECONDS)
            try:
                self.dump_state()
            except Exception:
                log.exception("saving the local AWS IoT state failed")

    # -- persistence ---------------------------------------------------------------------
    def dump_state(self) -> None:
        """Write the service state and every S3 object under ``state_dir``."""
        if self.state_dir is None or self.service is None or not self._may_save:
            return
        state = {"virtual_now": self.clock.now(), "service": self.service.dump_state()}
        _write_atomic(
            self.state_dir / STATE_FILE, json.dumps(state, default=_encode, indent=1).encode()
        )
        s3_dir = self.state_dir / S3_DIR
        index = []
        written: dict[str, str] = {}
        for bucket, key, etag in self.s3.list_blobs_with_etags():
            name = hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()[:32] + ".bin"
            if self._s3_written.get(name) != etag or not (s3_dir / name).exists():
                _write_atomic(s3_dir / name, self.s3.read_blob(bucket, key, None))
            written[name] = etag
            index.append({"bucket": bucket, "key": key, "file": name})
        _write_atomic(s3_dir / "index.json", json.dumps(index).encode())
        for stale in set(self._s3_written) - set(written):
            (s3_dir / stale).unlink(missing_ok=True)
        self._s3_written = written

    def _read_saved_state(self) -> dict[str, Any] | None:
        """The saved state file's content (None without a state dir); creates the dir."""
        if self.state_dir is None:
            return None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state_path = self.state_dir / STATE_FILE
        if not state_path.exists():
            return {}
        try:
            loaded = json.loads(state_path.read_text(), object_hook=_decode)
        except (ValueError, UnicodeDecodeError) as err:
            raise InputError(
                f"not a saved local AWS IoT state: {err}", file=str(state_path)
            ) from err
        if not isinstance(loaded, dict):
            raise InputError("not a saved local AWS IoT state", file=str(state_path))
        return loaded

    def _load_state(self, saved: dict[str, Any]) -> None:
        assert self.state_dir is not None
        index_path = self.state_dir / S3_DIR / "index.json"
        if index_path.exists():
            for entry in json.loads(index_path.read_text()):
                data = (self.state_dir / S3_DIR / entry["file"]).read_bytes()
                self.s3.put_blob(entry["bucket"], entry["key"], data)
        if "service" in saved:
            self.service.load_state(saved["service"])


def _resumed_clock(clock: TimeSource, virtual_now: Any) -> TimeSource:
    """``clock``, or a ScaledClock at its scale that goes on from the saved virtual time when
    that is ahead of it (a --time-scale run saved it): restored timers and timestamps stay
    coherent instead of jumping back."""
    if isinstance(virtual_now, int | float) and virtual_now > clock.now():
        return ScaledClock(clock.scale, start=float(virtual_now))
    return clock


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
