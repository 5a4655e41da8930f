"""The live view's render time for 1,000 and 10,000 devices (a unit-level figure).

    python bench/bench_report_live.py [--devices 1000,10000] [--repeat 20]

Builds one ``JobSnapshot`` mid-round (most devices done, some downloading, a few failed,
stalled or queued), then times ``monitor.live.render`` alone (choosing the worst devices) and
render + drawing it on a 120-column console (what a refresh costs), median of ``--repeat``.
Prints the figures and how many lines the view has: it stays the same for 10,000 devices.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time

from rich.console import Console

from ota_deploy.monitor.live import render
from ota_deploy.monitor.snapshot import JobSnapshot, ThingState

T0 = 1_760_000_000.0


def snapshot(devices: int, seed: int = 3) -> JobSnapshot:
    rng = random.Random(seed)
    now = T0 + 300
    things: dict[str, ThingState] = {}
    for d in range(devices):
        name = f"thing-{d:05d}"
        roll = rng.random()
        started = T0 + rng.uniform(0, 200)
        if roll < 0.70:
            state = ThingState(name, "SUCCEEDED", started_at=started,
                               last_updated_at=started + rng.uniform(3, 40))  # fmt: skip
        elif roll < 0.90:
            state = ThingState(
                name, "IN_PROGRESS", {"progress": f"{rng.randint(1, 99)}%"},
                started_at=started, blocks_received=rng.randint(1, 60),
                last_activity_at=now - rng.expovariate(1 / 3.0),
            )  # fmt: skip
        elif roll < 0.995:
            state = ThingState(name, "QUEUED")
        else:
            state = ThingState(name, "FAILED", {"reason": "md5 mismatch"}, started_at=started,
                               last_updated_at=started + 5)  # fmt: skip
        things[name] = state
    counts: dict[str, int] = {}
    for t in things.values():
        counts[t.status] = counts.get(t.status, 0) + 1
    return JobSnapshot(
        "StressJob-7", "IN_PROGRESS", now, counts=counts, things=things,  # type: ignore[arg-type]
        created_at=T0, round_number=7, rounds=34, api_calls=12,
    )  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", default="1000,10000")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    for devices in (int(x) for x in args.devices.split(",")):
        snap = snapshot(devices)
        pick, draw = [], []
        lines = 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            view = render(snap, stall_after_sec=30)
            pick.append(time.perf_counter() - t)
            console = Console(file=io.StringIO(), width=120, record=True)
            t = time.perf_counter()
            console.print(render(snap, stall_after_sec=30))
            draw.append(time.perf_counter() - t)
            lines = len(console.export_text().splitlines())
        del view
        print(
            f"live view, {devices:>6} devices: render {statistics.median(pick) * 1000:.1f} ms, "
            f"render + draw (120 columns) {statistics.median(draw) * 1000:.1f} ms, "
            f"{lines} lines on screen (median of {args.repeat})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
