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

Checked here, for every transport (HTTP front end, MQTT reserved topics, a test calling the
service), since a transport may skip botocore's validation:

- ``status`` must be a ``JobExecutionStatus`` (the model's enum): anything else is
  InvalidRequestException, never a crash.
- ``expectedVersion`` may come as a numeric JSON string ("2"): AWS's embedded C Jobs library
  (``Jobs_UpdateMsg`` in aws/Jobs-for-AWS-IoT-embedded-sdk) always writes it quoted and AWS
  accepts it from every FreeRTOS OTA demo, so the client that works against AWS wins over the
  model's ``long``; a string that is not a whole number is InvalidRequestException.
- ``statusDetails``: keys 1-128 characters of ``[a-zA-Z0-9:_-]`` and values of at least one
  character, none of Unicode category C (pattern ``[^\\p{C}]+``) -- the model's ``DetailsKey`` /
  ``DetailsValue``; "The maximum length of the value in the name/value pair is 1,024
  characters" (API_iot-jobs-data_UpdateJobExecution.html); at most 10 pairs, the one map-size
  limit AWS states for a ``DetailsMap`` (API_CancelJobExecution.html). Values are not echoed
  back in the message (they may be huge).
- ``stepTimeoutInMinutes``: "Valid values for this parameter range from 1 to 10080 (1 minute
  to 7 days)" (API_iot-jobs-data_StartNextPendingJobExecution.html); UpdateJobExecution adds
  "A value of -1 is also valid and will cancel the current step timer"
  (API_iot-jobs-data_UpdateJobExecution.html). Anything else is InvalidRequestException (the
  error those pages list for bad input; ``InvalidRequest`` over MQTT), worded as the HTTP front
  end's validation words it (``local/http/validate.py``), so MQTT and HTTP answer alike.
- GetPendingJobExecutions "can return up to 10 pending job executions"
  (https://docs.aws.amazon.com/iot/latest/developerguide/job-limits.html): IN_PROGRESS ones
  first, then QUEUED ones in queue order, as the notify message chooses them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

from ota_deploy.core.aws_model import documented, shape
from ota_deploy.core.errors import excerpt
from ota_deploy.core.status import (
    DEVICE_SETTABLE,
    TERMINAL_EXECUTION,
    ExecutionStatus,
    JobStatus,
    parse_execution_status,
)
from ota_deploy.local.iot.engine import JobsEngine
from ota_deploy.local.iot.errors import error, execution_state, invalid, not_found, version_conflict
from ota_deploy.local.iot.jobs_api import seconds_left
from ota_deploy.local.iot.records import Execution, Job
from ota_deploy.local.iot.states import Actor, TransitionError

JOBS_DATA = "iot-jobs-data"
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


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


def whole_number(name: str, value: Any) -> int | None:
    """A long member as AWS reads it: a JSON number, or a numeric JSON string (module doc)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
        return int(value)
    invalid(f"{name} must be a whole number.")


def step_timeout(value: Any, *, may_cancel: bool) -> int | None:
    """``stepTimeoutInMinutes`` within AWS's range (module docstring); ``may_cancel``: -1 is
    allowed (UpdateJobExecution). None when not given."""
    minutes = whole_number("stepTimeoutInMinutes", value)
    if minutes is None or (may_cancel and minutes == -1):
        return minutes
    low, high = documented("step_timeout_min"), documented("step_timeout_max")
    if low <= minutes <= high:
        return minutes
    bound = f"greater than or equal to {low}" if minutes < low else f"less than or equal to {high}"
    also = " (or be -1)" if may_cancel else ""
    invalid(
        f"1 validation error detected: Value '{excerpt(str(minutes))}' at "
        f"'stepTimeoutInMinutes' failed to satisfy constraint: Member must have value {bound}{also}"
    )


def _violation(path: str, constraint: str) -> str:
    return (
        f"1 validation error detected: Value at '{path}' failed to satisfy constraint: {constraint}"
    )


@dataclass(frozen=True)
class _DetailsRules:
    """The statusDetails limits (module docstring), read once from the model and the
    documented limits: every device update checks them, so nothing is looked up per request."""

    pairs_max: int
    key_min: int
    key_max: int
    key_pattern: str | None
    key_regex: re.Pattern[str]
    value_min: int
    value_max: int
    value_pattern: str | None


@cache
def _details_rules() -> _DetailsRules:
    key_rule = shape("DetailsKey", JOBS_DATA)
    value_rule = shape("DetailsValue", JOBS_DATA)
    return _DetailsRules(
        pairs_max=documented("status_details_pairs_max"),
        key_min=int(key_rule.min or 1),
        key_max=int(key_rule.max or 128),
        key_pattern=key_rule.pattern,
        key_regex=re.compile(key_rule.pattern or ".*"),
        value_min=int(value_rule.min or 1),
        value_max=documented("status_details_value_chars_max"),
        value_pattern=value_rule.pattern,
    )


def has_control_character(value: str) -> bool:
    """Whether ``value`` has a character of Unicode category C (``DetailsValue``'s
    ``[^\\p{C}]+``). ``str.isprintable`` is False for every such character (and for the
    separators Z* but space), so a printable value -- nearly every one -- needs no scan."""
    if value.isprintable():
        return False
    return any(unicodedata.category(ch).startswith("C") for ch in value)


def check_status_details(details: Any) -> dict[str, str] | None:
    """``statusDetails`` within AWS's limits (module docstring), else InvalidRequestException."""
    if details is None:
        return None
    if not isinstance(details, dict):
        invalid("statusDetails must be a map of string keys to string values.")
    rules = _details_rules()
    if len(details) > rules.pairs_max:
        invalid(_violation("statusDetails", f"Map must have at most {rules.pairs_max} entries"))
    key_min, key_max = rules.key_min, rules.key_max
    for key, value in details.items():
        if not isinstance(key, str) or not isinstance(value, str):
            invalid("statusDetails must be a map of string keys to string values.")
        if not key_min <= len(key) <= key_max or not rules.key_regex.fullmatch(key):
            invalid(
                _violation(
                    "statusDetails.key",
                    f"Member must have length {key_min:.0f}-{key_max:.0f} and satisfy regular "
                    f"expression pattern: {rules.key_pattern} (key {_shown(key)!r})",
                )
            )
        if len(value) < rules.value_min:
            invalid(_violation(f"statusDetails.{_shown(key)}", "Member must have length >= 1"))
        if len(value) > rules.value_max:
            invalid(
                _violation(
                    f"statusDetails.{_shown(key)}",
                    f"Member must have length less than or equal to {rules.value_max} "
                    f"(got {len(value)} characters)",
                )
            )
        if has_control_character(value):
            invalid(
                _violation(
                    f"statusDetails.{_shown(key)}",
                    f"Member must satisfy regular expression pattern: {rules.value_pattern}",
                )
            )
    return details


def _shown(key: str) -> str:
    return key if len(key) <= 128 else key[:125] + "..."


_STATUS_BY_NAME = {s.value: s for s in ExecutionStatus}


def _execution_status(text: Any) -> ExecutionStatus | None:
    """``parse_execution_status``'s answer; a status name (every device's request) is found
    by a dict lookup instead of the enum's constructor."""
    found = _STATUS_BY_NAME.get(text) if type(text) is str else None
    return found if found is not None else parse_execution_status(text)


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
        room = documented("pending_executions_max")
        in_progress = [e for e in runs if e.status is ExecutionStatus.IN_PROGRESS][:room]
        queued = [e for e in runs if e.status is ExecutionStatus.QUEUED][: room - len(in_progress)]
        return {
            "inProgressJobs": [summary(e) for e in in_progress],
            "queuedJobs": [summary(e) for e in queued],
        }

    def start_next_pending_job_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        details = check_status_details(p.get("statusDetails"))
        step = step_timeout(p.get("stepTimeoutInMinutes"), may_cancel=False)
        head = self.engine.index.next_pending(p["thingName"])
        if head is None:
            return {}
        job = self.engine.jobs[head.job_id]
        if head.status is ExecutionStatus.QUEUED:
            self.engine.transition(
                job, head, ExecutionStatus.IN_PROGRESS, Actor.DEVICE, details=details
            )
            self.engine.set_step_timeout(job, head, step)
        return {"execution": self.execution(job, head, True)}

    def describe_job_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        thing = p["thingName"]
        include = p.get("includeJobDocument", True) is not False
        if p["jobId"] == "$next":
            head = self.engine.index.next_pending(thing)
            if head is None:
                return {}
            return {"execution": self.execution(self.engine.jobs[head.job_id], head, include)}
        number = whole_number("executionNumber", p.get("executionNumber"))
        job, e = self._visible(thing, p["jobId"], number)
        return {"execution": self.execution(job, e, include)}

    def update_job_execution(self, p: dict[str, Any]) -> dict[str, Any]:
        target = _execution_status(p["status"])
        if target is None:
            *most, last = [s.value for s in ExecutionStatus]
            invalid(
                f"status {str(p['status'])[:64]!r} is not a job execution status; use "
                f"{', '.join(most)} or {last}."
            )
        details = check_status_details(p.get("statusDetails"))
        expected = whole_number("expectedVersion", p.get("expectedVersion"))
        number = whole_number("executionNumber", p.get("executionNumber"))
        step = step_timeout(p.get("stepTimeoutInMinutes"), may_cancel=True)
        job, e = self._visible(p["thingName"], p["jobId"], number)
        if expected is not None and expected != e.version_number:
            raise version_conflict(e, expected)
        if e.status not in TERMINAL_EXECUTION and target not in DEVICE_SETTABLE:
            *most, last = [s.value for s in ExecutionStatus if s in DEVICE_SETTABLE]
            invalid(f"A device cannot set status {target.value}; use {', '.join(most)} or {last}.")
        try:
            self.engine.transition(job, e, target, Actor.DEVICE, details=details)
        except TransitionError as exc:
            raise error(
                "InvalidStateTransitionException", str(exc), executionState=execution_state(e)
            ) from exc
        self.engine.set_step_timeout(job, e, step)
        out: dict[str, Any] = {}
        if p.get("includeJobExecutionState"):
            out["executionState"] = execution_state(e)
        if p.get("includeJobDocument"):
            out["jobDocument"] = self.engine.device_document(job)
        return out
