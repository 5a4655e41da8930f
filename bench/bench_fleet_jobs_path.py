"""The simulated fleet's CPU per job for its Jobs and stream-control messages (not the blocks).

How data flows: each device first runs one whole job in memory with
``tests/support/device_pair.DevicePair`` (the real agent against the real local AWS IoT
handlers), which records every message the agent received, in order. Then a fresh real
``fleet.device.Device`` (its real ``MqttClient`` connected over loopback TCP to a sink that
answers CONNACK and drops the rest, its real ``DeviceAgent`` of the same thing, so the same
client tokens) is handed the same messages as PUBLISH bytes through its client's asyncio
protocol (``data_received``), as the socket would. Every message runs the whole fleet path:
whole_publish -> Device._deliver / _deliver_publish -> agent -> the requests it answers with
written to the socket, its timers armed and cancelled on the real loop.

Every message is timed alone (the cost of the timing itself, measured on an empty span, is
taken off). Printed, per job, best of ``--repeat`` runs: the CPU of the non-block messages
(notify-next, start-next/accepted, the description, the update replies), and the extra CPU
of the blocks that send a progress update (25/50/75 %) over the median block: together, the
Jobs path's cost per job beside its blocks. Not run by the test suite.

    python bench/bench_fleet_jobs_path.py               # 300 devices x 64 KiB, 4 KiB blocks
    python bench/bench_fleet_jobs_path.py --profile     # cProfile of those messages
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tests.support.device_pair import DevicePair
from tests.support.loopback_device import loopback_context, loopback_sink

from ota_deploy.fleet.device import Device
from ota_deploy.fleet.events import Connected, JobResult, Subscribe
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.mqtt.codec import encode_publish

FILE_ID = 1


Recorded = list[tuple[str, list[tuple[bytes, bool]]]]  # per device: thing, its messages


def _recorded_job(
    thing: str, options: FleetOptions, image: bytes, doc: dict[str, object]
) -> list[tuple[bytes, bool]]:
    """(PUBLISH bytes, is a block) of every message the agent received in one whole job."""
    pair = DevicePair(thing, options)
    pair.add_stream("s1", {FILE_ID: image})
    pair.connect()
    execution = pair.add_job("j1", doc)
    pair.run()
    if execution.status != "SUCCEEDED":
        raise RuntimeError(f"{thing}: the recorded job ended {execution.status}")
    return [(encode_publish(t, p), "/data/" in t) for t, p in pair.received]


def prepare(devices: int, image_kib: int, block_size: int) -> tuple[FleetOptions, Recorded]:
    options = FleetOptions.model_validate({"block_size": block_size})
    image = bytes((i * 7 + 3) & 0xFF for i in range(image_kib * 1024))
    doc = {
        "command": "fota",
        "streamId": "s1",
        "fileId": FILE_ID,
        "md5sum": hashlib.md5(image).hexdigest(),
    }
    return options, [
        (f"bench-{n}", _recorded_job(f"bench-{n}", options, image, doc)) for n in range(devices)
    ]


def _timing_cost(samples: int = 20_000) -> float:
    clock = time.process_time
    t0 = clock()
    for _ in range(samples):
        a = clock()
        b = clock()
        del a, b
    return (clock() - t0) / samples


def _progress_blocks(total: int, every_pct: int) -> set[int]:
    """Ordinals (0-based, in arrival order) of the blocks after which a progress update is
    sent: the k-th block received when k * 100 // total reaches the next step (not the last)."""
    out: set[int] = set()
    step = every_pct
    for k in range(1, total):
        if k * 100 // total >= step:
            out.add(k - 1)
            step = (k * 100 // total // every_pct + 1) * every_pct
    return out


async def run_once(
    options: FleetOptions, recorded: Recorded, profile: bool
) -> tuple[float, float, int]:
    """CPU microseconds per job: of the non-block messages, and of the progress blocks over
    the median block; and the non-block messages per job."""
    server, port = await loopback_sink()
    results: list[JobResult] = []
    ctx = loopback_context(options, port, record=results.append)
    cost = _timing_cost()
    clock = time.process_time
    cpu = 0.0
    timed = 0
    progress_cpu = 0.0
    progress_count = 0
    block_cpu: list[float] = []
    profiler = cProfile.Profile() if profile else None
    for thing, frames in recorded:
        device = Device(ctx, thing)
        await device.client.connect()
        # the connect's actions, the SUBSCRIBE left out (the sink never answers it)
        actions = device.agent.handle(Connected())
        device._perform_all([a for a in actions if type(a) is not Subscribe])
        device.task = asyncio.create_task(device.run())
        proto = device.client._proto
        assert proto is not None
        receive = proto.data_received
        await asyncio.sleep(0)
        progress = _progress_blocks(sum(b for _, b in frames), options.progress_every_pct)
        ordinal = 0
        for frame, is_block in frames:
            if is_block:
                t0 = clock()
                receive(frame)
                spent = clock() - t0 - cost
                if ordinal in progress:
                    progress_cpu += spent
                    progress_count += 1
                else:
                    block_cpu.append(spent)
                ordinal += 1
                continue
            if profiler is not None:
                profiler.enable()
            t0 = clock()
            receive(frame)
            cpu += clock() - t0 - cost
            if profiler is not None:
                profiler.disable()
            timed += 1
        await asyncio.sleep(0)
        device.task.cancel()
        await device.close()
    server.close()
    if len(results) != len(recorded) or any(r.status != "SUCCEEDED" for r in results):
        raise RuntimeError(f"jobs did not all succeed: {[r.status for r in results]}")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    median_block = sorted(block_cpu)[len(block_cpu) // 2]
    extra = (progress_cpu - median_block * progress_count) / len(recorded)
    return cpu / len(recorded) * 1e6, extra * 1e6, timed // len(recorded)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=300)
    parser.add_argument("--image-kib", type=int, default=64)
    parser.add_argument("--block-size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    options, recorded = prepare(args.devices, args.image_kib, args.block_size)
    if args.profile:
        asyncio.run(run_once(options, recorded, True))
        return 0
    runs = [asyncio.run(run_once(options, recorded, False)) for _ in range(args.repeat)]
    per_job = sorted(r[0] for r in runs)
    extra = sorted(r[1] for r in runs)
    print(
        f"fleet jobs path: {args.devices} devices x {args.image_kib} KiB: CPU per job of its "
        f"{runs[0][2]} non-block messages best {per_job[0]:.1f} us, "
        f"median {per_job[len(per_job) // 2]:.1f} us; the progress blocks' extra over the "
        f"median block best {extra[0]:.1f} us, median {extra[len(extra) // 2]:.1f} us "
        f"({len(runs)} runs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
