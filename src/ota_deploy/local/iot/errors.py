"""AWS's error codes for the local IoT, raised as ``contracts.AwsError`` with the HTTP status
botocore's models declare for each (``core.aws_model.error_status``: the ``error.httpStatusCode``
trait of the error shape in ``iot`` / ``iot-jobs-data``; 400 for a code no model declares).
"""

from __future__ import annotations

from typing import Any, NoReturn

from ota_deploy.core.aws_model import error_status
from ota_deploy.local.contracts import AwsError
from ota_deploy.local.iot.records import Execution


def error(code: str, message: str, **extra: Any) -> AwsError:
    return AwsError(code, message, error_status(code), **extra)


def not_found(message: str) -> NoReturn:
    raise error("ResourceNotFoundException", message)


def invalid(message: str) -> NoReturn:
    raise error("InvalidRequestException", message)


def already_exists(message: str, resource_id: str, resource_arn: str | None = None) -> NoReturn:
    extra: dict[str, Any] = {"resourceId": resource_id}
    if resource_arn:
        extra["resourceArn"] = resource_arn
    raise error("ResourceAlreadyExistsException", message, **extra)


def limit_exceeded(message: str) -> NoReturn:
    raise error("LimitExceededException", message)


def execution_state(e: Execution) -> dict[str, Any]:
    """The ``executionState`` the jobs data plane returns, also in its rejections."""
    return {
        "status": e.status.value,
        "statusDetails": dict(e.status_details),
        "versionNumber": e.version_number,
    }


def version_conflict(e: Execution, expected: int) -> AwsError:
    return error(
        "VersionConflictException",
        f"The expected version {expected} does not match the current version "
        f"{e.version_number} of the job execution.",
        executionState=execution_state(e),
    )
