"""Memory held by connections that send part of a packet before CONNECT (issue 10, case 5).

A gateway runs in a subprocess (so its RSS is its own); this process opens ``--connections``
sockets to it (soft RLIMIT_NOFILE raised to the hard limit), and each sends the fixed header
of a CONNECT announcing ``--announce`` bytes followed by ``--send`` bytes of it, never the rest.
Printed: the gateway's RSS before, once every connection has sent its bytes, and after they
were closed (by the client, or by the gateway itself when it refuses them), plus how many the
gateway closed on its own. Loopback only.

    python bench/bench_gateway_preconnect.py                     # 1000 x 190 KB
    python bench/bench_gateway_preconnect.py --connections 200 --send 65536
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _serve() -> int:
    from ota_deploy.local.gateway import MqttGateway

    async def main() -> None:
        gateway = MqttGateway()
        port = await gateway.start()
        print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await gateway.stop()

    asyncio.run(main())
    return 0


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


async def _flood(port: int, connections: int, announce: int, send: int) -> tuple[list[object], int]:
    head = b"\x10" + _varint(announce)
    body = head + b"\x00" * (send - len(head))
    writers: list[object] = []
    for _ in range(connections):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(body)
        writers.append(writer)
    closed = 0
    for w in writers:
        try:
            await w.drain()  # type: ignore[attr-defined]
        except ConnectionError:
            closed += 1
    return writers, closed


async def _run(args: argparse.Namespace, port: int, pid: int) -> None:
    before = _rss_mb(pid)
    started = time.perf_counter()
    writers, _ = await _flood(port, args.connections, args.announce, args.send)
    await asyncio.sleep(args.settle)
    peak = _rss_mb(pid)
    refused = 0
    for w in writers:
        reader_closed = w.transport.is_closing() or w.transport.get_extra_info("socket") is None  # type: ignore[attr-defined]
        try:
            w.write(b"\x00")  # type: ignore[attr-defined]
            await w.drain()  # type: ignore[attr-defined]
        except ConnectionError:
            reader_closed = True
        refused += bool(reader_closed)
        w.close()  # type: ignore[attr-defined]
    await asyncio.sleep(args.settle)
    after = _rss_mb(pid)
    print(
        f"{args.connections} connections x {args.send / 1000:.0f} KB of a "
        f"{args.announce / 1000:.0f} KB CONNECT ({time.perf_counter() - started:.1f} s)"
    )
    print(
        f"  gateway RSS: before {before:.1f} MB, with them open {peak:.1f} MB "
        f"(+{peak - before:.1f}), after they closed {after:.1f} MB (+{after - before:.1f})"
    )
    print(f"  connections the gateway had already closed: {refused}/{args.connections}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--announce", type=int, default=195_000, help="CONNECT remaining length")
    parser.add_argument("--send", type=int, default=190_000, help="bytes of it sent")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to let it settle")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return _serve()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        asyncio.run(_run(args, info["port"], info["pid"]))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
