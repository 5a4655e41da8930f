"""JobPoller against the real pair: boto3 clients joined to a LocalIotService on a FakeClock
(tests/support/aws_pair.py). Things move through the jobs data plane (UpdateJobExecution);
throttling and 5xx are the local AWS IoT's injected faults; ``ops()`` is what the poller sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.aws_pair import AwsPair

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.faults import FaultConfig, FaultInjector
from ota_deploy.monitor.poller import JobPoller, thing_name_from_arn

ACCOUNT_ARN = "arn:aws:iot:us-east-1:123456789012"


class Jobs:
    """One job, ``J-1``, over things that report through the jobs data plane."""

    def __init__(self, pair: AwsPair) -> None:
        self.pair = pair
        self.client = pair.client("iot", max_attempts=1)  # faults reach the poller
        self.calls: list[tuple[str, dict[str, Any]]] = []

        def note(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.calls.append((model.name, dict(params)))

        self.client.meta.events.register("before-parameter-build.iot", note)

    def job(self, names: list[str], **config: Any) -> None:
        """Things ``names`` (in a thing group when there are more than a job's 100 targets)
        and job J-1 targeting them; every execution starts QUEUED."""
        call = self.pair.call
        for name in names:
            call("iot", "CreateThing", thingName=name)
        if len(names) <= 100:
            targets = [f"{ACCOUNT_ARN}:thing/{n}" for n in names]
        else:
            call("iot", "CreateThingGroup", thingGroupName="fleet")
            for name in names:
                call("iot", "AddThingToThingGroup", thingGroupName="fleet", thingName=name)
            targets = [f"{ACCOUNT_ARN}:thinggroup/fleet"]
        call("iot", "CreateJob", jobId="J-1", targets=targets, document="{}", **config)

    def move(self, name: str, status: str, details: dict[str, str] | None = None) -> None:
        """The thing's device reports ``status`` (and statusDetails) for J-1."""
        params: dict[str, Any] = {"jobId": "J-1", "thingName": name, "status": status}
        if details is not None:
            params["statusDetails"] = details
        self.pair.call("iot-jobs-data", "UpdateJobExecution", **params)

    def ops(self) -> list[str]:
        out = [op for op, _ in self.calls]
        self.calls.clear()
        return out


@contextmanager
def throttled(pair: AwsPair, *operations: str) -> Iterator[None]:
    """AWS answers ThrottlingException to ``operations`` (all of them when none is named)."""
    saved = pair.injector
    config = FaultConfig(throttle_rate=1.0, operations=frozenset(operations))
    pair.injector = FaultInjector(config)
    try:
        yield
    finally:
        pair.injector = saved


@pytest.fixture
def pair() -> AwsPair:
    return AwsPair()


@pytest.fixture
def clock(pair: AwsPair) -> FakeClock:
    return pair.clock


@pytest.fixture
def iot(pair: AwsPair) -> Jobs:
    return Jobs(pair)


def test_thing_name_from_arn() -> None:
    assert thing_name_from_arn("arn:aws:iot:us-east-1:1:thing/dev-1") == "dev-1"
    assert thing_name_from_arn("dev-2") == "dev-2"


def test_first_poll_lists_only_nonempty_statuses_paginated(iot: Jobs, clock: FakeClock) -> None:
    iot.job([f"t{i:04d}" for i in range(1000)])
    for i in range(10):
        iot.move(f"t{i:04d}", "IN_PROGRESS")
    poller = JobPoller(iot.client, "J-1", clock=clock)
    snap = poller.poll()
    ops = iot.ops()
    # 1 DescribeJob + QUEUED (990 -> 4 pages of 250) + IN_PROGRESS (1 page)
    assert ops.count("DescribeJob") == 1
    assert ops.count("ListJobExecutionsForJob") == 5
    assert snap.api_calls == 6 == poller.api_calls
    assert snap.counts["QUEUED"] == 990 and snap.counts["IN_PROGRESS"] == 10
    assert len(snap.things) == 1000
    assert snap.things["t0003"].status == "IN_PROGRESS"
    assert snap.things["t0003"].started_at is not None
    assert snap.job_status == "IN_PROGRESS" and snap.target_selection == "SNAPSHOT"
    assert snap.created_at == 1_700_000_000


def test_quiet_job_costs_one_call(iot: Jobs, clock: FakeClock) -> None:
    iot.job([f"t{i}" for i in range(300)])
    poller = JobPoller(iot.client, "J-1", clock=clock)
    poller.poll()
    iot.ops()
    clock.advance(5)
    snap = poller.poll()
    assert iot.ops() == ["DescribeJob"]
    assert snap.api_calls == 1
    assert len(snap.things) == 300


def test_hidden_swap_in_progress_is_seen(iot: Jobs, clock: FakeClock) -> None:
    """A QUEUED->IN_PROGRESS and an IN_PROGRESS->SUCCEEDED leave IN_PROGRESS's count equal."""
    iot.job(["a", "b"])
    iot.move("b", "IN_PROGRESS")
    poller = JobPoller(iot.client, "J-1", clock=clock)
    poller.poll()
    clock.advance(1)
    iot.move("a", "IN_PROGRESS")
    iot.move("b", "SUCCEEDED")
    snap = poller.poll()
    assert snap.things["a"].status == "IN_PROGRESS"
    assert snap.things["b"].status == "SUCCEEDED"
    assert snap.counts["IN_PROGRESS"] == 1


def test_only_changed_statuses_are_relisted(iot: Jobs, clock: FakeClock) -> None:
    iot.job([f"t{i}" for i in range(5)])
    iot.move("t0", "IN_PROGRESS")
    iot.move("t0", "SUCCEEDED")
    iot.move("t1", "IN_PROGRESS")
    iot.move("t1", "FAILED")
    poller = JobPoller(iot.client, "J-1", clock=clock)
    poller.poll()
    iot.ops()
    iot.move("t2", "IN_PROGRESS")
    iot.move("t2", "SUCCEEDED")
    poller.poll()
    listed = [p["status"] for op, p in iot.calls if op == "ListJobExecutionsForJob"]
    assert "FAILED" not in listed
    assert set(listed) == {"QUEUED", "SUCCEEDED"}


def test_lost_thing_is_searched_in_other_statuses(iot: Jobs, clock: FakeClock) -> None:
    """A retry: a fails and is QUEUED again (execution 2) while d leaves QUEUED and c fails on
    its last try. QUEUED's count is unchanged, so only the search for a (gone from the
    IN_PROGRESS listing, in no other listed status) finds it."""
    retry = {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]}
    iot.job(["a", "c", "d"], jobExecutionsRetryConfig=retry)
    iot.move("c", "IN_PROGRESS")
    iot.move("c", "FAILED")  # retried: execution 2, QUEUED
    iot.move("c", "IN_PROGRESS")
    iot.move("a", "IN_PROGRESS")
    poller = JobPoller(iot.client, "J-1", clock=clock)
    poller.poll()
    clock.advance(1)
    iot.move("a", "FAILED")  # retried: QUEUED again, execution 2
    iot.move("d", "IN_PROGRESS")
    iot.move("c", "FAILED")  # no retry left
    iot.ops()
    snap = poller.poll()
    listed = [p["status"] for op, p in iot.calls if op == "ListJobExecutionsForJob"]
    assert listed == ["IN_PROGRESS", "FAILED", "QUEUED"]  # changed counts, then the search
    assert snap.things["a"].status == "QUEUED"
    assert snap.things["a"].execution_number == 2
    assert snap.things["c"].status == "FAILED"


def test_stale_process_details_relisted_next_poll(iot: Jobs, clock: FakeClock) -> None:
    iot.job(["a", "b"])
    poller = JobPoller(iot.client, "J-1", clock=clock)
    poller.poll()
    iot.move("a", "IN_PROGRESS")
    iot.move("a", "SUCCEEDED")
    stale: dict[str, int] = {"numberOfQueuedThings": 2}

    def lag(parsed: dict[str, Any], **_: Any) -> None:  # DescribeJob lags behind the listing
        parsed["job"]["jobProcessDetails"] = dict(stale)

    iot.client.meta.events.register("after-call.iot.DescribeJob", lag)
    snap = poller.poll()
    assert snap.things["a"].status == "QUEUED"  # nothing said to re-list
    stale.update(numberOfQueuedThings=1, numberOfSucceededThings=1)
    snap = poller.poll()
    assert snap.things["a"].status == "SUCCEEDED"


def test_expected_things_without_execution_are_none(iot: Jobs, clock: FakeClock) -> None:
    iot.job(["a"])
    poller = JobPoller(iot.client, "J-1", clock=clock, expected_things=["a", "z"])
    snap = poller.poll()
    assert snap.things["z"].status == "NONE"
    assert not snap.all_terminal()
    poller.set_expected_things(["a", "y"])
    snap = poller.poll()
    assert "y" in snap.things


def test_job_not_found(iot: Jobs, clock: FakeClock) -> None:
    poller = JobPoller(iot.client, "J-1", clock=clock, expected_things=["a"])  # no such job
    snap = poller.poll()
    assert snap.job_status == "NOT_FOUND"
    assert snap.things["a"].status == "NONE"
    assert snap.api_calls == 1


def test_throttling_keeps_last_snapshot_and_backs_off(
    pair: AwsPair, iot: Jobs, clock: FakeClock
) -> None:
    iot.job(["a"])
    poller = JobPoller(iot.client, "J-1", clock=clock, backoff_initial_sec=2, backoff_max_sec=5)
    first = poller.poll()
    iot.move("a", "IN_PROGRESS")
    clock.advance(1)
    with throttled(pair):
        second = poller.poll()
    assert second.things["a"].status == "QUEUED"
    assert second.taken_at == first.taken_at
    assert poller.backing_off
    iot.ops()
    clock.advance(1)
    third = poller.poll()  # inside the back-off window: no call
    assert iot.ops() == []
    assert third.api_calls == 0
    clock.advance(1.5)
    fourth = poller.poll()
    assert fourth.things["a"].status == "IN_PROGRESS"
    assert not poller.backing_off


def test_throttled_mid_poll_does_not_corrupt_state(
    pair: AwsPair, iot: Jobs, clock: FakeClock
) -> None:
    iot.job(["a", "b"])
    poller = JobPoller(iot.client, "J-1", clock=clock, backoff_initial_sec=1)
    poller.poll()
    iot.move("a", "IN_PROGRESS")
    with throttled(pair, "ListJobExecutionsForJob"):  # DescribeJob answers, the listing not
        poller.poll()
    clock.advance(2)
    snap = poller.poll()
    assert snap.things["a"].status == "IN_PROGRESS"
    assert snap.things["b"].status == "QUEUED"


def test_backoff_doubles_to_max(pair: AwsPair, iot: Jobs, clock: FakeClock) -> None:
    iot.job(["a"])
    poller = JobPoller(iot.client, "J-1", clock=clock, backoff_initial_sec=1, backoff_max_sec=3)
    poller.poll()
    waits = []
    for _ in range(4):
        clock.advance(10)
        with throttled(pair):
            poller.poll()
        waits.append(poller._backoff)
    assert waits == [1, 2, 3, 3]


def test_first_poll_throttled_gives_placeholder(pair: AwsPair, iot: Jobs, clock: FakeClock) -> None:
    iot.job(["a"])
    poller = JobPoller(iot.client, "J-1", clock=clock, expected_things=["a"])
    with throttled(pair):
        snap = poller.poll()
    assert snap.job_status == "UNKNOWN"
    assert snap.things["a"].status == "NONE"


def test_other_errors_propagate(clock: FakeClock) -> None:
    pair = AwsPair(faults=FaultConfig(error_rate=1.0, operations=frozenset({"DescribeJob"})))
    jobs = Jobs(pair)
    jobs.job(["a"])
    with pytest.raises(ClientError):
        JobPoller(jobs.client, "J-1", clock=pair.clock).poll()


def test_details_budget_failures_first(iot: Jobs, clock: FakeClock) -> None:
    iot.job(["a", "b", "c"])
    poller = JobPoller(iot.client, "J-1", clock=clock, details_budget=1)
    poller.poll()
    iot.ops()
    iot.move("a", "IN_PROGRESS", {"progress": "50%"})
    iot.move("b", "IN_PROGRESS")
    iot.move("b", "FAILED", {"reason": "md5 mismatch"})
    snap = poller.poll()
    described = [p["thingName"] for op, p in iot.calls if op == "DescribeJobExecution"]
    assert described == ["b"]
    assert snap.things["b"].status_details == {"reason": "md5 mismatch"}
    iot.ops()
    snap = poller.poll()  # the pending one is fetched next time, no re-list needed
    assert [p["thingName"] for op, p in iot.calls if op == "DescribeJobExecution"] == ["a"]
    assert snap.things["a"].status_details == {"progress": "50%"}
    assert snap.things["b"].status_details == {"reason": "md5 mismatch"}


def test_watch_in_progress_sees_progress_updates(iot: Jobs, clock: FakeClock) -> None:
    iot.job(["a"])
    iot.move("a", "IN_PROGRESS", {"progress": "0%"})
    poller = JobPoller(iot.client, "J-1", clock=clock, details_budget=5, watch_in_progress=True)
    poller.poll()
    clock.advance(3)
    iot.move("a", "IN_PROGRESS", {"progress": "75%"})
    snap = poller.poll()
    assert snap.things["a"].status_details == {"progress": "75%"}
    iot.ops()
    snap = poller.poll()  # nothing moved: describe + one listing, no DescribeJobExecution
    assert iot.ops() == ["DescribeJob", "ListJobExecutionsForJob"]


def test_no_details_without_budget(iot: Jobs, clock: FakeClock) -> None:
    iot.job(["a"])
    iot.move("a", "IN_PROGRESS", {"progress": "10%"})
    poller = JobPoller(iot.client, "J-1", clock=clock)
    poller.poll()
    assert "DescribeJobExecution" not in iot.ops()


def test_snapshot_json_roundtrip(iot: Jobs, clock: FakeClock) -> None:
    import json

    iot.job(["a"])
    snap = JobPoller(iot.client, "J-1", clock=clock).poll()
    doc = json.loads(json.dumps(snap.to_json_dict()))
    assert doc["job"]["jobId"] == "J-1"
    assert doc["counts"]["QUEUED"] == 1
    assert doc["things"]["a"]["status"] == "QUEUED"


def test_page_size_validated(iot: Jobs, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        JobPoller(iot.client, "J-1", clock=clock, page_size=251)


def test_finishing_does_not_relist_queued(iot: Jobs, clock: FakeClock) -> None:
    iot.job([f"t{i:03d}" for i in range(600)])
    for i in range(10):
        iot.move(f"t{i:03d}", "IN_PROGRESS")
    poller = JobPoller(iot.client, "J-1", clock=clock)
    poller.poll()
    iot.ops()
    for i in range(5):
        iot.move(f"t{i:03d}", "SUCCEEDED")
    snap = poller.poll()
    listed = [p["status"] for op, p in iot.calls if op == "ListJobExecutionsForJob"]
    assert sorted(listed) == ["IN_PROGRESS", "SUCCEEDED"]
    assert snap.things["t004"].status == "SUCCEEDED"


def test_new_execution_entering_queued_is_seen(iot: Jobs, clock: FakeClock) -> None:
    """CONTINUOUS job: a thing joins (QUEUED) while another leaves QUEUED: count unchanged."""
    call = iot.pair.call
    call("iot", "CreateThingGroup", thingGroupName="g")
    for name in ("a", "b", "c"):
        call("iot", "CreateThing", thingName=name)
    for name in ("a", "b"):
        call("iot", "AddThingToThingGroup", thingGroupName="g", thingName=name)
    targets = [f"{ACCOUNT_ARN}:thinggroup/g"]
    call(
        "iot",
        "CreateJob",
        jobId="J-1",
        targets=targets,
        document="{}",
        targetSelection="CONTINUOUS",
    )
    poller = JobPoller(iot.client, "J-1", clock=clock)
    poller.poll()
    iot.move("a", "IN_PROGRESS")
    call("iot", "AddThingToThingGroup", thingGroupName="g", thingName="c")
    snap = poller.poll()
    assert snap.things["c"].status == "QUEUED"
    assert snap.things["a"].status == "IN_PROGRESS"
    assert snap.things["b"].status == "QUEUED"


def test_poll_final_fetches_failure_details_even_without_budget(
    iot: Jobs, clock: FakeClock
) -> None:
    iot.job(["a", "b", "c", "d"])
    poller = JobPoller(
        iot.client, "J-1", clock=clock
    )  # details_budget=0: cheap polls while waiting
    poller.poll()
    iot.move("a", "IN_PROGRESS")
    iot.move("a", "FAILED", {"reason": "md5 mismatch"})
    iot.move("b", "IN_PROGRESS")
    iot.move("b", "SUCCEEDED", {"v": "1"})
    iot.move("c", "IN_PROGRESS")
    iot.move("c", "REJECTED", {"reason": "wrong board"})
    snap = poller.poll()
    assert "DescribeJobExecution" not in iot.ops()
    assert snap.things["a"].status_details == {}
    snap = poller.poll_final()
    described = sorted(p["thingName"] for op, p in iot.calls if op == "DescribeJobExecution")
    assert described == ["a", "c"]  # failures only; SUCCEEDED/QUEUED details are not fetched
    assert snap.things["a"].status_details == {"reason": "md5 mismatch"}
    assert snap.things["c"].status_details == {"reason": "wrong board"}
    assert poller.details_budget == 0
    iot.ops()
    again = poller.poll_final()
    assert iot.ops() == []  # nothing left to fetch: not even a DescribeJob
    assert again is poller.last


def test_counts_agree_with_things_listed_after_a_device_moved(iot: Jobs, clock: FakeClock) -> None:
    """DescribeJob said IN_PROGRESS; by the time the executions were listed the device had
    SUCCEEDED: the snapshot's counts follow the later listing, so they agree with its things."""
    iot.job(["a", "b"])
    poller = JobPoller(iot.client, "J-1", clock=clock)
    iot.move("a", "IN_PROGRESS")
    iot.move("b", "IN_PROGRESS")
    poller.poll()
    iot.move("a", "SUCCEEDED")
    raced = {"done": False}

    def device_finishes(**_: Any) -> None:  # between DescribeJob and the listings
        if not raced["done"]:
            raced["done"] = True
            iot.move("b", "SUCCEEDED")

    iot.client.meta.events.register("after-call.iot.DescribeJob", device_finishes)
    snap = poller.poll()
    assert {n: t.status for n, t in snap.things.items()} == {"a": "SUCCEEDED", "b": "SUCCEEDED"}
    assert {s: n for s, n in snap.counts.items() if n} == {"SUCCEEDED": 2}


def test_a_poll_copies_only_what_changed_and_never_changes_an_earlier_snapshot(
    pair: AwsPair, iot: Jobs, clock: FakeClock
) -> None:
    """Copy-on-write (monitor/board.py): an unchanged thing's state is shared with the previous
    snapshot, a moved thing's is a new one, and no snapshot changes after it was returned --
    not by a later poll, not by a throttled one that was abandoned half-way."""
    iot.job(["a", "b", "c"])
    poller = JobPoller(iot.client, "J-1", clock=clock, details_budget=5, backoff_initial_sec=1)
    first = poller.poll()
    iot.move("a", "IN_PROGRESS", {"progress": "10%"})
    clock.advance(1)
    second = poller.poll()
    assert second.things["b"] is first.things["b"] and second.things["c"] is first.things["c"]
    assert second.things["a"] is not first.things["a"]
    assert first.things["a"].status == "QUEUED" and first.things["a"].status_details == {}
    assert second.things["a"].status_details == {"progress": "10%"}
    iot.move("a", "SUCCEEDED", {"done": "yes"})
    iot.move("b", "IN_PROGRESS")
    clock.advance(1)
    with throttled(pair, "DescribeJobExecution"):  # listings merged, then the poll is dropped
        dropped = poller.poll()
    assert dropped.things == second.things
    assert second.things["a"].status == "IN_PROGRESS" and second.things["b"].status == "QUEUED"
    assert second.things["a"].status_details == {"progress": "10%"}
    clock.advance(2)
    third = poller.poll()
    assert {n: t.status for n, t in third.things.items()} == {
        "a": "SUCCEEDED",
        "b": "IN_PROGRESS",
        "c": "QUEUED",
    }
    # a new status drops the old details; SUCCEEDED's are not worth a call (DETAIL_PRIORITY)
    assert third.things["a"].status_details == {}
    assert {s: n for s, n in third.counts.items() if n} == {
        "SUCCEEDED": 1,
        "IN_PROGRESS": 1,
        "QUEUED": 1,
    }
    assert second.things["a"].status == "IN_PROGRESS"  # still what the second poll saw


# ---- newcomers to a big terminal status (monitor/sweep.py) -----------------------------------
# With page_size 2, a 9-member SUCCEEDED takes 5 listing calls: describing one newcomer (and
# listing QUEUED and IN_PROGRESS, where it came from) is cheaper.

TWELVE = [f"t{i:02d}" for i in range(12)]


def _mid_run(iot: Jobs, succeeded: int = 8, running: int = 2) -> None:
    """By default t00-t07 SUCCEEDED, t08 and t09 IN_PROGRESS, t10 and t11 QUEUED."""
    iot.job(TWELVE)
    for name in TWELVE[: succeeded + running]:
        iot.move(name, "IN_PROGRESS")
    for name in TWELVE[:succeeded]:
        iot.move(name, "SUCCEEDED")


def _truth(pair: AwsPair) -> dict[str, str]:
    job = pair.svc.engine.jobs["J-1"]
    out: dict[str, str] = {}
    for name in TWELVE:
        current = job.current(name)
        out[name] = current.status.value if current is not None else "NONE"
    return out


def _listed_statuses(iot: Jobs) -> list[str]:
    """The statuses listed since the last ``ops()``, each once, in order."""
    return list(
        dict.fromkeys(p["status"] for op, p in iot.calls if op == "ListJobExecutionsForJob")
    )


def test_newcomers_to_a_big_terminal_status_are_described_not_listed(
    pair: AwsPair, iot: Jobs, clock: FakeClock
) -> None:
    _mid_run(iot)
    poller = JobPoller(iot.client, "J-1", clock=clock, page_size=2)
    poller.poll()
    iot.ops()
    clock.advance(1)
    iot.move("t08", "SUCCEEDED")
    snap = poller.poll()
    assert _listed_statuses(iot) == ["QUEUED", "IN_PROGRESS"]  # not SUCCEEDED's 5 pages
    ops = iot.ops()
    assert ops == ["DescribeJob", *["ListJobExecutionsForJob"] * 2, "DescribeJobExecution"]
    assert snap.api_calls == 4
    assert {n: t.status for n, t in snap.things.items()} == _truth(pair)
    assert {s: n for s, n in snap.counts.items() if n} == {
        "SUCCEEDED": 9,
        "IN_PROGRESS": 1,
        "QUEUED": 2,
    }
    # what a listing would have said, field by field
    fresh = JobPoller(iot.client, "J-1", clock=clock).poll()
    assert snap.things == fresh.things
    # and the next poll knows SUCCEEDED's 9 members: nothing moved, one call
    iot.ops()
    assert poller.poll().api_calls == 1


def test_hidden_swap_with_a_described_newcomer(pair: AwsPair, iot: Jobs, clock: FakeClock) -> None:
    """t10 starts while t09 finishes: IN_PROGRESS's count is unchanged; t10 is found in the
    IN_PROGRESS listing, t09 (gone from it) is described."""
    _mid_run(iot)
    poller = JobPoller(iot.client, "J-1", clock=clock, page_size=2)
    poller.poll()
    iot.ops()
    iot.move("t10", "IN_PROGRESS")
    iot.move("t09", "SUCCEEDED")
    snap = poller.poll()
    assert _listed_statuses(iot) == ["QUEUED", "IN_PROGRESS"]
    assert iot.ops().count("DescribeJobExecution") == 1
    assert {n: t.status for n, t in snap.things.items()} == _truth(pair)
    assert snap.counts["IN_PROGRESS"] == 2 and snap.counts["SUCCEEDED"] == 9


def test_newcomers_that_do_not_add_up_fall_back_to_the_listing(
    pair: AwsPair, iot: Jobs, clock: FakeClock
) -> None:
    """t00's SUCCEEDED execution is deleted while t08 and t09 finish: SUCCEEDED grew by one,
    two newcomers were described, so the count does not add up: SUCCEEDED is listed, and t00
    (in no listing) has no execution any more."""
    _mid_run(iot)
    poller = JobPoller(iot.client, "J-1", clock=clock, page_size=2)
    poller.poll()
    iot.ops()
    pair.call("iot", "DeleteJobExecution", jobId="J-1", thingName="t00", executionNumber=1)
    iot.move("t08", "SUCCEEDED")
    iot.move("t09", "SUCCEEDED")
    snap = poller.poll()
    assert _listed_statuses(iot) == ["QUEUED", "IN_PROGRESS", "SUCCEEDED"]
    assert iot.ops().count("DescribeJobExecution") == 2
    truth = _truth(pair)
    assert truth["t00"] == "NONE"
    assert {n: t.status for n, t in snap.things.items()} == truth
    assert sum(snap.counts.values()) == 11


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(TWELVE),
                st.sampled_from(["SUCCEEDED", "SUCCEEDED", "FAILED", "REJECTED", "DELETE"]),
            ),
            min_size=1,
            max_size=8,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_every_poll_sees_what_the_service_holds(steps: list[list[tuple[str, str]]]) -> None:
    """Random moves between polls (a QUEUED thing starts, a running one ends as chosen, an
    ended one may lose its execution): each snapshot says what the service holds, with counts
    that agree, whether statuses were listed or their newcomers described (one execution a
    page: describing newcomers is the cheaper way as soon as a status has a few members)."""
    pair = AwsPair()
    iot = Jobs(pair)
    _mid_run(iot, succeeded=4, running=6)
    poller = JobPoller(iot.client, "J-1", clock=pair.clock, page_size=1)
    poller.poll()
    for moves in steps:
        for name, end in moves:
            state = _truth(pair)[name]
            if state == "QUEUED":
                iot.move(name, "IN_PROGRESS")
            elif state == "IN_PROGRESS" and end != "DELETE":
                iot.move(name, end)
            elif state in ("SUCCEEDED", "FAILED", "REJECTED") and end == "DELETE":
                number = pair.svc.engine.jobs["J-1"].current(name).execution_number  # type: ignore[union-attr]
                pair.call(
                    "iot", "DeleteJobExecution", jobId="J-1", thingName=name, executionNumber=number
                )
        pair.clock.advance(1)
        snap = poller.poll()
        truth = _truth(pair)
        assert {n: t.status for n, t in snap.things.items()} == truth
        held = {s: list(truth.values()).count(s) for s in set(truth.values()) - {"NONE"}}
        assert {s: n for s, n in snap.counts.items() if n} == held


def test_settled_is_one_describe_job_and_says_when_every_execution_has_ended(
    pair: AwsPair, iot: Jobs, clock: FakeClock
) -> None:
    """The runner's probe between polls: counts only once nothing is QUEUED or IN_PROGRESS;
    one call each time; the board (what the next poll compares with) untouched."""
    iot.job(["a", "b"])
    poller = JobPoller(iot.client, "J-1", clock=clock)
    first = poller.poll()
    iot.ops()
    assert poller.settled() is None  # both QUEUED
    iot.move("a", "IN_PROGRESS")
    iot.move("a", "SUCCEEDED")
    assert poller.settled() is None  # b still QUEUED
    iot.move("b", "IN_PROGRESS")
    iot.move("b", "FAILED")
    counts = poller.settled()
    assert counts is not None
    assert {s: n for s, n in counts.items() if n} == {"SUCCEEDED": 1, "FAILED": 1}
    assert iot.ops() == ["DescribeJob"] * 3
    assert poller.last is first  # a probe is not a poll
    snap = poller.poll()
    assert {n: t.status for n, t in snap.things.items()} == {"a": "SUCCEEDED", "b": "FAILED"}


def test_settled_never_raises(pair: AwsPair, iot: Jobs, clock: FakeClock) -> None:
    poller = JobPoller(iot.client, "no-such-job", clock=clock)
    assert poller.settled() is None  # ResourceNotFound: the next full poll says so
