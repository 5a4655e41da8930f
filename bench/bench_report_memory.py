"""Peak memory of a long run's report path: 10,000 things x 34 rounds, per-round files or not.

    python bench/bench_report_memory.py [--devices 10000] [--rounds 34] [--modes at-end per-round]

Each mode runs in its own process (peak RSS is a process's high-water mark), fed the same
seeded rounds one at a time, as the round runner hands them over (``bench_report``'s synthetic
round: log-normal download times, a slow tail, 20 flaky devices, a few FAILED / TIMED_OUT /
REJECTED with reasons; ``ThingResult`` records as the runner makes them):

- ``at-end``: every round keeps its per-thing records until the run ends, then
  ``write_outputs`` writes things/round-NNN.jsonl, report.json and report.html (what a run did
  before the per-round hook; it is also what ``write_outputs`` still does for a report handed
  over with its things);
- ``per-round``: ``RoundFiles.add`` as each round ends (the runner's ``on_round_end`` hook, as
  ``deploy.entry`` wires it): the round's file is written, its records dropped, its digest
  kept; then ``write_outputs(..., round_files=...)`` uses the files already on disk.

Printed per mode: peak RSS, RSS after start-up (imports), the difference (what the report path
held), wall time, and the sizes of report.json, report.html and the per-round files. Figures,
not tests: nothing is asserted. ``--src DIR`` runs the ``at-end`` mode against another checkout's
``src`` (e.g. the code before the hook) to show it matches.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _rss_kib() -> int:
    """The process's RSS now (KiB), from /proc; the peak comes from getrusage."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def child(mode: str, devices: int, rounds: int, out: Path) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from bench_report import synthetic_round

    from ota_deploy.report.model import RunReport
    from ota_deploy.report.results import summarize, write_outputs

    start_rss = _rss_kib()
    t = time.perf_counter()
    rng = random.Random(12)
    report = RunReport(
        tool_version="bench",
        mode="local",
        region="us-east-1",
        started=0.0,
        summary=summarize([], rounds),
    )
    files = None
    if mode == "per-round":
        from ota_deploy.report.round_files import RoundFiles

        files = RoundFiles(out)
    for n in range(1, rounds + 1):
        rnd = synthetic_round(n, devices, rng, 1.0)
        report.rounds.append(rnd)
        if files is not None:
            files.add(rnd)
    report.summary = summarize(report.rounds, rounds)
    report.ended = report.rounds[-1].end
    if files is not None:
        write_outputs(report, out, round_files=files)
    else:
        write_outputs(report, out)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    things = sum(p.stat().st_size for p in (out / "things").glob("*.jsonl"))
    return {
        "peak_mib": peak / 1024,
        "start_mib": start_rss / 1024,
        "held_mib": (peak - start_rss) / 1024,
        "wall_s": wall,
        "report_json_mb": (out / "report.json").stat().st_size / 1e6,
        "report_html_mb": (out / "report.html").stat().st_size / 1e6,
        "things_mb": things / 1e6,
        "round_files": len(list((out / "things").glob("*.jsonl"))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=34)
    parser.add_argument("--modes", nargs="+", default=["at-end", "per-round"])
    parser.add_argument("--src", type=Path, help="run at-end against this checkout's src")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.devices, args.rounds, args.out)))
        return
    print(f"report path of {args.devices:,} things x {args.rounds} rounds (one process a mode)")
    print(
        f"{'mode':<18}{'peak RSS':>10}{'start':>9}{'held':>9}{'wall':>8}"
        f"{'report.json':>13}{'report.html':>13}{'things/':>10}"
    )
    runs = [(m, None) for m in args.modes]
    if args.src is not None:
        runs.append(("at-end", args.src))
    for mode, src in runs:
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ)
            if src is not None:
                env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
            cmd = [
                sys.executable,
                __file__,
                "--child",
                mode,
                "--out",
                tmp,
                "--devices",
                str(args.devices),
                "--rounds",
                str(args.rounds),
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if done.returncode:
                print(f"{mode}: failed\n{done.stderr[-2000:]}")
                continue
            f = json.loads(done.stdout.strip().splitlines()[-1])
            label = mode if src is None else f"{mode} ({src})"
            print(
                f"{label:<18}{f['peak_mib']:>7.0f} MiB{f['start_mib']:>5.0f} MiB"
                f"{f['held_mib']:>5.0f} MiB{f['wall_s']:>7.1f}s{f['report_json_mb']:>10.2f} MB"
                f"{f['report_html_mb']:>10.2f} MB{f['things_mb']:>7.1f} MB"
            )


if __name__ == "__main__":
    main()
