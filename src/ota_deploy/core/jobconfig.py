"""The job configurations a round's CreateJob carries, as plain records.

Data flow: ``config.loader`` reads the dev.ini sections ([PRESIGNED_URL_CONFIG],
[JOB_EXECUTE_ROLLOUT_CONFIG] with [EXP_RATE_CONFIG] and [INCREASE_CRITERIA],
[ABORT_CONFIG_TYPE_*], [TIMEOUT_CONFIG]) into these records, checked against AWS's limits
(``core.limits``); ``core.plan`` turns them into CreateJob's members. They live in ``core`` so
the plan needs nothing from ``config``.

CreateJob: https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html
"""

from __future__ import annotations

from dataclasses import dataclass

from ota_deploy.core.status import FailureType


@dataclass(frozen=True)
class PresignedUrlConfig:
    """[PRESIGNED_URL_CONFIG] -> ``presignedUrlConfig``."""

    role_arn: str  # roleArn
    expires_in_sec: int = 3600  # expiresInSec, 60-3600


@dataclass(frozen=True)
class RateIncreaseCriteria:
    """[INCREASE_CRITERIA]: exactly one of the two is set (AWS accepts one)."""

    number_of_notified_things: int | None = None
    number_of_succeeded_things: int | None = None


@dataclass(frozen=True)
class ExponentialRate:
    """[EXP_RATE_CONFIG] -> ``exponentialRate``."""

    base_rate_per_minute: int  # 1-1000
    increment_factor: float  # 1.1-5, one decimal
    rate_increase_criteria: RateIncreaseCriteria | None = None  # when useRateIncreaseCriteria


@dataclass(frozen=True)
class RolloutConfig:
    """[JOB_EXECUTE_ROLLOUT_CONFIG] -> ``jobExecutionsRolloutConfig``."""

    maximum_per_minute: int | None = None  # 1-1000
    exponential_rate: ExponentialRate | None = None  # when useExponentialRateCfg


@dataclass(frozen=True)
class AbortCriterion:
    """One [ABORT_CONFIG_TYPE_*] section -> one ``abortConfig.criteriaList`` item (CANCEL)."""

    failure_type: FailureType
    threshold_percentage: float  # 0 < x <= 100, two decimals
    min_number_of_executed_things: int  # >= 1


@dataclass(frozen=True)
class TimeoutConfig:
    """[TIMEOUT_CONFIG] -> ``timeoutConfig``."""

    in_progress_timeout_minutes: int  # 1-10080
