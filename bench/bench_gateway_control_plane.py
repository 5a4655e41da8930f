"""Control-plane latency of the local AWS IoT while its MQTT gateway serves a fleet's OTA.

The question: does the HTTP control plane (what ``monitor``, the live view and a run's judging
ask) still answer promptly while the gateway in the same server process is saturated by a
fleet downloading an image? Three processes, as in ``run --local``::

    server  (bench_fleet_ota.Server: the local AWS IoT, its own process)
    fleet   (this process: N simulated devices, one SNAPSHOT job, 4 KiB CBOR blocks)
    probe   (a child of this process: boto3 over HTTP, one request at a time, timing each)

The probe alternates DescribeJob and ListJobExecutionsForJob (the first page, 250 executions,
as ``monitor.poller`` asks) with ``--probe-interval`` seconds between requests, and reports
p50 / p99 / max latency per operation in two phases: "OTA" (CreateJob until every device has
finished) and "idle" (``--idle-seconds`` after, the fleet connected and quiet).

    python bench/bench_gateway_control_plane.py                      # 2,000 x 256 KiB
    python bench/bench_gateway_control_plane.py --devices 10000

Only loopback addresses are used. ``--probe`` is the internal mode of the probe child.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from bench_fleet_ota import Server, _setup

from ota_deploy.aws.session import AwsClients, local_target
from ota_deploy.core.status import ExecutionStatus, TargetSelection
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.pool import FleetPool

JOB_ID = "bench-job"
OPERATIONS = ("DescribeJob", "ListJobExecutionsForJob")


def _clients(ep: dict[str, Any]) -> AwsClients:
    return AwsClients(
        local_target(
            {"iot": ep["iot"], "iot-jobs-data": ep["jobs_data"], "s3": ep["s3"]}, ep["region"]
        )
    )


def _probe(ep_json: str, interval: float) -> int:
    """Child mode: time requests until stdin closes; a line on stdin names the next phase.
    Prints {phase: {operation: [seconds, ...]}} as JSON at the end."""
    import threading

    iot = _clients(json.loads(ep_json)).iot
    iot.list_jobs()  # warm: the connection and botocore's model caches
    samples: dict[str, dict[str, list[float]]] = {}
    phase = [""]
    started, done = threading.Event(), threading.Event()

    def read_phases() -> None:
        for line in sys.stdin:
            phase[0] = line.strip()
            started.set()
        done.set()

    threading.Thread(target=read_phases, daemon=True).start()
    calls = {
        "DescribeJob": lambda: iot.describe_job(jobId=JOB_ID),
        "ListJobExecutionsForJob": lambda: iot.list_job_executions_for_job(
            jobId=JOB_ID, maxResults=250
        ),
    }
    print("ready", flush=True)
    started.wait()
    while not done.is_set():
        for name in OPERATIONS:
            current = phase[0]
            t0 = time.perf_counter()
            calls[name]()
            elapsed = time.perf_counter() - t0
            samples.setdefault(current, {}).setdefault(name, []).append(elapsed)
            done.wait(interval)
    print(json.dumps(samples), flush=True)
    return 0


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ota(ep: dict[str, Any], things: list[str], group: str, image: bytes,
         options: FleetOptions, clients: AwsClients, args: argparse.Namespace
         ) -> tuple[dict[str, Any], float, int]:  # fmt: skip
    """The fleet (``--fleet-workers`` processes) downloads while the probe child times the
    control plane; returns the probe's samples, the OTA's wall time and the devices done."""
    md5 = hashlib.md5(image).hexdigest()
    doc = {"command": "fota", "streamId": "bench-stream", "fileId": 1,
           "fileSize": len(image), "imageVer": "1", "md5sum": md5}  # fmt: skip
    pool = FleetPool(
        things,
        workers=args.fleet_workers,
        mqtt_host=ep["mqtt_host"],
        mqtt_port=ep["mqtt_port"],
        options=options,
    )
    pool.start()
    probe = subprocess.Popen(
        [sys.executable, __file__, "--probe", json.dumps(ep), "--probe-interval",
         str(args.probe_interval)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert probe.stdin is not None and probe.stdout is not None
        probe.stdout.readline()  # "ready"
        t0 = time.perf_counter()
        clients.iot.create_job(
            jobId=JOB_ID,
            targets=[group],
            document=json.dumps(doc),
            targetSelection=TargetSelection.SNAPSHOT,
        )
        probe.stdin.write("OTA\n")
        probe.stdin.flush()
        while len(pool.stats().results) < len(things) and time.perf_counter() - t0 < 900:
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        probe.stdin.write("idle\n")
        probe.stdin.flush()
        time.sleep(args.idle_seconds)
        probe.stdin.close()
        out = probe.stdout.read()
        probe.wait(30)
    finally:
        if probe.poll() is None:
            probe.kill()
        stats = pool.stats()
        pool.stop()
    ok = sum(r.status == ExecutionStatus.SUCCEEDED and r.md5_hex == md5 for r in stats.results)
    return json.loads(out), wall, ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--image-kib", type=int, default=256)
    ap.add_argument("--block-size", type=int, default=4096)
    ap.add_argument("--fleet-workers", type=int, default=2, help="fleet processes")
    ap.add_argument("--probe-interval", type=float, default=0.1)
    ap.add_argument("--idle-seconds", type=float, default=3.0)
    ap.add_argument("--probe", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.probe:
        return _probe(args.probe, args.probe_interval)

    image = os.urandom(args.image_kib * 1024)
    options = FleetOptions(protocol="cbor", block_size=args.block_size, progress_every_pct=50)
    server = Server()
    try:
        ep = server.ep
        clients = _clients(ep)
        t = time.perf_counter()
        things, group = _setup(clients, args.devices, image, args.block_size)
        setup_s = time.perf_counter() - t
        samples, wall, ok = _ota(ep, things, group, image, options, clients, args)
    finally:
        server.stop()
    print(
        f"control plane under OTA load: {args.devices} devices x {args.image_kib} KiB in "
        f"{args.block_size} B CBOR blocks, {args.fleet_workers} fleet process(es); "
        f"setup {setup_s:.1f} s, OTA {wall:.1f} s, {ok}/{args.devices} SUCCEEDED"
    )
    for phase in ("OTA", "idle"):
        for name in OPERATIONS:
            values = samples.get(phase, {}).get(name, [])
            if not values:
                print(f"  {phase:>4} {name:<24} no sample")
                continue
            print(
                f"  {phase:>4} {name:<24} n={len(values):<4} p50 "
                f"{1000 * statistics.median(values):7.1f} ms  p99 "
                f"{1000 * _quantile(values, 0.99):7.1f} ms  max {1000 * max(values):7.1f} ms"
            )
    return 0 if ok == args.devices else 1


if __name__ == "__main__":
    sys.exit(main())
