"""A job's configurations (rollout, abort, timeout, retry, presigned URLs) as typed records.

One set of records for both ends of CreateJob:

- the tool: ``config.loader`` reads dev.ini's [PRESIGNED_URL_CONFIG],
  [JOB_EXECUTE_ROLLOUT_CONFIG] (+ [EXP_RATE_CONFIG], [INCREASE_CRITERIA]), [ABORT_CONFIG_TYPE_*]
  and [TIMEOUT_CONFIG] into them; ``core.plan`` sends their ``to_wire()`` in CreateJob;
- the local AWS IoT: CreateJob / UpdateJob params --``JobConfigs.from_params``--> frozen
  records kept on the ``Job`` --> read by the engine (``rollout``, retry, abort, timeout
  rules) and the device document (presigned URLs); DescribeJob and the saved state get them
  back as botocore-shaped dicts through ``to_params`` / ``to_wire``, which give back exactly
  the dict that was parsed (numbers keep their type: a ``thresholdPercentage`` of 60 stays 60,
  not 60.0).

The member names and types are botocore's ``iot`` model's (``JobExecutionsRolloutConfig``,
``ExponentialRolloutRate``, ``RateIncreaseCriteria``, ``AbortConfig``/``AbortCriteria``,
``TimeoutConfig``, ``JobExecutionsRetryConfig``/``RetryCriteria``, ``PresignedUrlConfig``):
https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html . The HTTP front end
has already checked them against the model; a dict that still misses a required member (a
caller that skipped that check) is refused with ``ConfigError`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ota_deploy.core.status import (
    EXECUTED,
    FAILURE_TYPE_STATUSES,
    ExecutionStatus,
    FailureType,
)

ABORT_ACTION_CANCEL = "CANCEL"  # AbortAction: the only action AWS defines


class ConfigError(ValueError):
    """A configuration dict that is not what the model describes (names the member)."""


def _need(d: Mapping[str, Any], member: str, where: str) -> Any:
    value = d.get(member)
    if value is None:
        raise ConfigError(f"{where}.{member} is required.")
    return value


def _put(out: dict[str, Any], member: str, value: Any) -> None:
    if value is not None:
        out[member] = value


@dataclass(frozen=True)
class RateIncrease:
    """``rateIncreaseCriteria``: raise the rate each time this many were notified / succeeded."""

    notified_things: int | None = None
    succeeded_things: int | None = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> RateIncrease:
        return cls(d.get("numberOfNotifiedThings"), d.get("numberOfSucceededThings"))

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "numberOfNotifiedThings", self.notified_things)
        _put(out, "numberOfSucceededThings", self.succeeded_things)
        return out


@dataclass(frozen=True)
class ExponentialRate:
    """``exponentialRate``: start at ``base_per_minute``, multiply by ``factor`` per increase."""

    base_per_minute: int
    factor: float
    increase: RateIncrease

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ExponentialRate:
        where = "jobExecutionsRolloutConfig.exponentialRate"
        return cls(
            _need(d, "baseRatePerMinute", where),
            _need(d, "incrementFactor", where),
            RateIncrease.from_wire(_need(d, "rateIncreaseCriteria", where)),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "baseRatePerMinute": self.base_per_minute,
            "incrementFactor": self.factor,
            "rateIncreaseCriteria": self.increase.to_wire(),
        }


@dataclass(frozen=True)
class RolloutConfig:
    """``jobExecutionsRolloutConfig``: how fast executions are released (see ``rollout.py``)."""

    maximum_per_minute: int | None = None
    exponential: ExponentialRate | None = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> RolloutConfig:
        exp = d.get("exponentialRate")
        return cls(
            d.get("maximumPerMinute"), ExponentialRate.from_wire(exp) if exp is not None else None
        )

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "maximumPerMinute", self.maximum_per_minute)
        if self.exponential is not None:
            out["exponentialRate"] = self.exponential.to_wire()
        return out


@dataclass(frozen=True)
class AbortCriterion:
    """Cancel the job once ``threshold_percentage`` of at least ``min_executed_things`` executed
    executions ended ``failure_type``."""

    failure_type: FailureType
    action: str
    threshold_percentage: float
    min_executed_things: int

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> AbortCriterion:
        where = "abortConfig.criteriaList[]"
        return cls(
            FailureType(_need(d, "failureType", where)),
            _need(d, "action", where),
            _need(d, "thresholdPercentage", where),
            _need(d, "minNumberOfExecutedThings", where),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "failureType": self.failure_type.value,
            "action": self.action,
            "thresholdPercentage": self.threshold_percentage,
            "minNumberOfExecutedThings": self.min_executed_things,
        }


@dataclass(frozen=True)
class AbortConfig:
    criteria: tuple[AbortCriterion, ...]

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> AbortConfig:
        crits = _need(d, "criteriaList", "abortConfig")
        return cls(tuple(AbortCriterion.from_wire(c) for c in crits))

    def to_wire(self) -> dict[str, Any]:
        return {"criteriaList": [c.to_wire() for c in self.criteria]}

    def first_met(
        self, counts: Mapping[ExecutionStatus, int]
    ) -> tuple[AbortCriterion, int, int] | None:
        """The first criterion the execution ``counts`` meet, with its failure count and the
        executed count, or None: a criterion counts once ``minNumberOfExecutedThings`` ran to an
        end, and is met at or over ``thresholdPercentage`` of those ending ``failureType``
        (https://docs.aws.amazon.com/iot/latest/developerguide/jobs-configurations-details.html)."""
        executed = sum(counts.get(s, 0) for s in EXECUTED)
        for crit in self.criteria:
            if executed < crit.min_executed_things or executed == 0:
                continue
            failures = sum(counts.get(s, 0) for s in FAILURE_TYPE_STATUSES[crit.failure_type])
            if failures * 100.0 >= float(crit.threshold_percentage) * executed:
                return crit, failures, executed
        return None


@dataclass(frozen=True)
class TimeoutConfig:
    """``timeoutConfig``: an IN_PROGRESS execution times out after this many minutes."""

    in_progress_minutes: int | None = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> TimeoutConfig:
        return cls(d.get("inProgressTimeoutInMinutes"))

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "inProgressTimeoutInMinutes", self.in_progress_minutes)
        return out


@dataclass(frozen=True)
class RetryCriterion:
    failure_type: FailureType  # FAILED, TIMED_OUT or ALL (RetryableFailureType)
    retries: int

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> RetryCriterion:
        where = "jobExecutionsRetryConfig.criteriaList[]"
        return cls(FailureType(_need(d, "failureType", where)), _need(d, "numberOfRetries", where))

    def to_wire(self) -> dict[str, Any]:
        return {"failureType": self.failure_type.value, "numberOfRetries": self.retries}


@dataclass(frozen=True)
class RetryConfig:
    criteria: tuple[RetryCriterion, ...]

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> RetryConfig:
        crits = _need(d, "criteriaList", "jobExecutionsRetryConfig")
        return cls(tuple(RetryCriterion.from_wire(c) for c in crits))

    def to_wire(self) -> dict[str, Any]:
        return {"criteriaList": [c.to_wire() for c in self.criteria]}

    def criterion_for(self, status: ExecutionStatus) -> RetryCriterion | None:
        """The criterion an execution that ended ``status`` retries under: the one naming that
        failure type, else the ALL one (https://docs.aws.amazon.com/iot/latest/apireference/API_RetryCriteria.html)."""
        exact = next((c for c in self.criteria if c.failure_type.value == status.value), None)
        return exact or next((c for c in self.criteria if c.failure_type is FailureType.ALL), None)


@dataclass(frozen=True)
class PresignedUrlConfig:
    """``presignedUrlConfig``: how long the URLs devices get in their job document last."""

    role_arn: str | None = None
    expires_in_sec: int | None = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> PresignedUrlConfig:
        return cls(d.get("roleArn"), d.get("expiresInSec"))

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "roleArn", self.role_arn)
        _put(out, "expiresInSec", self.expires_in_sec)
        return out

    @property
    def empty(self) -> bool:
        """Neither member given: devices get the document as it is, as with no config."""
        return self.role_arn is None and self.expires_in_sec is None


# botocore member -> (JobConfigs field, parser)
_MEMBERS: dict[str, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {
    "presignedUrlConfig": ("presigned_url", PresignedUrlConfig.from_wire),
    "jobExecutionsRolloutConfig": ("rollout", RolloutConfig.from_wire),
    "abortConfig": ("abort", AbortConfig.from_wire),
    "timeoutConfig": ("timeout", TimeoutConfig.from_wire),
    "jobExecutionsRetryConfig": ("retry", RetryConfig.from_wire),
}


@dataclass(frozen=True)
class JobConfigs:
    """The five configurations of one job; None where the job was given none."""

    presigned_url: PresignedUrlConfig | None = None
    rollout: RolloutConfig | None = None
    abort: AbortConfig | None = None
    timeout: TimeoutConfig | None = None
    retry: RetryConfig | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> JobConfigs:
        """Parse the members ``params`` gives (botocore names); ConfigError names a bad one."""
        parsed: dict[str, Any] = {}
        for member, (name, parse) in _MEMBERS.items():
            wire = params.get(member)
            if wire is None:
                continue
            if not isinstance(wire, Mapping):
                raise ConfigError(f"{member} must be a structure.")
            try:
                parsed[name] = parse(wire)
            except ConfigError:
                raise
            except (TypeError, AttributeError) as exc:
                raise ConfigError(f"{member} is malformed: {exc}") from exc
            except ValueError as exc:  # an unknown failureType
                raise ConfigError(f"{member}: {exc}") from exc
        return cls(**parsed)

    def to_params(self) -> dict[str, dict[str, Any]]:
        """The given configurations as botocore-shaped dicts, by member name."""
        out: dict[str, dict[str, Any]] = {}
        for member, (name, _) in _MEMBERS.items():
            record = getattr(self, name)
            if record is not None:
                out[member] = record.to_wire()
        return out

    def updated(self, newer: JobConfigs) -> JobConfigs:
        """These configurations with every one ``newer`` gives replaced (UpdateJob)."""
        changes = {name: getattr(newer, name) for name, _ in _MEMBERS.values()}
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
