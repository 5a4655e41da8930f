"""AWS's limits on the values this tool sends, checked before any call.

Every check here is a pure function returning ``None`` when the value is fine or a short
reason (a sentence fragment) when AWS would reject it. The config loader and the thing-list
parser turn a reason into ``InputError`` naming the file/section/key; keeping the rules in one
place means the dry-run plan, the loader and the tests agree with each other.

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
from decimal import Decimal, InvalidOperation

JOB_ID_RE = re.compile(r"[a-zA-Z0-9_-]+")
JOB_ID_MAX = 64
STREAM_ID_RE = re.compile(r"[a-zA-Z0-9_-]+")
STREAM_ID_MAX = 128
THING_NAME_RE = re.compile(r"[a-zA-Z0-9:_-]+")  # also thing-group names
THING_NAME_MAX = 128
FILE_ID_MIN, FILE_ID_MAX = 0, 255
RATE_MIN, RATE_MAX = 1, 1000  # maximumPerMinute, baseRatePerMinute
INCREMENT_FACTOR_MIN, INCREMENT_FACTOR_MAX = Decimal("1.1"), Decimal("5")
THRESHOLD_MAX = Decimal("100")
EXPIRES_MIN, EXPIRES_MAX = 60, 3600
IN_PROGRESS_TIMEOUT_MIN, IN_PROGRESS_TIMEOUT_MAX = 1, 10080
DESCRIPTION_MAX = 2028
JOB_DOCUMENT_MAX = 32768  # bytes, inline ``document``
DOCUMENT_SOURCE_MAX = 1350
ROLE_ARN_MIN, ROLE_ARN_MAX = 20, 2048
MAX_TARGETS_PER_JOB = 100
TARGET_SELECTIONS = ("SNAPSHOT", "CONTINUOUS")
FAILURE_TYPES = ("FAILED", "REJECTED", "TIMED_OUT", "ALL")

ROLE_ARN_RE = re.compile(r"arn:aws[-a-z]*:iam::\d{12}:role/[\w+=,.@/-]+")
REGION_RE = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
ACCOUNT_RE = re.compile(r"\d{12}")
BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
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


def check_thing_name(value: str) -> str | None:
    if not value:
        return "empty thing name"
    if len(value) > THING_NAME_MAX:
        return f"name is {len(value)} characters long; AWS allows at most {THING_NAME_MAX}"
    if not THING_NAME_RE.fullmatch(value):
        return f"name {value!r} has characters AWS does not allow (allowed: a-z A-Z 0-9 : _ -)"
    return None


def check_role_arn(value: str) -> str | None:
    if not ROLE_ARN_MIN <= len(value) <= ROLE_ARN_MAX or not ROLE_ARN_RE.fullmatch(value):
        hint = " (replace the manual's placeholder)" if "<" in value or ">" in value else ""
        return (
            f"{value!r} is not an IAM role ARN like "
            f"arn:aws:iam::123456789012:role/your_ota_role{hint}"
        )
    return None


def check_region(value: str) -> str | None:
    if not REGION_RE.fullmatch(value):
        return f"{value!r} is not an AWS region name like us-east-1"
    return None


def check_bucket(value: str) -> str | None:
    """S3 general-purpose bucket naming rules."""
    if not 3 <= len(value) <= 63:
        return f"bucket name {value!r} must be 3 to 63 characters long"
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
    if len(value) > DESCRIPTION_MAX:
        return f"is {len(value)} characters long; AWS allows at most {DESCRIPTION_MAX}"
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
        raise ValueError(f"{text!r} is not a number") from err
    exponent = d.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
