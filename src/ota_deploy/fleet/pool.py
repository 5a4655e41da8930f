"""A fleet spread over worker processes: the parent's side of ``fleet.worker``.

``FleetPool`` deals the things round-robin to ``workers`` children (``fleet.shard.split_even``),
each running ``fleet.worker.worker_main`` on its own core, and gathers what they send back
through their pipes (``runtime.children.ChildGroup``; one reader thread)::

    ("ready", counters, base_rss, idle_rss)  start() returns once every worker sent it
    ("results", [JobResult], counters)       -> stats().results, on_result(r) for each
    ("fatal", message) or a worker that dies -> on_failure("fleet worker 2 of 4 (2,500
                                                devices) was killed by SIGKILL") once
    stop() -> ("final", [JobResult], counters, base_rss, peak_rss) from each, then they exit

It offers what ``FleetThread`` offers (``start``/``stop``/``stats``, a context manager), so
the local stack and ``fleet run`` use either. Worker log lines (one warning per exhaustion
condition, ...) arrive on this process's loggers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ota_deploy.core.clock import SystemClock, TimeSource
from ota_deploy.fleet.events import JobResult
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.shard import split_even
from ota_deploy.fleet.stats import FleetStats
from ota_deploy.fleet.worker import TlsFiles, WorkerSpec, worker_main
from ota_deploy.runtime.children import Child, ChildGroup, Message
from ota_deploy.runtime.shared_clock import ClockSpec

log = logging.getLogger(__name__)

COUNTERS = (
    "connected",
    "connects",
    "reconnects",
    "connect_failures",
    "messages_in",
    "messages_out",
)


class FleetFailure(RuntimeError):
    """The fleet could not start (a worker died, or not every worker got ready in time)."""


@dataclass
class WorkerState:
    devices: int
    ready: bool = False
    final: bool = False
    counters: FleetStats = field(default_factory=FleetStats)
    base_rss_kib: int = 0
    idle_rss_kib: int = 0
    peak_rss_kib: int = 0


class FleetPool:
    """Simulated devices for ``things`` in ``workers`` processes (see the module docstring)."""

    def __init__(
        self,
        things: Sequence[str],
        *,
        workers: int,
        mqtt_host: str,
        mqtt_port: int,
        options: FleetOptions | None = None,
        clock: TimeSource | None = None,
        tls: TlsFiles | None = None,
        connects_per_second: float | None = None,
        on_result: Callable[[JobResult], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        ready_timeout: float = 300.0,
    ) -> None:
        if len(set(things)) != len(things):
            raise ValueError("thing names must be unique (each is an MQTT client id)")
        self.things = list(things)
        self.shards = split_even(self.things, workers)
        self.mqtt_host = mqtt_host
        self.mqtt_port = mqtt_port
        self.options = options or FleetOptions.model_validate({})
        self.clock: TimeSource = clock or SystemClock()
        self.tls = tls
        self.connects_per_second = connects_per_second
        self.on_result = on_result
        self.on_failure = on_failure
        self.ready_timeout = ready_timeout
        self.results: list[JobResult] = []
        self.failure: str | None = None
        self.states: dict[str, WorkerState] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._group: ChildGroup | None = None

    def __enter__(self) -> FleetPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def workers(self) -> int:
        return len(self.shards)

    def start(self) -> None:
        """Start the workers; return once every device is connected (or raise FleetFailure)."""
        group = self._group = ChildGroup(on_message=self._on_message, on_exit=self._on_exit)
        spec_clock = ClockSpec.of(self.clock)
        per_worker_rate = (
            self.connects_per_second / self.workers if self.connects_per_second else None
        )
        try:
            for i, shard in enumerate(self.shards, 1):
                name = self._name(i)
                self.states[name] = WorkerState(devices=len(shard))
                tls = self.tls
                if tls is not None and tls.credentials:
                    tls = TlsFiles(
                        tls.ca_file,
                        {t: tls.credentials[t] for t in shard},
                        tls.server_hostname,
                    )
                spec = WorkerSpec(
                    index=i,
                    things=shard,
                    mqtt_host=self.mqtt_host,
                    mqtt_port=self.mqtt_port,
                    options=self.options,
                    clock=spec_clock,
                    tls=tls,
                    connects_per_second=per_worker_rate,
                    ready_timeout=self.ready_timeout,
                )
                group.start(name, worker_main, spec)
            deadline = time.monotonic() + self.ready_timeout + 60
            with self._changed:
                while not all(s.ready for s in self.states.values()):
                    if self.failure is not None:
                        raise FleetFailure(self.failure)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise FleetFailure(
                            f"the fleet's workers were not ready within {self.ready_timeout:.0f} s"
                        )
                    self._changed.wait(min(left, 0.5))
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 60.0) -> None:
        """Stop every worker (devices disconnect); their last results are gathered."""
        group, self._group = self._group, None
        if group is not None:
            group.stop(timeout)

    def stats(self) -> FleetStats:
        """The workers' counters added up, with every result received so far."""
        with self._lock:
            total = FleetStats(devices=len(self.things), results=list(self.results))
            for state in self.states.values():
                for name in COUNTERS:
                    setattr(total, name, getattr(total, name) + getattr(state.counters, name))
        return total

    def memory(self) -> dict[str, Any]:
        """Per worker: devices and resident memory (KiB) before the fleet, with every device
        connected, and at its peak (known once stopped); ``per_device_kib`` from the peak."""
        rows = []
        with self._lock:
            for name, s in self.states.items():
                peak = max(s.peak_rss_kib, s.idle_rss_kib)
                rows.append(
                    {
                        "worker": name,
                        "devices": s.devices,
                        "base_rss_kib": s.base_rss_kib,
                        "idle_rss_kib": s.idle_rss_kib,
                        "peak_rss_kib": peak,
                        "idle_per_device_kib": round(
                            (s.idle_rss_kib - s.base_rss_kib) / max(1, s.devices), 2
                        ),
                        "per_device_kib": round((peak - s.base_rss_kib) / max(1, s.devices), 2),
                    }
                )
        return {"workers": rows}

    # -- the reader thread -------------------------------------------------------------

    def _name(self, i: int) -> str:
        return f"fleet worker {i} of {self.workers}"

    def _on_message(self, child: Child, message: Message) -> None:
        kind = message[0]
        state = self.states[child.name]
        fresh: list[JobResult] = []
        fatal: str | None = None
        with self._changed:
            if kind == "ready":
                _, state.counters, state.base_rss_kib, state.idle_rss_kib = message
                state.ready = True
            elif kind == "results":
                _, fresh, state.counters = message
            elif kind == "final":
                _, fresh, state.counters, state.base_rss_kib, state.peak_rss_kib = message
                state.final = True
            elif kind == "fatal":
                fatal = f"{child.name} ({state.devices} devices): {message[1]}"
            self.results.extend(fresh)
            self._changed.notify_all()
        if self.on_result is not None:
            for result in fresh:
                try:
                    self.on_result(result)
                except Exception:
                    log.exception("on_result callback failed")
        if fatal is not None:
            self._fail(fatal)

    def _on_exit(self, child: Child, expected: bool) -> None:
        if not expected:
            state = self.states[child.name]
            self._fail(f"{child.name} ({state.devices} devices) {child.describe_exit()}")
        with self._changed:
            self._changed.notify_all()

    def _fail(self, message: str) -> None:
        with self._changed:
            first = self.failure is None
            if first:
                self.failure = message
            self._changed.notify_all()
        if first and self.on_failure is not None:
            self.on_failure(message)
