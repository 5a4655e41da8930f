"""The Jobs MQTT API as pure functions: topic parsing, request validation, payload building.

Data flows like this (no I/O here; ``jobs_mqtt.JobsMqttHandler`` does the calls)::

    topic  --parse_jobs_topic-->  JobsTopic(thing, op, job_id)
    bytes  --parse_request----->  (service operation, botocore params, clientToken)
    service result (botocore shapes, datetimes, jobDocument as a string)
           --accepted_payload-->  AWS's MQTT accepted payload (epoch seconds, jobDocument object)
    AwsError --rejected_payload-> {code, message, clientToken, timestamp, executionState?}

Specification: "Jobs device MQTT API operations",
https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html and the data types in
https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-https-api.html .
Field names were checked against the AWS IoT Device SDK v2 (``awsiot/iotjobs.py``), whose
``from_payload`` parsers read exactly these keys and read timestamps as epoch seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from ota_deploy.core.status import parse_execution_status
from ota_deploy.local.contracts import AwsError
from ota_deploy.local.jsonsafe import JsonError, decode_json

JOBS_PREFIX = "$aws/things/"

#: botocore iot-jobs-data operation names, per request kind.
OP_GET_PENDING = "GetPendingJobExecutions"
OP_START_NEXT = "StartNextPendingJobExecution"
OP_DESCRIBE = "DescribeJobExecution"
OP_UPDATE = "UpdateJobExecution"


class JobsOp(Enum):
    GET_PENDING = "get"
    START_NEXT = "start-next"
    DESCRIBE = "describe"  # {jobId}/get
    UPDATE = "update"  # {jobId}/update
    INVALID = "invalid"  # under $aws/things/T/jobs/ but no API: answered with InvalidTopic


@dataclass(frozen=True)
class JobsTopic:
    thing_name: str
    op: JobsOp
    job_id: str | None = None

    @property
    def operation(self) -> str:
        return _OPERATIONS[self.op]


_OPERATIONS = {
    JobsOp.GET_PENDING: OP_GET_PENDING,
    JobsOp.START_NEXT: OP_START_NEXT,
    JobsOp.DESCRIBE: OP_DESCRIBE,
    JobsOp.UPDATE: OP_UPDATE,
}


class MqttJobsError(Exception):
    """A request rejected before (or after) reaching the service, with its MQTT error code."""

    def __init__(
        self, code: str, message: str, execution_state: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.execution_state = execution_state


# Topics the service publishes itself (responses and notifications): never requests.
_RESPONSE_SUFFIXES = ("/accepted", "/rejected")
_NOTIFY_LEAVES = ("notify", "notify-next")


def is_jobs_topic(topic: str) -> bool:
    """True for ``$aws/things/{thing}/jobs/...`` topics that a device may publish to."""
    if not topic.startswith(JOBS_PREFIX) or "/jobs/" not in topic:  # (cheap for stream topics)
        return False
    parts = topic.split("/")
    if len(parts) < 5 or parts[3] != "jobs" or not parts[2]:
        return False
    if topic.endswith(_RESPONSE_SUFFIXES):
        return False
    return not (len(parts) == 5 and parts[4] in _NOTIFY_LEAVES)


def parse_jobs_topic(topic: str) -> JobsTopic:
    """Split a request topic; anything under ``jobs/`` that is no API gives ``JobsOp.INVALID``."""
    parts = topic.split("/")
    thing = parts[2]
    rest = parts[4:]
    if rest == ["get"]:
        return JobsTopic(thing, JobsOp.GET_PENDING)
    if rest == ["start-next"]:
        return JobsTopic(thing, JobsOp.START_NEXT)
    if len(rest) == 2 and rest[0] and rest[1] == "get":
        return JobsTopic(thing, JobsOp.DESCRIBE, rest[0])
    if len(rest) == 2 and rest[0] and rest[1] == "update":
        return JobsTopic(thing, JobsOp.UPDATE, rest[0])
    return JobsTopic(thing, JobsOp.INVALID)


def decode_json_object(payload: bytes) -> dict[str, Any]:
    """The request document. An empty payload counts as ``{}`` (mosquitto_pub -n, bare gets).

    Decoded by ``jsonsafe.decode_json`` (nesting capped: 60,000 ``[`` are an InvalidJson
    rejection, never a RecursionError). InvalidJson: "The contents of the request could not be
    interpreted as valid UTF-8-encoded JSON" -- the Jobs error codes of
    https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-https-api.html (the Device
    SDK v2's ``RejectedErrorCode`` words it the same)."""
    if not payload.strip():
        return {}
    try:
        doc = decode_json(payload.decode("utf-8"))
    except (UnicodeDecodeError, JsonError) as exc:
        raise MqttJobsError("InvalidJson", f"Could not parse the request as JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise MqttJobsError("InvalidJson", "The request payload must be a JSON object")
    return doc


def client_token_of(doc: dict[str, Any]) -> str | None:
    token = doc.get("clientToken")
    return token if isinstance(token, str) else None


def _long_field(doc: dict[str, Any], name: str) -> Any:
    """A long member (expectedVersion, executionNumber, stepTimeoutInMinutes), passed on as
    sent: the jobs data plane reads it (``local.iot.jobs_data.whole_number``) -- a JSON number,
    or a numeric JSON string, as AWS's embedded C Jobs library writes ``"expectedVersion":"2"``
    -- and answers anything else with InvalidRequestException, for MQTT and HTTP alike."""
    return doc.get(name)


def _bool_field(doc: dict[str, Any], name: str) -> bool | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise MqttJobsError("InvalidRequest", f"{name} must be a boolean")
    return value


def _status_details(doc: dict[str, Any]) -> dict[str, str] | None:
    value = doc.get("statusDetails")
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise MqttJobsError(
            "InvalidRequest", "statusDetails must be an object of string keys and string values"
        )
    return value


def build_params(topic: JobsTopic, doc: dict[str, Any]) -> dict[str, Any]:
    """The iot-jobs-data params (botocore member names) for a validated request document."""
    token = doc.get("clientToken")
    if token is not None and not isinstance(token, str):
        raise MqttJobsError("InvalidRequest", "clientToken must be a string")
    params: dict[str, Any] = {"thingName": topic.thing_name}
    optional: dict[str, Any] = {}
    if topic.op is JobsOp.GET_PENDING:
        pass
    elif topic.op is JobsOp.START_NEXT:
        optional = {
            "statusDetails": _status_details(doc),
            "stepTimeoutInMinutes": _long_field(doc, "stepTimeoutInMinutes"),
        }
    elif topic.op is JobsOp.DESCRIBE:
        include = _bool_field(doc, "includeJobDocument")
        optional = {
            "jobId": topic.job_id,
            "executionNumber": _long_field(doc, "executionNumber"),
            # Over MQTT the document is included unless the device says otherwise.
            "includeJobDocument": True if include is None else include,
        }
    elif topic.op is JobsOp.UPDATE:
        status = doc.get("status")
        if not isinstance(status, str) or not status:
            raise MqttJobsError("InvalidRequest", "status is required and must be a string")
        if parse_execution_status(status) is None:  # JobExecutionStatus, API_iot-jobs-data_
            raise MqttJobsError(  # UpdateJobExecution.html (the MQTT path skips botocore)
                "InvalidRequest", f"status {status!r} is not a job execution status"
            )
        optional = {
            "jobId": topic.job_id,
            "status": status,
            "statusDetails": _status_details(doc),
            "expectedVersion": _long_field(doc, "expectedVersion"),
            "executionNumber": _long_field(doc, "executionNumber"),
            "includeJobExecutionState": _bool_field(doc, "includeJobExecutionState"),
            "includeJobDocument": _bool_field(doc, "includeJobDocument"),
            "stepTimeoutInMinutes": _long_field(doc, "stepTimeoutInMinutes"),
        }
    else:
        raise MqttJobsError("InvalidTopic", "The topic does not map to any Jobs API")
    params.update({k: v for k, v in optional.items() if v is not None})
    return params


# ---------------------------------------------------------------------------------------------
# Responses


def epoch_seconds(value: Any) -> Any:
    """Timestamps go over MQTT as whole epoch seconds (the Device SDK reads fromtimestamp(val))."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, float):
        return int(value)
    return value


def job_document_object(document: Any) -> Any:
    """Over MQTT the job document is a JSON object; the service keeps it as a JSON string."""
    if isinstance(document, str | bytes):
        try:
            return json.loads(document)
        except (ValueError, RecursionError):  # CreateJob checked it; deep nesting stays text
            return document
    return document


_TIMESTAMP_KEYS = ("queuedAt", "startedAt", "lastUpdatedAt")


def mqtt_execution(execution: dict[str, Any]) -> dict[str, Any]:
    """A JobExecution (or JobExecutionSummary) in its MQTT form."""
    out: dict[str, Any] = {}
    for key, value in execution.items():
        if value is None:
            continue
        if key in _TIMESTAMP_KEYS:
            out[key] = epoch_seconds(value)
        elif key == "jobDocument":
            out[key] = job_document_object(value)
        else:
            out[key] = value
    return out


def _envelope(client_token: str | None, now: float) -> dict[str, Any]:
    body: dict[str, Any] = {"timestamp": int(now)}
    if client_token is not None:
        body["clientToken"] = client_token
    return body


def accepted_payload(
    op: JobsOp, result: dict[str, Any], client_token: str | None, now: float
) -> dict[str, Any]:
    """AWS's accepted payload for ``op`` from the service's botocore-shaped ``result``."""
    body: dict[str, Any] = {}
    if op is JobsOp.GET_PENDING:
        body["inProgressJobs"] = [mqtt_execution(e) for e in result.get("inProgressJobs", [])]
        body["queuedJobs"] = [mqtt_execution(e) for e in result.get("queuedJobs", [])]
    elif op in (JobsOp.START_NEXT, JobsOp.DESCRIBE):
        execution = result.get("execution")
        if execution:  # start-next with nothing pending answers without "execution"
            body["execution"] = mqtt_execution(execution)
    elif op is JobsOp.UPDATE:
        state = result.get("executionState")
        if state:
            body["executionState"] = {k: v for k, v in state.items() if v is not None}
        if result.get("jobDocument") is not None:
            body["jobDocument"] = job_document_object(result["jobDocument"])
    body.update(_envelope(client_token, now))
    return body


def rejected_payload(
    code: str,
    message: str,
    client_token: str | None,
    now: float,
    execution_state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(_envelope(client_token, now))
    if execution_state:
        body["executionState"] = {k: v for k, v in execution_state.items() if v is not None}
    return body


# The MQTT error codes; from the Device SDK's RejectedErrorCode and the Jobs developer guide.
_CODE_MAP = {
    "ResourceNotFoundException": "ResourceNotFound",
    "VersionConflictException": "VersionMismatch",
    "InvalidRequestException": "InvalidRequest",
    "ValidationException": "InvalidRequest",
    "ThrottlingException": "RequestThrottled",
    "LimitExceededException": "RequestThrottled",
    "TerminalStateException": "TerminalStateReached",
    "InvalidStateTransitionException": "InvalidStateTransition",
}


def map_aws_error(err: AwsError) -> MqttJobsError:
    """Translate a service error into the MQTT rejected code (and executionState, if any).

    VersionMismatch and InvalidStateTransition carry the execution's current state
    (``err.extra["executionState"]``), as AWS's rejected payloads do.
    """
    code = _CODE_MAP.get(err.code, "InternalError")
    state = err.extra.get("executionState")
    if not isinstance(state, dict):
        state = None
    if code not in ("VersionMismatch", "InvalidStateTransition"):
        state = None
    return MqttJobsError(code, err.message, state)


# json.dumps(body, separators=(",", ":")) builds an encoder per call; one made once gives the
# same bytes.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def encode(body: dict[str, Any]) -> bytes:
    return _COMPACT.encode(body).encode("utf-8")
