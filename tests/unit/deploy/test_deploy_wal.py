"""The write-ahead journal and a round's creates: the intent is on disk before each create call;
a reply lost after the service acted is resolved by looking the resource up (adopted, never
blamed on an earlier run); whatever the path, cleanup afterwards leaves nothing.

Real boto3 against the real local AWS IoT in memory (``AwsPair``), with "commit, then lose the
reply" per operation; the round runner (``pair_deploy``) drives ``RoundResources`` as a run does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pair_deploy import THINGS, make_world, plan_for, thing_arn
from tests.support.aws_pair import AwsPair

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.s3_ops import S3Ops
from ota_deploy.core.clock import FakeClock, SystemClock
from ota_deploy.core.errors import AwsServiceError
from ota_deploy.deploy.cleanup import clean_journal
from ota_deploy.deploy.journal import LOG_NAME, Journal
from ota_deploy.deploy.resources import RoundResources
from ota_deploy.local.faults import FaultConfig, OperationFaults


def log_lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / LOG_NAME).read_text().splitlines()]


def intents_on_disk(folder: Path) -> set[tuple[str, str]]:
    return {(r["kind"], r["id"]) for r in log_lines(folder) if r.get("op") == "intent"}


# -- the log itself --------------------------------------------------------------------------
def test_log_is_appended_and_read_back_with_every_state(tmp_path: Path) -> None:
    clock = FakeClock(1.0)
    j = Journal.start(tmp_path, mode="aws", region="eu-west-1", clock=clock)
    clock.set(2.0)
    j.intend("job", "J-1")
    clock.set(3.0)
    j.created("job", "J-1")
    clock.set(4.0)
    j.intend("stream", "S-1")
    clock.set(5.0)
    j.absent("stream", "S-1")
    clock.set(6.0)
    j.intend("thing_group", "G")
    clock.set(7.0)
    j.kept("thing_group", "G")
    clock.set(8.0)
    j.intend("s3_object", "b/k", bucket="b", key="k")
    ops = [(r.get("op"), r.get("id")) for r in log_lines(tmp_path)]
    assert ops[0] == (None, None) and log_lines(tmp_path)[0]["journal"] == 2  # the header
    assert ops[1:] == [
        ("intent", "J-1"),
        ("created", "J-1"),
        ("intent", "S-1"),
        ("absent", "S-1"),
        ("intent", "G"),
        ("kept", "G"),
        ("intent", "b/k"),
    ]
    back = Journal.load(tmp_path / LOG_NAME, clock=SystemClock())
    assert back.data.run == j.data.run and back.data.region == "eu-west-1"
    states = {(r.kind, r.id): r.state for r in back.data.resources}
    assert states == {
        ("job", "J-1"): "created",
        ("thing_group", "G"): "kept",
        ("s3_object", "b/k"): "intended",
    }
    assert [r.id for r in back.present()] == ["b/k", "J-1"]  # open ones, newest first
    assert [r.id for r in back.data.resources if r.state == "kept"] == ["G"]
    assert [r.id for r in back.data.resolved] == ["S-1"]


def test_a_torn_last_line_is_skipped_and_a_second_run_appends_its_own_section(
    tmp_path: Path,
) -> None:
    first = Journal.start(tmp_path, clock=SystemClock(), mode="aws", region="us-east-1")
    first.intend("job", "J-1")
    with (tmp_path / LOG_NAME).open("a") as fh:
        fh.write('{"op": "created", "kind": "job", "id": "J-')  # a crash mid-write
    second = Journal.start(tmp_path, clock=SystemClock(), mode="aws", region="eu-west-1")
    second.intend("job", "K-1")
    back = Journal.load(tmp_path / LOG_NAME, clock=SystemClock())
    assert [s.region for s in back.sections] == ["us-east-1", "eu-west-1"]
    assert [r.id for r in back.earlier[0].resources] == ["J-1"]  # still an open intent
    assert back.earlier[0].resources[0].state == "intended"
    assert [r.id for r in back.data.resources] == ["K-1"]


def test_summary_stays_the_size_of_what_is_live(tmp_path: Path) -> None:
    j = Journal.start(tmp_path, clock=SystemClock(), mode="aws", region="us-east-1")
    for n in range(150):
        j.intend("job", f"J-{n}")
        j.created("job", f"J-{n}")
        j.removed("job", f"J-{n}")
    j.intend("job", "open")
    j.flush()
    summary = json.loads((tmp_path / "journal.json").read_text())
    assert len(summary["resources"]) == 101 and summary["resolved_not_shown"] == 50
    assert summary["resources"][-1]["id"] == "open" and summary["resources"][-1]["removed"] is None
    assert len(j.data.resources) == 1 and len(j.data.resolved) == 100  # memory: the same
    assert len(log_lines(tmp_path)) == 1 + 3 * 150 + 1  # the log: everything


def test_a_journal_of_format_1_still_loads_and_cleans(tmp_path: Path) -> None:
    old = {
        "version": 1,
        "started": 1.0,
        "mode": "aws",
        "region": "us-east-1",
        "profile": None,
        "endpoints": {},
        "config": None,
        "resources": [
            {
                "kind": "job",
                "id": "J-1",
                "created": 2.0,
                "removed": None,
                "bucket": None,
                "key": None,
            },
            {
                "kind": "stream",
                "id": "S-1",
                "created": 3.0,
                "removed": 4.0,
                "bucket": None,
                "key": None,
            },
        ],
    }
    (tmp_path / "journal.json").write_text(json.dumps(old))
    back = Journal.load(tmp_path / "journal.json", clock=SystemClock())
    assert [r.id for r in back.present()] == ["J-1"]
    again = Journal.load(
        tmp_path / LOG_NAME, clock=FakeClock()
    )  # converted: the log is the journal from now on
    assert [r.id for r in again.present()] == ["J-1"]


# -- write-ahead: the intent is on disk before the call --------------------------------------
def test_every_intent_is_on_disk_before_its_create_call(tmp_path: Path) -> None:
    w = make_world(tmp_path, rounds=1)
    seen: dict[str, set[tuple[str, str]]] = {}

    def look(operation: str) -> Any:
        def before(**_: Any) -> None:
            seen[operation] = intents_on_disk(tmp_path)  # what a crash now would leave

        return before

    for op in ("CreateStream", "CreateJob"):
        w.runner.iot.client.meta.events.register(f"before-call.iot.{op}", look(op))
    assert w.runner.run(plan_for).all_succeeded
    assert ("stream", "S-1") in seen["CreateStream"]
    assert ("job", "J-1") in seen["CreateJob"]


# -- lost replies ----------------------------------------------------------------------------
@pytest.mark.parametrize("operation", ["CreateStream", "CreateJob"])
def test_a_reply_lost_after_commit_is_adopted_and_the_run_succeeds(
    tmp_path: Path, operation: str
) -> None:
    pair = AwsPair(lose_reply_after_commit={operation: 1})
    w = make_world(tmp_path, rounds=2, pair=pair)  # botocore retries: 3 attempts
    result = w.runner.run(plan_for)
    assert result.all_succeeded and result.error is None
    assert pair.lose_reply_after_commit[operation] == 0  # the fault fired
    assert w.job_ids() == set() and w.stream_ids() == set()  # cleanUpCfg removed both rounds'
    adopted = [e for e in log_lines(tmp_path) if e.get("adopted")]
    kind = "job" if operation == "CreateJob" else "stream"
    assert [(e["kind"], e["id"]) for e in adopted] == [(kind, f"{kind[0].upper()}-1")]
    assert list(w.journal.present()) == []


@pytest.mark.parametrize("operation", ["CreateStream", "CreateJob"])
def test_a_reply_lost_on_every_attempt_is_looked_up_and_adopted(
    tmp_path: Path, operation: str
) -> None:
    """No retry left (one attempt): the create commits and its reply never comes. The lookup
    finds it made since the intent: the run goes on with it, nothing blamed, nothing leaked."""
    pair = AwsPair(lose_reply_after_commit={operation: 1})
    w = make_world(tmp_path, rounds=1, pair=pair)  # its client makes one attempt only
    result = w.runner.run(plan_for)
    assert result.all_succeeded, result.rounds[0].reason
    kind, ident = ("job", "J-1") if operation == "CreateJob" else ("stream", "S-1")
    assert [(e["kind"], e["id"]) for e in log_lines(tmp_path) if e.get("adopted")] == [
        (kind, ident)
    ]
    assert w.job_ids() == set() and w.stream_ids() == set()


class Crash(BaseException):
    """The process dies here: nothing after it runs (no lookup, no journal line)."""


@pytest.mark.parametrize("operation", ["CreateStream", "CreateJob"])
def test_a_crash_right_after_the_create_leaves_nothing_after_cleanup(
    tmp_path: Path, operation: str
) -> None:
    pair = AwsPair(lose_reply_after_commit={operation: 1})
    for thing in THINGS:
        pair.call("iot", "CreateThing", thingName=thing)
    client = pair.client("iot", max_attempts=1)

    def crash(**_: Any) -> None:
        raise Crash

    for lookup in ("DescribeStream", "DescribeJob"):  # the run dies before it can look
        client.meta.events.register(f"before-call.iot.{lookup}", crash)
    iot = IotOps(client, clock=pair.clock)
    journal = Journal.start(tmp_path, mode="aws", region="us-east-1", clock=pair.clock)
    with pytest.raises(Crash):
        RoundResources(iot, s3=None, journal=journal).create(plan_for(1))
    kind, ident = ("job", "J-1") if operation == "CreateJob" else ("stream", "S-1")
    assert (kind, ident) in intents_on_disk(tmp_path)  # all that is left: the intent
    summary = clean_journal(
        Journal.load(tmp_path / LOG_NAME, clock=SystemClock()), ticking_iot(pair), _no_s3()
    )
    assert summary.ok and f"{kind} {ident}" in summary.removed
    assert pair.call("iot", "ListJobs")["jobs"] == []
    assert pair.call("iot", "ListStreams")["streams"] == []
    again = clean_journal(
        Journal.load(tmp_path / LOG_NAME, clock=SystemClock()), ticking_iot(pair), _no_s3()
    )
    assert again.removed == [] and "nothing left to remove" in again.text()


def ticking_iot(pair: AwsPair) -> IotOps:
    """IotOps whose waits move the pair's clock and let the service act (deletions end)."""

    def sleep(seconds: float) -> None:
        pair.clock.advance(seconds)
        pair.svc.tick()

    return IotOps(pair.client("iot"), clock=pair.clock, sleep=sleep)


def test_interrupted_before_the_create_reaches_aws_forgets_the_intent(tmp_path: Path) -> None:
    w = make_world(tmp_path, rounds=1)

    def interrupt(**_: Any) -> None:
        raise KeyboardInterrupt

    w.runner.iot.client.meta.events.register("before-call.iot.CreateJob", interrupt)
    result = w.runner.run(plan_for)
    assert result.interrupted
    job = w.journal.find("job", "J-1")
    assert job is not None and job.state == "absent"  # looked up: never came to be
    assert w.job_ids() == set() and w.stream_ids() == set()
    assert list(w.journal.present()) == []


def test_an_earlier_runs_job_with_our_id_is_not_adopted(tmp_path: Path) -> None:
    """Not retried, or retried but made before this run's intent: it is an earlier run's."""
    pair = AwsPair()
    pair.call("iot", "CreateThing", thingName="d1")
    pair.call("iot", "CreateJob", jobId="J-1", targets=[thing_arn("d1")], document="{}")
    pair.clock.advance(3600)  # an hour later: beyond any clock skew AWS accepts
    iot = IotOps(pair.client("iot"), clock=pair.clock)
    with pytest.raises(AwsServiceError, match="earlier run"):
        iot.create_job({"jobId": "J-1", "targets": [thing_arn("d1")], "document": "{}"})
    # Its first attempt throttled (nothing made), the retry meets the old job: still not ours.
    throttled = FaultConfig(
        per_operation={"CreateJob": OperationFaults(throttle_rate=1.0, times=1)}
    )
    retried = AwsPair(faults=throttled)
    retried.call("iot", "CreateThing", thingName="d1")
    retried.call("iot", "CreateJob", jobId="J-1", targets=[thing_arn("d1")], document="{}")
    retried.clock.advance(3600)
    ops = IotOps(retried.client("iot"), clock=retried.clock)
    with pytest.raises(AwsServiceError, match="earlier run"):
        ops.create_job(
            {"jobId": "J-1", "targets": [thing_arn("d1")], "document": "{}"},
            since=retried.clock.now(),
        )
    assert retried.injector.counts.get("throttle") == 1


def _no_s3() -> S3Ops:
    return S3Ops(None, "us-east-1")
