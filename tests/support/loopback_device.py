"""Real fleet devices on loopback with no gateway: a ``DeviceContext`` pointed at a local sink
that CONNACKs and then reads what the devices write.

Data flow: ``await loopback_sink()`` starts the sink (``sunk``: each connection's bytes when
it closes, if asked); ``loopback_context(options, port, ...)`` gives the context every
``fleet.device.Device`` of the test or benchmark shares. Used by the fleet tests that compare
the device's paths byte for byte and by ``bench/bench_fleet_block_path.py`` and
``bench/bench_fleet_jobs_path.py``, which time the real ``Device`` + ``MqttClient`` + agent.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

from ota_deploy.core.clock import Clock, SystemClock
from ota_deploy.fleet.connect_guard import ConnectGuard
from ota_deploy.fleet.device import DeviceContext
from ota_deploy.fleet.events import HttpCompleted, JobResult
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.stats import FleetStats

CONNACK = b"\x20\x02\x00\x00"  # MQTT 3.1.1 CONNACK: session not present, accepted


async def _sink(
    sunk: asyncio.Queue[bytes] | None,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """CONNACK the CONNECT, then read what the device writes until it closes the link: kept
    and put on ``sunk`` when given, else dropped."""
    await reader.read(1024)
    writer.write(CONNACK)
    kept = bytearray()
    while data := await reader.read(1 << 16):
        if sunk is not None:
            kept += data
    if sunk is not None:
        sunk.put_nowait(bytes(kept))
    writer.close()


async def loopback_sink(sunk: asyncio.Queue[bytes] | None = None) -> tuple[asyncio.Server, int]:
    """The sink's server on 127.0.0.1 and its port."""
    server = await asyncio.start_server(functools.partial(_sink, sunk), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _http_404(url: str) -> HttpCompleted:
    return HttpCompleted(url, 404, b"")


def loopback_context(
    options: FleetOptions,
    port: int,
    *,
    clock: Clock | None = None,
    record: Callable[[JobResult], None] = lambda result: None,
    connect_slots: int = 100,
) -> DeviceContext:
    """The context of devices that connect to the sink on ``port``: no TLS, no signing key,
    no behaviour chooser, HTTP GETs answered 404, nothing spawned."""
    return DeviceContext(
        options=options,
        clock=clock or SystemClock(),
        public_key=None,
        chooser=None,
        mqtt_host="127.0.0.1",
        mqtt_port=port,
        keepalive=60,
        server_hostname=None,
        ssl_for=lambda thing: None,
        connect_slots=asyncio.Semaphore(connect_slots),
        pace_connect=lambda: asyncio.sleep(0),
        counters=FleetStats(),
        guard=ConnectGuard("127.0.0.1"),
        http_get=_http_404,
        record=record,
        spawn=lambda coro: coro.close(),
    )
