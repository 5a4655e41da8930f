"""Monitor session pieces: round job resolution, thing-list re-reading, following rounds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ota_deploy.core.clock import FakeClock
from ota_deploy.monitor.session import (
    CountingClient,
    MonitorSession,
    ThingListWatcher,
    resolve_job,
    round_of,
)


class JobsFake:
    """describe_job / list_jobs / list_job_executions_for_job over a dict of jobs."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}  # id -> {"status", "execs": {thing: status}}

    def add(self, job_id: str, status: str = "IN_PROGRESS", **execs: str) -> None:
        self.jobs[job_id] = {"status": status, "execs": dict(execs)}

    def describe_job(self, *, jobId: str) -> dict[str, Any]:
        if jobId not in self.jobs:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "DescribeJob"
            )
        job = self.jobs[jobId]
        keys = {"QUEUED": "numberOfQueuedThings", "SUCCEEDED": "numberOfSucceededThings"}
        details: dict[str, int] = {}
        for status in job["execs"].values():
            details[keys[status]] = details.get(keys[status], 0) + 1
        return {"job": {"jobId": jobId, "status": job["status"], "jobProcessDetails": details}}

    def list_jobs(self, *, maxResults: int, nextToken: str | None = None) -> dict[str, Any]:
        ids = sorted(self.jobs)
        start = int(nextToken or 0)
        out: dict[str, Any] = {"jobs": [{"jobId": j} for j in ids[start : start + 2]]}
        if start + 2 < len(ids):
            out["nextToken"] = str(start + 2)
        return out

    def describe_job_execution(self, *, jobId: str, thingName: str) -> dict[str, Any]:
        return {"execution": {"statusDetails": {"detailsMap": {"seen": jobId}}}}

    def list_job_executions_for_job(self, **kw: Any) -> dict[str, Any]:
        execs = self.jobs[kw["jobId"]]["execs"]
        return {
            "executionSummaries": [
                {"thingArn": f"arn:aws:iot:r:1:thing/{t}", "jobExecutionSummary": {"status": s}}
                for t, s in sorted(execs.items())
                if s == kw["status"]
            ]
        }


def test_round_of() -> None:
    assert round_of("Job", "Job-12") == 12
    assert round_of("Job", "Job-x") is None
    assert round_of("Job", "Jobs-1") is None


def test_resolve_exact_then_latest_round_then_first() -> None:
    fake = JobsFake()
    assert resolve_job(fake, "Job").job_id == "Job-1"
    assert not resolve_job(fake, "Job").exact
    for n in (1, 2, 10, 3):
        fake.add(f"Job-{n}")
    fake.add("Other-99")
    fake.add("Job-x")
    r = resolve_job(fake, "Job")  # pages of 2: the scan follows nextToken
    assert (r.job_id, r.round_number, r.exact) == ("Job-10", 10, False)
    fake.add("Job")
    assert resolve_job(fake, "Job").exact


def test_resolve_other_errors_propagate() -> None:
    class Denied(JobsFake):
        def describe_job(self, *, jobId: str) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "DescribeJob")

    with pytest.raises(ClientError):
        resolve_job(Denied(), "Job")


def test_thing_list_watcher_rereads_on_mtime(tmp_path: Path) -> None:
    path = tmp_path / "things.txt"
    path.write_text("a\nb\n")
    reads: list[int] = []

    def read(p: Path) -> list[str]:
        reads.append(1)
        text = p.read_text()
        if "!" in text:
            raise ValueError("bad line 1")
        return text.split()

    w = ThingListWatcher(path, read)
    assert w.check() and w.names == ["a", "b"]
    assert not w.check() and len(reads) == 1  # unchanged mtime: no read
    path.write_text("a\nb\nc\n")
    os.utime(path, ns=(1, 2_000_000_000))
    assert w.check() and w.names == ["a", "b", "c"]
    path.write_text("!")
    os.utime(path, ns=(1, 3_000_000_000))
    assert not w.check() and w.names == ["a", "b", "c"]  # a bad edit keeps the old list
    assert w.error and "bad line" in w.error
    path.unlink()
    assert not w.check() and w.error


def test_session_tick_sets_round_and_expected_things(tmp_path: Path) -> None:
    fake = JobsFake()
    fake.add("Job-1", a="QUEUED")
    path = tmp_path / "things.txt"
    path.write_text("a b")
    clock = FakeClock()
    session = MonitorSession(
        fake,
        clock=clock,
        job_id="Job-1",
        follow_rounds_of="Job",
        rounds=3,
        things=ThingListWatcher(path, lambda p: p.read_text().split()),
        watch_in_progress=False,
    )
    snap = session.tick()
    assert (snap.round_number, snap.rounds) == (1, 3)
    assert snap.things["a"].status == "QUEUED"
    assert snap.things["b"].status == "NONE"


def test_session_follows_next_round_when_job_ends() -> None:
    fake = JobsFake()
    fake.add("Job-1", a="QUEUED")
    clock = FakeClock()
    session = MonitorSession(
        fake, clock=clock, job_id="Job-1", follow_rounds_of="Job", rounds=2, follow_every_sec=5
    )
    assert session.tick().job_id == "Job-1"
    fake.jobs["Job-1"] = {"status": "COMPLETED", "execs": {"a": "SUCCEEDED"}}
    fake.add("Job-2", a="QUEUED")
    clock.advance(1)
    assert session.tick().job_id == "Job-1"  # within follow_every_sec: no ListJobs yet
    clock.advance(5)
    snap = session.tick()
    assert snap.job_id == "Job-2" and snap.round_number == 2
    assert snap.things["a"].status == "QUEUED"


def test_session_without_follow_stays() -> None:
    fake = JobsFake()
    fake.add("Job-1", status="COMPLETED", a="SUCCEEDED")
    fake.add("Job-2", a="QUEUED")
    clock = FakeClock()
    session = MonitorSession(fake, clock=clock, job_id="Job-1", follow_every_sec=0)
    clock.advance(10)
    snap = session.tick()
    assert snap.job_id == "Job-1" and snap.round_number is None


def test_counting_client() -> None:
    fake = JobsFake()
    fake.add("J", a="QUEUED")
    counted = CountingClient(fake)
    counted.describe_job(jobId="J")
    counted.list_jobs(maxResults=2)
    counted.describe_job(jobId="J")
    assert counted.calls == {"describe_job": 2, "list_jobs": 1}
    assert counted.total == 3
