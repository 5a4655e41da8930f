"""What one look at a job shows: the job, counts by execution status, each thing's state.

Produced by ``monitor.poller.JobPoller`` (DescribeJob + ListJobExecutionsForJob by status),
enriched by the MQTT event watcher (download progress), consumed by the live view's pure
``render(snapshot)``, by ``monitor --json`` and by the round runner when it judges a round.
Statuses are ``core.status`` members, or ``core.observed``'s NONE / NOT_FOUND / UNKNOWN where
AWS has none to give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ota_deploy.core.observed import SeenJobStatus, ThingStatus
from ota_deploy.core.status import TERMINAL_EXECUTION, ExecutionStatus


@dataclass
class ThingState:
    thing_name: str
    status: ThingStatus  # the execution's status, or NONE before the job reached the thing
    status_details: dict[str, str] = field(default_factory=dict)
    queued_at: float | None = None
    started_at: float | None = None
    last_updated_at: float | None = None
    execution_number: int | None = None
    # From MQTT observation (optional): bytes/blocks received so far and when last seen moving.
    blocks_received: int | None = None
    last_activity_at: float | None = None


@dataclass
class JobSnapshot:
    job_id: str
    job_status: SeenJobStatus  # the job's status, or NOT_FOUND / UNKNOWN
    taken_at: float
    counts: dict[ExecutionStatus, int] = field(default_factory=dict)
    things: dict[str, ThingState] = field(default_factory=dict)
    target_selection: str | None = None
    created_at: float | None = None
    completed_at: float | None = None
    process_details: dict[str, Any] = field(default_factory=dict)  # DescribeJob's counts
    round_number: int | None = None
    rounds: int | None = None
    api_calls: int = 0  # calls this snapshot cost

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def all_terminal(self) -> bool:
        return all(t.status in TERMINAL_EXECUTION for t in self.things.values())

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "job": {
                "jobId": self.job_id,
                "status": self.job_status,
                "targetSelection": self.target_selection,
                "createdAt": self.created_at,
                "completedAt": self.completed_at,
                "jobProcessDetails": self.process_details,
            },
            "takenAt": self.taken_at,
            "counts": dict(self.counts),
            "things": {
                name: {
                    "status": t.status,
                    "statusDetails": dict(t.status_details),
                    "queuedAt": t.queued_at,
                    "startedAt": t.started_at,
                    "lastUpdatedAt": t.last_updated_at,
                    "executionNumber": t.execution_number,
                    "blocksReceived": t.blocks_received,
                }
                for name, t in sorted(self.things.items())
            },
            "apiCalls": self.api_calls,
        }
