"""Gateway throughput: N MQTT clients x M messages of S bytes through the local gateway.

Two patterns, both over loopback TCP with real MqttClient connections:

* request/response (``rr``): each client publishes a small request on its own reserved topic
  (``$aws/things/<id>/streams/bench/get/json``); a stub ReservedTopicHandler answers with S
  bytes on ``.../data/json``; the client waits for the answer before the next request (the OTA
  agent's 1-block-per-request pattern).
* plain pub/sub (``pubsub``): each client subscribes to its own ordinary topic and publishes
  S-byte messages on it with a window of 8 outstanding, receiving every one back.

``--placement``: the gateway runs on its own event loop in a background thread (``thread``,
the default: how the local AWS IoT runs beside an in-process fleet), on the clients' own loop
(``loop``) or in a child process (``process``); ``all`` runs the three. Importable:
``run_raw_baseline(n, m, size)`` is the plain pub/sub figure that the fleet benchmark reports
as its baseline.

    python bench/bench_gateway_pubsub.py [--clients 1000] [--messages 64] [--size 4096]
        [--pattern rr|pubsub|both] [--placement loop|thread|process|all] [--window 8]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ota_deploy.local.gateway import MqttGateway
from ota_deploy.mqtt.client import MqttClient
from ota_deploy.runtime.loop_thread import LoopThread


class _BlockServer:
    """Stub reserved-topic service: replies ``size`` bytes to every request."""

    def __init__(self, size: int) -> None:
        self.block = b"\xa5" * size

    def handles(self, topic: str) -> bool:
        return topic.endswith("/get/json")

    def handle(self, client_id: str, topic: str, payload: bytes, reply: Any) -> None:
        reply(topic[: -len("get/json")] + "data/json", self.block)


class _GatewayThread:
    """The gateway on its own event loop in a background thread (``runtime.LoopThread``, as
    the local AWS IoT runs beside an in-process fleet)."""

    def __init__(self, handlers: list[Any]) -> None:
        self.gateway = MqttGateway(handlers=handlers)
        self.port = 0
        self._loop = LoopThread("bench-gateway")

    def __enter__(self) -> _GatewayThread:
        self._loop.start()
        self.port = self._loop.run(self.gateway.start, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.run(self.gateway.stop, timeout=30)
        self._loop.stop()


def _serve_in_process(size: int, pattern: str, port_queue: Any) -> None:
    """Child-process entry: run a gateway until killed (``--gateway-process``)."""

    async def serve() -> None:
        gw = MqttGateway(handlers=[_BlockServer(size)] if pattern == "rr" else [])
        port_queue.put(await gw.start())
        await asyncio.Event().wait()

    asyncio.run(serve())


class _GatewayProcess:
    """The gateway in a child process: the clients get the other core."""

    def __init__(self, size: int, pattern: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._queue = ctx.Queue()
        self._proc = ctx.Process(
            target=_serve_in_process, args=(size, pattern, self._queue), daemon=True
        )
        self.port = 0

    def __enter__(self) -> _GatewayProcess:
        self._proc.start()
        self.port = int(self._queue.get(timeout=60))
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.kill()
        self._proc.join(10)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


async def _connect_all(port: int, n: int, prefix: str) -> list[MqttClient]:
    clients = [MqttClient(f"{prefix}-{i}", host="127.0.0.1", port=port) for i in range(n)]
    sem = asyncio.Semaphore(200)

    async def one(c: MqttClient) -> None:
        async with sem:
            await c.connect()

    await asyncio.gather(*(one(c) for c in clients))
    return clients


async def _rr_client(c: MqttClient, m: int, size: int) -> None:
    base = f"$aws/things/{c.client_id}/streams/bench/"
    req = b'{"c":"x","s":1,"f":0,"l":4096,"o":0,"n":1}'
    for _ in range(m):
        await c.publish(base + "get/json", req)
        msg = await c.messages.get()
        if len(msg.payload) != size:
            raise RuntimeError("wrong block size")


async def _pubsub_client(c: MqttClient, m: int, size: int, window: int = 8) -> None:
    topic = f"bench/{c.client_id}/data"
    await c.subscribe([(topic, 0)])
    payload = b"\x5a" * size
    sent = received = 0
    while sent < min(window, m):
        await c.publish(topic, payload)
        sent += 1
    while received < m:
        msg = await c.messages.get()
        if len(msg.payload) != size:
            raise RuntimeError("wrong message size")
        received += 1
        if sent < m:
            await c.publish(topic, payload)
            sent += 1


PLACEMENTS = ("loop", "thread", "process")


def _measure(
    n: int,
    m: int,
    size: int,
    pattern: str,
    work: Callable[[MqttClient, int, int], Coroutine[Any, Any, None]],
    placement: str = "thread",
) -> dict[str, Any]:
    """Run ``work`` for n clients; the gateway runs on the clients' own event loop
    (``loop``), on its own loop in a thread of this process (``thread``, how the local AWS IoT
    runs beside an in-process fleet) or in a child process (``process``)."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}")
    handlers: list[Any] = [_BlockServer(size)] if pattern == "rr" else []

    async def main(port: int | None) -> tuple[float, float, float]:
        gw = None
        if port is None:
            gw = MqttGateway(handlers=handlers)
            port = await gw.start()
        t0 = time.perf_counter()
        clients = await _connect_all(port, n, pattern)
        t1 = time.perf_counter()
        c1 = time.process_time()
        await asyncio.gather(*(work(c, m, size) for c in clients))
        t2 = time.perf_counter()
        c2 = time.process_time()
        await asyncio.gather(*(c.disconnect() for c in clients))
        if gw is not None:
            await gw.stop()
        return t1 - t0, t2 - t1, c2 - c1

    if placement == "loop":
        connect_s, wall, cpu = asyncio.run(main(None))
    else:
        where: _GatewayThread | _GatewayProcess = (
            _GatewayProcess(size, pattern) if placement == "process" else _GatewayThread(handlers)
        )
        with where as gw:
            connect_s, wall, cpu = asyncio.run(main(gw.port))
    messages = n * m
    return {
        "pattern": pattern,
        "gateway": placement,
        "clients": n,
        "messages": messages,
        "size": size,
        "connect_s": round(connect_s, 3),
        "wall_s": round(wall, 3),
        # CPU time of this process during the transfer (clients, and the gateway unless
        # it runs in a child process)
        "cpu_s": round(cpu, 3),
        "msgs_per_s": round(messages / wall, 1),
        "mb_per_s": round(messages * size / wall / 1e6, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def run_raw_baseline(
    n_clients: int,
    n_messages: int,
    size: int,
    *,
    placement: str = "thread",
    window: int = 8,
) -> dict[str, Any]:
    """Plain pub/sub of ``n_clients * n_messages`` messages of ``size`` bytes; figures dict:
    pattern, gateway (placement), clients, messages, size, connect_s, wall_s, cpu_s,
    msgs_per_s, mb_per_s, peak_rss_mb. Each client keeps ``window`` messages outstanding
    (1 = strict ping-pong, like one block per request)."""

    async def work(c: MqttClient, m: int, sz: int) -> None:
        await _pubsub_client(c, m, sz, window)

    return _measure(n_clients, n_messages, size, "pubsub", work, placement)


def run_request_response(
    n_clients: int, n_messages: int, size: int, *, placement: str = "thread"
) -> dict[str, Any]:
    """Request/response through a reserved-topic stub handler; same figures dict."""
    return _measure(n_clients, n_messages, size, "rr", _rr_client, placement)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=64)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--pattern", choices=["rr", "pubsub", "both"], default="both")
    ap.add_argument(
        "--placement",
        choices=[*PLACEMENTS, "all"],
        default="thread",
        help="gateway on the clients' loop, in a thread, or in a child process",
    )
    ap.add_argument("--window", type=int, default=8, help="pub/sub messages outstanding")
    args = ap.parse_args(argv)
    runs = []
    placements = PLACEMENTS if args.placement == "all" else (args.placement,)
    for where in placements:
        if args.pattern in ("rr", "both"):
            runs.append(
                run_request_response(args.clients, args.messages, args.size, placement=where)
            )
        if args.pattern in ("pubsub", "both"):
            runs.append(
                run_raw_baseline(
                    args.clients, args.messages, args.size, placement=where, window=args.window
                )
            )
    for r in runs:
        print(
            f"{r['pattern']:7s} gateway={r['gateway']:7s} clients={r['clients']}"
            f" messages={r['messages']} size={r['size']}"
            f" connect={r['connect_s']}s wall={r['wall_s']}s cpu={r['cpu_s']}s"
            f" msgs/s={r['msgs_per_s']}"
            f" MB/s={r['mb_per_s']} peak_rss={r['peak_rss_mb']}MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
