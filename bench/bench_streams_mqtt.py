"""In-process CPU per GetStream block request through the gateway's real objects.

Data flow, per block (what the local AWS IoT's process does for each request of
``bench_fleet_ota``): the request's PUBLISH bytes -> ``GatewayConnection.data_received`` ->
``ServerConnection.receive`` (parse, validate) -> ``PacketActions._act`` (size, reserved topic,
guard) -> ``MqttGateway.client_published`` (handler, reply) -> ``StreamsMqttHandler.handle``
(request, stream, block message) -> ``Broker.reply`` (requester, other subscribers) ->
``encode_publish`` -> ``GatewayConnection.write`` / uncork -> the transport's ``write``.

Built for real: a ``LocalIotService`` (FakeClock) with one stream of ``--image-kib`` KiB whose
file the handler has read once; an unstarted ``MqttGateway`` (no sockets) with the Jobs and
the streams handlers, as ``LocalAwsIot`` adds them; ``--devices`` connections over an
in-memory transport, each CONNECTed and SUBSCRIBEd to the fleet agent's topic filters
(``fleet.protocol.device_subscriptions``). Each device then asks for every block of the image
in turn, one block per request, with the fleet's request bytes (``GetStreamRequests``); the
transport keeps only a count of bytes written.

Printed: CPU microseconds (process time) per block request, best of ``--repeat`` passes, and
the bytes written per request (a check that every reply went out). Bounded: a few seconds.

    python bench/bench_streams_mqtt.py                       # 1,000 devices x 256 KiB, CBOR
    python bench/bench_streams_mqtt.py --protocol json
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from ota_deploy.core.clock import FakeClock
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.fleet.block_messages import GetStreamRequests
from ota_deploy.fleet.protocol import Protocol, device_subscriptions, stream_topic
from ota_deploy.local.gateway import MqttGateway
from ota_deploy.local.gateway.connection import GatewayConnection
from ota_deploy.local.iot import LocalIotService
from ota_deploy.local.reserved.jobs_mqtt import JobsMqttHandler
from ota_deploy.local.reserved.streams_mqtt import StreamsMqttHandler
from ota_deploy.mqtt.codec import encode, encode_publish
from ota_deploy.mqtt.packets import Connect, Subscribe

STREAM = "fw-stream"
ROLE = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/ota"
BLOCK = 4096


class CountingTransport(asyncio.Transport):
    """Keeps a count of the bytes written, nothing else."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def write(self, data: Any) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def build(image: bytes) -> tuple[MqttGateway, StreamsMqttHandler]:
    clock = FakeClock(1_700_000_000.0)
    service = LocalIotService(
        clock=clock,
        region=DEFAULT_REGION,
        account=LOCAL_ACCOUNT,
        publish=lambda topic, payload: None,
        read_blob=lambda b, k, v: image,
        presign=lambda b, k, e: "https://s3.local.test/x",
        mqtt_endpoint="127.0.0.1:8883",
    )
    service.call(
        "iot",
        "CreateStream",
        {
            "streamId": STREAM,
            "files": [{"fileId": 0, "s3Location": {"bucket": "b", "key": "fw.bin"}}],
            "roleArn": ROLE,
        },
    )
    streams = StreamsMqttHandler(service, lambda b, k, v: image)
    gateway = MqttGateway(handlers=[JobsMqttHandler(service, clock), streams])
    return gateway, streams


def connect(gateway: MqttGateway, thing: str, protocol: Protocol) -> GatewayConnection:
    link = GatewayConnection(gateway)
    link.connection_made(CountingTransport())
    link.data_received(encode(Connect(thing, 1200, True, 4), 4))
    filters = [(f, 0) for f in device_subscriptions(thing, protocol)]
    link.data_received(encode(Subscribe(1, filters), 4))
    return link


async def run(devices: int, image_kib: int, protocol: Protocol, repeat: int) -> None:
    image = bytes(i % 251 for i in range(image_kib * 1024))
    blocks = -(-len(image) // BLOCK)
    gateway, streams = build(image)
    links = [connect(gateway, f"dev-{i:05d}", protocol) for i in range(devices)]
    first = links[0]
    # the first request reads the file (S3 in production): not part of the per-block cost
    warm = stream_topic(first.client_id, STREAM, "get", protocol)
    wire = GetStreamRequests(stream_version=1, file_id=0, block_size=BLOCK, protocol=protocol)
    result = streams.handle(
        first.client_id, warm, wire.encode("1", 0, 1, b"\x01"), lambda t, p: None
    )
    if result is not None:
        await result
    requests: list[list[bytes]] = []
    for link in links:
        topic = stream_topic(link.client_id, STREAM, "get", protocol)
        requests.append(
            [
                encode_publish(topic, wire.encode(f"{n + 2}", n, 1, b"\x01"), 0, False, False, None)
                for n in range(blocks)
            ]
        )
    best = float("inf")
    written = 0
    for _ in range(repeat):
        before = sum(link.transport.written for link in links)  # type: ignore[union-attr]
        start = time.process_time()
        for n in range(blocks):
            for link, mine in zip(links, requests, strict=True):
                link.data_received(mine[n])
        best = min(best, time.process_time() - start)
        written = sum(link.transport.written for link in links) - before  # type: ignore[union-attr]
    total = devices * blocks
    print(f"{devices:,} devices x {blocks} blocks of {BLOCK} B ({protocol}), best of {repeat}")
    print(f"  {best / total * 1e6:8.2f} µs CPU per block request (gateway + handler)")
    print(f"  {written / total:8.0f} bytes written per request")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--image-kib", type=int, default=256)
    ap.add_argument("--protocol", choices=["cbor", "json"], default="cbor")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    asyncio.run(run(args.devices, args.image_kib, args.protocol, args.repeat))


if __name__ == "__main__":
    main()
