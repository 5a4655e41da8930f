"""The simulated fleet's CPU per received block, in process, through the real objects.

How data flows: each device is a real ``fleet.device.Device`` (its real ``MqttClient``, its
real ``DeviceAgent``) whose client is connected over loopback TCP to a tiny sink that answers
CONNACK and then reads and discards whatever it is sent. The agent is brought to the point
where it waits for block 0 by the in-memory ``tests/support/device_pair.DevicePair`` (the
real agent against the real local AWS IoT handlers: start-next, DescribeStream, the first
GetStream), then moved into the ``Device``. The benchmark hands the client's asyncio protocol
the bytes of each block's PUBLISH as the socket would (``data_received``), so each block
runs the whole fleet path: whole_publish -> Device._deliver -> agent -> the next GetStream
request encoded and written to the socket (a real ``send``). The last block completes the
download: md5 check, SUCCEEDED update, JobFinished.

Printed: CPU microseconds per block (process time, the sink's reads excluded: it runs only
between devices), best of ``--repeat`` runs. Not run by the test suite.

    python bench/bench_fleet_block_path.py                 # 200 devices x 256 KiB, 4 KiB blocks
    python bench/bench_fleet_block_path.py --profile       # cProfile of one run, top functions
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import pstats
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tests.support.device_pair import DevicePair
from tests.support.loopback_device import loopback_context, loopback_sink

from ota_deploy.fleet.device import Device
from ota_deploy.fleet.events import JobResult, MessageReceived
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.local.reserved import streams_codec, streams_protocol
from ota_deploy.mqtt.codec import encode_publish

FILE_ID = 1


def _waiting_agent(
    thing: str, options: FleetOptions, image: bytes, doc: dict[str, object]
) -> DevicePair:
    """A pair whose agent has sent its first GetStream and waits for block 0."""
    pair = DevicePair(thing, options)
    pair.add_stream("s1", {FILE_ID: image})
    pair.connect()
    pair.add_job("j1", doc)
    while not pair.stream_requests():
        if not pair.step():
            raise RuntimeError("the agent never asked for a block")
    data = f"$aws/things/{thing}/streams/s1/data/cbor"
    pair.inbox = deque(
        e for e in pair.inbox if not (isinstance(e, MessageReceived) and e.topic == data)
    )
    pair.deliver()
    return pair


def _frames(thing: str, image: bytes, block_size: int) -> list[bytes]:
    topic = f"$aws/things/{thing}/streams/s1/data/cbor"
    out = []
    for index, start in enumerate(range(0, len(image), block_size)):
        block = image[start : start + block_size]
        message = streams_protocol.data_message(str(7 + index), FILE_ID, index, block)
        out.append(encode_publish(topic, streams_codec.encode(streams_codec.Format.CBOR, message)))
    return out


def prepare(devices: int, image_kib: int, block_size: int) -> list[tuple[DevicePair, list[bytes]]]:
    """Per device: its agent waiting for block 0, and the PUBLISH bytes of every block.
    (Outside the event loop: the pair runs the stream handler's S3 read with asyncio.run.)"""
    options = FleetOptions.model_validate({"block_size": block_size})
    image = bytes((i * 7 + 3) & 0xFF for i in range(image_kib * 1024))
    doc = {
        "command": "fota",
        "streamId": "s1",
        "fileId": FILE_ID,
        "md5sum": hashlib.md5(image).hexdigest(),
    }
    out = []
    for n in range(devices):
        thing = f"bench-{n}"
        out.append((_waiting_agent(thing, options, image, doc), _frames(thing, image, block_size)))
    return out


async def run_once(prepared: list[tuple[DevicePair, list[bytes]]], profile: bool) -> float:
    """CPU microseconds per block over the prepared downloads."""
    options = prepared[0][0].agent.options
    server, port = await loopback_sink()
    results: list[JobResult] = []
    ctx = loopback_context(options, port, record=results.append)
    cpu = 0.0
    blocks = 0
    profiler = cProfile.Profile() if profile else None
    for pair, frames in prepared:
        thing = pair.thing
        device = Device(ctx, thing)
        await device.client.connect()
        device.agent = pair.agent
        pair.agent.clock = ctx.clock  # the fleet's clock from here on
        device.task = asyncio.create_task(device.run())
        proto = device.client._proto
        assert proto is not None
        receive = proto.data_received
        await asyncio.sleep(0)
        if profiler is not None:
            profiler.enable()
        t0 = time.process_time()
        for frame in frames:
            receive(frame)
        cpu += time.process_time() - t0
        if profiler is not None:
            profiler.disable()
        blocks += len(frames)
        await asyncio.sleep(0)
        device.task.cancel()
        await device.client.disconnect()
    server.close()
    decided = [pair.agent.job.result if pair.agent.job else None for pair, _ in prepared]
    if any(d is None or d[0] != "SUCCEEDED" for d in decided):  # the update is not answered
        raise RuntimeError(f"downloads did not all succeed: {decided}")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return cpu / blocks * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--image-kib", type=int, default=256)
    parser.add_argument("--block-size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.profile:
        asyncio.run(run_once(prepare(args.devices, args.image_kib, args.block_size), True))
        return 0
    runs = [
        asyncio.run(run_once(prepare(args.devices, args.image_kib, args.block_size), False))
        for _ in range(args.repeat)
    ]
    print(
        f"fleet block path: {args.devices} devices x {args.image_kib} KiB in "
        f"{args.block_size} B blocks: CPU per block best {min(runs):.2f} us, "
        f"median {sorted(runs)[len(runs) // 2]:.2f} us ({len(runs)} runs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
