"""The end of a round: one ``poll_final`` (statusDetails of failures into the report) and the
rollout curve kept per poll but deduplicated (report.json stays small)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pair_deploy import World, make_world, plan_for, record_calls, thing_arn
from tests.support.aws_pair import AwsPair

from ota_deploy.deploy.runner import add_sample
from ota_deploy.local.faults import FaultConfig
from ota_deploy.monitor.poller import JobPoller
from ota_deploy.report.model import CountsSample


def d2_fails(job_id: str, thing: str) -> str:
    return "FAILED" if thing == "d2" else "SUCCEEDED"


def said(job_id: str, thing: str) -> dict[str, str]:
    return {"reason": f"{thing} said no"} if thing == "d2" else {"v": "1"}


def world(tmp_path: Path, rounds: int = 2, pair: AwsPair | None = None) -> World:
    """Devices work six of the runner's pauses, then d2 fails (with a reason) and the others
    succeed; the poller fetches no statusDetails while waiting (details budget 0)."""
    return make_world(
        tmp_path,
        outcome=d2_fails,
        details=said,
        work_steps=6,
        rounds=rounds,
        delay=0,
        pair=pair,
    )


def test_poll_final_once_per_round_puts_failure_details_in_the_report(tmp_path: Path) -> None:
    w = world(tmp_path)
    calls: list[tuple[str, dict[str, Any]]] = []
    record_calls(w.poll_client, calls)
    result = w.runner.run(plan_for)
    assert [r.status for r in result.rounds] == ["FAILED"]
    assert result.stop_reason and "round 1 FAILED" in result.stop_reason
    # poll_final is the poller's only DescribeJobExecution caller (budget 0): once, when the
    # round ended (for the failed thing); not for rounds that never ran
    finals = [p["jobId"] for op, p in calls if op == "DescribeJobExecution"]
    assert finals == ["J-1"]
    things = {t.thing_name: t for t in result.rounds[0].things}
    assert things["d2"].status_details == {"reason": "d2 said no"}
    assert things["d1"].status_details == {}


def test_a_failing_final_poll_keeps_the_judged_round(tmp_path: Path) -> None:
    # statusDetails cannot be fetched at all: DescribeJobExecution is throttled for good
    pair = AwsPair(
        faults=FaultConfig(throttle_rate=1.0, operations=frozenset({"DescribeJobExecution"}))
    )
    result = world(tmp_path, rounds=1, pair=pair).runner.run(plan_for)
    assert result.rounds[0].status == "FAILED" and result.error is None
    assert {t.thing_name: t.status for t in result.rounds[0].things}["d2"] == "FAILED"


def test_every_poll_is_a_sample_but_repeats_collapse(tmp_path: Path) -> None:
    result = world(tmp_path, rounds=1).runner.run(plan_for)
    samples = result.rounds[0].samples
    # The first poll sees the executions QUEUED; then 6 identical IN_PROGRESS polls -> first
    # and latest; then the final counts (twice: the deciding poll and poll_final, kept as the
    # step's start and end).
    assert [s.counts.get("IN_PROGRESS", 0) for s in samples] == [0, 3, 3, 0, 0]
    assert samples[1].t > samples[0].t and samples == sorted(samples, key=lambda s: s.t)


def _value_at(samples: list[CountsSample], t: float) -> dict[str, int] | None:
    current = None
    for s in samples:
        if s.t <= t:
            current = s.counts
    return current


@given(st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=60))
def test_dedup_keeps_the_step_function(values: list[int]) -> None:
    full = [CountsSample(t=float(i), counts={"SUCCEEDED": v}) for i, v in enumerate(values)]
    kept: list[CountsSample] = []
    for sample in full:
        add_sample(kept, sample)
    assert kept[0] == full[0] and kept[-1] == full[-1]
    for i in range(len(values)):  # the curve read at any poll time is unchanged
        assert _value_at(kept, float(i)) == full[i].counts
    runs = 1 + sum(1 for a, b in itertools.pairwise(values) if a != b)
    assert len(kept) <= 2 * runs


def test_live_poller_shows_progress_and_drops_stale_details() -> None:
    pair = AwsPair()
    for thing in ("d1", "d2"):
        pair.call("iot", "CreateThing", thingName=thing)
    targets = [thing_arn("d1"), thing_arn("d2")]
    pair.call("iot", "CreateJob", jobId="J", targets=targets, document="{}")

    def report(thing: str, status: str, details: dict[str, str] | None = None) -> None:
        params: dict[str, Any] = {"jobId": "J", "thingName": thing, "status": status}
        if details is not None:
            params["statusDetails"] = details
        pair.call("iot-jobs-data", "UpdateJobExecution", **params)
        pair.clock.advance(1)

    client = pair.client("iot", max_attempts=1)
    poller = JobPoller(client, "J", clock=pair.clock, details_budget=10, watch_in_progress=True)
    report("d1", "IN_PROGRESS", {"progress": "50%"})
    report("d2", "IN_PROGRESS", {"progress": "25%"})
    snap = poller.poll()
    assert snap.things["d1"].status_details == {"progress": "50%"}
    report("d1", "SUCCEEDED")  # succeeded: no new details fetched for it (not worth a call)
    report("d2", "FAILED", {"reason": "bad image"})
    snap = poller.poll()
    assert snap.things["d1"].status_details == {}  # not the stale "progress 50%"
    assert snap.things["d2"].status_details == {"reason": "bad image"}
