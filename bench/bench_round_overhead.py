"""What one round costs end to end, beyond the devices' own work; and a 1,000,000-round run.

    python bench/bench_round_overhead.py [--rounds 8] [--api-sleep-ms 50 0] [--no-million]

Per-round overhead. A fixed dev.ini (the manual's sample: 10 things, a 16 KiB image; rounds 8,
defaultDelay 0, cleanUpCfg True, iotApiSleepTime as given: the manual's 50 ms, and 0 to show
what that pacing costs) is run as a user runs it: ``python -m ota_deploy run --local
--no-live --no-html`` in a subprocess, at --time-scale 1, with healthy simulated devices. From
its report.json, per round (median and min-max over the rounds):

    round     its start -> the next round's start (the last round: -> the end of its cleanup)
    create    start -> the job's first execution QUEUED (CreateStream, CreateJob, pacing)
    devices   first QUEUED -> last execution finished: the devices' own work (notification,
              MQTT download, status updates), measured by the local AWS IoT on the run's clock
    seen      last execution finished -> the round's verdict (poll pacing, deciding poll)
    cleanup   DeleteJob + wait until gone, DeleteStream (RoundReport.cleanup_sec)
    between   the rest until the next round starts (planning, logging, iotApiSleepTime pacing)
    overhead  round - devices

The original ``jobs_scheduler.py`` is not in the manual (which shows its dev.ini and
``python3 jobs_scheduler.py`` only), so there is no side-by-side run of it here; the figures
are ours against this fixed dev.ini.

A 1,000,000-round run (``--no-million`` skips it): the time from the command's start to round
1, against the same for the 8-round run (planning is per round run, not per round planned);
SIGINT once round 2 has started, the time until the process exits, and report.json's size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "ota_deploy" / "config" / "samples"
CLI = [sys.executable, "-m", "ota_deploy"]
PARTS = ("round", "create", "devices", "seen", "cleanup", "between", "overhead")


def make_ini(folder: Path, **keys: str) -> Path:
    """The manual's sample dev.ini and its files in ``folder``, with [DEFAULT] keys replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("dev.ini", "thingsList.txt", "test.bin", "job_temp.json"):
        shutil.copy(SAMPLES / name, folder / name)
    ini = folder / "dev.ini"
    lines = []
    for line in ini.read_text().splitlines():
        key = line.split("=", 1)[0].strip() if "=" in line else None
        lines.append(f"{key} = {keys[key]}" if key in keys else line)
    ini.write_text("\n".join(lines) + "\n")
    return ini


def run_args(out: Path) -> list[str]:
    return [*CLI, "run", "-c", "dev.ini", "--local", "--no-live", "--no-html", "--out", str(out)]


def things_of(out: Path, rnd: dict[str, Any]) -> list[dict[str, Any]]:
    """A round's per-thing records: inline in report.json, or in its per-round JSON Lines."""
    if rnd.get("things"):
        return list(rnd["things"])
    name = rnd.get("things_file")
    if not name:
        return []
    lines = (out / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def round_parts(out: Path, report: dict[str, Any]) -> list[dict[str, float]]:
    rounds = report["rounds"]
    parts: list[dict[str, float]] = []
    for i, rnd in enumerate(rounds):
        things = things_of(out, rnd)
        queued = min(t["queued_at"] for t in things if t.get("queued_at") is not None)
        finished = max(t["finished_at"] for t in things if t.get("finished_at") is not None)
        cleaned = rnd["end"] + (rnd.get("cleanup_sec") or 0.0)
        nxt = rounds[i + 1]["start"] if i + 1 < len(rounds) else cleaned
        p = {
            "round": nxt - rnd["start"],
            "create": queued - rnd["start"],
            "devices": finished - queued,
            "seen": rnd["end"] - finished,
            "cleanup": rnd.get("cleanup_sec") or 0.0,
            "between": nxt - cleaned,
        }
        p["overhead"] = p["round"] - p["devices"]
        parts.append(p)
    return parts


def per_round(rounds: int, api_sleep_ms: int, work: Path) -> tuple[list[dict[str, float]], Any]:
    folder = work / f"per-round-{api_sleep_ms}ms"
    make_ini(
        folder,
        rounds=str(rounds),
        defaultDelay="0",
        cleanUpCfg="True",
        iotApiSleepTime=str(api_sleep_ms),
    )
    out = folder / "out"
    started = time.time()
    proc = subprocess.run(run_args(out), cwd=folder, capture_output=True, text=True, timeout=600)
    took = time.time() - started
    if proc.returncode != 0:
        sys.exit(f"run failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    report = json.loads((out / "report.json").read_text())
    first = report["rounds"][0]["start"] - started
    print(
        f"\niotApiSleepTime = {api_sleep_ms} ms: {rounds} rounds, command {took:.2f} s, "
        f"round 1 started {first:.2f} s after the command; "
        f"API calls per round {[r['api_calls'] for r in report['rounds']]}"
    )
    parts = round_parts(out, report)
    print(f"  {'seconds':<9}{'median':>8}{'min':>8}{'max':>8}")
    for name in PARTS:
        values = [p[name] for p in parts]
        print(f"  {name:<9}{statistics.median(values):8.3f}{min(values):8.3f}{max(values):8.3f}")
    return parts, first


def million(work: Path, eight_round_start: float) -> None:
    folder = work / "million"
    make_ini(folder, rounds="1000000", defaultDelay="0", cleanUpCfg="False")
    out = folder / "out"
    started = time.time()
    proc = subprocess.Popen(
        run_args(out), cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    journal = out / "journal.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.is_file() and '"JobPython5566-2"' in journal.read_text():
            break
        time.sleep(0.02)
    signalled = time.time()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    exited = time.time()
    report = json.loads((out / "report.json").read_text())
    first = report["rounds"][0]["start"] - started
    print(
        f"\n1,000,000 rounds: round 1 started {first:.2f} s after the command "
        f"(8 rounds: {eight_round_start:.2f} s); SIGINT in round 2 -> exit {proc.returncode} "
        f"{exited - signalled:.2f} s later; report.json {(out / 'report.json').stat().st_size:,} "
        f"bytes, {len(report['rounds'])} round(s), summary {report['summary']}, "
        f"not_run {report.get('not_run')}"
    )
    if "Traceback" in stderr:
        print("  stderr had a traceback:\n" + stderr[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--api-sleep-ms", type=int, nargs="+", default=[50, 0])
    parser.add_argument("--no-million", action="store_true")
    args = parser.parse_args()
    print("per-round cost of `run --local` (10 devices, 16 KiB, defaultDelay 0, cleanUpCfg True)")
    print("original jobs_scheduler.py: not available (the manual does not contain the script)")
    with tempfile.TemporaryDirectory(prefix="bench-round-") as tmp:
        work = Path(tmp)
        first = 0.0
        for ms in args.api_sleep_ms:
            _, start = per_round(args.rounds, ms, work)
            first = first or start
        if not args.no_million:
            million(work, first)


if __name__ == "__main__":
    main()
