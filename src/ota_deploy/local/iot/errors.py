"""AWS's error codes and HTTP statuses for the local IoT, as botocore's ``iot`` model declares them.

Statuses come from the ``error.httpStatusCode`` trait of each error shape in botocore's
``iot`` / ``iot-jobs-data`` service-2.json (checked with
``botocore.session.get_session().get_service_model('iot').shape_for(name).metadata``).
"""

from __future__ import annotations

from typing import Any, NoReturn

from ota_deploy.local.contracts import AwsError

STATUS: dict[str, int] = {
    "ResourceNotFoundException": 404,
    "ResourceAlreadyExistsException": 409,
    "InvalidRequestException": 400,
    "InvalidStateTransitionException": 409,
    "LimitExceededException": 410,
    "VersionConflictException": 409,
    "ConflictException": 409,
    "DeleteConflictException": 409,
    "CertificateStateException": 406,
    "MalformedPolicyException": 400,
    "ThrottlingException": 400,
    "InternalFailureException": 500,
    "ServiceUnavailableException": 503,
    "UnauthorizedException": 401,
    "TerminalStateException": 410,
}


def error(code: str, message: str, **extra: Any) -> AwsError:
    return AwsError(code, message, STATUS.get(code, 400), **extra)


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
