"""Monitor session pieces: round job resolution, thing-list re-reading, following rounds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from tests.support.aws_pair import AwsPair

from ota_deploy.local.faults import FaultConfig
from ota_deploy.monitor.session import (
    CountingClient,
    MonitorSession,
    ThingListWatcher,
    resolve_job,
    round_of,
)


class Jobs:
    """Jobs on the real pair (boto3 -> LocalIotService, FakeClock): ``add`` creates a job over
    the named things, whose devices then report the given statuses (a job whose things are
    all done completes, as AWS's SNAPSHOT jobs do)."""

    def __init__(self, pair: AwsPair | None = None) -> None:
        self.pair = pair or AwsPair()
        self.clock = self.pair.clock
        self.client = self.pair.client("iot", max_attempts=1)
        self.things: set[str] = set()

    def add(self, job_id: str, **execs: str) -> None:
        names = list(execs) or ["t0"]
        for name in names:
            if name not in self.things:
                self.pair.call("iot", "CreateThing", thingName=name)
                self.things.add(name)
        targets = [f"arn:aws:iot:us-east-1:123456789012:thing/{n}" for n in names]
        self.pair.call("iot", "CreateJob", jobId=job_id, targets=targets, document="{}")
        for name, status in execs.items():
            if status != "QUEUED":
                params = {"jobId": job_id, "thingName": name, "status": status}
                self.pair.call("iot-jobs-data", "UpdateJobExecution", **params)
        self.clock.advance(1)  # ListJobs lists the newest first


def test_round_of() -> None:
    assert round_of("Job", "Job-12") == 12
    assert round_of("Job", "Job-x") is None
    assert round_of("Job", "Jobs-1") is None


def test_resolve_exact_then_latest_round_then_first() -> None:
    jobs = Jobs()
    assert resolve_job(jobs.client, "Job").job_id == "Job-1"
    assert not resolve_job(jobs.client, "Job").exact
    for n in (1, 2, 10, 3):
        jobs.add(f"Job-{n}")
    jobs.add("Job-x")
    for n in range(250):  # newer jobs fill ListJobs' first page of 250
        jobs.add(f"Other-{n}")
    r = resolve_job(jobs.client, "Job")  # the scan follows nextToken to the rounds
    assert (r.job_id, r.round_number, r.exact) == ("Job-10", 10, False)
    jobs.add("Job")
    assert resolve_job(jobs.client, "Job").exact


def test_resolve_other_errors_propagate() -> None:
    failing = AwsPair(faults=FaultConfig(error_rate=1.0, operations=frozenset({"DescribeJob"})))
    with pytest.raises(ClientError):  # a 5xx is not "no such job"
        resolve_job(Jobs(failing).client, "Job")


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
    jobs = Jobs()
    jobs.add("Job-1", a="QUEUED")
    path = tmp_path / "things.txt"
    path.write_text("a b")
    session = MonitorSession(
        jobs.client,
        clock=jobs.clock,
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
    jobs = Jobs()
    jobs.add("Job-1", a="QUEUED")
    clock = jobs.clock
    session = MonitorSession(
        jobs.client,
        clock=clock,
        job_id="Job-1",
        follow_rounds_of="Job",
        rounds=2,
        follow_every_sec=5,
    )
    assert session.tick().job_id == "Job-1"
    report = {"jobId": "Job-1", "thingName": "a", "status": "SUCCEEDED"}
    jobs.pair.call("iot-jobs-data", "UpdateJobExecution", **report)  # Job-1 COMPLETED
    jobs.add("Job-2", a="QUEUED")
    clock.advance(1)
    assert session.tick().job_id == "Job-1"  # within follow_every_sec: no ListJobs yet
    clock.advance(5)
    snap = session.tick()
    assert snap.job_id == "Job-2" and snap.round_number == 2
    assert snap.things["a"].status == "QUEUED"


def test_session_without_follow_stays() -> None:
    jobs = Jobs()
    jobs.add("Job-1", a="SUCCEEDED")  # COMPLETED
    jobs.add("Job-2", a="QUEUED")
    clock = jobs.clock
    session = MonitorSession(jobs.client, clock=clock, job_id="Job-1", follow_every_sec=0)
    clock.advance(10)
    snap = session.tick()
    assert snap.job_id == "Job-1" and snap.round_number is None


def test_counting_client() -> None:
    jobs = Jobs()
    jobs.add("J", a="QUEUED")
    counted = CountingClient(jobs.client)
    counted.describe_job(jobId="J")
    counted.list_jobs(maxResults=2)
    counted.describe_job(jobId="J")
    assert counted.calls == {"describe_job": 2, "list_jobs": 1}
    assert counted.total == 3
