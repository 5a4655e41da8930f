"""One fleet worker process: a ``Fleet`` for its share of the things, reporting to its parent.

Runs in a child process started by ``fleet.pool.FleetPool`` (``runtime.children``)::

    WorkerSpec (pickled: things, MQTT endpoint, FleetOptions, ClockSpec, TLS files)
    -> raise the open-file limit -> Fleet(...) on this process's event loop, on the clock the
       spec describes (the same virtual time as the parent's)
    -> ("ready", counters)                         every device connected and subscribed
    -> ("results", [JobResult, ...], counters)     every FLUSH_SEC while there is news
    -> ("fatal", message)                          the fleet cannot connect (out of files)
    <- ("stop",) or the parent gone -> fleet.stop() -> ("final", [...], counters, memory)

``counters`` is the worker's ``FleetStats`` without its results (those travel once, in
batches): the parent adds the workers' counters up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ota_deploy.fleet.events import JobResult
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.stats import FleetStats
from ota_deploy.runtime.children import ParentLink
from ota_deploy.runtime.memory import current_rss_kib, peak_rss_kib
from ota_deploy.runtime.open_files import raise_to_hard
from ota_deploy.runtime.shared_clock import ClockSpec

FLUSH_SEC = 0.25


@dataclass(frozen=True)
class TlsFiles:
    """Mutual TLS for a worker's devices: the server's CA and each thing's certificate/key."""

    ca_file: Path | None
    credentials: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    server_hostname: str | None = None


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to run its share of a fleet (pickled to the child)."""

    index: int
    things: list[str]
    mqtt_host: str
    mqtt_port: int
    options: FleetOptions
    clock: ClockSpec
    tls: TlsFiles | None = None
    connects_per_second: float | None = None
    keepalive: int = 60
    ready_timeout: float = 300.0


def worker_main(link: ParentLink, spec: WorkerSpec) -> None:
    """The child's entry (``runtime.children.ChildGroup.start``)."""
    raise_to_hard()
    asyncio.run(_run(link, spec))


def counters_of(stats: FleetStats) -> FleetStats:
    """``stats`` without its results (they travel separately)."""
    return dataclasses.replace(stats, results=[])


def ssl_for_files(tls: TlsFiles) -> Any:
    """``Fleet(ssl_for=...)``: each thing's client context, made once per certificate."""
    from ota_deploy.fleet.tls import device_ssl_context

    made: dict[tuple[Path, Path], ssl.SSLContext] = {}

    def ssl_for(thing: str) -> ssl.SSLContext:
        pair = tls.credentials[thing]
        ctx = made.get(pair)
        if ctx is None:
            ctx = made[pair] = device_ssl_context(pair[0], pair[1], tls.ca_file)
        return ctx

    return ssl_for


async def _run(link: ParentLink, spec: WorkerSpec) -> None:
    from ota_deploy.fleet.runner import Fleet

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    link.listen(lambda: loop.call_soon_threadsafe(stop.set))
    batch: list[JobResult] = []
    base_rss = current_rss_kib()
    tls = spec.tls
    fleet = Fleet(
        spec.things,
        mqtt_host=spec.mqtt_host,
        mqtt_port=spec.mqtt_port,
        options=spec.options,
        clock=spec.clock.make(),
        ssl_for=ssl_for_files(tls) if tls is not None else None,
        server_hostname=tls.server_hostname if tls is not None else None,
        keepalive=spec.keepalive,
        connects_per_second=spec.connects_per_second,
        on_result=batch.append,
        on_fatal=lambda message: link.send("fatal", message),
    )
    try:
        await fleet.start(ready_timeout=spec.ready_timeout)
        idle_rss = current_rss_kib()
        link.send("ready", counters_of(fleet.counters), base_rss, idle_rss)
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), FLUSH_SEC)
            if batch:
                link.send("results", batch[:], counters_of(fleet.counters))
                batch.clear()
    finally:
        await fleet.stop()
    link.send("final", batch[:], counters_of(fleet.counters), base_rss, peak_rss_kib())
