"""``ota-deploy run --local`` at fleet scale, from command start to exit: setup / OTA / cleanup.

Writes a run folder (the manual's dev.ini: one round, no delay, cleanUpCfg on, no API pacing;
a thing list of ``--things`` things; a random ``--image-kib`` image), runs the CLI as a
subprocess under ``ulimit -Sn --soft-limit`` (default 1024, the usual Linux default; the tool
raises it to the hard limit itself) and splits its wall time by the run's own log lines:

    setup    command start -> "round 1 of 1: job ..."   (processes, things, fleet connected,
                                                          leftover scan, upload, thing group)
    OTA      -> "round 1 of 1: SUCCEEDED|..."           (CreateJob .. every device finished)
    cleanup  -> process exit                            (job/stream/group/object removed,
                                                          fleet and server stopped, report)

Also printed: the fleet line and the memory line the run logs (peak memory per simulated device
in the fleet workers and per device connection in the local AWS IoT), and the exit code.

Control plane during the OTA: this process (not the run, not the local AWS IoT) times
DescribeJob and ListJobExecutionsForJob (the first page of 250, as ``monitor.poller`` asks)
against the run's local AWS IoT, one request at a time every ``--probe-interval`` s, from the
round's "job ..." line to its verdict: p50 / p99 / max. And the run's own view, from
report.json: how long after its last device finished the round was judged (the poll cadence),
its API calls, and the times of its rollout samples.

    python bench/bench_run_local.py                              # 10,000 things x 256 KiB
    python bench/bench_run_local.py --things 2000 --image-kib 64 --fleet-workers 1
    python bench/bench_run_local.py --tls                         # mutual TLS for the devices
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ota_deploy.config.sample import SAMPLE_DIR, edit_ini
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT

CLI = [sys.executable, "-c", "from ota_deploy.cli.app import main; main()"]
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def write_folder(folder: Path, things: int, image_kib: int, chunk: int) -> None:
    text = (SAMPLE_DIR / "dev.ini").read_text(encoding="utf-8")
    ini = edit_ini(
        text,
        {
            ("DEFAULT", "thingList"): "thingsList.txt",
            ("DEFAULT", "binName"): "firmware.bin",
            ("DEFAULT", "roleArn"): f"arn:aws:iam::{LOCAL_ACCOUNT}:role/ota-bench-role",
            ("DEFAULT", "jobId"): "BenchJob",
            ("DEFAULT", "streamId"): "BenchStream",
            ("DEFAULT", "rounds"): "1",
            ("DEFAULT", "bucket"): "ota-bench-bucket",
            ("DEFAULT", "cleanUpCfg"): "True",
            ("DEFAULT", "defaultDelay"): "0",
            ("DEFAULT", "region"): DEFAULT_REGION,
            ("DEFAULT", "iotApiSleepTime"): "0",
            ("DEFAULT", "fileChunkSize"): str(chunk),
            ("DEFAULT", "roundTimeout"): "30m",
        },
    )
    (folder / "dev.ini").write_text(ini, encoding="utf-8")
    (folder / "thingsList.txt").write_text(
        "".join(
            f"arn:aws:iot:{DEFAULT_REGION}:{LOCAL_ACCOUNT}:thing/bench-{i:06d}\n"
            for i in range(things)
        ),
        encoding="utf-8",
    )
    (folder / "firmware.bin").write_bytes(os.urandom(image_kib * 1024))


def stamp(line: str) -> float | None:
    m = STAMP.match(line)
    if m is None:
        return None
    return dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


class Probe:
    """Times the control plane of the run's local AWS IoT from this process (module docstring):
    fed the run's output lines, it starts at the round's job line and stops at its verdict."""

    OPERATIONS = ("DescribeJob", "ListJobExecutionsForJob")

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.url: str | None = None
        self.samples: dict[str, list[float]] = {name: [] for name in self.OPERATIONS}
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def feed(self, line: str) -> None:
        if self.url is None and (m := re.search(r"local AWS IoT at (http://\S+)", line)):
            self.url = m.group(1)
        elif self._thread is None and self.url and (m := re.search(r"1 of 1: job (\S+),", line)):
            self._thread = threading.Thread(target=self._run, args=(m.group(1),), daemon=True)
            self._thread.start()
        elif re.search(r"round 1 of 1: (SUCCEEDED|FAILED|ERROR|TIMED_OUT|INTERRUPTED)", line):
            self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self, job_id: str) -> None:
        import boto3
        from botocore.config import Config

        iot = boto3.client(
            "iot",
            endpoint_url=self.url,
            region_name=DEFAULT_REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries={"max_attempts": 1}, read_timeout=300),
        )
        calls: dict[str, Any] = {
            "DescribeJob": lambda: iot.describe_job(jobId=job_id),
            "ListJobExecutionsForJob": lambda: iot.list_job_executions_for_job(
                jobId=job_id, maxResults=250
            ),
        }
        while not self._stop.is_set():
            for name in self.OPERATIONS:
                t0 = time.perf_counter()
                try:
                    calls[name]()
                except Exception:  # the job not created yet, or already deleted
                    self.errors += 1
                    continue
                self.samples[name].append(time.perf_counter() - t0)
            self._stop.wait(self.interval)

    def lines(self) -> list[str]:
        out = []
        for name in self.OPERATIONS:
            v = sorted(self.samples[name])
            if not v:
                out.append(f"{name}: no sample")
                continue
            p99 = v[min(len(v) - 1, int(0.99 * len(v)))]
            out.append(
                f"{name}: n={len(v)} p50 {1000 * statistics.median(v):.0f} ms, "
                f"p99 {1000 * p99:.0f} ms, max {1000 * v[-1]:.0f} ms"
            )
        return out


def run_view(out_dir: Path) -> str | None:
    """How soon the run judged round 1 after its last device finished (report.json's round end
    against the latest ``finished_at`` of its things), and its rollout samples' times."""
    for path in sorted(out_dir.rglob("report.json")):
        rounds = json.loads(path.read_text(encoding="utf-8")).get("rounds") or []
        if not rounds or not rounds[0].get("samples"):
            continue
        first = rounds[0]
        start = float(first["start"])
        times = sorted(float(x["t"]) - start for x in first["samples"])
        shown = ", ".join(f"{t:.1f}" for t in times[:12]) + (" ..." if len(times) > 12 else "")
        finished = [
            float(row["finished_at"])
            for things in sorted(path.parent.glob("things/round-001.jsonl"))
            for row in map(json.loads, things.read_text(encoding="utf-8").splitlines())
            if row.get("finished_at")
        ]
        lag = (
            f"judged {float(first['end']) - max(finished):.1f} s after its last device "
            f"finished ({max(finished) - start:.1f} s after CreateJob); "
            if finished
            else ""
        )
        return (
            f"{lag}{first.get('api_calls')} API calls; rollout samples at {shown} s "
            "(equal counts in a row keep only their first and last sample)"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--things", type=int, default=10_000)
    ap.add_argument("--image-kib", type=int, default=256)
    ap.add_argument("--block-size", type=int, default=4096, help="dev.ini fileChunkSize")
    ap.add_argument("--soft-limit", type=int, default=1024, help="ulimit -Sn for the run")
    ap.add_argument("--fleet-workers", type=int, default=None)
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--tls", action="store_true", help="devices connect over mutual TLS")
    ap.add_argument("--keep", type=Path, help="run in this folder and keep it")
    ap.add_argument("--probe-interval", type=float, default=0.2, help="s between probes")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-run-local-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        write_folder(folder, args.things, args.image_kib, args.block_size)
        cmd = [*CLI, "run", "-c", "dev.ini", "--local", "--out", "out", "--no-live", "--no-html"]
        cmd += ["--time-scale", str(args.time_scale)]
        if args.fleet_workers is not None:
            cmd += ["--fleet-workers", str(args.fleet_workers)]
        if args.tls:
            cmd += ["--tls"]

        def limits() -> None:
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            soft = args.soft_limit if hard == resource.RLIM_INFINITY else min(args.soft_limit, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

        probe = Probe(args.probe_interval)
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        proc = subprocess.Popen(
            cmd,
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=limits,
        )
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            probe.feed(line)
        returncode = proc.wait()
        t_end = time.time()
        probe.stop()
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the run and every child it reaped
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        view = run_view(folder / "out")

    def first(pattern: str) -> tuple[float | None, str]:
        for line in lines:
            if re.search(pattern, line):
                return stamp(line), line
        return None, ""

    t_stack, _ = first(r"local AWS IoT at ")
    t_round, _ = first(r"round 1 of 1: job ")
    t_judged, verdict = first(r"round 1 of 1: (SUCCEEDED|FAILED|ERROR|TIMED_OUT|INTERRUPTED)")
    _, fleet_line = first(r"fleet: \d+ devices in")
    _, memory_line = first(r"memory: fleet workers")
    total = t_end - t0
    print(
        f"run --local: {args.things} things x {args.image_kib} KiB in {args.block_size} B blocks"
        f"{' over mutual TLS' if args.tls else ''}, ulimit -Sn {args.soft_limit}, "
        f"exit code {returncode}"
    )
    if None in (t_round, t_judged):
        print("  the run did not get through its round; its last lines:")
        for line in lines[-25:]:
            print(f"    {line}")
        return 1
    assert t_round is not None and t_judged is not None
    setup, ota, cleanup = t_round - t0, t_judged - t_round, t_end - t_judged
    print(
        f"  total {total:.1f} s = setup {setup:.1f} s + OTA {ota:.1f} s"
        f" + cleanup {cleanup:.1f} s (load average {os.getloadavg()[0]:.1f})"
    )
    if t_stack is not None:
        print(
            f"  (setup: local AWS IoT + things + fleet connected after {t_stack - t0:.1f} s, "
            f"then the run's own setup {t_round - t_stack:.1f} s)"
        )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"  CPU of the run and all its processes: {cpu:.1f} s (on {cores} idle cores the run"
        f" cannot take less than {cpu / max(1, cores or 1):.1f} s; the wall time above includes"
        f" waiting for a busy machine)"
    )
    print(f"  {verdict.split(': ', 1)[-1]}")
    for line in (fleet_line, memory_line):
        if line:
            print(f"  {line.split(': ', 1)[-1]}")
    print(f"  control plane during the OTA, from this process, {args.probe_interval:g} s apart:")
    for line in probe.lines():
        print(f"    {line}")
    if view is not None:
        print(f"  the run: {view}")
    return 0 if returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
