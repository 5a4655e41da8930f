"""Control-plane job operations (service ``iot``): botocore-shaped params in, results out.

Validation here is what the botocore model cannot express (AWS's server-side rules); the HTTP
layer already checked types, required members, lengths, patterns and enums. References:
https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html (100 targets per job:
https://docs.aws.amazon.com/general/latest/gr/iot_device_management.html), API_DescribeJob.html,
API_CancelJob.html, API_DeleteJob.html, API_AssociateTargetsWithJob.html ("the job must have
been created with targetSelection CONTINUOUS ... status IN_PROGRESS ... at most 100 targets"),
API_ListJobExecutionsForJob.html, API_CancelJobExecution.html, API_DeleteJobExecution.html.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ota_deploy.core.aws_model import documented, shape
from ota_deploy.core.job_config import ConfigError, JobConfigs
from ota_deploy.core.status import ExecutionStatus, JobStatus, TargetSelection
from ota_deploy.local.contracts import AwsError
from ota_deploy.local.iot import lifecycle, pagination
from ota_deploy.local.iot.documents import check_document, fetch_document
from ota_deploy.local.iot.engine import JobsEngine
from ota_deploy.local.iot.errors import (
    already_exists,
    error,
    invalid,
    limit_exceeded,
    not_found,
    version_conflict,
)
from ota_deploy.local.iot.notifications import process_details
from ota_deploy.local.iot.records import Execution, Job
from ota_deploy.local.iot.registry import dt
from ota_deploy.local.iot.states import Actor, TransitionError


def transition_error(
    exc: TransitionError, code: str = "InvalidStateTransitionException"
) -> AwsError:
    return error(code, str(exc))


class JobsApi:
    def __init__(self, engine: JobsEngine, read_blob: Callable[[str, str, str | None], bytes]):
        self.engine = engine
        self.read_blob = read_blob
        self.registry = engine.registry
        self.arns = engine.registry.arns

    # ---- validation helpers ----------
    def _resolve_targets(self, targets: list[str]) -> list[str]:
        things: dict[str, None] = {}
        for arn in targets:
            kind, name = self.arns.parse_target(arn)
            if kind == "thing":
                things[self.registry.thing(name).name] = None
            else:
                self.registry.group(name)
                things.update(dict.fromkeys(self.registry.group_things(name)))
        return list(things)

    @staticmethod
    def _configs(p: dict[str, Any]) -> JobConfigs:
        """The configurations ``p`` gives, parsed, with AWS's server-side rules checked."""
        try:
            configs = JobConfigs.from_params(p)
        except ConfigError as exc:
            invalid(str(exc))
        timeout = configs.timeout.in_progress_minutes if configs.timeout else None
        lowest, highest = (
            documented("in_progress_timeout_min"),
            documented("in_progress_timeout_max"),
        )
        if timeout is not None and not lowest <= timeout <= highest:
            invalid(f"inProgressTimeoutInMinutes must be {lowest} to {highest}.")
        if configs.retry:
            types = [c.failure_type for c in configs.retry.criteria]
            if len(set(types)) != len(types):
                invalid("jobExecutionsRetryConfig lists a failureType twice.")
            # numberOfRetries' own maximum (NumberOfRetries) also bounds their sum.
            most = int(shape("NumberOfRetries").max or 0)
            if sum(c.retries for c in configs.retry.criteria) > most:
                invalid(f"At most {most} retries are allowed per job execution.")
        exp = configs.rollout.exponential if configs.rollout else None
        if exp is not None and bool(exp.increase.notified_things) == bool(
            exp.increase.succeeded_things
        ):
            invalid(
                "rateIncreaseCriteria needs exactly one of numberOfNotifiedThings and "
                "numberOfSucceededThings."
            )
        for crit in configs.abort.criteria if configs.abort else ():
            if not 0 <= crit.threshold_percentage <= 100:
                invalid("thresholdPercentage must be between 0 and 100.")
        return configs

    # ---- jobs ----------
    def create_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job_id = p["jobId"]
        if job_id in self.engine.jobs:
            already_exists(f"Job {job_id} already exists.", job_id, self.arns.job(job_id))
        for unsupported in ("schedulingConfig", "jobTemplateArn", "destinationPackageVersions"):
            if p.get(unsupported):
                invalid(f"{unsupported} is not supported by the local AWS IoT.")
        if bool(p.get("document")) == bool(p.get("documentSource")):
            invalid("Exactly one of document and documentSource must be given.")
        targets = list(dict.fromkeys(p.get("targets") or []))
        if not targets:
            invalid("A job needs at least one target.")
        most = documented("job_targets_max")
        if len(targets) > most:
            limit_exceeded(f"A job can have at most {most} targets; got {len(targets)}.")
        configs = self._configs(p)
        if p.get("document"):
            document = p["document"]
            check_document(document)
        else:
            document = fetch_document(p["documentSource"], self.read_blob)
        things = self._resolve_targets(targets)
        now = self.engine.now()
        job = Job(
            job_id=job_id,
            arn=self.arns.job(job_id),
            targets=targets,
            document=document,
            created_at=now,
            last_updated_at=now,
            target_selection=_selection(p.get("targetSelection")),
            document_source=p.get("documentSource"),
            description=p.get("description"),
            configs=configs,
            document_parameters=p.get("documentParameters"),
        )
        self.engine.add_job(job, things)
        return self._ref(job)

    @staticmethod
    def _ref(job: Job) -> dict[str, Any]:
        out = {"jobArn": job.arn, "jobId": job.job_id}
        if job.description is not None:
            out["description"] = job.description
        return out

    def _job(self, job_id: str, *, visible_deleting: bool = True) -> Job:
        job = self.engine.job(job_id)
        if not visible_deleting and job.status is JobStatus.DELETION_IN_PROGRESS:
            not_found(f"Job {job_id} is being deleted.")
        return job

    def describe_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["jobId"])
        details = process_details(job, self.engine.counts(job))
        if job.unreleased and job.status is JobStatus.IN_PROGRESS:
            details["processingTargets"] = list(job.targets)
        body: dict[str, Any] = {
            "jobArn": job.arn,
            "jobId": job.job_id,
            "targetSelection": job.target_selection.value,
            "status": job.status.value,
            "forceCanceled": job.force_canceled,
            "targets": list(job.targets),
            "createdAt": dt(job.created_at),
            "lastUpdatedAt": dt(job.last_updated_at),
            "jobProcessDetails": details,
            "isConcurrent": False,
        }
        optional = {
            "reasonCode": job.reason_code,
            "comment": job.comment,
            "description": job.description,
            **job.configs.to_params(),  # fresh dicts: callers never alias the records
            "documentParameters": _copy(job.document_parameters),
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        if job.completed_at is not None:
            body["completedAt"] = dt(job.completed_at)
        out: dict[str, Any] = {"job": body}
        if job.document_source:
            out["documentSource"] = job.document_source
        return out

    def list_jobs(self, p: dict[str, Any]) -> dict[str, Any]:
        jobs = sorted(self.engine.jobs.values(), key=lambda j: j.created_at, reverse=True)
        if p.get("status"):
            jobs = [j for j in jobs if j.status.value == p["status"]]
        if p.get("targetSelection"):
            jobs = [j for j in jobs if j.target_selection == p["targetSelection"]]
        group = p.get("thingGroupName")
        if p.get("thingGroupId"):
            group = next(
                (g.name for g in self.registry.groups.values() if g.group_id == p["thingGroupId"]),
                "\0",
            )
        if group:
            arn = self.arns.group(group)
            jobs = [j for j in jobs if arn in j.targets]
        chunk, token = pagination.page(jobs, "ListJobs", p.get("nextToken"), p.get("maxResults"))
        summaries = []
        for j in chunk:
            s: dict[str, Any] = {
                "jobArn": j.arn,
                "jobId": j.job_id,
                "targetSelection": j.target_selection.value,
                "status": j.status.value,
                "createdAt": dt(j.created_at),
                "lastUpdatedAt": dt(j.last_updated_at),
                "isConcurrent": False,
            }
            gid = next(
                (
                    self.registry.groups[n].group_id
                    for n in _group_names(j)
                    if n in self.registry.groups
                ),
                None,
            )
            if gid:
                s["thingGroupId"] = gid
            if j.completed_at is not None:
                s["completedAt"] = dt(j.completed_at)
            summaries.append(s)
        return {"jobs": summaries, **({"nextToken": token} if token else {})}

    def cancel_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["jobId"])
        try:
            lifecycle.cancel(
                self.engine,
                job,
                force=bool(p.get("force")),
                actor=Actor.OPERATOR,
                reason_code=p.get("reasonCode"),
                comment=p.get("comment"),
            )
        except TransitionError as exc:
            # CancelJob models no InvalidStateTransitionException: AWS answers InvalidRequest.
            raise transition_error(exc, "InvalidRequestException") from exc
        return self._ref(job)

    def delete_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["jobId"])
        try:
            lifecycle.start_deletion(self.engine, job, force=bool(p.get("force")))
        except TransitionError as exc:
            raise transition_error(exc) from exc
        return {}

    def get_job_document(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"document": self._job(p["jobId"]).document}

    def associate_targets_with_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["jobId"])
        if (
            job.target_selection is not TargetSelection.CONTINUOUS
            or job.status is not JobStatus.IN_PROGRESS
        ):
            invalid("Targets can be added only to an IN_PROGRESS CONTINUOUS job.")
        new = [t for t in dict.fromkeys(p.get("targets") or []) if t not in job.targets]
        most = documented("job_targets_max")
        if len(job.targets) + len(new) > most:
            limit_exceeded(f"A job can have at most {most} targets.")
        things = self._resolve_targets(new)
        job.targets.extend(new)
        if p.get("comment"):
            job.comment = p["comment"]
        self.engine.add_targets(job, things)
        return self._ref(job)

    def update_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["jobId"], visible_deleting=False)
        job.configs = job.configs.updated(self._configs(p))
        if p.get("description") is not None:
            job.description = p["description"]
        job.last_updated_at = self.engine.now()
        self.engine.release(job)
        return {}

    # ---- executions ----------
    def _execution(self, job: Job, thing: str, number: int | None) -> Execution:
        runs = job.executions.get(thing) or []
        e = (
            runs[-1]
            if runs and number is None
            else next((r for r in runs if r.execution_number == number), None)
        )
        if e is None:
            not_found(f"No job execution of job {job.job_id} for thing {thing}.")
        return e

    def _summary(self, e: Execution) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": e.status.value,
            "queuedAt": dt(e.queued_at),
            "lastUpdatedAt": dt(e.last_updated_at),
            "executionNumber": e.execution_number,
            "retryAttempt": e.retry_attempt,
        }
        if e.started_at is not None:
            out["startedAt"] = dt(e.started_at)
        return out

    def describe_job_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["jobId"])
        e = self._execution(job, p["thingName"], p.get("executionNumber"))
        out: dict[str, Any] = {
            "jobId": job.job_id,
            "status": e.status.value,
            "forceCanceled": e.force_canceled,
            "statusDetails": {"detailsMap": dict(e.status_details)},
            "thingArn": self.arns.thing(e.thing_name),
            "queuedAt": dt(e.queued_at),
            "lastUpdatedAt": dt(e.last_updated_at),
            "executionNumber": e.execution_number,
            "versionNumber": e.version_number,
        }
        if e.started_at is not None:
            out["startedAt"] = dt(e.started_at)
        left = seconds_left(e, self.engine.now())
        if left is not None:
            out["approximateSecondsBeforeTimedOut"] = left
        return {"execution": out}

    def list_job_executions_for_job(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["jobId"])
        status = ExecutionStatus(p["status"]) if p.get("status") else None
        things = self.engine.things_with(job, status)
        chunk, token = pagination.page(
            things,
            f"ListJobExecutionsForJob:{job.job_id}:{status}",
            p.get("nextToken"),
            p.get("maxResults"),
        )
        summaries = []
        for thing in chunk:
            e = job.current(thing)
            if e is not None:
                summaries.append(
                    {"thingArn": self.arns.thing(thing), "jobExecutionSummary": self._summary(e)}
                )
        return {"executionSummaries": summaries, **({"nextToken": token} if token else {})}

    def list_job_executions_for_thing(self, p: dict[str, Any]) -> dict[str, Any]:
        thing = p["thingName"]
        rows: list[tuple[str, Execution]] = []
        for job in self.engine.jobs.values():
            if p.get("jobId") and job.job_id != p["jobId"]:
                continue
            e = job.current(thing)
            if e is not None and (not p.get("status") or e.status.value == p["status"]):
                rows.append((job.job_id, e))
        rows.sort(key=lambda r: r[1].queued_at, reverse=True)
        chunk, token = pagination.page(
            rows, f"ListJobExecutionsForThing:{thing}", p.get("nextToken"), p.get("maxResults")
        )
        return {
            "executionSummaries": [
                {"jobId": j, "jobExecutionSummary": self._summary(e)} for j, e in chunk
            ],
            **({"nextToken": token} if token else {}),
        }

    def cancel_job_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["jobId"], visible_deleting=False)
        e = self._execution(job, p["thingName"], None)
        expected = p.get("expectedVersion")
        if expected is not None and expected != e.version_number:
            raise version_conflict(e, expected)
        try:
            self.engine.transition(
                job,
                e,
                ExecutionStatus.CANCELED,
                Actor.OPERATOR,
                force=bool(p.get("force")),
                details=p.get("statusDetails"),
            )
        except TransitionError as exc:
            raise transition_error(exc) from exc
        return {}

    def delete_job_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._job(p["jobId"], visible_deleting=False)
        try:
            lifecycle.delete_execution(
                self.engine,
                job,
                p["thingName"],
                int(p["executionNumber"]),
                force=bool(p.get("force")),
            )
        except TransitionError as exc:
            raise transition_error(exc) from exc
        return {}


def seconds_left(e: Execution, now: float) -> int | None:
    deadline = e.deadline
    if deadline is None or e.status is not ExecutionStatus.IN_PROGRESS:
        return None
    return max(0, int(deadline - now))


def _group_names(job: Job) -> list[str]:
    return [a.rsplit("/", 1)[-1] for a in job.targets if ":thinggroup/" in a]


def _copy(value: dict[str, str] | None) -> dict[str, str] | None:
    return None if value is None else dict(value)


def _selection(value: str | None) -> TargetSelection:
    """targetSelection, SNAPSHOT when not given."""
    try:
        return TargetSelection(value or TargetSelection.SNAPSHOT)
    except ValueError:
        invalid(f"targetSelection must be one of {', '.join(TargetSelection)}; got {value!r}.")
