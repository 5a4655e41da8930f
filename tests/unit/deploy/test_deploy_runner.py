"""The round runner on a fake clock: rounds, stop at failure, timeout, cleanup, interrupt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakes_deploy import FakeIot, ScriptedPoller

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.core.clock import FakeClock
from ota_deploy.deploy.journal import Journal
from ota_deploy.deploy.runner import RoundCalls, RoundRunner, RunnerConfig

THINGS = ["d1", "d2", "d3"]


def plan_for(n: int) -> RoundCalls:
    return RoundCalls(
        round_number=n,
        job_id=f"J-{n}",
        stream_id=f"S-{n}",
        create_stream={"streamId": f"S-{n}", "files": [], "roleArn": "arn:aws:iam::1:role/r"},
        create_job={"jobId": f"J-{n}", "targets": ["arn"], "document": "{}"},
    )


def make_runner(
    tmp_path: Path,
    script: Any,
    *,
    rounds: int = 3,
    clean_up: bool = True,
    timeout: float = 600.0,
    delay: float = 5.0,
    job_status: Any = None,
) -> tuple[RoundRunner, FakeIot, FakeClock, list[float], Journal]:
    clock = FakeClock()
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        clock.advance(s)

    fake = FakeIot(clock)
    iot = IotOps(fake, clock=clock, sleep=sleep)
    journal = Journal.start(tmp_path, mode="aws", region="us-east-1", now=clock.now())
    runner = RoundRunner(
        iot,
        RunnerConfig(
            rounds=rounds, clean_up=clean_up, default_delay_sec=delay, round_timeout_sec=timeout
        ),
        poller_factory=lambda job_id: ScriptedPoller(job_id, clock, script, job_status),
        expected_things=THINGS,
        clock=clock,
        sleep=sleep,
        journal=journal,
    )
    return runner, fake, clock, sleeps, journal


def progress_script(job_id: str, n: int, clock: FakeClock) -> dict[str, str]:
    if n < 2:
        return {t: "QUEUED" if n == 0 else "IN_PROGRESS" for t in THINGS}
    return {t: "SUCCEEDED" for t in THINGS}


def test_three_rounds_succeed_and_clean_up(tmp_path: Path) -> None:
    runner, fake, _clock, sleeps, journal = make_runner(tmp_path, progress_script)
    result = runner.run(plan_for)
    assert [r.status for r in result.rounds] == ["SUCCEEDED"] * 3
    assert fake.jobs == {} and fake.streams == {}
    assert list(journal.present()) == []
    assert sleeps.count(5.0) == 2  # defaultDelay between rounds, not after the last
    ops = fake.ops()
    assert ops.count("CreateJob") == 3 and ops.count("DeleteJob") == 3
    # cleanup waits for the async deletion: DescribeJob until ResourceNotFound
    assert ops.index("DeleteJob") < ops.index("DescribeJob")
    assert result.rounds[0].things[0].duration_sec == 5.0
    assert result.rounds[0].samples and result.rounds[0].counts == {"SUCCEEDED": 3}


def test_failure_stops_the_run_and_skips_the_rest(tmp_path: Path) -> None:
    def script(job_id: str, n: int, clock: FakeClock) -> dict[str, str]:
        if job_id == "J-2" and n >= 1:
            return {"d1": "SUCCEEDED", "d2": "FAILED", "d3": "SUCCEEDED"}
        return progress_script(job_id, n, clock)

    runner, fake, *_ = make_runner(tmp_path, script)
    result = runner.run(plan_for)
    assert [r.status for r in result.rounds] == ["SUCCEEDED", "FAILED", "SKIPPED"]
    assert "d2" in (result.rounds[1].reason or "")
    assert "J-3" not in [p.get("jobId") for op, p in fake.calls if op == "CreateJob"]
    assert fake.jobs == {}  # cleanUpCfg: the failed round is cleaned too


def test_no_cleanup_leaves_resources_in_journal(tmp_path: Path) -> None:
    runner, fake, _c, _s, journal = make_runner(tmp_path, progress_script, rounds=2, clean_up=False)
    result = runner.run(plan_for)
    assert result.all_succeeded
    assert set(fake.jobs) == {"J-1", "J-2"} and set(fake.streams) == {"S-1", "S-2"}
    assert {r.id for r in journal.present()} == {"J-1", "J-2", "S-1", "S-2"}
    assert "DeleteJob" not in fake.ops()


def test_round_timeout_cancels_the_job_and_fails(tmp_path: Path) -> None:
    def hang(job_id: str, n: int, clock: FakeClock) -> dict[str, str]:
        return {"d1": "SUCCEEDED", "d2": "IN_PROGRESS", "d3": "SUCCEEDED"}

    runner, fake, clock, sleeps, _ = make_runner(tmp_path, hang, rounds=2, timeout=120.0)
    start = clock.now()
    result = runner.run(plan_for)
    assert [r.status for r in result.rounds] == ["TIMED_OUT", "SKIPPED"]
    assert "CancelJob" in fake.ops()
    assert max(sleeps) <= 5.0  # polls back off but never one long sleep
    assert clock.now() - start >= 120.0


def test_poll_backoff_grows_while_nothing_changes(tmp_path: Path) -> None:
    def slow(job_id: str, n: int, clock: FakeClock) -> dict[str, str]:
        return {t: ("SUCCEEDED" if n >= 12 else "IN_PROGRESS") for t in THINGS}

    runner, _fake, _clock, sleeps, _ = make_runner(tmp_path, slow, rounds=1)
    runner.run(plan_for)
    polls = sleeps[:11]
    assert polls[0] == 0.25 and polls == sorted(polls) and polls[-1] == 5.0


def test_abort_canceled_job_fails_the_round(tmp_path: Path) -> None:
    def script(job_id: str, n: int, clock: FakeClock) -> dict[str, str]:
        return {"d1": "FAILED", "d2": "CANCELED", "d3": "CANCELED"}

    runner, *_ = make_runner(tmp_path, script, job_status=lambda j, s: "CANCELED")
    result = runner.run(plan_for)
    assert result.rounds[0].status == "CANCELED"
    assert [r.status for r in result.rounds[1:]] == ["SKIPPED", "SKIPPED"]


def test_interrupt_mid_round_cancels_cleans_and_reports(tmp_path: Path) -> None:
    def script(job_id: str, n: int, clock: FakeClock) -> dict[str, str]:
        if n == 3:
            raise KeyboardInterrupt
        return {t: "IN_PROGRESS" for t in THINGS}

    runner, fake, _c, _s, journal = make_runner(tmp_path, script)
    result = runner.run(plan_for)
    assert result.interrupted
    assert result.rounds[0].status == "CANCELED" and "interrupt" in (result.rounds[0].reason or "")
    assert [r.status for r in result.rounds[1:]] == ["SKIPPED", "SKIPPED"]
    ops = fake.ops()
    assert ops.index("CancelJob") < ops.index("DeleteJob")
    assert fake.jobs == {} and fake.streams == {} and list(journal.present()) == []


def test_aws_error_ends_the_run_with_error(tmp_path: Path) -> None:
    from fakes_deploy import client_error

    runner, fake, *_ = make_runner(tmp_path, progress_script)
    fake.failures["CreateJob"] = [client_error("LimitExceededException", "CreateJob")]
    result = runner.run(plan_for)
    assert result.rounds[0].status == "ERROR"
    assert result.error is not None and result.error.code == "LimitExceededException"
    assert fake.ops().count("CreateJob") == 1  # a quota error is not retried
    assert fake.streams == {}  # the stream made before the failure is cleaned


@pytest.mark.parametrize("reuse", [True])
def test_reuse_job_id_waits_for_deletion_before_recreating(tmp_path: Path, reuse: bool) -> None:
    clock = FakeClock()
    fake = FakeIot(clock, delete_polls=3)

    def sleep(s: float) -> None:
        clock.advance(s)

    iot = IotOps(fake, clock=clock, sleep=sleep)
    runner = RoundRunner(
        iot,
        RunnerConfig(
            rounds=2, clean_up=False, default_delay_sec=0, round_timeout_sec=60, reuse_job_id=reuse
        ),
        poller_factory=lambda j: ScriptedPoller(j, clock, progress_script),
        expected_things=THINGS,
        clock=clock,
        sleep=sleep,
    )

    def same_ids(n: int) -> RoundCalls:
        c = plan_for(1)
        return RoundCalls(n, c.job_id, c.stream_id, c.create_stream, c.create_job)

    result = runner.run(same_ids)
    assert result.all_succeeded
    ops = fake.ops()
    second_create = [i for i, op in enumerate(ops) if op == "CreateJob"][1]
    assert "DeleteJob" in ops[:second_create]
    assert ops.count("CreateStream") == 1  # the same stream id is kept and reused


def test_interrupt_right_after_create_job_still_cleans_the_job(tmp_path: Path) -> None:
    runner, fake, _c, _s, journal = make_runner(tmp_path, progress_script)
    original = fake.create_job

    def create_then_interrupt(**p: Any) -> Any:
        original(**p)
        raise KeyboardInterrupt  # AWS made the job; the runner never saw the answer

    fake.create_job = create_then_interrupt  # type: ignore[method-assign]
    result = runner.run(plan_for)
    assert result.interrupted and result.rounds[0].status == "CANCELED"
    assert fake.jobs == {} and fake.streams == {}
    assert list(journal.present()) == []


class _FakeS3Client:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
        self.objects[(Bucket, Key)] = Body

    def delete_object(self, *, Bucket: str, Key: str) -> None:
        self.objects.pop((Bucket, Key), None)


def test_oversized_document_is_uploaded_then_removed(tmp_path: Path) -> None:
    from ota_deploy.aws.s3_ops import S3Ops

    runner, fake, _c, _s, journal = make_runner(tmp_path, progress_script, rounds=1)
    s3 = _FakeS3Client()
    runner.s3 = S3Ops(s3, "us-east-1")
    seen: list[set[tuple[str, str]]] = []
    original = fake.create_job

    def create(**p: Any) -> Any:
        seen.append(set(s3.objects))  # the document is in S3 before CreateJob names it
        return original(**p)

    fake.create_job = create  # type: ignore[method-assign]

    def big(n: int) -> RoundCalls:
        c = plan_for(n)
        job = {k: v for k, v in c.create_job.items() if k != "document"}
        job["documentSource"] = "https://b.s3.amazonaws.com/doc.json"
        return RoundCalls(n, c.job_id, c.stream_id, c.create_stream, job, ("b", "doc.json", b"{}"))

    result = runner.run(big)
    assert result.all_succeeded
    assert seen == [{("b", "doc.json")}]
    assert s3.objects == {} and list(journal.present()) == []
