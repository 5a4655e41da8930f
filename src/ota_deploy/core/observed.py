"""What the tool shows where AWS has no status to give: the monitor's two pseudo statuses.

AWS's vocabulary (``core.status``) names the statuses of executions and jobs that exist. A
monitor also looks at things the job has not reached yet (no execution) and at jobs that are
gone or not seen yet. Those are named here, once: the poller (``monitor.poller``) produces
them, the round judge, the live view and the report (report.json's ``"NONE"``) read them.

Data flow: DescribeJob / ListJobExecutionsForJob text -> ``core.status`` members, or these
where AWS said nothing -> ``ThingStatus`` / ``SeenJobStatus`` on a ``JobSnapshot``.
"""

from __future__ import annotations

from enum import StrEnum

from ota_deploy.core.status import ExecutionStatus, JobStatus, parse_job_status


class NoExecution(StrEnum):
    """A thing without an execution of the job (not reached yet, or its execution is gone)."""

    NONE = "NONE"


class JobUnseen(StrEnum):
    """A job the monitor cannot describe."""

    NOT_FOUND = "NOT_FOUND"  # DescribeJob answered ResourceNotFoundException
    UNKNOWN = "UNKNOWN"  # no answer yet (the first poll was throttled) or a status AWS added


ThingStatus = ExecutionStatus | NoExecution
"""A thing's status in a snapshot or a report: its execution's, or ``NONE``."""

SeenJobStatus = JobStatus | JobUnseen
"""A job's status as a poll saw it."""


def seen_job_status(text: object) -> SeenJobStatus:
    """DescribeJob's ``status`` as a member; ``UNKNOWN`` for a missing or unknown value."""
    return parse_job_status(text) or JobUnseen.UNKNOWN
