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

    python bench/bench_run_local.py                              # 10,000 things x 256 KiB
    python bench/bench_run_local.py --things 2000 --image-kib 64 --fleet-workers 1
    python bench/bench_run_local.py --tls                         # mutual TLS for the devices
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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

        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        proc = subprocess.run(
            cmd, cwd=folder, capture_output=True, text=True, preexec_fn=limits, check=False
        )
        t_end = time.time()
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the run and every child it reaped
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        lines = (proc.stdout + proc.stderr).splitlines()

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
        f"exit code {proc.returncode}"
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
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
