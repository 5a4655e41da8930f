"""Calling AWS: retry throttling with backoff + full jitter, turn every failure into one error.

Flow: an adapter (``iot_ops``, ``s3_ops``) hands ``call_aws`` a zero-argument callable and the
operation's name. botocore has already retried inside the callable (retry mode "adaptive" or
"standard", see ``aws.session``); when it still gives up on throttling or a transient 5xx, this
module waits ``uniform(0, min(cap, base * 2**attempt))`` seconds ("full jitter", see
https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/) and tries again, a
bounded number of times. A quota error (``LimitExceededException``: a count such as "10 jobs
deleting at once" or "100 targets") is never retried here: it is reported. Everything else becomes
``core.errors.AwsServiceError`` naming the operation and AWS's error code, so the CLI prints one
line and exits 3 — never a traceback, never credentials (botocore messages carry none).

The caller passes the wait (its run's ``TimeSource.sleep``; a ``FakeClock``'s in tests), so a
backoff happens in the run's time and never on a clock of its own; the random source is
injectable too.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from ota_deploy.aws.session import AwsClients, AwsTarget
from ota_deploy.core.errors import AwsServiceError

T = TypeVar("T")
log = logging.getLogger(__name__)

# Codes botocore and AWS use for "slow down" and for transient server trouble.
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "InternalFailureException",
        "InternalException",
        "InternalServerException",
        "InternalError",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        # S3: "A conflicting conditional operation is currently in progress against this
        # resource. Try again." (a bucket re-created right after it was deleted)
        # https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
        "OperationAborted",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """How many extra attempts after botocore gave up, and the backoff envelope (seconds)."""

    attempts: int = 5
    base_sec: float = 0.5
    cap_sec: float = 20.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter delay before retry number ``attempt`` (0-based)."""
        return rng.uniform(0.0, min(self.cap_sec, self.base_sec * (2.0**attempt)))


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", "Unknown"))


def retry_attempts(err: ClientError) -> int:
    """How many times botocore retried before this answer (its ``RetryAttempts``): more than 0
    means an earlier attempt may have reached the service and acted, its reply lost."""
    value = err.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
    return value if isinstance(value, int) else 0


def error_message(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Message", "")) or str(err)


def is_retryable(err: ClientError) -> bool:
    code = error_code(err)
    if code in THROTTLING_CODES or code in TRANSIENT_CODES:
        return True
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return isinstance(status, int) and status in (500, 502, 503, 504) and code != "LimitExceeded"


def to_service_error(err: Exception, operation: str) -> AwsServiceError:
    """One clear error for the CLI (exit 3)."""
    if isinstance(err, ClientError):
        code = error_code(err)
        hint = ""
        if code == "LimitExceededException":
            hint = " (an AWS quota was reached; it is not retried)"
        elif code == "ResourceAlreadyExistsException" and operation in (
            "CreateJob",
            "CreateStream",
        ):
            hint = (
                " (left over from an earlier run? set cleanUpCfg = True, run `ota-deploy "
                "cleanup`, or choose another jobId/streamId)"
            )
        return AwsServiceError(
            f"AWS {operation} failed: {code}: {error_message(err)}{hint}",
            code=code,
            operation=operation,
        )
    if isinstance(err, NoCredentialsError | PartialCredentialsError):
        return AwsServiceError(
            f"AWS {operation} failed: no usable AWS credentials found (configure the standard "
            "credential chain or pass --profile)",
            code="NoCredentials",
            operation=operation,
        )
    if isinstance(err, ProfileNotFound):
        return AwsServiceError(
            f"AWS profile {err.kwargs.get('profile')!r} not found in the AWS config files",
            code="ProfileNotFound",
            operation=operation,
        )
    if isinstance(err, NoRegionError):
        return AwsServiceError(
            f"AWS {operation} failed: no region (set region in dev.ini or pass --region)",
            code="NoRegion",
            operation=operation,
        )
    name = type(err).__name__
    return AwsServiceError(f"AWS {operation} failed: {name}: {err}", code=name, operation=operation)


def call_aws(
    fn: Callable[[], T],
    operation: str,
    *,
    sleep: Callable[[float], None],
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
    passthrough: frozenset[str] = frozenset(),
) -> T:
    """Run ``fn`` with throttling retries (waiting with ``sleep``); raise ``AwsServiceError``.

    ``passthrough``: error codes the caller handles itself (e.g. ResourceNotFoundException for
    "already gone"); those ``ClientError``s are re-raised unchanged.
    """
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    attempt = 0
    while True:
        try:
            return fn()
        except ClientError as err:
            code = error_code(err)
            if code in passthrough:
                raise
            if is_retryable(err) and attempt < policy.attempts:
                pause = policy.delay(attempt, rng)
                log.debug("%s: %s, retry %d in %.2fs", operation, code, attempt + 1, pause)
                sleep(pause)
                attempt += 1
                continue
            raise to_service_error(err, operation) from None
        except BotoCoreError as err:
            raise to_service_error(err, operation) from None


def open_clients(target: AwsTarget) -> AwsClients:
    """``AwsClients(target)`` with a clear error for a missing profile or a broken config."""
    try:
        return AwsClients(target)
    except BotoCoreError as err:
        raise to_service_error(err, "session setup") from None
