"""Plain records the local IoT stores: things, groups, streams, jobs, executions, certificates.

Records hold only JSON-friendly values (str, int, float, bool, lists, dicts; times are epoch
seconds as floats from the injected clock) so persistence is ``dataclasses.asdict`` and back.
Derived indexes (executions by status, pending executions per thing) live in the engine and are
rebuilt after loading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ota_deploy.local.iot.states import ExecStatus, JobStatus


@dataclass
class Thing:
    name: str
    thing_id: str
    arn: str
    created: float
    attributes: dict[str, str] = field(default_factory=dict)
    thing_type: str | None = None
    version: int = 1
    groups: dict[str, None] = field(default_factory=dict)  # ordered set of group names
    principals: dict[str, None] = field(default_factory=dict)


@dataclass
class ThingGroup:
    name: str
    group_id: str
    arn: str
    created: float
    parent: str | None = None
    description: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    version: int = 1
    members: dict[str, None] = field(default_factory=dict)  # thing names
    children: dict[str, None] = field(default_factory=dict)  # group names


@dataclass
class Stream:
    stream_id: str
    arn: str
    files: list[dict[str, Any]]
    created: float
    updated: float
    description: str | None = None
    role_arn: str | None = None
    version: int = 1


@dataclass
class Execution:
    job_id: str
    thing_name: str
    execution_number: int
    queued_at: float
    last_updated_at: float
    status: ExecStatus = ExecStatus.QUEUED
    status_details: dict[str, str] = field(default_factory=dict)
    started_at: float | None = None
    version_number: int = 1
    retry_attempt: int = 0
    retries_used: dict[str, int] = field(default_factory=dict)  # per retry failureType key
    notified: bool = False  # released by the rollout: visible to the device
    force_canceled: bool = False
    in_progress_deadline: float | None = None
    step_deadline: float | None = None

    @property
    def deadline(self) -> float | None:
        times = [t for t in (self.in_progress_deadline, self.step_deadline) if t is not None]
        return min(times) if times else None


@dataclass
class Job:
    job_id: str
    arn: str
    targets: list[str]
    document: str
    created_at: float
    last_updated_at: float
    target_selection: str = "SNAPSHOT"
    document_source: str | None = None
    description: str | None = None
    presigned_url_config: dict[str, Any] | None = None
    rollout_config: dict[str, Any] | None = None
    abort_config: dict[str, Any] | None = None
    timeout_config: dict[str, Any] | None = None
    retry_config: dict[str, Any] | None = None
    document_parameters: dict[str, str] | None = None
    status: JobStatus = JobStatus.IN_PROGRESS
    force_canceled: bool = False
    reason_code: str | None = None
    comment: str | None = None
    completed_at: float | None = None
    # executions per thing, oldest first; the last one is the current one
    executions: dict[str, list[Execution]] = field(default_factory=dict)
    # rollout state: things whose execution is not yet released (notified), FIFO
    unreleased: list[str] = field(default_factory=list)
    window_start: float = 0.0
    window_rate: float | None = None  # releases allowed in the current window; None = unlimited
    released_in_window: int = 0
    notified_count: int = 0
    succeeded_count: int = 0

    def current(self, thing: str) -> Execution | None:
        runs = self.executions.get(thing)
        return runs[-1] if runs else None


@dataclass
class Certificate:
    certificate_id: str
    arn: str
    pem: str
    status: str
    created: float
    updated: float
    not_before: float
    not_after: float
    things: dict[str, None] = field(default_factory=dict)


@dataclass
class Policy:
    name: str
    arn: str
    document: str
    created: float
    updated: float
    version_id: str = "1"
    targets: dict[str, None] = field(default_factory=dict)
