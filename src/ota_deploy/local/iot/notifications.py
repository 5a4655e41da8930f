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

:class:`Announcer` remembers what each thing was last told (its pending set and its next
execution), so the engine's flush sends notify / notify-next only when they change.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from ota_deploy.core.aws_model import documented
from ota_deploy.core.status import ExecutionStatus, JobStatus
from ota_deploy.local.contracts import Publisher
from ota_deploy.local.iot.compact_json import compact_bytes
from ota_deploy.local.iot.records import Execution, Job

log = logging.getLogger(__name__)
# A ListNotification (notify) "can display up to 10 pending job executions" without a
# scheduling configuration (https://docs.aws.amazon.com/iot/latest/developerguide/job-limits.html).
NOTIFY_LIMIT = documented("pending_executions_max")


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


def process_details(job: Job, counts: dict[ExecutionStatus, int]) -> dict[str, Any]:
    return {
        "numberOfCanceledThings": counts.get(ExecutionStatus.CANCELED, 0),
        "numberOfSucceededThings": counts.get(ExecutionStatus.SUCCEEDED, 0),
        "numberOfFailedThings": counts.get(ExecutionStatus.FAILED, 0),
        "numberOfRejectedThings": counts.get(ExecutionStatus.REJECTED, 0),
        "numberOfQueuedThings": counts.get(ExecutionStatus.QUEUED, 0),
        "numberOfInProgressThings": counts.get(ExecutionStatus.IN_PROGRESS, 0),
        "numberOfRemovedThings": counts.get(ExecutionStatus.REMOVED, 0),
        "numberOfTimedOutThings": counts.get(ExecutionStatus.TIMED_OUT, 0),
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
            self._publish(topic, compact_bytes(body))
        except Exception:  # a broken subscriber must not break the service
            log.exception("publishing %s failed", topic)

    def notify(self, thing: str, pending: Sequence[Execution]) -> None:
        in_progress = [summary(e) for e in pending if e.status is ExecutionStatus.IN_PROGRESS]
        queued = [summary(e) for e in pending if e.status is ExecutionStatus.QUEUED]
        jobs: dict[str, Any] = {}
        room = NOTIFY_LIMIT
        if in_progress:
            jobs[ExecutionStatus.IN_PROGRESS.value] = in_progress[:room]
            room -= len(in_progress[:room])
        if queued and room > 0:
            jobs[ExecutionStatus.QUEUED.value] = queued[:room]
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

    def job_event(
        self,
        job: Job,
        operation: str,
        counts: dict[ExecutionStatus, int],
        *,
        status: StrEnum | None = None,
    ) -> None:
        """``status`` overrides the job's own (the pseudo status DELETED of a removed job)."""
        if not self._enabled("JOB"):
            return
        body: dict[str, Any] = {
            "eventType": "JOB",
            "eventId": str(uuid.uuid4()),
            "timestamp": int(self._now()),
            "operation": operation,
            "jobId": job.job_id,
            "status": (status or job.status).value,
            "targetSelection": job.target_selection.value,
            "targets": list(job.targets),
            "createdAt": int(job.created_at),
            "lastUpdatedAt": int(job.last_updated_at),
            "jobProcessDetails": process_details(job, counts),
        }
        if job.description:
            body["description"] = job.description
        if job.completed_at is not None:
            body["completedAt"] = int(job.completed_at)
        if status is None and job.status is JobStatus.CANCELED:
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


class Announcer:
    """What each thing was last told, so notify / notify-next go out only on a change."""

    def __init__(self, notifier: Notifier, document: Callable[[Execution], dict[str, Any]]) -> None:
        self._notifier = notifier
        self._document = document  # the job document a device gets with its next execution
        self._keys: dict[str, frozenset[tuple[str, int]]] = {}
        self._head: dict[str, tuple[str, int]] = {}

    def announce(self, thing: str, pending: Sequence[Execution]) -> None:
        """Tell ``thing`` its pending list (notify) and its next execution (notify-next), each
        only if it differs from what the thing was last told."""
        keys = frozenset((e.job_id, e.execution_number) for e in pending)
        if keys != self._keys.get(thing, frozenset()):
            self._notifier.notify(thing, pending)
            if keys:
                self._keys[thing] = keys
            else:
                self._keys.pop(thing, None)
        head = pending[0] if pending else None
        head_key = (head.job_id, head.execution_number) if head else None
        if head_key != self._head.get(thing):
            doc = self._document(head) if head is not None else None
            self._notifier.notify_next(thing, head, doc)
            if head_key:
                self._head[thing] = head_key
            else:
                self._head.pop(thing, None)

    def assume_told(self, pending_by_thing: dict[str, list[Execution]]) -> None:
        """Start from "every thing was told its pending list and next execution" (after a
        load: devices learned them before the restart). ``pending_by_thing`` in queue order."""
        self._keys = {
            t: frozenset((e.job_id, e.execution_number) for e in runs)
            for t, runs in pending_by_thing.items()
        }
        self._head = {
            t: (runs[0].job_id, runs[0].execution_number)
            for t, runs in pending_by_thing.items()
            if runs
        }
