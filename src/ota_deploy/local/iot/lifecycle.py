"""Job-level lifecycle rules: cancel, deletion (DELETION_IN_PROGRESS spread over ticks),
DeleteJobExecution, and the registry events (group membership, thing deletion) that add or
remove executions.

References: https://docs.aws.amazon.com/iot/latest/apireference/API_CancelJob.html (``force``
also cancels IN_PROGRESS executions), https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJob.html
(at most 10 jobs DELETION_IN_PROGRESS, LimitExceededException; id reusable once deleted),
https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJobExecution.html ,
https://docs.aws.amazon.com/iot/latest/developerguide/jobs-concepts-continuous.html (CONTINUOUS
jobs reach things added to a target group later) and JobProcessDetails.numberOfRemovedThings
("things deleted or removed from the group that was a target of the job",
https://docs.aws.amazon.com/iot/latest/apireference/API_JobProcessDetails.html).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ota_deploy.local.iot.errors import error, not_found
from ota_deploy.local.iot.records import Job
from ota_deploy.local.iot.states import (
    PENDING,
    Actor,
    ExecStatus,
    JobStatus,
    check_execution,
    check_job,
)

if TYPE_CHECKING:
    from ota_deploy.local.iot.engine import JobsEngine

MAX_DELETING_JOBS = 10
DELETE_BATCH = 100  # executions removed per tick while a job is DELETION_IN_PROGRESS


def cancel(
    eng: JobsEngine,
    job: Job,
    *,
    force: bool,
    actor: Actor,
    reason_code: str | None,
    comment: str | None,
) -> None:
    check_job(job.status, JobStatus.CANCELED, actor, force=force)
    now = eng.now()
    job.status = JobStatus.CANCELED
    job.force_canceled = job.force_canceled or force
    job.reason_code = reason_code or job.reason_code
    job.comment = comment or job.comment
    job.last_updated_at = job.completed_at = now
    job.unreleased.clear()
    eng.timers.cancel(("release", job.job_id))
    eng.notifier.job_event(job, "cancellation_in_progress", eng.counts(job))
    for thing in eng.things_with(job, ExecStatus.QUEUED):
        e = job.current(thing)
        if e is not None:
            eng.transition(job, e, ExecStatus.CANCELED, actor)
    if force:
        for thing in eng.things_with(job, ExecStatus.IN_PROGRESS):
            e = job.current(thing)
            if e is not None:
                e.force_canceled = True
                eng.transition(job, e, ExecStatus.CANCELED, actor, force=True)
    eng.notifier.job_event(job, "canceled", eng.counts(job))


def start_deletion(eng: JobsEngine, job: Job, *, force: bool) -> None:
    check_job(job.status, JobStatus.DELETION_IN_PROGRESS, Actor.OPERATOR, force=force)
    if len(eng.deleting) >= MAX_DELETING_JOBS:
        raise error(
            "LimitExceededException",
            f"Only {MAX_DELETING_JOBS} jobs may be DELETION_IN_PROGRESS at once.",
        )
    job.status = JobStatus.DELETION_IN_PROGRESS
    job.last_updated_at = eng.now()
    job.unreleased.clear()
    eng.timers.cancel(("release", job.job_id))
    for thing in eng.things_with(job, ExecStatus.QUEUED) + eng.things_with(
        job, ExecStatus.IN_PROGRESS
    ):
        e = job.current(thing)
        if e is not None:
            eng.sync_pending(job, e)
    eng.deleting[job.job_id] = None
    eng.notifier.job_event(job, "deletion_in_progress", eng.counts(job))


def deletion_step(eng: JobsEngine, job_id: str) -> None:
    job = eng.jobs[job_id]
    for _ in range(min(DELETE_BATCH, len(job.executions))):
        thing, runs = job.executions.popitem()
        e = runs[-1]
        eng.index(job, e, False)
        eng.sync_pending(job, e)
        eng.timers.cancel(("timeout", job_id, thing, e.execution_number))
    if job.executions:
        return
    del eng.deleting[job_id]
    del eng.jobs[job_id]
    eng.by_status.pop(job_id, None)
    job.status = JobStatus.DELETED
    eng.notifier.job_event(job, "deleted", {})


def delete_execution(eng: JobsEngine, job: Job, thing: str, number: int, *, force: bool) -> None:
    runs = job.executions.get(thing) or []
    e = next((r for r in runs if r.execution_number == number), None)
    if e is None:
        not_found(f"Job execution {job.job_id}/{thing}#{number} cannot be found.")
    check_execution(e.status, ExecStatus.DELETED, Actor.OPERATOR, force=force)
    was_current = runs[-1] is e
    if was_current:
        eng.index(job, e, False)
    runs.remove(e)
    eng.timers.cancel(("timeout", job.job_id, thing, number))
    if not runs:
        del job.executions[thing]
    elif was_current:
        eng.index(job, runs[-1], True)
        eng.sync_pending(job, runs[-1])
    eng.sync_pending(job, e)
    eng.notifier.execution_event(e, eng.registry.arns.thing(thing), "deleted")
    eng.check_completion(job)


class Membership:
    """The registry's listener: keeps CONTINUOUS jobs' executions in step with membership."""

    def __init__(self, eng: JobsEngine) -> None:
        self.eng = eng

    def _group_targets(self, job: Job) -> set[str]:
        return {a.rsplit("/", 1)[-1] for a in job.targets if ":thinggroup/" in a}

    def thing_joined_group(self, thing: str, group: str) -> None:
        closure = set(self.eng.registry.ancestors(group))
        for job in list(self.eng.jobs.values()):
            if (
                job.target_selection == "CONTINUOUS"
                and job.status is JobStatus.IN_PROGRESS
                and self._group_targets(job) & closure
            ):
                self.eng.add_targets(job, [thing])

    def thing_left_group(self, thing: str, group: str) -> None:
        closure = set(self.eng.registry.ancestors(group))
        still = self.eng.registry.thing_group_closure(thing)
        thing_arn = self.eng.registry.arns.thing(thing)
        for job in list(self.eng.jobs.values()):
            targets = self._group_targets(job)
            if (
                job.target_selection != "CONTINUOUS"
                or job.status is not JobStatus.IN_PROGRESS
                or not targets & closure
                or targets & still
                or thing_arn in job.targets
            ):
                continue
            self._remove(job, thing)

    def thing_deleted(self, thing: str) -> None:
        for job in list(self.eng.jobs.values()):
            if job.status is not JobStatus.DELETION_IN_PROGRESS:
                self._remove(job, thing)

    def _remove(self, job: Job, thing: str) -> None:
        e = job.current(thing)
        if e is not None and e.status in PENDING:
            if thing in job.unreleased:
                job.unreleased.remove(thing)
            self.eng.transition(job, e, ExecStatus.REMOVED, Actor.SYSTEM)
