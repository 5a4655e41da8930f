"""Serialise results and errors as an AWS REST-JSON service does, from botocore's models.

The inverse of botocore's ``RestJSONParser``. A result dict (output member names, aware
datetimes, bytes) becomes: the HTTP status (the operation's ``responseCode``, or a member with
location ``statusCode``), headers (members with location ``header``/``headers``) and a JSON
body (the other members under their ``locationName``; timestamps as epoch-second numbers,
REST-JSON's default, unless the shape names another ``timestampFormat``; blobs base64). A
``payload`` member is the body itself.

Errors: the error shape's ``httpStatusCode``, the header ``x-amzn-ErrorType: <Code>`` and a
body ``{"message": ..., <other members of the error shape>}``; botocore reads the code from that
header and raises the modeled exception class, e.g. ``client.exceptions.ResourceNotFoundException``
(https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization).
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from ota_deploy.local.contracts import AwsError

JSON_CONTENT_TYPE = "application/json"


def _timestamp(value: Any, fmt: str) -> Any:
    if not isinstance(value, datetime):
        return value
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    if fmt == "iso8601":
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if fmt == "rfc822":
        return format_datetime(aware.astimezone(UTC), usegmt=True)
    epoch = aware.timestamp()
    return int(epoch) if epoch == int(epoch) else round(epoch, 3)


def to_json_value(shape: Shape, value: Any) -> Any:
    """A result value made JSON-ready per its shape, recursively."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        assert isinstance(shape, StructureShape)
        out: dict[str, Any] = {}
        for name, item in value.items():
            member = shape.members.get(name)
            if member is None or item is None:
                continue
            out[member.serialization.get("name", name)] = to_json_value(member, item)
        return out
    if kind == "list" and isinstance(value, list | tuple):
        member = shape.member  # type: ignore[attr-defined]
        return [to_json_value(member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        val_shape = shape.value  # type: ignore[attr-defined]
        return {str(k): to_json_value(val_shape, v) for k, v in value.items()}
    if kind == "timestamp":
        return _timestamp(value, shape.serialization.get("timestampFormat", "unixtimestamp"))
    if kind == "blob" and isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    return value


def _header_text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "timestamp":
        return str(_timestamp(value, shape.serialization.get("timestampFormat", "rfc822")))
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "list":
        return ",".join(str(v) for v in value)
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value).encode()).decode()
    return str(value)


def new_request_id() -> str:
    return str(uuid.uuid4())


def serialize_result(
    operation: OperationModel, result: dict[str, Any]
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a successful call."""
    status = int(operation.http.get("responseCode", 200))
    headers = {"Content-Type": JSON_CONTENT_TYPE}
    shape = operation.output_shape
    if shape is None:
        return status, headers, b"{}"
    assert isinstance(shape, StructureShape)
    payload_name = shape.serialization.get("payload")
    body_obj: dict[str, Any] = {}
    body: bytes | None = None
    for name, member in shape.members.items():
        if name not in result or result[name] is None:
            continue
        value = result[name]
        loc = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if loc == "statusCode":
            status = int(value)
        elif loc == "header":
            headers[wire] = _header_text(member, value)
        elif loc == "headers":
            for k, v in value.items():
                headers[f"{wire}{k}"] = str(v)
        elif name == payload_name:
            if member.type_name == "blob":
                body = bytes(value)
                headers["Content-Type"] = "application/octet-stream"
            elif member.type_name == "string":
                body = str(value).encode()
            else:
                body = json.dumps(to_json_value(member, value)).encode()
        else:
            body_obj[wire] = to_json_value(member, value)
    if body is None:
        body = json.dumps(body_obj, separators=(",", ":")).encode()
    return status, headers, body


def error_shape(model: ServiceModel, code: str) -> StructureShape | None:
    for shape in model.error_shapes:
        if shape.error_code == code or shape.name == code:
            return shape
    return None


# Domain error codes a service's HTTP model does not declare, and the modeled code AWS answers
# with instead. The jobs data plane rejects a stale ``expectedVersion`` ("VersionMismatch" over
# MQTT) with its only 409, InvalidStateTransitionException, whose body carries the current
# ``executionState``; the jobs engine raises the control plane's VersionConflictException.
# https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_UpdateJobExecution.html
_UNMODELED_CODE_MAP = {"VersionConflictException": "InvalidStateTransitionException"}


def serialize_error(model: ServiceModel | None, err: AwsError) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of an AWS error; the status is the modeled one when modeled."""
    shape = error_shape(model, err.code) if model is not None else None
    if shape is None and model is not None and err.code in _UNMODELED_CODE_MAP:
        mapped = _UNMODELED_CODE_MAP[err.code]
        if error_shape(model, mapped) is not None:
            err = AwsError(mapped, err.message, err.status, **err.extra)
            shape = error_shape(model, mapped)
    status = err.status
    body: dict[str, Any] = {"message": err.message}
    if shape is not None:
        status = int(shape.metadata.get("error", {}).get("httpStatusCode", status))
    # Modeled members (resourceId, resourceArn, ...) are serialised per the error shape; other
    # extras go as they are -- AWS documents e.g. ``executionState`` in the body of the jobs
    # data plane's InvalidStateTransitionException, which its model does not declare
    # (https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_UpdateJobExecution.html).
    for name, value in err.extra.items():
        if value is None or name == "message":
            continue
        member = shape.members.get(name) if shape is not None else None
        if member is not None:
            body[member.serialization.get("name", name)] = to_json_value(member, value)
        else:
            body[name] = value
    headers = {"Content-Type": JSON_CONTENT_TYPE, "x-amzn-ErrorType": err.code}
    return status, headers, json.dumps(body, default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _timestamp(value, "unixtimestamp")
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    return str(value)
