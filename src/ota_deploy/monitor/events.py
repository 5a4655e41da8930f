"""MQTT-side activity: which devices are downloading, blocks received, job events.

Data flow::

    MQTT broker (AWS IoT, or the local gateway) --subscribe-->  MqttWatcher (own thread + loop)
        $aws/things/+/streams/+/data/#          one message per file block sent to a device
        $aws/things/+/streams/+/description/#   a device described the stream (download starts)
        $aws/events/#                           job and job-execution events (when enabled)
      -> ActivityTracker.observe(topic, payload)   (pure, sans-I/O: tested without sockets)
      -> ActivityTracker.merge(snapshot)           blocks_received / last_activity_at /
                                                   statusDetails filled into JobSnapshot

Only what AWS IoT delivers to a watcher that is not the device (reserved-topics.html,
https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html):

- MQTT-based file delivery's ``data`` and ``description`` topics are "Subscribe" topics AWS
  publishes to, so any subscriber the policy allows sees every block a device receives: the
  download progress of the live view ("downloading N", blocks per device).
- Jobs replies (``.../update/accepted`` and the other ``accepted`` / ``rejected`` topics) are
  "Receive" topics: "AWS IoT publishes directly to the client that requested it ... they cannot
  be subscribed to by other clients". A watcher never sees them, on AWS or locally, so device
  progress comes from the file-delivery topics and the execution status and statusDetails
  from the poller (``monitor.poller``) and the job-execution events.
- Job events need the event configuration enabled (UpdateEventConfigurations JOB /
  JOB_EXECUTION; ``monitor --enable-events``): a terminal execution's status and statusDetails
  arrive on ``$aws/events/jobExecution/<jobId>/<succeeded|failed|...>``,
  https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html

Block counts are per (thing, stream): a device starting on a new stream starts from zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from dataclasses import dataclass, replace
from typing import Any

from ota_deploy.core.clock import Clock, SystemClock
from ota_deploy.monitor.snapshot import JobSnapshot

log = logging.getLogger(__name__)

SUBSCRIPTIONS: list[tuple[str, int]] = [
    ("$aws/things/+/streams/+/data/#", 0),
    ("$aws/things/+/streams/+/description/#", 0),
    ("$aws/events/#", 0),
]


@dataclass
class DeviceActivity:
    stream_id: str | None = None
    blocks: int = 0
    last_activity_at: float | None = None
    job_id: str | None = None
    status: str | None = None
    status_details: dict[str, str] | None = None


class ActivityTracker:
    """Folds observed MQTT messages into per-device activity. Not thread-safe by itself."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.devices: dict[str, DeviceActivity] = {}
        self.job_status: dict[str, str] = {}  # from $aws/events/job/...
        self.messages = 0

    def _device(self, thing: str) -> DeviceActivity:
        return self.devices.setdefault(thing, DeviceActivity())

    def observe(self, topic: str, payload: bytes) -> None:
        self.messages += 1
        now = self.clock.now()
        parts = topic.split("/")
        if len(parts) >= 6 and parts[:2] == ["$aws", "things"] and parts[3] == "streams":
            thing, stream, kind = parts[2], parts[4], parts[5]
            dev = self._device(thing)
            if dev.stream_id != stream:
                dev.stream_id, dev.blocks = stream, 0
            if kind == "data":
                dev.blocks += 1
            dev.last_activity_at = now
        elif len(parts) == 5 and parts[:3] == ["$aws", "events", "jobExecution"]:
            body = _json(payload)
            arn = str(body.get("thingArn", ""))
            if "thing/" in arn:
                dev = self._device(arn.rsplit("thing/", 1)[1])
                dev.last_activity_at = now
                dev.job_id = parts[3]
                dev.status = str(body.get("status") or parts[4].upper())
                details = body.get("statusDetails")
                if isinstance(details, dict):
                    dev.status_details = {str(k): str(v) for k, v in details.items()}
        elif len(parts) == 5 and parts[:3] == ["$aws", "events", "job"]:
            body = _json(payload)
            self.job_status[parts[3]] = str(body.get("status") or parts[4].upper())

    def merge(self, snapshot: JobSnapshot) -> JobSnapshot:
        """A copy of ``snapshot`` with blocks, activity and (missing) statusDetails filled in."""
        things = {}
        for name, state in snapshot.things.items():
            dev = self.devices.get(name)
            if dev is None:
                things[name] = state
                continue
            new = replace(state, status_details=dict(state.status_details))
            if dev.stream_id is not None:
                new.blocks_received = dev.blocks
            if dev.last_activity_at is not None:
                new.last_activity_at = max(dev.last_activity_at, state.last_activity_at or 0.0)
            if (
                dev.status_details
                and dev.job_id == snapshot.job_id
                and not new.status_details
                and dev.status == state.status
            ):
                new.status_details = dict(dev.status_details)
            things[name] = new
        return replace(snapshot, things=things)


def _json(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


class MqttWatcher:
    """Runs an MQTT client on its own thread; ``merge(snapshot)`` is safe from any thread."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        clock: Clock | None = None,
        client_id: str = "ota-deploy-monitor",
        connect_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.connect_timeout = connect_timeout
        self.tracker = ActivityTracker(clock or SystemClock())
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.connected = False

    def start(self) -> None:
        """Connect and subscribe (raises ``ConnectionError`` when the broker can't be reached)."""
        self._thread = threading.Thread(target=self._run, name="mqtt-watcher", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.connect_timeout + 2) or not self.connected:
            self.stop()
            raise ConnectionError(
                f"cannot watch MQTT at {self.host}:{self.port}: {self.error or 'timed out'}"
            )

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def merge(self, snapshot: JobSnapshot) -> JobSnapshot:
        with self._lock:
            return self.tracker.merge(snapshot)

    def observe(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.tracker.observe(topic, payload)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported through start()
            self.error = err
        finally:
            self._ready.set()

    async def _main(self) -> None:
        from ota_deploy.mqtt.client import MqttClient

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        delay = 0.5
        first = True
        while not self._stop.is_set():
            client = MqttClient(
                self.client_id,
                host=self.host,
                port=self.port,
                connect_timeout=self.connect_timeout,
            )
            try:
                await client.connect()
                await client.subscribe(SUBSCRIPTIONS)
            except Exception as err:
                if first:
                    self.error = err
                    return
                log.warning("MQTT watcher reconnect failed: %s", err)
                await self._sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self.connected = True
            first = False
            delay = 0.5
            self._ready.set()
            await self._pump(client)
            self.connected = False
            with contextlib.suppress(Exception):
                await client.disconnect()

    async def _pump(self, client: Any) -> None:
        assert self._stop is not None
        stop_wait = asyncio.ensure_future(self._stop.wait())
        closed_wait = asyncio.ensure_future(client.closed.wait())
        try:
            while True:
                get = asyncio.ensure_future(client.messages.get())
                done, _ = await asyncio.wait(
                    {get, stop_wait, closed_wait}, return_when=asyncio.FIRST_COMPLETED
                )
                if get in done:
                    msgs = [get.result()]
                    while not client.messages.empty():
                        msgs.append(client.messages.get_nowait())
                    with self._lock:
                        for msg in msgs:
                            self.tracker.observe(msg.topic, msg.payload)
                    continue
                get.cancel()
                return
        finally:
            stop_wait.cancel()
            closed_wait.cancel()

    async def _sleep(self, seconds: float) -> None:
        assert self._stop is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
