"""The end of a round: one ``poll_final`` (statusDetails of failures into the report) and the
rollout curve kept per poll but deduplicated (report.json stays small)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from fakes_deploy import FakeIot, ScriptedPoller
from hypothesis import given
from hypothesis import strategies as st

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.core.clock import FakeClock
from ota_deploy.core.errors import AwsServiceError
from ota_deploy.deploy.runner import RoundCalls, RoundRunner, RunnerConfig, add_sample
from ota_deploy.monitor.snapshot import JobSnapshot
from ota_deploy.report.model import CountsSample

THINGS = ["d1", "d2", "d3"]


def plan_for(n: int) -> RoundCalls:
    return RoundCalls(
        round_number=n,
        job_id=f"J-{n}",
        stream_id=f"S-{n}",
        create_stream={"streamId": f"S-{n}", "files": [], "roleArn": "arn:aws:iam::1:role/r"},
        create_job={"jobId": f"J-{n}", "targets": ["arn"], "document": "{}"},
    )


class FinalPoller(ScriptedPoller):
    """A scripted poller whose ``poll_final`` adds the failed things' statusDetails."""

    finals: list[str] = []
    fail_final = False

    def poll_final(self) -> JobSnapshot:
        FinalPoller.finals.append(self.job_id)
        if FinalPoller.fail_final:
            raise AwsServiceError("throttled for good", operation="DescribeJobExecution")
        snap = self.poll()
        for thing in snap.things.values():
            if thing.status == "FAILED":
                thing.status_details = {"reason": f"{thing.thing_name} said no"}
        return snap


def run_rounds(tmp_path: Path, script: Any, rounds: int = 2) -> Any:
    clock = FakeClock()

    def sleep(s: float) -> None:
        clock.advance(s)

    fake = FakeIot(clock)
    runner = RoundRunner(
        IotOps(fake, clock=clock, sleep=sleep),
        RunnerConfig(rounds=rounds, clean_up=True, default_delay_sec=0, round_timeout_sec=600),
        poller_factory=lambda job_id: FinalPoller(job_id, clock, script),
        expected_things=THINGS,
        clock=clock,
        sleep=sleep,
    )
    return runner.run(plan_for)


def slow_script(job_id: str, n: int, clock: FakeClock) -> dict[str, str]:
    if n < 6:
        return {t: "IN_PROGRESS" for t in THINGS}
    return {"d1": "SUCCEEDED", "d2": "FAILED", "d3": "SUCCEEDED"}


def test_poll_final_once_per_round_puts_failure_details_in_the_report(tmp_path: Path) -> None:
    FinalPoller.finals, FinalPoller.fail_final = [], False
    result = run_rounds(tmp_path, slow_script)
    assert [r.status for r in result.rounds] == ["FAILED", "SKIPPED"]
    assert FinalPoller.finals == ["J-1"]  # once, when the round ended; not for skipped rounds
    things = {t.thing_name: t for t in result.rounds[0].things}
    assert things["d2"].status_details == {"reason": "d2 said no"}
    assert things["d1"].status_details == {}


def test_a_failing_final_poll_keeps_the_judged_round(tmp_path: Path) -> None:
    FinalPoller.finals, FinalPoller.fail_final = [], True
    try:
        result = run_rounds(tmp_path, slow_script, rounds=1)
    finally:
        FinalPoller.fail_final = False
    assert result.rounds[0].status == "FAILED" and result.error is None
    assert {t.thing_name: t.status for t in result.rounds[0].things}["d2"] == "FAILED"


def test_every_poll_is_a_sample_but_repeats_collapse(tmp_path: Path) -> None:
    FinalPoller.finals, FinalPoller.fail_final = [], False
    result = run_rounds(tmp_path, slow_script, rounds=1)
    samples = result.rounds[0].samples
    # 6 identical IN_PROGRESS polls -> first and latest; then the final counts (twice: the
    # deciding poll and poll_final, kept as the step's start and end).
    assert [s.counts.get("IN_PROGRESS", 0) for s in samples] == [3, 3, 0, 0]
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


class _JobsApi:
    """A boto3 iot client double (not one of our components) for one job: executions move as
    the test says; DescribeJobExecution answers their current statusDetails."""

    def __init__(self) -> None:
        self.executions: dict[str, tuple[str, dict[str, str]]] = {}
        self.updated = 0.0

    def set(self, thing: str, status: str, details: dict[str, str]) -> None:
        self.executions[thing] = (status, details)
        self.updated += 1

    def describe_job(self, jobId: str) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for status, _ in self.executions.values():
            counts[status] = counts.get(status, 0) + 1
        keys = {"IN_PROGRESS": "numberOfInProgressThings", "SUCCEEDED": "numberOfSucceededThings"}
        keys["FAILED"] = "numberOfFailedThings"
        details = {keys[s]: n for s, n in counts.items()}
        return {"job": {"jobId": jobId, "status": "IN_PROGRESS", "jobProcessDetails": details}}

    def list_job_executions_for_job(self, jobId: str, status: str, **_: Any) -> dict[str, Any]:
        rows = [
            {
                "thingArn": f"arn:aws:iot:us-east-1:1:thing/{name}",
                "jobExecutionSummary": {"status": s, "lastUpdatedAt": self.updated},
            }
            for name, (s, _) in self.executions.items()
            if s == status
        ]
        return {"executionSummaries": rows}

    def describe_job_execution(self, jobId: str, thingName: str) -> dict[str, Any]:
        status, details = self.executions[thingName]
        return {"execution": {"status": status, "statusDetails": {"detailsMap": details}}}


def test_live_poller_shows_progress_and_drops_stale_details() -> None:
    from ota_deploy.monitor.poller import JobPoller

    api = _JobsApi()
    poller = JobPoller(api, "J", clock=FakeClock(), details_budget=10, watch_in_progress=True)
    api.set("d1", "IN_PROGRESS", {"progress": "50%"})
    api.set("d2", "IN_PROGRESS", {"progress": "25%"})
    snap = poller.poll()
    assert snap.things["d1"].status_details == {"progress": "50%"}
    api.set("d1", "SUCCEEDED", {})  # succeeded: no new details fetched for it (not worth a call)
    api.set("d2", "FAILED", {"reason": "bad image"})
    snap = poller.poll()
    assert snap.things["d1"].status_details == {}  # not the stale "progress 50%"
    assert snap.things["d2"].status_details == {"reason": "bad image"}
