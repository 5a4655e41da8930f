"""JobPoller against a test-local fake of boto3's IoT client (DescribeJob,
ListJobExecutionsForJob, DescribeJobExecution), with a FakeClock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ota_deploy.core.clock import FakeClock
from ota_deploy.monitor.poller import JobPoller, thing_name_from_arn

KEYS = {
    "QUEUED": "numberOfQueuedThings",
    "IN_PROGRESS": "numberOfInProgressThings",
    "SUCCEEDED": "numberOfSucceededThings",
    "FAILED": "numberOfFailedThings",
    "TIMED_OUT": "numberOfTimedOutThings",
    "REJECTED": "numberOfRejectedThings",
    "REMOVED": "numberOfRemovedThings",
    "CANCELED": "numberOfCanceledThings",
}


def _err(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, op)


class FakeIot:
    """Just enough of boto3's iot client; counts calls per operation."""

    def __init__(self, clock: FakeClock, job_id: str = "J-1") -> None:
        self.clock = clock
        self.job_id = job_id
        self.job_status = "IN_PROGRESS"
        self.exists = True
        self.execs: dict[str, dict[str, Any]] = {}
        self.details: dict[str, dict[str, str]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.throttle_next = 0
        self.stale_counts: dict[str, int] | None = None

    def add(self, name: str, status: str = "QUEUED") -> None:
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        self.execs[name] = {
            "status": status,
            "queuedAt": now,
            "lastUpdatedAt": now,
            "executionNumber": 1,
        }

    def move(self, name: str, status: str, details: dict[str, str] | None = None) -> None:
        e = self.execs[name]
        e["status"] = status
        e["lastUpdatedAt"] = datetime.fromtimestamp(self.clock.now(), UTC)
        if status == "IN_PROGRESS" and "startedAt" not in e:
            e["startedAt"] = e["lastUpdatedAt"]
        if details is not None:
            self.details[name] = details

    def _enter(self, op: str, params: dict[str, Any]) -> None:
        self.calls.append((op, params))
        if self.throttle_next:
            self.throttle_next -= 1
            raise _err("ThrottlingException", op)

    def describe_job(self, *, jobId: str) -> dict[str, Any]:
        self._enter("DescribeJob", {"jobId": jobId})
        if not self.exists or jobId != self.job_id:
            raise _err("ResourceNotFoundException", "DescribeJob")
        counts = {k: 0 for k in KEYS.values()}
        for e in self.execs.values():
            counts[KEYS[e["status"]]] += 1
        if self.stale_counts is not None:
            counts = {KEYS[s]: n for s, n in self.stale_counts.items()}
        return {
            "job": {
                "jobId": jobId,
                "status": self.job_status,
                "targetSelection": "SNAPSHOT",
                "createdAt": datetime.fromtimestamp(1_700_000_000, UTC),
                "jobProcessDetails": counts,
            }
        }

    def list_job_executions_for_job(
        self, *, jobId: str, status: str, maxResults: int, nextToken: str | None = None
    ) -> dict[str, Any]:
        self._enter("ListJobExecutionsForJob", {"status": status, "nextToken": nextToken})
        rows = sorted(n for n, e in self.execs.items() if e["status"] == status)
        start = int(nextToken or 0)
        page = rows[start : start + maxResults]
        out: dict[str, Any] = {
            "executionSummaries": [
                {
                    "thingArn": f"arn:aws:iot:us-east-1:123456789012:thing/{n}",
                    "jobExecutionSummary": dict(self.execs[n]),
                }
                for n in page
            ]
        }
        if start + maxResults < len(rows):
            out["nextToken"] = str(start + maxResults)
        return out

    def describe_job_execution(self, *, jobId: str, thingName: str) -> dict[str, Any]:
        self._enter("DescribeJobExecution", {"thingName": thingName})
        e = self.execs[thingName]
        return {
            "execution": {
                "jobId": jobId,
                "status": e["status"],
                "statusDetails": {"detailsMap": self.details.get(thingName, {})},
            }
        }

    def ops(self) -> list[str]:
        out = [op for op, _ in self.calls]
        self.calls.clear()
        return out


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def iot(clock: FakeClock) -> FakeIot:
    return FakeIot(clock)


def test_thing_name_from_arn() -> None:
    assert thing_name_from_arn("arn:aws:iot:us-east-1:1:thing/dev-1") == "dev-1"
    assert thing_name_from_arn("dev-2") == "dev-2"


def test_first_poll_lists_only_nonempty_statuses_paginated(iot: FakeIot, clock: FakeClock) -> None:
    for i in range(1000):
        iot.add(f"t{i:04d}")
    for i in range(10):
        iot.move(f"t{i:04d}", "IN_PROGRESS")
    poller = JobPoller(iot, "J-1", clock=clock)
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


def test_quiet_job_costs_one_call(iot: FakeIot, clock: FakeClock) -> None:
    for i in range(300):
        iot.add(f"t{i}")
    poller = JobPoller(iot, "J-1", clock=clock)
    poller.poll()
    iot.ops()
    clock.advance(5)
    snap = poller.poll()
    assert iot.ops() == ["DescribeJob"]
    assert snap.api_calls == 1
    assert len(snap.things) == 300


def test_hidden_swap_in_progress_is_seen(iot: FakeIot, clock: FakeClock) -> None:
    """A QUEUED->IN_PROGRESS and an IN_PROGRESS->SUCCEEDED leave IN_PROGRESS's count equal."""
    iot.add("a")
    iot.add("b")
    iot.move("b", "IN_PROGRESS")
    poller = JobPoller(iot, "J-1", clock=clock)
    poller.poll()
    clock.advance(1)
    iot.move("a", "IN_PROGRESS")
    iot.move("b", "SUCCEEDED")
    snap = poller.poll()
    assert snap.things["a"].status == "IN_PROGRESS"
    assert snap.things["b"].status == "SUCCEEDED"
    assert snap.counts["IN_PROGRESS"] == 1


def test_only_changed_statuses_are_relisted(iot: FakeIot, clock: FakeClock) -> None:
    for i in range(5):
        iot.add(f"t{i}")
    iot.move("t0", "IN_PROGRESS")
    iot.move("t0", "SUCCEEDED")
    iot.move("t1", "IN_PROGRESS")
    iot.move("t1", "FAILED")
    poller = JobPoller(iot, "J-1", clock=clock)
    poller.poll()
    iot.ops()
    iot.move("t2", "IN_PROGRESS")
    iot.move("t2", "SUCCEEDED")
    poller.poll()
    listed = [p["status"] for op, p in iot.calls if op == "ListJobExecutionsForJob"]
    assert "FAILED" not in listed
    assert set(listed) == {"QUEUED", "SUCCEEDED"}


def test_lost_thing_is_searched_in_other_statuses(iot: FakeIot, clock: FakeClock) -> None:
    """A retry: FAILED->QUEUED for one thing while another goes IN_PROGRESS->FAILED."""
    iot.add("a")
    iot.add("c")
    iot.move("a", "FAILED")
    iot.move("c", "IN_PROGRESS")
    poller = JobPoller(iot, "J-1", clock=clock)
    poller.poll()
    iot.move("a", "QUEUED")
    iot.execs["a"]["executionNumber"] = 2
    iot.move("c", "FAILED")
    snap = poller.poll()
    assert snap.things["a"].status == "QUEUED"
    assert snap.things["a"].execution_number == 2
    assert snap.things["c"].status == "FAILED"


def test_stale_process_details_relisted_next_poll(iot: FakeIot, clock: FakeClock) -> None:
    iot.add("a")
    iot.add("b")
    poller = JobPoller(iot, "J-1", clock=clock)
    poller.poll()
    iot.move("a", "IN_PROGRESS")
    iot.move("a", "SUCCEEDED")
    iot.stale_counts = {"QUEUED": 2}  # DescribeJob lags behind the listing
    snap = poller.poll()
    assert snap.things["a"].status == "QUEUED"  # nothing said to re-list
    iot.stale_counts = {"QUEUED": 1, "SUCCEEDED": 1}
    snap = poller.poll()
    assert snap.things["a"].status == "SUCCEEDED"


def test_expected_things_without_execution_are_none(iot: FakeIot, clock: FakeClock) -> None:
    iot.add("a")
    poller = JobPoller(iot, "J-1", clock=clock, expected_things=["a", "z"])
    snap = poller.poll()
    assert snap.things["z"].status == "NONE"
    assert not snap.all_terminal()
    poller.set_expected_things(["a", "y"])
    snap = poller.poll()
    assert "y" in snap.things


def test_job_not_found(iot: FakeIot, clock: FakeClock) -> None:
    iot.exists = False
    poller = JobPoller(iot, "J-1", clock=clock, expected_things=["a"])
    snap = poller.poll()
    assert snap.job_status == "NOT_FOUND"
    assert snap.things["a"].status == "NONE"
    assert snap.api_calls == 1


def test_throttling_keeps_last_snapshot_and_backs_off(iot: FakeIot, clock: FakeClock) -> None:
    iot.add("a")
    poller = JobPoller(iot, "J-1", clock=clock, backoff_initial_sec=2, backoff_max_sec=5)
    first = poller.poll()
    iot.move("a", "IN_PROGRESS")
    iot.throttle_next = 1
    clock.advance(1)
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


def test_throttled_mid_poll_does_not_corrupt_state(iot: FakeIot, clock: FakeClock) -> None:
    iot.add("a")
    iot.add("b")
    poller = JobPoller(iot, "J-1", clock=clock, backoff_initial_sec=1)
    poller.poll()
    iot.move("a", "IN_PROGRESS")

    real = iot.list_job_executions_for_job

    def flaky(**kw: Any) -> dict[str, Any]:
        iot.list_job_executions_for_job = real  # type: ignore[method-assign]
        raise _err("ThrottlingException", "ListJobExecutionsForJob")

    iot.list_job_executions_for_job = flaky  # type: ignore[method-assign]
    poller.poll()
    clock.advance(2)
    snap = poller.poll()
    assert snap.things["a"].status == "IN_PROGRESS"
    assert snap.things["b"].status == "QUEUED"


def test_backoff_doubles_to_max(iot: FakeIot, clock: FakeClock) -> None:
    iot.add("a")
    poller = JobPoller(iot, "J-1", clock=clock, backoff_initial_sec=1, backoff_max_sec=3)
    poller.poll()
    waits = []
    for _ in range(4):
        iot.throttle_next = 1
        clock.advance(10)
        poller.poll()
        waits.append(poller._backoff)
    assert waits == [1, 2, 3, 3]


def test_first_poll_throttled_gives_placeholder(iot: FakeIot, clock: FakeClock) -> None:
    iot.throttle_next = 1
    poller = JobPoller(iot, "J-1", clock=clock, expected_things=["a"])
    snap = poller.poll()
    assert snap.job_status == "UNKNOWN"
    assert snap.things["a"].status == "NONE"


def test_other_errors_propagate(iot: FakeIot, clock: FakeClock) -> None:
    def boom(**kw: Any) -> Any:
        raise _err("AccessDeniedException", "DescribeJob")

    iot.describe_job = boom  # type: ignore[method-assign]
    with pytest.raises(ClientError):
        JobPoller(iot, "J-1", clock=clock).poll()


def test_details_budget_failures_first(iot: FakeIot, clock: FakeClock) -> None:
    for n in ("a", "b", "c"):
        iot.add(n)
    poller = JobPoller(iot, "J-1", clock=clock, details_budget=1)
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


def test_watch_in_progress_sees_progress_updates(iot: FakeIot, clock: FakeClock) -> None:
    iot.add("a")
    iot.move("a", "IN_PROGRESS", {"progress": "0%"})
    poller = JobPoller(iot, "J-1", clock=clock, details_budget=5, watch_in_progress=True)
    poller.poll()
    clock.advance(3)
    iot.move("a", "IN_PROGRESS", {"progress": "75%"})
    snap = poller.poll()
    assert snap.things["a"].status_details == {"progress": "75%"}
    iot.ops()
    snap = poller.poll()  # nothing moved: describe + one listing, no DescribeJobExecution
    assert iot.ops() == ["DescribeJob", "ListJobExecutionsForJob"]


def test_no_details_without_budget(iot: FakeIot, clock: FakeClock) -> None:
    iot.add("a")
    iot.move("a", "IN_PROGRESS", {"progress": "10%"})
    poller = JobPoller(iot, "J-1", clock=clock)
    poller.poll()
    assert "DescribeJobExecution" not in iot.ops()


def test_snapshot_json_roundtrip(iot: FakeIot, clock: FakeClock) -> None:
    import json

    iot.add("a")
    snap = JobPoller(iot, "J-1", clock=clock).poll()
    doc = json.loads(json.dumps(snap.to_json_dict()))
    assert doc["job"]["jobId"] == "J-1"
    assert doc["counts"]["QUEUED"] == 1
    assert doc["things"]["a"]["status"] == "QUEUED"


def test_page_size_validated(iot: FakeIot, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        JobPoller(iot, "J-1", clock=clock, page_size=251)


def test_finishing_does_not_relist_queued(iot: FakeIot, clock: FakeClock) -> None:
    for i in range(600):
        iot.add(f"t{i:03d}")
    for i in range(10):
        iot.move(f"t{i:03d}", "IN_PROGRESS")
    poller = JobPoller(iot, "J-1", clock=clock)
    poller.poll()
    iot.ops()
    for i in range(5):
        iot.move(f"t{i:03d}", "SUCCEEDED")
    snap = poller.poll()
    listed = [p["status"] for op, p in iot.calls if op == "ListJobExecutionsForJob"]
    assert sorted(listed) == ["IN_PROGRESS", "SUCCEEDED"]
    assert snap.things["t004"].status == "SUCCEEDED"


def test_new_execution_entering_queued_is_seen(iot: FakeIot, clock: FakeClock) -> None:
    """CONTINUOUS job: a thing joins (QUEUED) while another leaves QUEUED: count unchanged."""
    iot.add("a")
    iot.add("b")
    poller = JobPoller(iot, "J-1", clock=clock)
    poller.poll()
    iot.move("a", "IN_PROGRESS")
    iot.add("c")
    snap = poller.poll()
    assert snap.things["c"].status == "QUEUED"
    assert snap.things["a"].status == "IN_PROGRESS"
    assert snap.things["b"].status == "QUEUED"


def test_poll_final_fetches_failure_details_even_without_budget(
    iot: FakeIot, clock: FakeClock
) -> None:
    for n in ("a", "b", "c", "d"):
        iot.add(n)
    poller = JobPoller(iot, "J-1", clock=clock)  # details_budget=0: cheap polls while waiting
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
    poller.poll_final()
    assert iot.ops() == ["DescribeJob"]  # nothing left to fetch
