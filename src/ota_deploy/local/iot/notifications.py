"""Builds the MQTT messages the jobs service sends and hands them to the gateway's ``publish``.

- ``$aws/things/T/jobs/notify``: the thing's pending executions whenever one is added to or
  removed from that list (JobExecutionsChanged).
- ``$aws/things/T/jobs/notify-next``: the next pending execution with its job document (an
  object), or no ``execution`` when the queue empties; only when the head changes.
  https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html ,
  https://docs.aws.amazon.com/iot/latest/developerguide/jobs-workflow-jobs-online.html
- ``$aws/events/job/ID/{completed|canceled|deleted|cancellation_in_progress|deletion_in_progress}``
  and ``$aws/events/jobExecution/ID/{succeeded|failed|rejected|canceled|timed_out|removed|deleted}``
  when UpdateEventConfigurations enabled JOB / JOB_EXECUTION.
  https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html
MQTT timestamps are integer epoch seconds.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from ota_deploy.local.contracts import Publisher
from ota_deploy.local.iot.records import Execution, Job
from ota_deploy.local.iot.states import ExecStatus

log = logging.getLogger(__name__)
NOTIFY_LIMIT = 10


def summary(e: Execution) -> dict[str, Any]:
    out: dict[str, Any] = {
        "jobId": e.job_id,
        "queuedAt": int(e.queued_at),
        "lastUpdatedAt": int(e.last_updated_at),
        "executionNumber": e.execution_number,
        "versionNumber": e.version_number,
    }
    if e.started_at is not None:
        out["startedAt"] = int(e.started_at)
    return out


def process_details(job: Job, counts: dict[ExecStatus, int]) -> dict[str, Any]:
    return {
        "numberOfCanceledThings": counts.get(ExecStatus.CANCELED, 0),
        "numberOfSucceededThings": counts.get(ExecStatus.SUCCEEDED, 0),
        "numberOfFailedThings": counts.get(ExecStatus.FAILED, 0),
        "numberOfRejectedThings": counts.get(ExecStatus.REJECTED, 0),
        "numberOfQueuedThings": counts.get(ExecStatus.QUEUED, 0),
        "numberOfInProgressThings": counts.get(ExecStatus.IN_PROGRESS, 0),
        "numberOfRemovedThings": counts.get(ExecStatus.REMOVED, 0),
        "numberOfTimedOutThings": counts.get(ExecStatus.TIMED_OUT, 0),
    }


class Notifier:
    def __init__(
        self, publish: Publisher, now: Callable[[], float], enabled: Callable[[str], bool]
    ) -> None:
        self._publish = publish
        self._now = now
        self._enabled = enabled

    def _send(self, topic: str, body: dict[str, Any]) -> None:
        try:
            self._publish(topic, json.dumps(body, separators=(",", ":")).encode())
        except Exception:  # a broken subscriber must not break the service
            log.exception("publishing %s failed", topic)

    def notify(self, thing: str, pending: Sequence[Execution]) -> None:
        in_progress = [summary(e) for e in pending if e.status is ExecStatus.IN_PROGRESS]
        queued = [summary(e) for e in pending if e.status is ExecStatus.QUEUED]
        jobs: dict[str, Any] = {}
        room = NOTIFY_LIMIT
        if in_progress:
            jobs["IN_PROGRESS"] = in_progress[:room]
            room -= len(jobs["IN_PROGRESS"])
        if queued and room > 0:
            jobs["QUEUED"] = queued[:room]
        self._send(
            f"$aws/things/{thing}/jobs/notify", {"timestamp": int(self._now()), "jobs": jobs}
        )

    def notify_next(self, thing: str, e: Execution | None, document: dict[str, Any] | None) -> None:
        body: dict[str, Any] = {"timestamp": int(self._now())}
        if e is not None:
            execution = {**summary(e), "thingName": thing, "status": e.status.value}
            if e.status_details:
                execution["statusDetails"] = dict(e.status_details)
            if document is not None:
                execution["jobDocument"] = document
            body["execution"] = execution
        self._send(f"$aws/things/{thing}/jobs/notify-next", body)

    def job_event(self, job: Job, operation: str, counts: dict[ExecStatus, int]) -> None:
        if not self._enabled("JOB"):
            return
        body: dict[str, Any] = {
            "eventType": "JOB",
            "eventId": str(uuid.uuid4()),
            "timestamp": int(self._now()),
            "operation": operation,
            "jobId": job.job_id,
            "status": job.status.value,
            "targetSelection": job.target_selection,
            "targets": list(job.targets),
            "createdAt": int(job.created_at),
            "lastUpdatedAt": int(job.last_updated_at),
            "jobProcessDetails": process_details(job, counts),
        }
        if job.description:
            body["description"] = job.description
        if job.completed_at is not None:
            body["completedAt"] = int(job.completed_at)
        if job.status.value == "CANCELED":
            body["forceCanceled"] = job.force_canceled
            if job.comment:
                body["comment"] = job.comment
            if job.reason_code:
                body["reasonCode"] = job.reason_code
        self._send(f"$aws/events/job/{job.job_id}/{operation}", body)

    def execution_event(self, e: Execution, thing_arn: str, operation: str) -> None:
        if not self._enabled("JOB_EXECUTION"):
            return
        body: dict[str, Any] = {
            "eventType": "JOB_EXECUTION",
            "eventId": str(uuid.uuid4()),
            "timestamp": int(self._now()),
            "operation": operation,
            "jobId": e.job_id,
            "thingArn": thing_arn,
            "status": e.status.value,
            "statusDetails": dict(e.status_details),
            "versionNumber": e.version_number,
            "executionNumber": e.execution_number,
        }
        self._send(f"$aws/events/jobExecution/{e.job_id}/{operation}", body)
