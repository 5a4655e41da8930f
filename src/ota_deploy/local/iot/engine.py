"""The jobs engine: job and execution records, and every rule that changes them.

Data flow: control-plane and data-plane operations (``jobs_api``, ``jobs_data``) call the
methods here; each change goes through :meth:`JobsEngine._transition`, which checks the ONE
transition table (``states``), keeps the indexes (current executions by job and status, visible
pending executions per thing), arms or clears deadlines in a heap (``timers``) and applies the
follow-up rules (retry, abort, SNAPSHOT completion, events). Things whose pending list changed
are marked dirty; :meth:`flush` (called after every operation and tick) sends ``notify`` /
``notify-next``. :meth:`tick` applies what time makes due: rollout releases, timeouts and
deletion progress; with nothing due it is O(1).

Rules and their AWS pages:
- rollout: ``rollout.py``; abort: https://docs.aws.amazon.com/iot/latest/developerguide/jobs-configurations-details.html
  (checked once ``minNumberOfExecutedThings`` executions are terminal; at or over
  ``thresholdPercentage`` of those of ``failureType`` the job is CANCELED, QUEUED executions
  are canceled, IN_PROGRESS ones left to finish, per DESIGN.md).
- timeouts: https://docs.aws.amazon.com/iot/latest/apireference/API_TimeoutConfig.html and
  ``stepTimeoutInMinutes`` in https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_UpdateJobExecution.html
  (a new step timer replaces the previous one, -1 clears it, never beyond the in-progress deadline).
- retries: https://docs.aws.amazon.com/iot/latest/apireference/API_RetryCriteria.html (FAILED /
  TIMED_OUT / ALL; a retry is a new executionNumber QUEUED again; retries happen before the
  abort check, so a failure counts for abort once its retries are used up).
Cancel, deletion and registry-driven changes live in ``lifecycle.py`` and use the same
``transition`` and indexes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ota_deploy.local.contracts import AwsError
from ota_deploy.local.iot import lifecycle, rollout
from ota_deploy.local.iot.errors import error, not_found
from ota_deploy.local.iot.notifications import Notifier
from ota_deploy.local.iot.records import Execution, Job
from ota_deploy.local.iot.registry import Registry
from ota_deploy.local.iot.states import (
    PENDING,
    TERMINAL,
    Actor,
    ExecStatus,
    JobStatus,
    check_execution,
    check_job,
)
from ota_deploy.local.iot.timers import Timers

EXECUTED = (ExecStatus.SUCCEEDED, ExecStatus.FAILED, ExecStatus.REJECTED, ExecStatus.TIMED_OUT)
FAILURE_TYPES: dict[str, tuple[ExecStatus, ...]] = {
    "FAILED": (ExecStatus.FAILED,),
    "REJECTED": (ExecStatus.REJECTED,),
    "TIMED_OUT": (ExecStatus.TIMED_OUT,),
    "ALL": (ExecStatus.FAILED, ExecStatus.REJECTED, ExecStatus.TIMED_OUT),
}


def execution_state(e: Execution) -> dict[str, Any]:
    return {
        "status": e.status.value,
        "statusDetails": dict(e.status_details),
        "versionNumber": e.version_number,
    }


class JobsEngine:
    def __init__(
        self,
        *,
        now: Callable[[], float],
        registry: Registry,
        notifier: Notifier,
        device_document: Callable[[Job], str],
    ) -> None:
        self.now = now
        self.registry = registry
        self.notifier = notifier
        self.device_document = device_document
        self.jobs: dict[str, Job] = {}
        self.by_status: dict[str, dict[ExecStatus, dict[str, None]]] = {}
        self.pending: dict[str, dict[str, Execution]] = {}
        self.timers = Timers()
        self.deleting: dict[str, None] = {}
        self._dirty: set[str] = set()
        self._seen_keys: dict[str, frozenset[tuple[str, int]]] = {}
        self._seen_head: dict[str, tuple[str, int]] = {}

    # ---- lookups ----------
    def job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            not_found(f"Job {job_id} cannot be found.")
        return job

    def counts(self, job: Job) -> dict[ExecStatus, int]:
        return {s: len(things) for s, things in self.by_status.get(job.job_id, {}).items()}

    def things_with(self, job: Job, status: ExecStatus | None) -> list[str]:
        index = self.by_status.get(job.job_id, {})
        if status is not None:
            return list(index.get(status, {}))
        return list(job.executions)

    def next_pending(self, thing: str) -> Execution | None:
        runs = self.pending.get(thing)
        if not runs:
            return None
        return min(runs.values(), key=_queue_order)

    def pending_of(self, thing: str) -> list[Execution]:
        return sorted(self.pending.get(thing, {}).values(), key=_queue_order)

    # ---- index upkeep ----------
    def index(self, job: Job, e: Execution, add: bool) -> None:
        bucket = self.by_status.setdefault(job.job_id, {}).setdefault(e.status, {})
        if add:
            bucket[e.thing_name] = None
        else:
            bucket.pop(e.thing_name, None)

    def sync_pending(self, job: Job, e: Execution) -> None:
        visible = (
            e.notified
            and e.status in PENDING
            and job.current(e.thing_name) is e
            and job.status is not JobStatus.DELETION_IN_PROGRESS
        )
        runs = self.pending.setdefault(e.thing_name, {})
        if visible:
            runs[job.job_id] = e
        elif runs.get(job.job_id) is e:
            del runs[job.job_id]
        if not runs:
            self.pending.pop(e.thing_name, None)
        self._dirty.add(e.thing_name)

    def _arm(self, e: Execution) -> None:
        key = ("timeout", e.job_id, e.thing_name, e.execution_number)
        deadline = e.deadline if e.status is ExecStatus.IN_PROGRESS else None
        if deadline is None:
            self.timers.cancel(key)
        else:
            self.timers.schedule(key, deadline)

    def rebuild_indexes(self) -> None:
        """Recompute derived state after loading persisted records."""
        self.by_status.clear()
        self.pending.clear()
        self.timers = Timers()
        self.deleting = {
            j.job_id: None for j in self.jobs.values() if j.status is JobStatus.DELETION_IN_PROGRESS
        }
        for job in self.jobs.values():
            self.by_status[job.job_id] = {}
            for runs in job.executions.values():
                e = runs[-1]
                self.index(job, e, True)
                self.sync_pending(job, e)
                self._arm(e)
            if job.unreleased and job.status is JobStatus.IN_PROGRESS:
                self.timers.schedule(("release", job.job_id), rollout.next_window(job))
        self._seen_keys = {
            t: frozenset((j, e.execution_number) for j, e in runs.items())
            for t, runs in self.pending.items()
        }
        self._seen_head = {}
        for t in self.pending:
            head = self.next_pending(t)
            if head is not None:
                self._seen_head[t] = (head.job_id, head.execution_number)
        self._dirty.clear()

    # ---- executions ----------
    def new_execution(self, job: Job, thing: str) -> Execution:
        now = self.now()
        # executionNumber counts this thing's executions of this job (1, then +1 per retry).
        # https://docs.aws.amazon.com/iot/latest/apireference/API_JobExecution.html
        runs = job.executions.get(thing)
        number = runs[-1].execution_number + 1 if runs else 1
        e = Execution(
            job_id=job.job_id,
            thing_name=thing,
            execution_number=number,
            queued_at=now,
            last_updated_at=now,
        )
        previous = job.current(thing)
        if previous is not None:
            self.index(job, previous, False)
        job.executions.setdefault(thing, []).append(e)
        self.index(job, e, True)
        if previous is not None:
            self.sync_pending(job, previous)
        return e

    def add_targets(self, job: Job, things: list[str]) -> None:
        """Queue executions for things that have none yet (or only a REMOVED one)."""
        for thing in things:
            cur = job.current(thing)
            if cur is not None and cur.status is not ExecStatus.REMOVED:
                continue
            self.new_execution(job, thing)
            job.unreleased.append(thing)
        self.release(job)
        self.check_completion(job)

    def release(self, job: Job) -> None:
        """Notify as many queued executions as the rollout allows now; re-arm for the rest."""
        key = ("release", job.job_id)
        if job.status is not JobStatus.IN_PROGRESS or not job.unreleased:
            self.timers.cancel(key)
            return
        rollout.advance(job, self.now())
        n = rollout.allowance(job)
        while n > 0 and job.unreleased:
            thing = job.unreleased.pop(0)
            e = job.current(thing)
            if e is None or e.status is not ExecStatus.QUEUED or e.notified:
                continue
            e.notified = True
            job.notified_count += 1
            job.released_in_window += 1
            n -= 1
            self.sync_pending(job, e)
        if job.unreleased:
            self.timers.schedule(key, rollout.next_window(job))
        else:
            self.timers.cancel(key)

    def transition(
        self,
        job: Job,
        e: Execution,
        target: ExecStatus,
        actor: Actor,
        *,
        force: bool = False,
    ) -> None:
        """The one way an execution changes state; applies every follow-up rule."""
        check_execution(e.status, target, actor, force=force)
        now = self.now()
        current = job.current(e.thing_name) is e
        if current:
            self.index(job, e, False)
        if target is ExecStatus.IN_PROGRESS and e.status is ExecStatus.QUEUED:
            e.started_at = now
            minutes = (job.timeout_config or {}).get("inProgressTimeoutInMinutes")
            if minutes:
                e.in_progress_deadline = now + float(minutes) * 60.0
        e.status = target
        e.version_number += 1
        e.last_updated_at = now
        job.last_updated_at = now
        if current:
            self.index(job, e, True)
        self.sync_pending(job, e)
        if target in TERMINAL:
            e.in_progress_deadline = e.step_deadline = None
        self._arm(e)
        if target not in TERMINAL:
            return
        self.notifier.execution_event(
            e, self.registry.arns.thing(e.thing_name), target.value.lower()
        )
        if target is ExecStatus.SUCCEEDED:
            job.succeeded_count += 1
        if current:
            self._maybe_retry(job, e)
            self._check_abort(job)
            self.check_completion(job)

    def set_step_timeout(self, job: Job, e: Execution, minutes: int | None) -> None:
        if minutes is None or e.status is not ExecStatus.IN_PROGRESS:
            return
        if minutes == -1:
            e.step_deadline = None
        else:
            step = self.now() + float(minutes) * 60.0
            cap = e.in_progress_deadline
            e.step_deadline = min(step, cap) if cap is not None else step
        self._arm(e)

    def _maybe_retry(self, job: Job, e: Execution) -> None:
        cfg = job.retry_config
        if not cfg or job.status is not JobStatus.IN_PROGRESS:
            return
        if e.status not in (ExecStatus.FAILED, ExecStatus.TIMED_OUT):
            return
        crits = cfg.get("criteriaList") or []
        crit = next((c for c in crits if c["failureType"] == e.status.value), None) or next(
            (c for c in crits if c["failureType"] == "ALL"), None
        )
        if crit is None:
            return
        key = crit["failureType"]
        used = e.retries_used.get(key, 0)
        if used >= int(crit["numberOfRetries"]):
            return
        retry = self.new_execution(job, e.thing_name)
        retry.retry_attempt = e.retry_attempt + 1
        retry.retries_used = {**e.retries_used, key: used + 1}
        retry.notified = True  # the thing was already released by the rollout
        self.sync_pending(job, retry)

    def _check_abort(self, job: Job) -> None:
        cfg = job.abort_config
        if not cfg or job.status is not JobStatus.IN_PROGRESS:
            return
        counts = self.counts(job)
        executed = sum(counts.get(s, 0) for s in EXECUTED)
        for crit in cfg.get("criteriaList") or []:
            if executed < int(crit["minNumberOfExecutedThings"]) or executed == 0:
                continue
            failures = sum(counts.get(s, 0) for s in FAILURE_TYPES[crit["failureType"]])
            if failures * 100.0 >= float(crit["thresholdPercentage"]) * executed:
                pct = round(failures * 100.0 / executed, 2)
                lifecycle.cancel(
                    self,
                    job,
                    force=False,
                    actor=Actor.SYSTEM,
                    reason_code=None,
                    comment=f"Job aborted: {pct}% of {executed} executed things "
                    f"ended {crit['failureType']} (threshold "
                    f"{crit['thresholdPercentage']}%).",
                )
                return

    def check_completion(self, job: Job) -> None:
        if job.target_selection != "SNAPSHOT" or job.status is not JobStatus.IN_PROGRESS:
            return
        counts = self.counts(job)
        if job.unreleased or counts.get(ExecStatus.QUEUED) or counts.get(ExecStatus.IN_PROGRESS):
            return
        check_job(job.status, JobStatus.COMPLETED, Actor.SYSTEM)
        job.status = JobStatus.COMPLETED
        job.completed_at = job.last_updated_at = self.now()
        self.notifier.job_event(job, "completed", self.counts(job))

    # ---- time ----------
    def tick(self) -> None:
        now = self.now()
        for key in list(self.timers.due(now)):
            assert isinstance(key, tuple)
            if key[0] == "release":
                job = self.jobs.get(key[1])
                if job is not None:
                    self.release(job)
            elif key[0] == "timeout":
                self._fire_timeout(key[1], key[2], key[3], now)
        for job_id in list(self.deleting):
            lifecycle.deletion_step(self, job_id)
        self.flush()

    def _fire_timeout(self, job_id: str, thing: str, number: int, now: float) -> None:
        job = self.jobs.get(job_id)
        if job is None or job.status is JobStatus.DELETION_IN_PROGRESS:
            return
        e = job.current(thing)
        if e is None or e.execution_number != number or e.status is not ExecStatus.IN_PROGRESS:
            return
        deadline = e.deadline
        if deadline is None:
            return
        if deadline > now:
            self._arm(e)
            return
        self.transition(job, e, ExecStatus.TIMED_OUT, Actor.SYSTEM)

    # ---- notifications ----------
    def flush(self) -> None:
        """Send notify / notify-next for every thing whose pending list or head changed."""
        dirty, self._dirty = self._dirty, set()
        for thing in sorted(dirty):
            runs = self.pending_of(thing)
            keys = frozenset((e.job_id, e.execution_number) for e in runs)
            if keys != self._seen_keys.get(thing, frozenset()):
                self.notifier.notify(thing, runs)
                if keys:
                    self._seen_keys[thing] = keys
                else:
                    self._seen_keys.pop(thing, None)
            head = runs[0] if runs else None
            head_key = (head.job_id, head.execution_number) if head else None
            if head_key != self._seen_head.get(thing):
                doc = None
                if head is not None:
                    doc = _as_object(self.device_document(self.jobs[head.job_id]))
                self.notifier.notify_next(thing, head, doc)
                if head_key:
                    self._seen_head[thing] = head_key
                else:
                    self._seen_head.pop(thing, None)

    def version_conflict(self, e: Execution, expected: int) -> AwsError:
        return error(
            "VersionConflictException",
            f"The expected version {expected} does not match the current version "
            f"{e.version_number} of the job execution.",
            executionState=execution_state(e),
        )


def _queue_order(e: Execution) -> tuple[int, float, int]:
    return (0 if e.status is ExecStatus.IN_PROGRESS else 1, e.queued_at, e.execution_number)


def _as_object(text: str) -> dict[str, Any]:
    import json

    value = json.loads(text)
    return value if isinstance(value, dict) else {"document": value}
