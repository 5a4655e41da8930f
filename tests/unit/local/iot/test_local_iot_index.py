"""``ExecutionIndex``: executions by status and what each thing sees, kept by add/remove/move
and sync, and rebuilt from the job records alone."""

from __future__ import annotations

from ota_deploy.core.status import ExecutionStatus, JobStatus
from ota_deploy.local.iot.index import ExecutionIndex, queue_order, visible
from ota_deploy.local.iot.records import Execution, Job

Q, IP, OK = ExecutionStatus.QUEUED, ExecutionStatus.IN_PROGRESS, ExecutionStatus.SUCCEEDED


def _job(job_id: str, created: float = 0.0) -> Job:
    return Job(
        job_id=job_id,
        arn=f"arn:aws:iot:us-east-1:123456789012:job/{job_id}",
        targets=[],
        document="{}",
        created_at=created,
        last_updated_at=created,
    )


def _run(job: Job, thing: str, queued_at: float = 0.0, *, notified: bool = True) -> Execution:
    runs = job.executions.setdefault(thing, [])
    e = Execution(
        job_id=job.job_id,
        thing_name=thing,
        execution_number=len(runs) + 1,
        queued_at=queued_at,
        last_updated_at=queued_at,
        notified=notified,
    )
    runs.append(e)
    return e


def test_add_remove_move_keep_counts_and_listings() -> None:
    job, idx = _job("j"), ExecutionIndex()
    a, b = _run(job, "a"), _run(job, "b")
    idx.add(a)
    idx.add(b)
    assert idx.counts("j") == {Q: 2}
    assert idx.things_with("j", Q) == ["a", "b"]
    a.status = IP
    idx.move(a, Q)
    assert idx.counts("j") == {Q: 1, IP: 1}
    assert idx.things_with("j", IP) == ["a"]
    idx.remove(b)
    assert idx.things_with("j", Q) == []
    assert idx.things_with("j", OK) == []
    assert idx.counts("other") == {}
    idx.forget("j")
    assert idx.counts("j") == {}


def test_sync_shows_only_released_pending_current_executions() -> None:
    job, idx = _job("j"), ExecutionIndex()
    hidden = _run(job, "h", notified=False)
    shown = _run(job, "s")
    for e in (hidden, shown):
        idx.add(e)
        idx.sync(job, e)
    assert idx.pending_of("h") == []
    assert idx.pending_of("s") == [shown]
    assert idx.take_dirty() == {"h", "s"}
    assert idx.take_dirty() == set()  # taken once
    shown.status = OK
    idx.sync(job, shown)
    assert idx.next_pending("s") is None
    assert idx.pending_things() == []
    assert idx.take_dirty() == {"s"}


def test_a_job_being_deleted_is_hidden_from_devices() -> None:
    job, idx = _job("j"), ExecutionIndex()
    e = _run(job, "t")
    idx.sync(job, e)
    assert visible(job, e)
    job.status = JobStatus.DELETION_IN_PROGRESS
    idx.sync(job, e)
    assert not visible(job, e)
    assert idx.pending_of("t") == []


def test_a_thing_sees_in_progress_first_then_oldest_queued() -> None:
    old, new, running = _job("old"), _job("new"), _job("run")
    idx = ExecutionIndex()
    e_new = _run(new, "t", queued_at=20.0)
    e_old = _run(old, "t", queued_at=10.0)
    e_run = _run(running, "t", queued_at=30.0)
    e_run.status = IP
    for job, e in ((new, e_new), (old, e_old), (running, e_run)):
        idx.sync(job, e)
    assert idx.pending_of("t") == [e_run, e_old, e_new]
    assert idx.next_pending("t") is e_run
    assert sorted([e_new, e_old, e_run], key=queue_order) == [e_run, e_old, e_new]


def test_a_retry_replaces_the_current_execution() -> None:
    job, idx = _job("j"), ExecutionIndex()
    first = _run(job, "t")
    idx.add(first)
    idx.sync(job, first)
    first.status = ExecutionStatus.FAILED
    idx.move(first, Q)
    retry = _run(job, "t")
    idx.remove(first)  # only a thing's current execution is indexed
    idx.add(retry)
    idx.sync(job, retry)
    assert {s: n for s, n in idx.counts("j").items() if n} == {Q: 1}
    assert idx.pending_of("t") == [retry]


def test_rebuild_equals_the_incremental_index() -> None:
    jobs = [_job("a"), _job("b")]
    idx = ExecutionIndex()
    for job in jobs:
        for i, thing in enumerate(("x", "y", "z")):
            e = _run(job, thing, queued_at=float(i), notified=thing != "z")
            if thing == "y":
                e.status = OK
            idx.add(e)
            idx.sync(job, e)
    idx.take_dirty()
    fresh = ExecutionIndex()
    fresh.rebuild(jobs)
    assert fresh.take_dirty() == set()  # a rebuild announces nothing
    for job in jobs:
        assert {s: n for s, n in fresh.counts(job.job_id).items() if n} == {
            s: n for s, n in idx.counts(job.job_id).items() if n
        }
        for status in ExecutionStatus:
            assert fresh.things_with(job.job_id, status) == idx.things_with(job.job_id, status)
    for thing in ("x", "y", "z"):
        assert fresh.pending_of(thing) == idx.pending_of(thing)
    assert sorted(fresh.pending_things()) == ["x"]
