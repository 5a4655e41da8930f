"""Synthetic runs for the report tests: seeded download times, chosen failures, real models.

``synthetic_run(devices, rounds, seed=..., slowdown=..., status_of=...)`` builds a
``RunReport`` as the runner does (things, counts, samples, durations); ``status_of(device,
round)`` picks a thing's final status (default: every thing SUCCEEDED).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from ota_deploy.core.status import RoundStatus
from ota_deploy.report.model import CountsSample, RoundReport, RunReport, ThingResult
from ota_deploy.report.results import summarize

T0 = 1_700_000_000.0
StatusOf = Callable[[int, int], str]


def all_succeed(device: int, rnd: int) -> str:
    return "SUCCEEDED"


def synthetic_run(
    devices: int,
    rounds: int,
    *,
    seed: int = 1,
    slowdown: float = 1.0,
    round_sec: float = 40.0,
    status_of: StatusOf = all_succeed,
) -> RunReport:
    rng = random.Random(seed)
    out = []
    for n in range(1, rounds + 1):
        start = T0 + 1000 * n
        things = []
        for d in range(devices):
            status = status_of(d, n)
            took = round(rng.lognormvariate(1.2, 0.25) * slowdown, 3)
            things.append(
                ThingResult(
                    thing_name=f"dev-{d:05d}",
                    status=status,  # type: ignore[arg-type]
                    queued_at=start,
                    started_at=start + 1,
                    finished_at=start + 1 + took,
                    duration_sec=took,
                    status_details={"reason": f"r{d % 3}"} if status == "FAILED" else {},
                )
            )
        counts = Counter(t.status for t in things)
        failed = any(s != "SUCCEEDED" for s in counts)
        out.append(
            RoundReport(
                round=n,
                job_id=f"Job-{n}",
                stream_id=f"Stream-{n}",
                status=RoundStatus.FAILED if failed else RoundStatus.SUCCEEDED,
                start=start,
                end=start + round_sec * slowdown,
                duration_sec=round(round_sec * slowdown * rng.uniform(0.99, 1.01), 3),
                counts=dict(counts),  # type: ignore[arg-type]
                things=things,
                samples=[
                    CountsSample(t=start + 1, counts={"QUEUED": devices}),  # type: ignore[dict-item]
                    CountsSample(t=start + round_sec, counts=dict(counts)),  # type: ignore[arg-type]
                ],
                api_calls=20,
            )
        )
    return RunReport(
        tool_version="test",
        mode="local",
        region="us-east-1",
        started=T0,
        ended=T0 + 1000 * (rounds + 1),
        rounds=out,
        summary=summarize(out, rounds),
    )
