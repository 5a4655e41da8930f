"""The jobs data plane (service ``iot-jobs-data``): what devices call, over HTTP or (via the
reserved-topic handler) MQTT.

Devices see only executions the rollout has released. Timestamps are integer epoch seconds;
``jobDocument`` is the string with presigned-URL placeholders replaced.
On a stale ``expectedVersion`` → VersionConflictException, on a forbidden change →
InvalidStateTransitionException; both carry ``extra["executionState"]`` for the MQTT
``rejected`` payload (VersionMismatch / TerminalStateReached / InvalidStateTransition).
References:
https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_UpdateJobExecution.html ,
API_iot-jobs-data_StartNextPendingJobExecution.html ("if there are no pending job executions
the execution field is omitted"), API_iot-jobs-data_DescribeJobExecution.html ($next),
https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html
"""

from __future__ import annotations

from typing import Any

from ota_deploy.core.status import DEVICE_SETTABLE, TERMINAL_EXECUTION, ExecutionStatus, JobStatus
from ota_deploy.local.iot.engine import JobsEngine
from ota_deploy.local.iot.errors import error, execution_state, invalid, not_found, version_conflict
from ota_deploy.local.iot.jobs_api import seconds_left
from ota_deploy.local.iot.records import Execution, Job
from ota_deploy.local.iot.states import Actor, TransitionError


def summary(e: Execution) -> dict[str, Any]:
    out: dict[str, Any] = {
        "jobId": e.job_id,
        "queuedAt": int(e.queued_at),
        "lastUpdatedAt": int(e.last_updated_at),
        "versionNumber": e.version_number,
        "executionNumber": e.execution_number,
    }
    if e.started_at is not None:
        out["startedAt"] = int(e.started_at)
    return out


class JobsData:
    def __init__(self, engine: JobsEngine) -> None:
        self.engine = engine

    def _visible(self, thing: str, job_id: str, number: int | None = None) -> tuple[Job, Execution]:
        job = self.engine.jobs.get(job_id)
        if job is None or job.status is JobStatus.DELETION_IN_PROGRESS:
            not_found(f"Job {job_id} cannot be found.")
        runs = job.executions.get(thing) or []
        if number is None:
            e = runs[-1] if runs else None
        else:
            e = next((r for r in runs if r.execution_number == number), None)
        if e is None or not e.notified:
            not_found(f"No job execution of job {job_id} for thing {thing}.")
        return job, e

    def execution(self, job: Job, e: Execution, with_document: bool) -> dict[str, Any]:
        out: dict[str, Any] = {**summary(e), "thingName": e.thing_name, "status": e.status.value}
        if e.status_details:
            out["statusDetails"] = dict(e.status_details)
        left = seconds_left(e, self.engine.now())
        if left is not None:
            out["approximateSecondsBeforeTimedOut"] = left
        if with_document:
            out["jobDocument"] = self.engine.device_document(job)
        return out

    def get_pending_job_executions(self, p: dict[str, Any]) -> dict[str, Any]:
        runs = self.engine.index.pending_of(p["thingName"])
        return {
            "inProgressJobs": [summary(e) for e in runs if e.status is ExecutionStatus.IN_PROGRESS],
            "queuedJobs": [summary(e) for e in runs if e.status is ExecutionStatus.QUEUED],
        }

    def start_next_pending_job_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        head = self.engine.index.next_pending(p["thingName"])
        if head is None:
            return {}
        job = self.engine.jobs[head.job_id]
        if head.status is ExecutionStatus.QUEUED:
            self.engine.transition(
                job, head, ExecutionStatus.IN_PROGRESS, Actor.DEVICE, details=p.get("statusDetails")
            )
            self.engine.set_step_timeout(job, head, p.get("stepTimeoutInMinutes"))
        return {"execution": self.execution(job, head, True)}

    def describe_job_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        thing = p["thingName"]
        include = p.get("includeJobDocument", True) is not False
        if p["jobId"] == "$next":
            head = self.engine.index.next_pending(thing)
            if head is None:
                return {}
            return {"execution": self.execution(self.engine.jobs[head.job_id], head, include)}
        job, e = self._visible(thing, p["jobId"], p.get("executionNumber"))
        return {"execution": self.execution(job, e, include)}

    def update_job_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        job, e = self._visible(p["thingName"], p["jobId"], p.get("executionNumber"))
        expected = p.get("expectedVersion")
        if expected is not None and int(expected) != e.version_number:
            raise version_conflict(e, int(expected))
        target = ExecutionStatus(p["status"])
        if e.status not in TERMINAL_EXECUTION and target not in DEVICE_SETTABLE:
            *most, last = [s.value for s in ExecutionStatus if s in DEVICE_SETTABLE]
            invalid(f"A device cannot set status {target.value}; use {', '.join(most)} or {last}.")
        try:
            self.engine.transition(job, e, target, Actor.DEVICE, details=p.get("statusDetails"))
        except TransitionError as exc:
            raise error(
                "InvalidStateTransitionException", str(exc), executionState=execution_state(e)
            ) from exc
        self.engine.set_step_timeout(job, e, p.get("stepTimeoutInMinutes"))
        out: dict[str, Any] = {}
        if p.get("includeJobExecutionState"):
            out["executionState"] = execution_state(e)
        if p.get("includeJobDocument"):
            out["jobDocument"] = self.engine.device_document(job)
        return out
