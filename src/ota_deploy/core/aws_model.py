"""AWS's rules as botocore's bundled service models state them: the one source for every layer.

The config loader (limits on dev.ini values), the plan, and the local AWS IoT (validation,
error statuses, limits of its engine) all read lengths, ranges, patterns, enums and error
HTTP statuses from here, so no number AWS publishes in its model is copied by hand. The few
limits AWS documents only in prose (not in the model) are in ``DOCUMENTED``, each with the
page it comes from.

botocore's models are data files inside the installed package: reading them is not I/O in
the sense ``core`` forbids (no network, no user files, same answer every time). A model loads
once per process (~100 ms for ``iot``) and only when a rule is first asked for, so commands
that never check a limit never pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

SERVICES = ("iot", "iot-jobs-data")


@cache
def service_model(name: str) -> Any:
    """botocore's ``ServiceModel`` of ``name`` (``"iot"`` or ``"iot-jobs-data"``)."""
    from botocore.session import get_session

    return get_session().get_service_model(name)


@dataclass(frozen=True)
class ShapeRule:
    """What the model says of one scalar or list shape: bounds, pattern and enum."""

    name: str
    type_name: str
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()


@cache
def shape(name: str, service: str = "iot") -> ShapeRule:
    """The rule of shape ``name`` (for a string: its length bounds; a list: its item count)."""
    s = service_model(service).shape_for(name)
    meta = s.metadata
    return ShapeRule(
        name=name,
        type_name=s.type_name,
        min=meta.get("min"),
        max=meta.get("max"),
        pattern=meta.get("pattern"),
        enum=tuple(getattr(s, "enum", None) or ()),
    )


def member_shape(operation: str, *path: str, service: str = "iot") -> ShapeRule:
    """The rule of a member reached from ``operation``'s input, e.g.
    ``member_shape("CreateJob", "jobExecutionsRolloutConfig", "maximumPerMinute")``."""
    s = service_model(service).operation_model(operation).input_shape
    for step in path:
        s = s.member if step == "[]" else s.members[step]
    return shape(s.name, service)


@cache
def error_status(code: str) -> int:
    """The HTTP status AWS answers error ``code`` with (``error.httpStatusCode`` of its shape
    in whichever model declares it); 400 for a code no model declares."""
    for service in SERVICES:
        model = service_model(service)
        if code in model.shape_names:
            err = model.shape_for(code).metadata.get("error") or {}
            status = err.get("httpStatusCode")
            if isinstance(status, int):
                return status
    return 400


@cache
def required_members(operation: str, service: str = "iot") -> tuple[str, ...]:
    """The input members ``operation`` requires."""
    s = service_model(service).operation_model(operation).input_shape
    return tuple(s.required_members) if s is not None else ()


@dataclass(frozen=True)
class Documented:
    """A limit AWS states in its documentation but not in the service model."""

    value: int
    source: str


DOCUMENTED: dict[str, Documented] = {
    # A job takes at most 100 targets (things or groups).
    "job_targets_max": Documented(
        100, "https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html"
    ),
    # maximumPerMinute: today's model and API page state only the minimum 1; the rollout-rate
    # quota (1,000 things notified per minute) is on the quotas page, and AWS's earlier models
    # (still in the Android SDK's docs) said "Range: 1 - 1000".
    "max_per_minute_max": Documented(
        1000, "https://docs.aws.amazon.com/general/latest/gr/iot_device_management.html"
    ),
    # inProgressTimeoutInMinutes: "between 1 and 10080 minutes (1 to 7 days)".
    "in_progress_timeout_min": Documented(
        1, "https://docs.aws.amazon.com/iot/latest/apireference/API_TimeoutConfig.html"
    ),
    "in_progress_timeout_max": Documented(
        10080, "https://docs.aws.amazon.com/iot/latest/apireference/API_TimeoutConfig.html"
    ),
    # stepTimeoutInMinutes: "1 to 10080 minutes"; -1 clears the step timer.
    "step_timeout_max": Documented(
        10080,
        "https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_UpdateJobExecution.html",
    ),
    # stepTimeoutInMinutes of StartNextPendingJobExecution: "Valid values for this parameter
    # range from 1 to 10080" (UpdateJobExecution also takes -1, which cancels the step timer).
    "step_timeout_min": Documented(
        1,
        "https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_StartNextPendingJobExecution.html",
    ),
    # An inline job document is at most 32 KB.
    "job_document_bytes_max": Documented(
        32768, "https://docs.aws.amazon.com/general/latest/gr/iot_device_management.html"
    ),
    # At most 10 jobs may be DELETION_IN_PROGRESS at once (LimitExceededException).
    "jobs_deleting_max": Documented(
        10, "https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJob.html"
    ),
    # policyDocument: "a minimum length of 1, with a maximum length of 2048, excluding
    # whitespace" (the model's own limit, 404600, counts whitespace); same on
    # API_CreatePolicyVersion.html.
    "policy_document_chars_max": Documented(
        2048, "https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicy.html"
    ),
    # "A managed policy can have up to five versions" (VersionsLimitExceededException).
    "policy_versions_max": Documented(
        5, "https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicyVersion.html"
    ),
    # statusDetails: "The maximum length of the value in the name/value pair is 1,024
    # characters" (the model's DetailsValue states only the minimum, 1); same on
    # API_iot-jobs-data_StartNextPendingJobExecution.html.
    "status_details_value_chars_max": Documented(
        1024,
        "https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_UpdateJobExecution.html",
    ),
    # statusDetails: "You can specify at most 10 name/value pairs" (the DetailsMap's one stated
    # size limit; the model has none).
    "status_details_pairs_max": Documented(
        10, "https://docs.aws.amazon.com/iot/latest/apireference/API_CancelJobExecution.html"
    ),
    # GetPendingJobExecutions "can return up to 10 pending job executions", and a
    # ListNotification (notify) shows 10, without a scheduling configuration.
    "pending_executions_max": Documented(
        10, "https://docs.aws.amazon.com/iot/latest/developerguide/job-limits.html"
    ),
    # thresholdPercentage: "AWS IoT Core supports up to two digits after the decimal (for
    # example, 10.9 and 10.99, but not 10.999)" -- AbortCriteria (CreateJob, CreateJobTemplate)
    # and AwsJobAbortCriteria (CreateOTAUpdate) alike; the model's double states only max 100.
    "abort_threshold_decimals_max": Documented(
        2, "https://docs.aws.amazon.com/iot/latest/apireference/API_AbortCriteria.html"
    ),
    # incrementFactor: "AWS IoT Core supports up to one digit after the decimal (for example,
    # 1.5, but not 1.55)".
    "increment_factor_decimals_max": Documented(
        1, "https://docs.aws.amazon.com/iot/latest/apireference/API_ExponentialRolloutRate.html"
    ),
    # AddThingToThingGroup: 100 requests per second per account (an adjustable default) in the
    # quotas page's "AWS IoT Core API throttling limits" table.
    "add_thing_to_thing_group_tps": Documented(
        100, "https://docs.aws.amazon.com/general/latest/gr/iot-core.html#throttling-limits"
    ),
}


def documented(name: str) -> int:
    """The value of a documented limit (see ``DOCUMENTED`` for its source)."""
    return DOCUMENTED[name].value
