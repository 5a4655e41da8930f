"""What mutual TLS costs on the gateway, against plain TCP: handshakes and pub/sub messages.

The gateway runs in a child process with both listeners (its CPU is read from /proc, so the
figures are the gateway's own, not the clients'); the mutual-TLS listener admits one device
certificate under an allow-all policy (the DeviceAuthority seam over local/auth, as the tests
build it), so every TLS connection pays admission, policy binding and the per-packet checks.
For each transport:

* connect: ``--clients`` clients connect (TCP + TLS handshake + CONNECT/CONNACK), ``--parallel``
  at a time: wall time, gateway CPU and gateway memory (RSS growth) per connection;
* pub/sub: each client subscribes to its own topic and publishes ``--messages`` messages of
  ``--size`` bytes to it, ``--window`` outstanding, receiving each back: messages/s and gateway
  CPU per message (one message = one PUBLISH in and one out).

    python bench/bench_gateway_tls.py [--clients 200] [--messages 200] [--size 4096]

Loopback only. The machine may be shared: compare the CPU figures, and the two transports of
one run, rather than wall times across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ALLOW_ALL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    }
)


class AllowAll:
    """A DeviceAuthority over local/auth: one registered certificate, an allow-all policy."""

    def __init__(self, cert_pem: str) -> None:
        from ota_deploy.local.auth import certificate_id

        self.cid = certificate_id(cert_pem)

    def trust_anchor_pems(self) -> list[str]:
        return []

    def certificate_status(self, certificate_id: str) -> str | None:
        return "ACTIVE" if certificate_id == self.cid else None

    def connection_policy(self, certificate_id: str, client_id: str) -> Any:
        from ota_deploy.local.auth import PrincipalContext, bind

        return bind(
            PrincipalContext(client_id=client_id, certificate_id=certificate_id), [ALLOW_ALL]
        )

    def add_listener(self, listener: Any) -> None:
        pass


def _serve(directory: str) -> int:
    from ota_deploy.local.auth import LocalCa, MutualTls, server_identity
    from ota_deploy.local.gateway import MqttGateway

    root = Path(directory)
    ca = LocalCa.load_or_create(root, now=time.time())
    tls = MutualTls(server_identity(ca, now=time.time()))
    authority = AllowAll((root / "device.pem").read_text())

    async def main() -> None:
        gateway = MqttGateway()
        port = await gateway.start()
        tls_port = await gateway.start_tls(tls, authority)
        print(json.dumps({"port": port, "tls_port": tls_port, "pid": os.getpid()}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await gateway.stop()

    asyncio.run(main())
    return 0


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _phase(args: argparse.Namespace, port: int, ssl: Any, pid: int, label: str) -> None:
    from ota_deploy.mqtt.client import MqttClient

    hostname = "localhost" if ssl is not None else None
    clients = [
        MqttClient(f"{label}-{i}", host="127.0.0.1", port=port, ssl=ssl, server_hostname=hostname)
        for i in range(args.clients)
    ]
    sem = asyncio.Semaphore(args.parallel)

    async def connect(c: MqttClient) -> None:
        async with sem:
            await c.connect()

    rss0, cpu0, t0 = _rss_kib(pid), _cpu(pid), time.perf_counter()
    await asyncio.gather(*(connect(c) for c in clients))
    connect_wall, connect_cpu = time.perf_counter() - t0, _cpu(pid) - cpu0
    per_connection_kib = (_rss_kib(pid) - rss0) / args.clients
    payload = b"\x5a" * args.size

    async def pubsub(c: MqttClient) -> None:
        topic = f"bench/{c.client_id}"
        await c.subscribe([(topic, 0)])
        sent = received = 0
        while received < args.messages:
            while sent < args.messages and sent - received < args.window:
                await c.publish(topic, payload)
                sent += 1
            await c.messages.get()
            received += 1

    cpu0, t0 = _cpu(pid), time.perf_counter()
    await asyncio.gather(*(pubsub(c) for c in clients))
    wall, cpu = time.perf_counter() - t0, _cpu(pid) - cpu0
    total = args.clients * args.messages
    await asyncio.gather(*(c.disconnect() for c in clients))
    print(
        f"{label:5s} connect: {connect_wall / args.clients * 1000:6.2f} ms wall/connection, "
        f"gateway CPU {connect_cpu / args.clients * 1000:6.2f} ms/connection, "
        f"gateway memory {per_connection_kib:5.1f} KiB/connection"
    )
    print(
        f"{label:5s} pub/sub: {total} x {args.size} B in {wall:.2f} s ({total / wall:,.0f} msg/s), "
        f"gateway CPU {cpu / total * 1e6:6.1f} us/message"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=50, help="connects in flight")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return _serve(args.serve)
    from ota_deploy.local.auth import LocalCa, client_context

    with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
        root = Path(tmp)
        ca = LocalCa.load_or_create(root, now=time.time())
        issued = ca.issue_keys_and_certificate(now=time.time())
        (root / "device.pem").write_text(issued.certificate_pem)
        (root / "device-key.pem").write_text(issued.private_key_pem)
        ssl = client_context(
            cert_file=root / "device.pem", key_file=root / "device-key.pem", ca_file=root / "ca.pem"
        )
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", tmp], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            info = json.loads(server.stdout.readline())
            print(
                f"{args.clients} clients, {args.messages} messages of {args.size} B each, "
                f"window {args.window}; gateway pid {info['pid']}"
            )
            asyncio.run(_phase(args, info["port"], None, info["pid"], "plain"))
            asyncio.run(_phase(args, info["tls_port"], ssl, info["pid"], "tls"))
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
