"""The round runner against the real pair on a fake clock: rounds, stop at failure, timeout,
cleanup, interrupt. Devices act through the jobs data plane while the runner sleeps."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from pair_deploy import make_world, plan_for
from tests.support.aws_pair import AwsPair

from ota_deploy.deploy.runner import RoundCalls
from ota_deploy.monitor.poller import JobPoller


def nonzero(counts: dict[Any, int]) -> dict[Any, int]:
    """The statuses that have executions (the poller reports every status, zeros included)."""
    return {k: v for k, v in counts.items() if v}


def test_three_rounds_succeed_and_clean_up(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    result = w.runner.run(plan_for)
    assert [r.status for r in result.rounds] == ["SUCCEEDED"] * 3
    assert w.job_ids() == set() and w.stream_ids() == set()
    assert list(w.journal.present()) == []
    assert w.sleeps.count(5.0) == 2  # defaultDelay between rounds, not after the last
    ops = w.op_names()
    assert ops.count("CreateJob") == 3 and ops.count("DeleteJob") == 3
    # cleanup waits for the async deletion: DescribeJob until ResourceNotFound
    assert ops.index("DeleteJob") < ops.index("DescribeJob")
    # a device starts during one poll pause and reports during the next
    assert result.rounds[0].things[0].duration_sec == 0.25
    assert result.rounds[0].samples and nonzero(result.rounds[0].counts) == {"SUCCEEDED": 3}


def test_cleanup_deletes_the_stream_without_waiting_for_it(tmp_path: Path) -> None:
    # DeleteStream is synchronous (API_DeleteStream.html documents no deletion in progress):
    # no DescribeStream poll follows it, and the stream is gone when the round ends.
    w = make_world(tmp_path, rounds=2, delay=0)
    result = w.runner.run(plan_for)
    assert result.all_succeeded and w.stream_ids() == set()
    ops = w.op_names()
    assert ops.count("DeleteStream") == 2 and "DescribeStream" not in ops
    assert ops[ops.index("DeleteStream") + 1] == "CreateStream"  # round 2 starts at once


def test_each_round_is_written_when_it_ends_and_leaves_memory(tmp_path: Path) -> None:
    from ota_deploy.report.round_files import RoundFiles
    from ota_deploy.report.things import iter_things

    out = tmp_path / "out"
    w = make_world(tmp_path, rounds=3)
    files = RoundFiles(out)
    ended: list[tuple[int, float | None, bool]] = []

    def on_round_end(report: Any) -> None:
        files.add(report)  # the hook deploy.entry wires; the round is final: cleanup timed
        ended.append((report.round, report.cleanup_sec, report.things == []))

    w.runner.on_round_end = on_round_end
    inner = w.runner.sleep
    seen_in_round_2: list[bool] = []

    def sleep(seconds: float) -> None:
        if ended and len(ended) == 1:  # round 2 is running: round 1's file is on disk already
            seen_in_round_2.append((out / "things" / "round-001.jsonl").is_file())
        inner(seconds)

    w.runner.sleep = sleep
    result = w.runner.run(plan_for)
    assert result.all_succeeded and seen_in_round_2 and all(seen_in_round_2)
    assert [(n, sec is not None, dropped) for n, sec, dropped in ended] == [
        (1, True, True),
        (2, True, True),
        (3, True, True),
    ]
    assert all(r.things == [] and r.things_file for r in result.rounds)
    names = [t.thing_name for t in iter_things(out / "things" / "round-003.jsonl")]
    assert names == ["d1", "d2", "d3"] and sorted(files.digests) == [1, 2, 3]


def test_ctrl_c_while_a_round_is_recorded_ends_the_run_after_it(tmp_path: Path) -> None:
    w = make_world(tmp_path, rounds=3, delay=0)
    recorded: list[int] = []

    def on_round_end(report: Any) -> None:
        recorded.append(report.round)
        raise KeyboardInterrupt

    w.runner.on_round_end = on_round_end
    result = w.runner.run(plan_for)
    assert recorded == [1] and len(result.rounds) == 1
    assert result.interrupted and result.rounds[0].status == "SUCCEEDED"
    assert "interrupted" in (result.stop_reason or "")
    assert w.job_ids() == set() and w.stream_ids() == set()


def test_failure_stops_the_run_and_skips_the_rest(tmp_path: Path) -> None:
    def outcome(job_id: str, thing: str) -> str:
        return "FAILED" if (job_id, thing) == ("J-2", "d2") else "SUCCEEDED"

    w = make_world(tmp_path, outcome=outcome)
    result = w.runner.run(plan_for)
    assert [r.status for r in result.rounds] == ["SUCCEEDED", "FAILED"]  # round 3 never planned
    assert "d2" in (result.rounds[1].reason or "")
    assert result.stop_reason and "round 2 FAILED" in result.stop_reason
    assert "J-3" not in [p.get("jobId") for op, p in w.ops if op == "CreateJob"]
    assert w.job_ids() == set()  # cleanUpCfg: the failed round is cleaned too


def test_no_cleanup_leaves_resources_in_journal(tmp_path: Path) -> None:
    w = make_world(tmp_path, rounds=2, clean_up=False)
    result = w.runner.run(plan_for)
    assert result.all_succeeded
    assert w.job_ids() == {"J-1", "J-2"} and w.stream_ids() == {"S-1", "S-2"}
    assert {r.id for r in w.journal.present()} == {"J-1", "J-2", "S-1", "S-2"}
    assert "DeleteJob" not in w.op_names()


def test_round_timeout_cancels_the_job_and_fails(tmp_path: Path) -> None:
    def hang(job_id: str, thing: str) -> str | None:
        return None if thing == "d2" else "SUCCEEDED"  # d2 works on it forever

    w = make_world(tmp_path, outcome=hang, rounds=2, timeout=120.0)
    start = w.clock.now()
    result = w.runner.run(plan_for)
    assert [r.status for r in result.rounds] == ["TIMED_OUT"]
    assert "CancelJob" in w.op_names()
    assert max(w.sleeps) <= 5.0  # polls back off but never one long sleep
    assert w.clock.now() - start >= 120.0


def test_poll_backoff_grows_while_nothing_changes(tmp_path: Path) -> None:
    w = make_world(tmp_path, work_steps=12, rounds=1)
    w.runner.run(plan_for)
    polls = w.sleeps[:11]
    assert polls[0] == 0.25 and polls == sorted(polls) and polls[-1] == 5.0


def test_abort_canceled_job_fails_the_round(tmp_path: Path) -> None:
    def with_abort(n: int) -> RoundCalls:
        calls = plan_for(n)
        abort = {
            "criteriaList": [
                {
                    "failureType": "ALL",
                    "action": "CANCEL",
                    "thresholdPercentage": 10,
                    "minNumberOfExecutedThings": 1,
                }
            ]
        }
        job = {**calls.create_job, "abortConfig": abort}
        return RoundCalls(n, calls.job_id, calls.stream_id, calls.create_stream, job)

    # d1 fails at once; d2 and d3 never take the job, so the abort cancels them QUEUED
    w = make_world(tmp_path, outcome=lambda j, t: "FAILED", idle=("d2", "d3"))
    result = w.runner.run(with_abort)
    assert [r.status for r in result.rounds] == ["CANCELED"]
    things = {t.thing_name: t.status for t in result.rounds[0].things}
    assert things == {"d1": "FAILED", "d2": "CANCELED", "d3": "CANCELED"}


def test_interrupt_mid_round_cancels_cleans_and_reports(tmp_path: Path) -> None:
    # Ctrl-C during the runner's third pause, while every device works on the job
    w = make_world(tmp_path, outcome=lambda j, t: None, interrupt_at_sleep=3)
    result = w.runner.run(plan_for)
    assert result.interrupted
    assert result.rounds[0].status == "INTERRUPTED"  # neither failed nor succeeded
    assert "interrupt" in (result.rounds[0].reason or "")
    assert len(result.rounds) == 1 and "interrupted" in (result.stop_reason or "")
    ops = w.op_names()
    assert ops.index("CancelJob") < ops.index("DeleteJob")
    assert w.job_ids() == set() and w.stream_ids() == set() and list(w.journal.present()) == []


def test_interrupt_as_the_job_completes_is_an_interrupt_not_an_error(tmp_path: Path) -> None:
    # Ctrl-C lands in the pause in which the last device reported: the job is COMPLETED
    # before the runner cancels it, and CancelJob is refused (InvalidRequestException).
    w = make_world(tmp_path, rounds=1)
    inner = w.runner.sleep

    def sleep(seconds: float) -> None:
        inner(seconds)
        if w.pair.call("iot", "DescribeJob", jobId="J-1")["job"]["status"] == "COMPLETED":
            raise KeyboardInterrupt

    w.runner.sleep = sleep
    result = w.runner.run(plan_for)
    assert result.interrupted and result.error is None
    assert result.rounds[0].status == "INTERRUPTED"
    ops = w.op_names()
    assert ops.index("CancelJob") < ops.index("DeleteJob")
    assert w.job_ids() == set() and list(w.journal.present()) == []


def test_aws_error_ends_the_run_with_error(tmp_path: Path) -> None:
    def too_many_targets(n: int) -> RoundCalls:
        calls = plan_for(n)
        targets = [f"arn:aws:iot:us-east-1:123456789012:thing/x{i}" for i in range(101)]
        job = {**calls.create_job, "targets": targets}  # AWS: LimitExceededException
        return RoundCalls(n, calls.job_id, calls.stream_id, calls.create_stream, job)

    w = make_world(tmp_path)
    result = w.runner.run(too_many_targets)
    assert result.rounds[0].status == "ERROR"
    assert result.error is not None and result.error.code == "LimitExceededException"
    assert w.op_names().count("CreateJob") == 1  # a quota error is not retried
    assert w.stream_ids() == set()  # the stream made before the failure is cleaned


@pytest.mark.parametrize("reuse", [True])
def test_reuse_job_id_waits_for_deletion_before_recreating(tmp_path: Path, reuse: bool) -> None:
    w = make_world(tmp_path, rounds=2, clean_up=False, delay=0, timeout=60, reuse_job_id=reuse)

    def same_ids(n: int) -> RoundCalls:
        c = plan_for(1)
        return RoundCalls(n, c.job_id, c.stream_id, c.create_stream, c.create_job)

    result = w.runner.run(same_ids)
    assert result.all_succeeded
    ops = w.op_names()
    second_create = [i for i, op in enumerate(ops) if op == "CreateJob"][1]
    assert "DeleteJob" in ops[:second_create]
    assert ops.count("CreateStream") == 1  # the same stream id is kept and reused


def test_interrupt_right_after_create_job_still_cleans_the_job(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    client = w.runner.iot.client

    def interrupt(**_: Any) -> None:
        client.meta.events.unregister("after-call.iot.CreateJob", interrupt)
        raise KeyboardInterrupt  # AWS made the job; the runner never saw the answer

    client.meta.events.register("after-call.iot.CreateJob", interrupt)
    result = w.runner.run(plan_for)
    assert result.interrupted and result.rounds[0].status == "INTERRUPTED"
    assert w.job_ids() == set() and w.stream_ids() == set()
    assert list(w.journal.present()) == []


class _S3Client:
    """boto3's s3 put/delete over the pair's blobs, where the local AWS IoT reads
    ``documentSource`` from."""

    def __init__(self, objects: dict[tuple[str, str], bytes]) -> None:
        self.objects = objects

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
        self.objects[(Bucket, Key)] = Body

    def delete_object(self, *, Bucket: str, Key: str) -> None:
        self.objects.pop((Bucket, Key), None)


def test_oversized_document_is_uploaded_then_removed(tmp_path: Path) -> None:
    from ota_deploy.aws.s3_ops import S3Ops

    pair = AwsPair()
    w = make_world(tmp_path, rounds=1, pair=pair)
    s3 = _S3Client(pair.blobs)
    w.runner.resources.s3 = S3Ops(s3, "us-east-1")
    seen: list[set[tuple[str, str]]] = []

    def before_create(**_: Any) -> None:
        seen.append(set(s3.objects))  # the document is in S3 before CreateJob names it

    w.runner.iot.client.meta.events.register("before-call.iot.CreateJob", before_create)

    def big(n: int) -> RoundCalls:
        c = plan_for(n)
        job = {k: v for k, v in c.create_job.items() if k != "document"}
        job["documentSource"] = "https://b.s3.amazonaws.com/doc.json"
        document = b'{"command":"fota"}'
        return RoundCalls(
            n, c.job_id, c.stream_id, c.create_stream, job, ("b", "doc.json", document)
        )

    result = w.runner.run(big)
    assert result.all_succeeded
    assert seen == [{("b", "doc.json")}]
    assert s3.objects == {} and list(w.journal.present()) == []


def test_keep_going_runs_every_round_and_counts_the_failures(tmp_path: Path) -> None:
    from ota_deploy.report.results import results_csv_text, summarize

    def outcome(job_id: str, thing: str) -> str | None:
        if job_id == "J-2" and thing == "d2":
            return "FAILED"
        if job_id == "J-3" and thing == "d3":
            return None  # works on it forever: the round times out
        return "SUCCEEDED"

    w = make_world(tmp_path, outcome=outcome, rounds=4, timeout=60.0, delay=7.0, keep_going=True)
    result = w.runner.run(plan_for)
    assert [r.status for r in result.rounds] == ["SUCCEEDED", "FAILED", "TIMED_OUT", "SUCCEEDED"]
    assert result.stop_reason is None and not result.interrupted and result.error is None
    assert w.sleeps.count(7.0) == 3  # defaultDelay after a failed round too
    assert w.job_ids() == set() and w.stream_ids() == set()  # every round cleaned up
    summary = summarize(result.rounds, 4)
    assert results_csv_text(summary) == "total,4\nfail,2\nsucceed,2\n"  # the manual's format


def test_keep_going_still_stops_at_an_aws_error(tmp_path: Path) -> None:
    def too_many_targets(n: int) -> RoundCalls:
        calls = plan_for(n)
        targets = [f"arn:aws:iot:us-east-1:123456789012:thing/x{i}" for i in range(101)]
        job = {**calls.create_job, "targets": targets}
        return RoundCalls(n, calls.job_id, calls.stream_id, calls.create_stream, job)

    w = make_world(tmp_path, keep_going=True)
    result = w.runner.run(too_many_targets)
    assert [r.status for r in result.rounds] == ["ERROR"]
    assert "AWS error" in (result.stop_reason or "")


def test_interrupt_between_rounds_counts_no_round_as_interrupted(tmp_path: Path) -> None:
    from ota_deploy.report.results import results_csv_text, summarize

    # the first pauses: round 1's polls (one before d1-d3 start, one before they report),
    # then defaultDelay (7 s): Ctrl-C there
    w = make_world(tmp_path, clean_up=False, delay=7.0, interrupt_at_sleep=3)
    result = w.runner.run(plan_for)
    assert w.sleeps[-1] == 7.0 and result.interrupted
    assert [r.status for r in result.rounds] == ["SUCCEEDED"]
    assert result.stop_reason == "interrupted (Ctrl-C / SIGTERM) after round 1"
    summary = summarize(result.rounds, 3)
    assert (summary.succeeded, summary.failed, summary.interrupted, summary.skipped) == (1, 0, 0, 2)
    assert results_csv_text(summary) == "total,3\nfail,0\nsucceed,1\n"


def test_an_interrupted_round_is_neither_failed_nor_succeeded(tmp_path: Path) -> None:
    from ota_deploy.report.results import results_csv_text, summarize

    w = make_world(tmp_path, outcome=lambda j, t: None, interrupt_at_sleep=3)
    result = w.runner.run(plan_for)
    summary = summarize(result.rounds, 3)
    assert (summary.succeeded, summary.failed, summary.interrupted, summary.skipped) == (0, 0, 1, 2)
    assert results_csv_text(summary) == "total,3\nfail,0\nsucceed,0\n"


def _timed_polls(w: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float, float]]:
    """Every full poll and ``settled`` probe of ``w``'s poller: (kind, start, end)."""
    seen: list[tuple[str, float, float]] = []

    def timed(kind: str, real: Any) -> Any:
        def wrapper(self: JobPoller) -> Any:
            start = w.clock.now()
            try:
                return real(self)
            finally:
                seen.append((kind, start, w.clock.now()))

        return wrapper

    monkeypatch.setattr(JobPoller, "poll", timed("poll", JobPoller.poll))
    monkeypatch.setattr(JobPoller, "settled", timed("probe", JobPoller.settled))
    return seen


def test_a_slow_poll_is_followed_by_a_longer_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After each full poll the next one waits at least 3x what it took on the run's clock:
    polling keeps a bounded share of the time at any --time-scale or fleet size (here every
    poll call takes 0.5 s, so a poll of DescribeJob + listings takes 1 s or more). The rest is
    taken in quarters with a one-call ``settled`` probe after each (at most three a rest)."""
    w = make_world(tmp_path, rounds=1, work_steps=3, clean_up=False)  # no deletion waits
    seen = _timed_polls(w, monkeypatch)

    def slow(**_: Any) -> None:
        w.clock.advance(0.5)

    w.poll_client.meta.events.register("before-call.iot", slow)
    result = w.runner.run(plan_for)
    assert result.all_succeeded
    assert w.sleeps and min(w.sleeps) >= 3 * 0.5 / 4  # never the 0.25 s initial pause
    polls = [(start, end) for kind, start, end in seen if kind == "poll"]
    assert len(polls) >= 2
    for (start, end), (next_start, _) in itertools.pairwise(polls):
        between = [k for k, s, _ in seen if k == "probe" and end <= s < next_start]
        assert len(between) <= 3
        if next_start - end < 3 * (end - start):  # cut short: only by a settled probe
            assert between, (start, end, next_start)


def test_a_long_rest_ends_when_every_execution_has_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll that took 2 s means a 6 s rest, taken in 1.5 s quarters; the devices end within
    two steps, and the probe that sees it brings the deciding poll at once, not 6 s on."""
    w = make_world(tmp_path, rounds=1, work_steps=1, clean_up=False)
    seen = _timed_polls(w, monkeypatch)
    slow_once = {"left": 1}

    def slow(**_: Any) -> None:
        if slow_once["left"]:
            slow_once["left"] -= 1
            w.clock.advance(2.0)

    w.poll_client.meta.events.register("before-call.iot.DescribeJob", slow)
    result = w.runner.run(plan_for)
    assert result.all_succeeded
    polls = [(start, end) for kind, start, end in seen if kind == "poll"]
    probes = [(start, end) for kind, start, end in seen if kind == "probe"]
    first_end = polls[0][1]
    assert probes and probes[0][0] - first_end == pytest.approx(1.5)  # a quarter of 6 s
    assert len(polls) == 2  # the second poll decided the round
    assert polls[1][0] == probes[-1][1]  # right after the probe that saw every execution end
    assert polls[1][0] - first_end < 6.0 and len(probes) < 4


def test_interrupt_after_the_job_completed_is_still_an_interrupted_round(tmp_path: Path) -> None:
    w = make_world(tmp_path, rounds=2)

    def interrupt(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("job", {}).get("status") == "COMPLETED":
            raise KeyboardInterrupt  # Ctrl-C just as the poll saw the job complete

    w.poll_client.meta.events.register("after-call.iot.DescribeJob", interrupt)
    result = w.runner.run(plan_for)
    # CancelJob refuses a completed job: that neither makes the round an ERROR nor stops cleanup
    assert [r.status for r in result.rounds] == ["INTERRUPTED"] and result.error is None
    assert "CancelJob" in w.op_names()
    assert w.job_ids() == set() and w.stream_ids() == set()
