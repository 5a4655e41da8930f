"""Job-level lifecycle rules: cancel, the start of a deletion, DeleteJobExecution, and the
registry events (group membership, thing deletion) that add or remove executions.

Data flow: ``jobs_api`` (CancelJob, DeleteJob, DeleteJobExecution), the engine's abort rule and
the registry (through :class:`Membership`, its listener) call these; they act on the engine
only through :class:`JobsHost` -- its records, its two apply methods (``set_job_status``,
``transition``) and announcing -- never on its indexes or timers, which the apply methods keep.

References: https://docs.aws.amazon.com/iot/latest/apireference/API_CancelJob.html (``force``
also cancels IN_PROGRESS executions),
https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJob.html (id reusable once deleted),
https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJobExecution.html ,
https://docs.aws.amazon.com/iot/latest/developerguide/jobs-concepts-continuous.html (CONTINUOUS
jobs reach things added to a target group later) and JobProcessDetails.numberOfRemovedThings
("things deleted or removed from the group that was a target of the job",
https://docs.aws.amazon.com/iot/latest/apireference/API_JobProcessDetails.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ota_deploy.core.status import PENDING_EXECUTION, ExecutionStatus, JobStatus, TargetSelection
from ota_deploy.local.iot.errors import not_found
from ota_deploy.local.iot.records import Execution, Job
from ota_deploy.local.iot.registry import Registry
from ota_deploy.local.iot.states import DELETED, Actor, ExecutionTarget, JobTarget


class JobsHost(Protocol):
    """What the lifecycle rules need of the jobs engine."""

    @property
    def registry(self) -> Registry: ...

    @property
    def jobs(self) -> Mapping[str, Job]: ...

    def things_with(self, job: Job, status: ExecutionStatus | None) -> list[str]: ...

    def add_targets(self, job: Job, things: list[str]) -> None: ...

    def set_job_status(
        self, job: Job, target: JobTarget, actor: Actor, *, force: bool = False
    ) -> None: ...

    def transition(
        self,
        job: Job,
        e: Execution,
        target: ExecutionTarget,
        actor: Actor,
        *,
        force: bool = False,
        details: dict[str, str] | None = None,
    ) -> None: ...

    def job_event(self, job: Job, operation: str) -> None: ...


def cancel(
    host: JobsHost,
    job: Job,
    *,
    force: bool,
    actor: Actor,
    reason_code: str | None,
    comment: str | None,
) -> None:
    """CancelJob (and the abort rule): the job, its QUEUED executions, and with ``force`` its
    IN_PROGRESS ones too."""
    host.set_job_status(job, JobStatus.CANCELED, actor, force=force)
    job.force_canceled = job.force_canceled or force
    job.reason_code = reason_code or job.reason_code
    job.comment = comment or job.comment
    host.job_event(job, "cancellation_in_progress")
    for thing in host.things_with(job, ExecutionStatus.QUEUED):
        e = job.current(thing)
        if e is not None:
            host.transition(job, e, ExecutionStatus.CANCELED, actor)
    if force:
        for thing in host.things_with(job, ExecutionStatus.IN_PROGRESS):
            e = job.current(thing)
            if e is not None:
                host.transition(job, e, ExecutionStatus.CANCELED, actor, force=True)
    host.job_event(job, "canceled")


def start_deletion(host: JobsHost, job: Job, *, force: bool) -> None:
    """DeleteJob: the job turns DELETION_IN_PROGRESS; the engine removes it over the next ticks."""
    host.set_job_status(job, JobStatus.DELETION_IN_PROGRESS, Actor.OPERATOR, force=force)
    host.job_event(job, "deletion_in_progress")


def delete_execution(host: JobsHost, job: Job, thing: str, number: int, *, force: bool) -> None:
    runs = job.executions.get(thing) or []
    e = next((r for r in runs if r.execution_number == number), None)
    if e is None:
        not_found(f"Job execution {job.job_id}/{thing}#{number} cannot be found.")
    host.transition(job, e, DELETED, Actor.OPERATOR, force=force)


class Membership:
    """The registry's listener: keeps CONTINUOUS jobs' executions in step with membership."""

    def __init__(self, host: JobsHost) -> None:
        self.host = host

    @staticmethod
    def _group_targets(job: Job) -> set[str]:
        return {a.rsplit("/", 1)[-1] for a in job.targets if ":thinggroup/" in a}

    @staticmethod
    def _open_continuous(job: Job) -> bool:
        return (
            job.target_selection is TargetSelection.CONTINUOUS
            and job.status is JobStatus.IN_PROGRESS
        )

    def thing_joined_group(self, thing: str, group: str) -> None:
        closure = set(self.host.registry.ancestors(group))
        for job in list(self.host.jobs.values()):
            if self._open_continuous(job) and self._group_targets(job) & closure:
                self.host.add_targets(job, [thing])

    def thing_left_group(self, thing: str, group: str) -> None:
        registry = self.host.registry
        closure = set(registry.ancestors(group))
        still = registry.thing_group_closure(thing)
        thing_arn = registry.arns.thing(thing)
        for job in list(self.host.jobs.values()):
            targets = self._group_targets(job)
            if (
                not self._open_continuous(job)
                or not targets & closure
                or targets & still
                or thing_arn in job.targets
            ):
                continue
            self._remove(job, thing)

    def thing_deleted(self, thing: str) -> None:
        for job in list(self.host.jobs.values()):
            if job.status is not JobStatus.DELETION_IN_PROGRESS:
                self._remove(job, thing)

    def _remove(self, job: Job, thing: str) -> None:
        e = job.current(thing)
        if e is not None and e.status in PENDING_EXECUTION:
            self.host.transition(job, e, ExecutionStatus.REMOVED, Actor.SYSTEM)
