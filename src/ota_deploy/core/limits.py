"""AWS's limits on the values this tool sends, checked before any call.

Every check here is a pure function returning ``None`` when the value is fine or a short
reason (a sentence fragment) when AWS would reject it. The config loader and the thing-list
parser turn a reason into ``InputError`` naming the file/section/key; keeping the rules in one
place means the dry-run plan, the loader and the tests agree with each other.

The numbers, patterns and enums come from botocore's ``iot`` model through ``core.aws_model``
(``rules()``: read once, on first use, so a command that checks nothing never loads the
model); the few limits AWS states only in prose come from ``aws_model.documented``. What is
not in the iot model at all (region, account and bucket names, IAM role ARNs) is spelled here.

Sources (the specification):
  CreateJob   https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html
  CreateStream https://docs.aws.amazon.com/iot/latest/apireference/API_CreateStream.html
  JobExecutionsRolloutConfig / ExponentialRolloutRate / AbortCriteria / TimeoutConfig pages of
  the same reference; S3 bucket naming:
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from ota_deploy.core import aws_model
from ota_deploy.core.errors import excerpt
from ota_deploy.core.status import FailureType, TargetSelection


@dataclass(frozen=True)
class AwsRules:
    """The limits this tool checks, as botocore's iot model (or AWS's documentation) states."""

    job_id_re: re.Pattern[str]
    job_id_max: int
    stream_id_re: re.Pattern[str]
    stream_id_max: int
    thing_name_re: re.Pattern[str]  # also thing-group names
    thing_name_max: int
    file_id_min: int
    file_id_max: int
    max_per_minute_min: int  # maximumPerMinute
    max_per_minute_max: int  # documented (quotas page)
    base_rate_min: int  # baseRatePerMinute
    base_rate_max: int
    increment_factor_min: Decimal
    increment_factor_max: Decimal
    threshold_max: Decimal  # thresholdPercentage
    expires_min: int  # expiresInSec
    expires_max: int
    in_progress_timeout_min: int  # documented (TimeoutConfig page)
    in_progress_timeout_max: int
    description_max: int
    job_document_bytes_max: int  # documented: 32 KB inline
    document_source_max: int
    role_arn_min: int
    role_arn_max: int
    job_targets_max: int  # documented: 100 things or groups per job
    target_selections: tuple[str, ...]
    failure_types: tuple[str, ...]


def _int(value: Any) -> int:
    assert value is not None, "the model states no bound here"
    return int(value)


def _decimal(value: Any) -> Decimal:
    assert value is not None, "the model states no bound here"
    return Decimal(str(value))


@cache
def rules() -> AwsRules:
    """The rules, read from the model once per process (~100 ms the first time)."""
    shape, member, documented = aws_model.shape, aws_model.member_shape, aws_model.documented
    rollout = ("CreateJob", "jobExecutionsRolloutConfig")
    exponential = (*rollout, "exponentialRate")
    criterion = ("CreateJob", "abortConfig", "criteriaList", "[]")
    presigned = ("CreateJob", "presignedUrlConfig")
    job_id, stream_id, thing = shape("JobId"), shape("StreamId"), shape("ThingName")
    file_id = member("CreateStream", "files", "[]", "fileId")
    base_rate = member(*exponential, "baseRatePerMinute")
    factor = member(*exponential, "incrementFactor")
    expires = member(*presigned, "expiresInSec")
    role = member("CreateStream", "roleArn")
    return AwsRules(
        job_id_re=re.compile(str(job_id.pattern)),
        job_id_max=_int(job_id.max),
        stream_id_re=re.compile(str(stream_id.pattern)),
        stream_id_max=_int(stream_id.max),
        thing_name_re=re.compile(str(thing.pattern)),
        thing_name_max=_int(thing.max),
        file_id_min=_int(file_id.min),
        file_id_max=_int(file_id.max),
        max_per_minute_min=_int(member(*rollout, "maximumPerMinute").min),
        max_per_minute_max=documented("max_per_minute_max"),
        base_rate_min=_int(base_rate.min),
        base_rate_max=_int(base_rate.max),
        increment_factor_min=_decimal(factor.min),
        increment_factor_max=_decimal(factor.max),
        threshold_max=_decimal(member(*criterion, "thresholdPercentage").max),
        expires_min=_int(expires.min),
        expires_max=_int(expires.max),
        in_progress_timeout_min=documented("in_progress_timeout_min"),
        in_progress_timeout_max=documented("in_progress_timeout_max"),
        description_max=_int(member("CreateJob", "description").max),
        job_document_bytes_max=documented("job_document_bytes_max"),
        document_source_max=_int(member("CreateJob", "documentSource").max),
        role_arn_min=_int(role.min),
        role_arn_max=_int(role.max),
        job_targets_max=documented("job_targets_max"),
        # The enums in core.status are checked against the model (test_core_status); their
        # order is the one messages list them in.
        target_selections=tuple(TargetSelection),
        failure_types=tuple(FailureType),
    )


# Not in the iot model: AWS's naming rules for IAM role ARNs, regions, accounts and buckets.
ROLE_ARN_RE = re.compile(r"arn:aws[-a-z]*:iam::\d{12}:role/[\w+=,.@/-]+")
REGION_RE = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
ACCOUNT_RE = re.compile(r"\d{12}")
BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# The model's description pattern is [^\p{C}]+ (no control or unassigned characters); Python's
# re has no \p{C}, so the control characters are spelled out.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BUCKET_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_id(value: str, *, pattern: re.Pattern[str], max_len: int) -> str | None:
    """Reason a job/stream id is invalid, or None."""
    if not value:
        return "must not be empty"
    if len(value) > max_len:
        return f"is {len(value)} characters long; AWS allows at most {max_len}"
    if not pattern.fullmatch(value):
        bad = sorted({c for c in value if not pattern.fullmatch(c)})
        return (
            f"contains characters AWS does not allow ({''.join(bad)!r}); "
            f"allowed: letters, digits, '_' and '-'"
        )
    return None


def check_stream_id(value: str) -> str | None:
    """Reason a stream id is invalid (the model's StreamId), or None."""
    limit = rules()
    return check_id(value, pattern=limit.stream_id_re, max_len=limit.stream_id_max)


def check_thing_name(value: str) -> str | None:
    limit = rules()
    if not value:
        return "empty thing name"
    if len(value) > limit.thing_name_max:
        return f"name is {len(value)} characters long; AWS allows at most {limit.thing_name_max}"
    if not limit.thing_name_re.fullmatch(value):
        return f"name {value!r} has characters AWS does not allow (allowed: a-z A-Z 0-9 : _ -)"
    return None


def check_role_arn(value: str) -> str | None:
    limit = rules()
    fits = limit.role_arn_min <= len(value) <= limit.role_arn_max
    if not fits or not ROLE_ARN_RE.fullmatch(value):
        hint = " (replace the manual's placeholder)" if "<" in value or ">" in value else ""
        return (
            f"{excerpt(value)!r} is not an IAM role ARN like "
            f"arn:aws:iam::123456789012:role/your_ota_role{hint}"
        )
    return None


def check_region(value: str) -> str | None:
    if not REGION_RE.fullmatch(value):
        return f"{excerpt(value)!r} is not an AWS region name like us-east-1"
    return None


def check_bucket(value: str) -> str | None:
    """S3 general-purpose bucket naming rules."""
    if not 3 <= len(value) <= 63:
        return f"bucket name {excerpt(value)!r} must be 3 to 63 characters long"
    if not BUCKET_RE.fullmatch(value):
        return (
            f"bucket name {value!r} may hold only lowercase letters, digits, '.' and '-', "
            "and must begin and end with a letter or digit"
        )
    if ".." in value:
        return f"bucket name {value!r} must not contain two adjacent periods"
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        pass
    else:
        return f"bucket name {value!r} must not look like an IP address"
    if value.startswith(_BUCKET_BAD_PREFIXES) or value.endswith(_BUCKET_BAD_SUFFIXES):
        return f"bucket name {value!r} uses a prefix or suffix S3 reserves"
    return None


def check_description(value: str) -> str | None:
    most = rules().description_max
    if len(value) > most:
        return f"is {len(value)} characters long; AWS allows at most {most}"
    if not value or _CONTROL_RE.search(value):
        return "must be non-empty text without control characters"
    return None


def check_int_range(value: int, low: int | None, high: int | None) -> str | None:
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            return f"{value} is below the minimum {low}"
        if low is None:
            return f"{value} is above the maximum {high}"
        return f"{value} is out of range {low}-{high}"
    return None


def decimal_places(text: str) -> int:
    """Digits after the decimal point of a number's shortest form ("2.00" -> 0, "1.55" -> 2)."""
    try:
        d = Decimal(text.strip()).normalize()
    except InvalidOperation as err:
        raise ValueError(f"{excerpt(text)!r} is not a number") from err
    exponent = d.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
