"""The one method that checks and applies a job's status (``JobsEngine.set_job_status``).

Every (current, target, actor, force) combination goes through it on a real service: the ones
the table (``states.JOB_TRANSITIONS``) allows are applied with their bookkeeping, the others
raise ``TransitionError`` and leave the job exactly as it was.
Spec: https://docs.aws.amazon.com/iot/latest/apireference/API_CancelJob.html ,
https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJob.html
"""

from __future__ import annotations

import copy
import itertools

import pytest

from ota_deploy.core.status import JobStatus, TimerKind
from ota_deploy.local.contracts import AwsError
from ota_deploy.local.iot.states import DELETED, JOB_TRANSITIONS, Actor, TransitionError

STARTS = (
    JobStatus.IN_PROGRESS,
    JobStatus.COMPLETED,
    JobStatus.CANCELED,
    JobStatus.DELETION_IN_PROGRESS,
)
TARGETS = (*JobStatus, DELETED)
CASES = list(itertools.product(STARTS, TARGETS, Actor, (False, True)))


def _job_in(h, status: JobStatus):
    """A job in ``status`` reached through the service's own operations. An IN_PROGRESS one has
    an unreleased execution (rollout of 1 per minute) and a release deadline armed."""
    h.things("a", "b")
    if status is JobStatus.COMPLETED:
        h.job("j", ["a"])
        h.data("UpdateJobExecution", jobId="j", thingName="a", status="SUCCEEDED")
    else:
        h.job("j", ["a", "b"], jobExecutionsRolloutConfig={"maximumPerMinute": 1})
    if status is JobStatus.CANCELED:
        h.iot("CancelJob", jobId="j")
    elif status is JobStatus.DELETION_IN_PROGRESS:
        h.iot("DeleteJob", jobId="j", force=True)
    job = h.svc.engine.jobs["j"]
    assert job.status is status
    return job


def _snapshot(job) -> dict:
    return {k: copy.deepcopy(v) for k, v in vars(job).items() if k != "executions"}


@pytest.mark.parametrize(("current", "target", "actor", "force"), CASES)
def test_every_job_transition_goes_through_set_job_status(h, current, target, actor, force) -> None:
    job = _job_in(h, current)
    engine = h.svc.engine
    h.clock.advance(5)  # so a stamped time differs from the creation time
    before = _snapshot(job)
    rule = JOB_TRANSITIONS.get((current, target))
    allowed = rule is not None and actor in rule.actors and (force or not rule.needs_force)
    if not allowed:
        with pytest.raises(TransitionError):
            engine.set_job_status(job, target, actor, force=force)
        assert _snapshot(job) == before  # nothing applied
        assert engine.jobs.get("j") is job
        return
    engine.set_job_status(job, target, actor, force=force)
    if target is DELETED:
        assert "j" not in engine.jobs  # the record is gone; the id may be used again
        assert engine.index.counts("j") == {}
        return
    assert job.status is target
    assert job.last_updated_at == h.clock.now()
    if target in (JobStatus.COMPLETED, JobStatus.CANCELED):
        assert job.completed_at == h.clock.now()
    else:
        assert job.completed_at == before["completed_at"]
    assert job.unreleased == []  # out of IN_PROGRESS: the rollout releases nothing more
    h.advance(60)
    assert not h.data("GetPendingJobExecutions", thingName="b")["queuedJobs"]
    if target is JobStatus.DELETION_IN_PROGRESS:
        assert engine.index.pending_of("a") == []  # hidden from devices at once


def test_release_deadline_is_disarmed_when_the_job_stops(h) -> None:
    job = _job_in(h, JobStatus.IN_PROGRESS)
    engine = h.svc.engine
    assert len(engine.timers) == 1  # the rollout's next window
    engine.set_job_status(job, JobStatus.CANCELED, Actor.OPERATOR)
    assert len(engine.timers) == 0
    assert not any(k[0] is TimerKind.RELEASE for k in engine.timers.due(float("inf")))


def test_only_ten_jobs_may_be_deleting_at_once(h) -> None:
    h.things("a")
    for i in range(11):
        h.job(f"j{i}", ["a"])
        h.iot("CancelJob", jobId=f"j{i}")
    engine = h.svc.engine
    for i in range(10):
        engine.set_job_status(engine.jobs[f"j{i}"], JobStatus.DELETION_IN_PROGRESS, Actor.OPERATOR)
    last = engine.jobs["j10"]
    before = _snapshot(last)
    with pytest.raises(AwsError) as err:
        engine.set_job_status(last, JobStatus.DELETION_IN_PROGRESS, Actor.OPERATOR)
    assert err.value.code == "LimitExceededException"
    assert err.value.status == 410
    assert _snapshot(last) == before
    h.advance(1)  # one tick finishes the (small) deletions; the quota frees up
    engine.set_job_status(last, JobStatus.DELETION_IN_PROGRESS, Actor.OPERATOR)
    assert last.status is JobStatus.DELETION_IN_PROGRESS


def test_a_refused_cancel_leaves_the_job_and_its_executions_untouched(h) -> None:
    job = _job_in(h, JobStatus.COMPLETED)
    before = _snapshot(job)
    with pytest.raises(AwsError) as err:
        h.iot("CancelJob", jobId="j", force=True, comment="too late", reasonCode="r")
    assert err.value.code == "InvalidRequestException"
    assert _snapshot(job) == before
    assert h.status("j", "a") == "SUCCEEDED"


def test_deletion_end_announces_the_pseudo_status(h) -> None:
    h.iot("UpdateEventConfigurations", eventConfigurations={"JOB": {"Enabled": True}})
    _job_in(h, JobStatus.DELETION_IN_PROGRESS)
    h.advance(1)
    assert "j" not in h.svc.engine.jobs
    (deleted,) = h.messages("$aws/events/job/j/deleted")
    assert deleted["status"] == "DELETED"
    assert "forceCanceled" not in deleted
