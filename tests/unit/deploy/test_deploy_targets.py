"""The run's thing group for more than 100 targets: filled once, reused while the list holds
(about one call), repaired when it changes; a fill cut short (Ctrl-C, a missing thing, a lost
reply) never leaks it. Leftover scans by id cost pages, not planned rounds.

Real boto3 against the real local AWS IoT in memory (``AwsPair``), one worker (the service in
memory is not thread-safe; the concurrency itself is exercised over HTTP by the integration
test and the bench); the fault injector and botocore's own retries are the real ones.
"""

from __future__ import annotations

import _thread
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.support.aws_pair import AwsPair

from ota_deploy.aws.fanout import Pacer
from ota_deploy.aws.group_ops import GroupOps, fill_pacer
from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.s3_ops import S3Ops
from ota_deploy.core.clock import SystemClock
from ota_deploy.core.errors import AwsServiceError, InputError
from ota_deploy.deploy.cleanup import RoundIds, clean_journal, remove_leftovers
from ota_deploy.deploy.journal import LOG_NAME, Journal
from ota_deploy.deploy.targets import DIGEST_ATTRIBUTE, TargetGroup, check_group_arn, list_digest
from ota_deploy.local.faults import FaultConfig, OperationFaults

GROUP = "ota-deploy-Bulk-targets"


def arn(name: str) -> str:
    return f"arn:aws:iot:us-east-1:123456789012:thing/{name}"


def pair_with_things(count: int, **kw: Any) -> tuple[AwsPair, list[str]]:
    pair = AwsPair(**kw)
    names = [f"dev-{i:05d}" for i in range(count)]
    for name in names:
        pair.call("iot", "CreateThing", thingName=name)
    return pair, [arn(n) for n in names]


def ticking_iot(pair: AwsPair, *, max_attempts: int = 3) -> IotOps:
    def sleep(seconds: float) -> None:
        pair.clock.advance(seconds)
        pair.svc.tick()

    return IotOps(pair.client("iot", max_attempts=max_attempts), clock=pair.clock, sleep=sleep)


def target_group(pair: AwsPair, journal: Journal) -> TargetGroup:
    iot = ticking_iot(pair)
    return TargetGroup(iot, journal, groups=GroupOps(iot, workers=1))


def members(pair: AwsPair) -> set[str]:
    found: list[str] = []
    token: str | None = None
    while True:
        page = pair.call(
            "iot",
            "ListThingsInThingGroup",
            thingGroupName=GROUP,
            maxResults=250,
            **({"nextToken": token} if token else {}),
        )
        found += page["things"]
        token = page.get("nextToken")
        if not token:
            return set(found)


def groups_left(pair: AwsPair) -> list[str]:
    return [g["groupName"] for g in pair.call("iot", "ListThingGroups")["thingGroups"]]


def calls(pair: AwsPair) -> Counter[str]:
    return Counter(op for _, op in pair.requests)


# -- reuse ------------------------------------------------------------------------------------
def test_unchanged_list_reuses_the_group_in_one_call_and_a_changed_one_repairs_it(
    tmp_path: Path,
) -> None:
    pair, arns = pair_with_things(300)
    journal = Journal.start(tmp_path, clock=SystemClock(), mode="aws", region="us-east-1")
    first = target_group(pair, journal).prepare(GROUP, arns)
    assert first.endswith(f":thinggroup/{GROUP}")
    assert calls(pair) == Counter(
        {
            "DescribeThingGroup": 1,
            "CreateThingGroup": 1,
            "AddThingToThingGroup": 300,
            "UpdateThingGroup": 1,
        }
    )
    assert members(pair) == {a.rsplit("/", 1)[1] for a in arns}

    # The next run, same things in another order: one call, nothing rebuilt.
    pair.requests.clear()
    shuffled = list(arns)
    random.Random(7).shuffle(shuffled)
    again = Journal.start(tmp_path / "run2", clock=SystemClock(), mode="aws", region="us-east-1")
    assert target_group(pair, again).prepare(GROUP, shuffled) == first
    assert calls(pair) == Counter({"DescribeThingGroup": 1})
    assert [r.state for r in again.data.resources] == ["kept"]

    # A changed list: 10 things out, 5 in; only the difference is sent.
    extra = [f"new-{i}" for i in range(5)]
    for name in extra:
        pair.call("iot", "CreateThing", thingName=name)
    changed = arns[10:] + [arn(n) for n in extra]
    pair.requests.clear()
    assert target_group(pair, Journal.in_memory(clock=pair.clock)).prepare(GROUP, changed) == first
    seen = calls(pair)
    assert seen["AddThingToThingGroup"] == 5 and seen["RemoveThingFromThingGroup"] == 10
    assert seen["CreateThingGroup"] == 0 and seen["UpdateThingGroup"] == 2  # unmark, mark
    assert members(pair) == {a.rsplit("/", 1)[1] for a in changed}
    attrs = pair.call("iot", "DescribeThingGroup", thingGroupName=GROUP)["thingGroupProperties"]
    assert attrs["attributePayload"]["attributes"][DIGEST_ATTRIBUTE] == list_digest(changed)

    # Reused again, then removed only when asked (--groups).
    pair.requests.clear()
    target_group(pair, Journal.in_memory(clock=pair.clock)).prepare(GROUP, list(reversed(changed)))
    assert calls(pair) == Counter({"DescribeThingGroup": 1})
    plain = clean_journal(again, ticking_iot(pair), S3Ops(None, "us-east-1"))
    assert plain.removed == [] and GROUP in " ".join(plain.kept) and groups_left(pair) == [GROUP]
    asked = clean_journal(again, ticking_iot(pair), S3Ops(None, "us-east-1"), groups=True)
    assert asked.removed == [f"thing_group {GROUP}"] and groups_left(pair) == []


def test_a_group_with_our_name_that_we_did_not_make_is_left_alone(tmp_path: Path) -> None:
    pair, arns = pair_with_things(120)
    pair.call("iot", "CreateThingGroup", thingGroupName=GROUP)  # the user's, no description
    with pytest.raises(AwsServiceError, match="not made by ota-deploy"):
        target_group(pair, Journal.in_memory(clock=pair.clock)).prepare(GROUP, arns)
    assert calls(pair) == Counter({"DescribeThingGroup": 1})
    assert members(pair) == set()


# -- a fill cut short -------------------------------------------------------------------------
def test_ctrl_c_while_filling_leaves_an_unmarked_group_that_cleanup_removes(
    tmp_path: Path,
) -> None:
    pair, arns = pair_with_things(150)
    journal = Journal.start(tmp_path, clock=SystemClock(), mode="aws", region="us-east-1")
    tg = target_group(pair, journal)
    added = [0]

    def ctrl_c_at_the_50th(**_: Any) -> None:
        added[0] += 1
        if added[0] == 50:
            _thread.interrupt_main()  # Ctrl-C: KeyboardInterrupt in the main thread
            time.sleep(0.5)  # this worker holds still meanwhile, as a slow call would

    tg.iot.client.meta.events.register("before-call.iot.AddThingToThingGroup", ctrl_c_at_the_50th)
    with pytest.raises(KeyboardInterrupt):
        tg.prepare(GROUP, arns)
    assert len(members(pair)) == 50 and groups_left(pair) == [GROUP]
    # What a crash now leaves on disk is enough: the group's intent and creation.
    crashed = Journal.load(tmp_path / LOG_NAME, clock=SystemClock())
    assert [(r.kind, r.state) for r in crashed.data.resources] == [("thing_group", "created")]
    summary = clean_journal(crashed, ticking_iot(pair), S3Ops(None, "us-east-1"))
    assert summary.removed == [f"thing_group {GROUP}"] and groups_left(pair) == []
    # ... and the next run with the same list repairs nothing: it makes the group again.
    assert target_group(pair, Journal.in_memory(clock=pair.clock)).prepare(GROUP, arns)
    assert len(members(pair)) == 150


def test_a_missing_thing_stops_the_fill_names_it_and_cleanup_leaves_nothing(
    tmp_path: Path,
) -> None:
    pair, arns = pair_with_things(130)
    listed = [*arns[:60], arn("not-registered"), *arns[60:]]
    journal = Journal.start(tmp_path, clock=SystemClock(), mode="aws", region="us-east-1")
    with pytest.raises(AwsServiceError, match="'not-registered'") as caught:
        target_group(pair, journal).prepare(GROUP, listed)
    assert caught.value.exit_code == 3
    summary = clean_journal(journal, ticking_iot(pair), S3Ops(None, "us-east-1"))
    assert summary.ok and summary.removed == [f"thing_group {GROUP}"]
    assert groups_left(pair) == []


def test_a_half_filled_group_from_a_dead_run_is_repaired_not_rebuilt(tmp_path: Path) -> None:
    pair, arns = pair_with_things(120)
    pair.call(
        "iot",
        "CreateThingGroup",
        thingGroupName=GROUP,
        thingGroupProperties={"thingGroupDescription": "ota-deploy: targets of one run"},
    )
    for a in arns[:70]:
        pair.call("iot", "AddThingToThingGroup", thingGroupName=GROUP, thingArn=a)
    target_group(pair, Journal.in_memory(clock=pair.clock)).prepare(GROUP, arns)
    seen = calls(pair)
    assert seen["AddThingToThingGroup"] == 50 and seen["CreateThingGroup"] == 0
    assert seen["UpdateThingGroup"] == 1  # it was not marked: only the final mark
    assert len(members(pair)) == 120


@pytest.mark.parametrize(
    "operation", ["CreateThingGroup", "AddThingToThingGroup", "UpdateThingGroup"]
)
def test_a_reply_lost_after_commit_while_making_the_group_changes_nothing(
    tmp_path: Path, operation: str
) -> None:
    pair, arns = pair_with_things(110, lose_reply_after_commit={operation: 1})
    journal = Journal.start(tmp_path, clock=SystemClock(), mode="aws", region="us-east-1")
    target_group(pair, journal).prepare(GROUP, arns)
    assert pair.lose_reply_after_commit[operation] == 0  # it fired; botocore retried
    assert len(members(pair)) == 110
    assert [(r.kind, r.state) for r in journal.data.resources] == [("thing_group", "kept")]
    pair.requests.clear()
    assert target_group(pair, Journal.in_memory(clock=pair.clock)).prepare(
        GROUP, arns
    )  # and it is reusable
    assert calls(pair) == Counter({"DescribeThingGroup": 1})


def test_throttling_while_filling_is_retried(tmp_path: Path) -> None:
    faults = FaultConfig(
        per_operation={"AddThingToThingGroup": OperationFaults(throttle_rate=0.3, times=40)},
        seed=3,
    )
    pair, arns = pair_with_things(150, faults=faults)
    target_group(pair, Journal.in_memory(clock=pair.clock)).prepare(GROUP, arns)
    assert pair.injector.counts.get("throttle") == 40
    assert len(members(pair)) == 150


# -- pacing ----------------------------------------------------------------------------------
def test_the_fill_is_paced_at_awss_documented_rate_only_against_aws() -> None:
    pair = AwsPair()
    local = IotOps(pair.client("iot"), clock=pair.clock)
    assert fill_pacer(local).rate is None  # a local AWS IoT documents no rate
    aws = IotOps(
        pair._session.client("iot", endpoint_url="https://iot.us-east-1.amazonaws.com"),
        clock=pair.clock,
    )
    assert fill_pacer(aws).rate == 100  # AddThingToThingGroup: 100 per second
    pacer = Pacer(100, pair.clock)
    for _ in range(51):
        pacer.wait_turn()
    assert sum(pair.clock.slept) == pytest.approx(0.5)  # 51 starts: 50 gaps of 10 ms


def test_target_group_arn_is_checked() -> None:
    good = "arn:aws:iot:eu-west-1:123456789012:thinggroup/rack_7"
    assert check_group_arn(good) == good
    for bad in ("rack_7", "arn:aws:iot:eu-west-1:123456789012:thing/rack_7", "x" * 10_000):
        with pytest.raises(InputError, match="--target-group") as caught:
            check_group_arn(bad)
        assert len(str(caught.value)) < 400  # a huge value is quoted as an excerpt


# -- leftovers by id -------------------------------------------------------------------------
def test_leftover_scan_costs_pages_not_planned_rounds() -> None:
    pair, arns = pair_with_things(1)
    for job_id in ("Job-7", "Job-999999", "Job-0", "Job-05", "Job-1000001", "Other-1", "Job"):
        pair.call("iot", "CreateJob", jobId=job_id, targets=arns[:1], document="{}")
    for sid in ("S-3", "S-x"):
        pair.call(
            "iot",
            "CreateStream",
            streamId=sid,
            roleArn="arn:aws:iam::123456789012:role/r",
            files=[{"fileId": 0, "s3Location": {"bucket": "b", "key": "k"}}],
        )
    jobs = RoundIds.of(lambda n: f"Job-{n}", 1_000_000)
    streams = RoundIds.of(lambda n: f"S-{n}", 1_000_000)
    assert jobs == RoundIds("Job-", True, 1_000_000)
    removed = remove_leftovers(ticking_iot(pair), jobs, streams)
    assert sorted(removed) == ["job Job-7", "job Job-999999", "stream S-3"]
    assert calls(pair)["ListJobs"] == 1 and calls(pair)["DescribeJob"] < 20
    left = {j["jobId"] for j in pair.call("iot", "ListJobs")["jobs"]}
    assert left == {"Job-0", "Job-05", "Job-1000001", "Other-1", "Job"}
    # Nothing with the run's ids: nothing removed, nothing claimed (issue 10 §9).
    assert remove_leftovers(ticking_iot(pair), jobs, streams) == []


def test_round_ids_follow_each_builder() -> None:
    assert RoundIds.of(lambda n: "Fixed", 5) == RoundIds("Fixed", False, 5)
    assert RoundIds.of(lambda n: f"A1-{n}", 12) == RoundIds("A1-", True, 12)
    assert RoundIds.of(lambda n: None, 3) is None  # no stream
    assert RoundIds.of(lambda n: f"weird{n * 2}", 3) is None  # no rule: nothing matched
    assert RoundIds("A-", True, 12).matches("A-12") and not RoundIds("A-", True, 12).matches("A-13")
