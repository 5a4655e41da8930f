"""Fleet OTA throughput: N simulated devices download an image through the local AWS IoT.

One run measures, against the SAME local AWS IoT process (its own process, so the gateway and
the fleet each get a core):

* the OTA: N things in a thing group, one SNAPSHOT job, each device doing start-next ->
  DescribeStream -> GetStream (``--block-size``, ``--blocks-per-request``) -> md5 check ->
  SUCCEEDED. Wall time is from CreateJob to the last device's SUCCEEDED accepted.
* the raw baseline: the same number of MQTT clients moving the same payload bytes in messages
  of the same size as plain pub/sub through the same gateway (each client publishes to its own
  topic and receives it back, ``--blocks-per-request`` messages in flight, as the OTA has).

Printed: wall time, devices/s, payload MB/s, peak RSS of the fleet and of the server process,
the CPU seconds (user+sys, and sys) each process used in each phase, and the OTA/raw ratio
(goal: 1,000 x 256 KiB in 4 KiB blocks within 1.5x of raw). The machine may be
shared: wall times then vary with its load, and the CPU figures (and ratios within one run)
are the steadier comparison.

    python bench/bench_fleet_ota.py                        # quick: 100 devices x 64 KiB
    python bench/bench_fleet_ota.py --devices 1000 --image-kib 256 --block-size 4096
    python bench/bench_fleet_ota.py --devices 1000 --image-kib 256 --tls   # TLS's cost

Only loopback addresses are used. ``--serve`` is the internal mode of the server subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ota_deploy.aws.session import AwsClients, local_target
from ota_deploy.core.defaults import LOCAL_ACCOUNT
from ota_deploy.core.status import ExecutionStatus, TargetSelection
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.runner import Fleet
from ota_deploy.fleet.worker import TlsFiles, ssl_for_files
from ota_deploy.mqtt.client import MqttClient
from ota_deploy.runtime.memory import current_rss_kib, peak_rss_kib, rss_kib_of

CpuProbe = Callable[[], tuple[float, float]]


def _serve(time_scale: float) -> int:
    """Subprocess mode: run the local AWS IoT, print its endpoints, stop when stdin closes."""
    from ota_deploy.local.server import LocalAwsIot
    from ota_deploy.wiring.clock import time_source

    async def main() -> None:
        local = LocalAwsIot(clock=time_source(local=True, time_scale=time_scale))
        ep = await local.start()
        print(json.dumps({**ep.__dict__, "pid": os.getpid()}), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
        await local.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"server_peak_rss_mb": round(rss, 1)}), flush=True)

    asyncio.run(main())
    return 0


class Server:
    """The local AWS IoT in a child process."""

    def __init__(self, time_scale: float = 1.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--time-scale", str(time_scale)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the local AWS IoT did not start")
        self.ep: dict[str, Any] = json.loads(line)

    def peak_rss_mb(self) -> float:
        """VmHWM of the server process while it runs (Linux)."""
        try:
            for ln in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if ln.startswith("VmHWM:"):
                    return round(int(ln.split()[1]) / 1024, 1)
        except OSError:
            pass
        return float("nan")

    def cpu_s(self) -> tuple[float, float]:
        """(user, system) CPU seconds the server process has used so far (Linux)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            tck = os.sysconf("SC_CLK_TCK")
            return int(fields[11]) / tck, int(fields[12]) / tck
        except (OSError, IndexError, ValueError):
            return float("nan"), float("nan")

    def rss_kib(self) -> int | None:
        """The server process's resident memory now, KiB (Linux)."""
        return rss_kib_of(self.proc.pid)

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _own_cpu_s() -> tuple[float, float]:
    """(user, system) CPU seconds of this process so far."""
    t = os.times()
    return t.user, t.system


def _cpu_since(
    start: tuple[tuple[float, float], tuple[float, float]], server_cpu: CpuProbe
) -> dict[str, float]:
    """CPU used by this process (the fleet / the raw clients) and the server since ``start``."""
    (fu, fs), (su, ss) = start
    (fu2, fs2), (su2, ss2) = _own_cpu_s(), server_cpu()
    return {
        "fleet_cpu_s": fu2 - fu + fs2 - fs,
        "fleet_sys_s": fs2 - fs,
        "server_cpu_s": su2 - su + ss2 - ss,
        "server_sys_s": ss2 - ss,
    }


def _device_certificates(clients: AwsClients, things: list[str], ep: dict[str, Any]) -> TlsFiles:
    """--tls: a registered certificate per device (``wiring.local_tls``, over boto3)."""
    from botocore import xform_name

    from ota_deploy.wiring.local_tls import provision_devices

    class OverHttp:
        def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
            return getattr(clients.iot, xform_name(operation))(**params)  # type: ignore[no-any-return]

    folder = Path(tempfile.mkdtemp(prefix="bench-fleet-tls-"))
    files = provision_devices(
        OverHttp(), things, region=ep["region"], account=ep["account"], directory=folder,
        now=time.time(),
    )  # fmt: skip
    return TlsFiles(Path(ep["ca"]), files)


def _setup(clients: AwsClients, n: int, image: bytes, block: int) -> tuple[list[str], str]:
    iot, s3 = clients.iot, clients.s3
    s3.create_bucket(Bucket="bench-firmware")
    s3.put_object(Bucket="bench-firmware", Key="fw.bin", Body=image)
    iot.create_stream(
        streamId="bench-stream",
        files=[{"fileId": 1, "s3Location": {"bucket": "bench-firmware", "key": "fw.bin"}}],
        roleArn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/bench-ota",
    )
    group = iot.create_thing_group(thingGroupName="bench-fleet")["thingGroupArn"]
    things = [f"bench-{i:05d}" for i in range(n)]
    for t in things:
        iot.create_thing(thingName=t)
        iot.add_thing_to_thing_group(thingGroupName="bench-fleet", thingName=t)
    return things, group


class Profiler:
    """py-spy (``pip install py-spy``) sampling both processes during the OTA phase."""

    def __init__(self, out_dir: Path | None, server_pid: int, rate: int = 250) -> None:
        self.out_dir = out_dir
        self.pids = {"server": server_pid, "fleet": os.getpid()}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.rate = rate
        self.phase = "ota"

    def start(self, phase: str = "ota") -> None:
        self.phase = phase
        self.procs = []
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            self.procs.append(
                subprocess.Popen(
                    [
                        "py-spy",
                        "record",
                        "--nonblocking",
                        "--format",
                        "raw",
                        "--rate",
                        str(self.rate),
                        "-p",
                        str(pid),
                        "-o",
                        str(self.out_dir / f"{self.phase}-{name}.txt"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.out_dir is not None:
            for name in self.pids:
                path = self.out_dir / f"{self.phase}-{name}.txt"
                print(f"  profile: {path}")
                for line in top_frames(path, 12):
                    print(f"    {line}")


def top_frames(path: Path, n: int) -> list[str]:
    """Inclusive share of the busiest functions in a py-spy raw (collapsed) profile."""
    counts: dict[str, int] = {}
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return ["(no profile)"]
    for line in lines:
        stack, _, num = line.rpartition(" ")
        if not num.isdigit():
            continue
        total += int(num)
        for frame in set(stack.split(";")):
            if "ota_deploy" in frame or "asyncio/selector_events" in frame:
                name = frame.split(" (")[0] + " (" + frame.rsplit("/", 1)[-1]
                counts[name] = counts.get(name, 0) + int(num)
    best = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
    return [f"{100 * c / max(total, 1):5.1f}% {f}" for f, c in best]


async def _ota(
    ep: dict[str, Any],
    clients: AwsClients,
    things: list[str],
    group: str,
    image: bytes,
    options: FleetOptions,
    profiler: Profiler,
    server_cpu: CpuProbe,
    server_rss: Callable[[], int | None],
    tls: TlsFiles | None = None,
) -> dict[str, Any]:
    fleet = Fleet(
        things,
        mqtt_host=ep["mqtt_host"],
        mqtt_port=ep["mqtts_port"] if tls is not None else ep["mqtt_port"],
        options=options,
        ssl_for=ssl_for_files(tls) if tls is not None else None,
    )
    base_rss, server_before = current_rss_kib(), server_rss()
    t0 = time.perf_counter()
    await fleet.start()
    connect_s = time.perf_counter() - t0
    idle_rss, server_after = current_rss_kib(), server_rss()
    doc = {
        "command": "fota",
        "streamId": "bench-stream",
        "fileId": 1,
        "fileSize": len(image),
        "imageVer": "1",
        "md5sum": hashlib.md5(image).hexdigest(),
    }
    loop = asyncio.get_running_loop()
    profiler.start()
    cpu0 = (_own_cpu_s(), server_cpu())
    t1 = time.perf_counter()
    wall_clock0 = time.time()
    await loop.run_in_executor(
        None,
        lambda: clients.iot.create_job(
            jobId="bench-job",
            targets=[group],
            document=json.dumps(doc),
            targetSelection=TargetSelection.SNAPSHOT,
        ),
    )
    n = len(things)
    while len(fleet.counters.results) < n:  # looked at every 5 ms: the end is timed as
        await asyncio.sleep(0.005)  # closely as the raw baseline's (its last message)
        if time.perf_counter() - t1 > 600:
            break
    wall = time.perf_counter() - t1
    cpu = _cpu_since(cpu0, server_cpu)
    profiler.stop()
    stats = fleet.stats()
    await fleet.stop()
    md5 = hashlib.md5(image).hexdigest()
    ok = sum(r.status == ExecutionStatus.SUCCEEDED and r.md5_hex == md5 for r in stats.results)
    starts = sorted(r.started_at - wall_clock0 for r in stats.results)
    ends = sorted(r.finished_at - wall_clock0 for r in stats.results)
    return {
        "connect_s": connect_s,
        "wall_s": wall,
        **cpu,
        "first_start_s": starts[0] if starts else float("nan"),
        "last_start_s": starts[-1] if starts else float("nan"),
        "first_end_s": ends[0] if ends else float("nan"),
        "succeeded": ok,
        "by_status": stats.by_status(),
        "messages_in": stats.messages_in,
        "messages_out": stats.messages_out,
        "connected": stats.connects,
        "idle_kib_per_device": (idle_rss - base_rss) / len(things),
        "peak_kib_per_device": (peak_rss_kib() - base_rss) / len(things),
        "server_kib_per_connection": (
            (server_after - server_before) / len(things)
            if server_after is not None and server_before is not None
            else float("nan")
        ),
    }


async def _raw(
    ep: dict[str, Any],
    n: int,
    per_client: int,
    size: int,
    window: int,
    server_cpu: CpuProbe,
    profiler: Profiler,
) -> dict[str, float]:
    clients = [MqttClient(f"raw-{i}", host=ep["mqtt_host"], port=ep["mqtt_port"]) for i in range(n)]
    sem = asyncio.Semaphore(64)

    async def connect(c: MqttClient) -> None:
        async with sem:
            await c.connect()
            await c.subscribe([(f"bench/raw/{c.client_id}", 0)])

    await asyncio.gather(*(connect(c) for c in clients))
    payload = b"\x5a" * size

    async def pump(c: MqttClient) -> None:
        topic = f"bench/raw/{c.client_id}"
        sent = got = 0
        while sent < min(window, per_client):
            await c.publish(topic, payload)
            sent += 1
        while got < per_client:
            await c.messages.get()
            got += 1
            if sent < per_client:
                await c.publish(topic, payload)
                sent += 1

    profiler.start("raw")
    cpu0 = (_own_cpu_s(), server_cpu())
    t0 = time.perf_counter()
    await asyncio.gather(*(pump(c) for c in clients))
    wall = time.perf_counter() - t0
    cpu = _cpu_since(cpu0, server_cpu)
    profiler.stop()
    await asyncio.gather(*(c.disconnect() for c in clients))
    return {"wall_s": wall, **cpu}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Fleet OTA throughput through the local AWS IoT")
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--image-kib", type=int, default=64)
    ap.add_argument("--block-size", type=int, default=4096)
    ap.add_argument("--blocks-per-request", type=int, default=1)
    ap.add_argument("--protocol", choices=["cbor", "json"], default="cbor")
    ap.add_argument("--no-baseline", action="store_true", help="skip the raw pub/sub baseline")
    ap.add_argument(
        "--tls", action="store_true", help="devices connect over mutual TLS (a certificate each)"
    )
    ap.add_argument(
        "--profile", type=Path, help="py-spy both processes (OTA and raw phase) into this folder"
    )
    ap.add_argument("--profile-rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--time-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        return _serve(args.time_scale)

    image = os.urandom(args.image_kib * 1024)
    options = FleetOptions(
        protocol=args.protocol,
        block_size=args.block_size,
        blocks_per_request=args.blocks_per_request,
        progress_every_pct=50,
    )
    server = Server()
    try:
        ep = server.ep
        clients = AwsClients(
            local_target(
                {"iot": ep["iot"], "iot-jobs-data": ep["jobs_data"], "s3": ep["s3"]}, ep["region"]
            )
        )
        t = time.perf_counter()
        things, group = _setup(clients, args.devices, image, args.block_size)
        setup_s = time.perf_counter() - t
        tls = None
        if args.tls:
            t = time.perf_counter()
            tls = _device_certificates(clients, things, ep)
            print(f"  (--tls: {len(things)} device certificates registered in "
                  f"{time.perf_counter() - t:.1f} s)")  # fmt: skip
        profiler = Profiler(args.profile, ep["pid"], args.profile_rate)
        ota = asyncio.run(
            _ota(
                ep, clients, things, group, image, options, profiler, server.cpu_s,
                server.rss_kib, tls,
            )
        )  # fmt: skip
        blocks = math.ceil(len(image) / args.block_size)
        raw: dict[str, float] | None = None
        if not args.no_baseline:
            raw = asyncio.run(
                _raw(
                    ep,
                    args.devices,
                    blocks,
                    args.block_size,
                    args.blocks_per_request,
                    server.cpu_s,
                    profiler,
                )
            )
        server_rss = server.peak_rss_mb()
    finally:
        server.stop()

    payload_mb = args.devices * len(image) / 1e6
    fleet_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"fleet OTA: {args.devices} devices x {args.image_kib} KiB in {args.block_size} B blocks,"
        f" {args.blocks_per_request} block(s)/request, {args.protocol}"
        f"{', mutual TLS' if args.tls else ', plain TCP'}"
    )
    print(
        f"  setup (things, group, stream): {setup_s:.2f} s; fleet connect: {ota['connect_s']:.2f} s"
    )
    print(
        f"  OTA wall time: {ota['wall_s']:.2f} s  ({ota['succeeded']}/{args.devices} SUCCEEDED"
        f" with the right md5; statuses {ota['by_status']})"
    )
    print(
        f"  devices/s: {args.devices / ota['wall_s']:.1f}   payload MB/s: "
        f"{payload_mb / ota['wall_s']:.2f}   MQTT messages in/out at the fleet: "
        f"{ota['messages_in']}/{ota['messages_out']}"
    )
    print(
        f"  CPU: fleet process {ota['fleet_cpu_s']:.2f} s (sys {ota['fleet_sys_s']:.2f}), server"
        f" process {ota['server_cpu_s']:.2f} s (sys {ota['server_sys_s']:.2f})"
    )
    print(
        f"  devices started {ota['first_start_s']:.2f}..{ota['last_start_s']:.2f} s after"
        f" CreateJob, first SUCCEEDED at {ota['first_end_s']:.2f} s"
    )
    print(f"  peak RSS: fleet process {fleet_rss:.1f} MB, server process {server_rss} MB")
    print(
        f"  memory per device: fleet {ota['idle_kib_per_device']:.1f} KiB connected and idle, "
        f"{ota['peak_kib_per_device']:.1f} KiB at the peak (goal <= 30 KB); server "
        f"{ota['server_kib_per_connection']:.1f} KiB per connection"
    )
    if raw is not None:
        raw_wall = raw["wall_s"]
        print(
            f"raw pub/sub baseline: {args.devices} clients x {blocks} messages of "
            f"{args.block_size} B ({args.blocks_per_request} in flight): {raw_wall:.2f} s, "
            f"{payload_mb / raw_wall:.2f} MB/s"
        )
        print(
            f"  CPU: clients' process {raw['fleet_cpu_s']:.2f} s (sys {raw['fleet_sys_s']:.2f}),"
            f" server process {raw['server_cpu_s']:.2f} s (sys {raw['server_sys_s']:.2f})"
        )
        print(
            f"ratio OTA/raw: wall {ota['wall_s'] / raw_wall:.2f}x (goal <= 1.5x); CPU: fleet/"
            f"clients {ota['fleet_cpu_s'] / raw['fleet_cpu_s']:.2f}x, server "
            f"{ota['server_cpu_s'] / raw['server_cpu_s']:.2f}x (steadier on a shared machine)"
        )
    return 0 if ota["succeeded"] == args.devices else 1


if __name__ == "__main__":
    sys.exit(main())
