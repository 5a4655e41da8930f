"""The status vocabulary names exactly what botocore's ``iot`` model declares."""

from __future__ import annotations

from ota_deploy.core import aws_model
from ota_deploy.core.status import (
    EXECUTED,
    FAILED_EXECUTION,
    PENDING_EXECUTION,
    TERMINAL_EXECUTION,
    ExecutionStatus,
    FailureType,
    JobStatus,
    TargetSelection,
    parse_execution_status,
    parse_job_status,
)


def test_enums_match_the_model() -> None:
    pairs = [
        (ExecutionStatus, "JobExecutionStatus"),
        (JobStatus, "JobStatus"),
        (TargetSelection, "TargetSelection"),
        (FailureType, "JobExecutionFailureType"),
    ]
    for enum, shape in pairs:
        assert {m.value for m in enum} == set(aws_model.shape(shape).enum), shape


def test_sets_partition_the_execution_statuses() -> None:
    assert set(ExecutionStatus) == PENDING_EXECUTION | TERMINAL_EXECUTION
    assert not PENDING_EXECUTION & TERMINAL_EXECUTION
    assert FAILED_EXECUTION < EXECUTED < TERMINAL_EXECUTION


def test_parse_is_total() -> None:
    assert parse_execution_status("SUCCEEDED") is ExecutionStatus.SUCCEEDED
    assert parse_execution_status("PAUSED") is None
    assert parse_job_status(None) is None
    assert parse_job_status("COMPLETED") is JobStatus.COMPLETED


def test_error_statuses_come_from_the_model() -> None:
    assert aws_model.error_status("ResourceNotFoundException") == 404
    assert aws_model.error_status("LimitExceededException") == 410
    assert aws_model.error_status("NoSuchCodeAnywhere") == 400
