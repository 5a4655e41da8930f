"""The jobs engine's derived indexes: which things' executions are in which status, and which
executions each thing may see (its pending list).

Data flow: the engine is the only writer. Around every status change of a thing's current
execution it calls :meth:`ExecutionIndex.move` (or :meth:`add` / :meth:`remove` when the
current execution is replaced or dropped), and after anything that may change what a device
sees (a status, a release by the rollout, the job's own status) :meth:`sync`, which also marks
the thing for notification; the engine's ``flush`` takes the marked things with
:meth:`take_dirty`. Readers (DescribeJob counts, listings filtered by status, the jobs data
plane) get O(1)/O(page) answers instead of scanning every execution. Nothing here is saved:
:meth:`rebuild` recomputes it all from the job records after a load.
"""

from __future__ import annotations

from collections.abc import Iterable

from ota_deploy.core.status import PENDING_EXECUTION, ExecutionStatus, JobStatus
from ota_deploy.local.iot.records import Execution, Job


def queue_order(e: Execution) -> tuple[int, float, int]:
    """A thing's pending executions: IN_PROGRESS first, then the oldest queued first."""
    return (0 if e.status is ExecutionStatus.IN_PROGRESS else 1, e.queued_at, e.execution_number)


def visible(job: Job, e: Execution) -> bool:
    """Whether the device sees ``e``: released by the rollout, pending, its thing's current
    execution, and of a job that is not being deleted."""
    return (
        e.notified
        and e.status in PENDING_EXECUTION
        and job.current(e.thing_name) is e
        and job.status is not JobStatus.DELETION_IN_PROGRESS
    )


class ExecutionIndex:
    def __init__(self) -> None:
        # job id -> status -> things whose current execution has it (an ordered set)
        self._by_status: dict[str, dict[ExecutionStatus, dict[str, None]]] = {}
        # thing -> job id -> the execution the device sees
        self._pending: dict[str, dict[str, Execution]] = {}
        self._dirty: set[str] = set()

    # ---- by status ----------
    def add(self, e: Execution) -> None:
        """Index ``e`` (its thing's current execution) under its status."""
        self._by_status.setdefault(e.job_id, {}).setdefault(e.status, {})[e.thing_name] = None

    def remove(self, e: Execution) -> None:
        bucket = self._by_status.get(e.job_id, {}).get(e.status)
        if bucket is not None:
            bucket.pop(e.thing_name, None)

    def move(self, e: Execution, previous: ExecutionStatus) -> None:
        """``e`` changed status from ``previous``: re-index it under its new one."""
        bucket = self._by_status.get(e.job_id, {}).get(previous)
        if bucket is not None:
            bucket.pop(e.thing_name, None)
        self.add(e)

    def counts(self, job_id: str) -> dict[ExecutionStatus, int]:
        return {s: len(things) for s, things in self._by_status.get(job_id, {}).items()}

    def things_with(self, job_id: str, status: ExecutionStatus) -> list[str]:
        return list(self._by_status.get(job_id, {}).get(status, {}))

    def forget(self, job_id: str) -> None:
        """Drop a deleted job's (by then empty) status index."""
        self._by_status.pop(job_id, None)

    # ---- what each thing sees ----------
    def sync(self, job: Job, e: Execution) -> None:
        """Show or hide ``e`` in its thing's pending list as :func:`visible` says; mark the
        thing for notification."""
        runs = self._pending.setdefault(e.thing_name, {})
        if visible(job, e):
            runs[job.job_id] = e
        elif runs.get(job.job_id) is e:
            del runs[job.job_id]
        if not runs:
            self._pending.pop(e.thing_name, None)
        self._dirty.add(e.thing_name)

    def pending_of(self, thing: str) -> list[Execution]:
        """What ``thing`` sees, in queue order."""
        return sorted(self._pending.get(thing, {}).values(), key=queue_order)

    def next_pending(self, thing: str) -> Execution | None:
        runs = self._pending.get(thing)
        if not runs:
            return None
        return min(runs.values(), key=queue_order)

    def pending_things(self) -> list[str]:
        """Every thing that sees at least one execution."""
        return list(self._pending)

    def has_dirty(self) -> bool:
        return bool(self._dirty)

    def take_dirty(self) -> set[str]:
        """The things whose pending list may have changed since the last call."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    # ---- after a load ----------
    def rebuild(self, jobs: Iterable[Job]) -> None:
        """Recompute everything from the job records (nothing is marked dirty)."""
        self._by_status.clear()
        self._pending.clear()
        for job in jobs:
            self._by_status[job.job_id] = {}
            for runs in job.executions.values():
                self.add(runs[-1])
                self.sync(job, runs[-1])
        self._dirty.clear()
