"""The jobs engine: job and execution records, and every rule that changes them.

Data flow: control-plane and data-plane operations (``jobs_api``, ``jobs_data``) and the
lifecycle rules (``lifecycle``: cancel, deletion, DeleteJobExecution, registry membership) call
the public methods here. Exactly two methods check AND apply a state change, each against the
ONE transition table (``states``):

- :meth:`JobsEngine.transition` for executions (including the pseudo target DELETED, the
  record's removal). It keeps the derived indexes (``index.ExecutionIndex``), arms or clears
  deadlines in a heap (``timers``) and applies the follow-up rules (retry, abort, SNAPSHOT
  completion, events);
- :meth:`JobsEngine.set_job_status` for jobs, with the bookkeeping every job change needs (its
  timestamps, stopping the rollout, hiding the executions of a job being deleted, removing the
  record at the end of a deletion).

Things whose pending list changed are marked dirty in the index; :meth:`flush` (called after
every operation and tick) sends ``notify`` / ``notify-next`` through ``notifications.Announcer``.
:meth:`tick` applies what time makes due: rollout releases, timeouts and deletion progress; with
nothing due it is O(1).

Rules and their AWS pages:
- rollout: ``rollout.py``; abort: ``job_config.AbortConfig.first_met`` decides, the job is then
  CANCELED, QUEUED executions are canceled, IN_PROGRESS ones left to finish (DESIGN.md).
- timeouts: https://docs.aws.amazon.com/iot/latest/apireference/API_TimeoutConfig.html and
  ``stepTimeoutInMinutes`` in https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_UpdateJobExecution.html
  (a new step timer replaces the previous one, -1 clears it, never beyond the in-progress deadline).
- retries: https://docs.aws.amazon.com/iot/latest/apireference/API_RetryCriteria.html (FAILED /
  TIMED_OUT / ALL; a retry is a new executionNumber QUEUED again; retries happen before the
  abort check, so a failure counts for abort once its retries are used up).
- deletion: https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJob.html (at most
  ``jobs_deleting_max`` jobs DELETION_IN_PROGRESS at once, LimitExceededException; the
  executions go a batch per tick, then the record).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ota_deploy.core.aws_model import documented
from ota_deploy.core.status import (
    FINISHED_JOB,
    TERMINAL_EXECUTION,
    ExecutionStatus,
    JobStatus,
    TargetSelection,
    TimerKind,
)
from ota_deploy.local.iot import lifecycle, rollout
from ota_deploy.local.iot.errors import limit_exceeded, not_found
from ota_deploy.local.iot.index import ExecutionIndex
from ota_deploy.local.iot.notifications import Announcer, Notifier
from ota_deploy.local.iot.records import Execution, Job
from ota_deploy.local.iot.registry import Registry
from ota_deploy.local.iot.states import (
    DELETED,
    Actor,
    ExecutionTarget,
    JobTarget,
    check_execution,
    check_job,
)
from ota_deploy.local.iot.timers import Timers

DELETE_BATCH = 100  # executions removed per tick while a job is DELETION_IN_PROGRESS
_IN_PROGRESS, _QUEUED = ExecutionStatus.IN_PROGRESS, ExecutionStatus.QUEUED


def _release_key(job_id: str) -> tuple[TimerKind, str]:
    return (TimerKind.RELEASE, job_id)


def _timeout_key(e: Execution) -> tuple[TimerKind, str, str, int]:
    return (TimerKind.TIMEOUT, e.job_id, e.thing_name, e.execution_number)


class JobsEngine:
    def __init__(
        self,
        *,
        now: Callable[[], float],
        registry: Registry,
        notifier: Notifier,
        device_document: Callable[[Job], str],
        jobs: dict[str, Job],
    ) -> None:
        self.now = now
        self.registry = registry
        self.notifier = notifier
        self.device_document = device_document
        self.jobs = jobs  # the job records (a table of the service's Records)
        self.index = ExecutionIndex()
        self.timers = Timers()
        self._deleting: dict[str, None] = {}  # jobs DELETION_IN_PROGRESS, oldest first
        self._announcer = Announcer(notifier, self._head_document)

    # ---- lookups ----------
    def job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            not_found(f"Job {job_id} cannot be found.")
        return job

    def counts(self, job: Job) -> dict[ExecutionStatus, int]:
        return self.index.counts(job.job_id)

    def things_with(self, job: Job, status: ExecutionStatus | None) -> list[str]:
        """Things whose current execution of ``job`` has ``status`` (None: every thing)."""
        if status is None:
            return list(job.executions)
        return self.index.things_with(job.job_id, status)

    def job_event(self, job: Job, operation: str) -> None:
        """Announce ``operation`` on ``$aws/events/job/ID/...`` (when JOB events are on)."""
        self.notifier.job_event(job, operation, self.index.counts(job.job_id))

    # ---- derived state ----------
    def _arm(self, e: Execution) -> None:
        deadline = e.deadline if e.status is _IN_PROGRESS else None
        if deadline is None:
            self.timers.cancel(_timeout_key(e))
        else:
            self.timers.schedule(_timeout_key(e), deadline)

    def rebuild_indexes(self) -> None:
        """Recompute derived state after the records were loaded."""
        self.index.rebuild(self.jobs.values())
        self.timers = Timers()
        self._deleting = {
            j.job_id: None for j in self.jobs.values() if j.status is JobStatus.DELETION_IN_PROGRESS
        }
        for job in self.jobs.values():
            for runs in job.executions.values():
                self._arm(runs[-1])
            if job.unreleased and job.status is JobStatus.IN_PROGRESS:
                self.timers.schedule(_release_key(job.job_id), rollout.next_window(job))
        self._announcer.assume_told(
            {t: self.index.pending_of(t) for t in self.index.pending_things()}
        )

    # ---- jobs ----------
    def add_job(self, job: Job, things: list[str]) -> None:
        """Store a new job and queue an execution for each of ``things``."""
        self.jobs[job.job_id] = job
        rollout.open_window(job, job.created_at)
        self.add_targets(job, things)

    def set_job_status(
        self, job: Job, target: JobTarget, actor: Actor, *, force: bool = False
    ) -> None:
        """The one way a job changes state: checks the table, then applies the change with the
        bookkeeping every job change needs. A job leaving IN_PROGRESS releases no more
        executions; a finished one (COMPLETED, CANCELED) gets its completedAt; one being deleted
        hides its executions from devices and joins the deletion queue; DELETED removes the
        record. Announcing the change ($aws/events/job) is the caller's."""
        check_job(job.status, target, actor, force=force)
        if target is DELETED:
            del self._deleting[job.job_id]
            del self.jobs[job.job_id]
            self.index.forget(job.job_id)
            return
        if target is JobStatus.DELETION_IN_PROGRESS and len(self._deleting) >= _deleting_max():
            limit_exceeded(f"Only {_deleting_max()} jobs may be DELETION_IN_PROGRESS at once.")
        now = self.now()
        job.status = target
        job.last_updated_at = now
        if target in FINISHED_JOB:
            job.completed_at = now
        job.unreleased.clear()
        self.timers.cancel(_release_key(job.job_id))
        if target is JobStatus.DELETION_IN_PROGRESS:
            for thing in self.things_with(job, _QUEUED) + self.things_with(job, _IN_PROGRESS):
                e = job.current(thing)
                if e is not None:
                    self.index.sync(job, e)
            self._deleting[job.job_id] = None

    def _check_completion(self, job: Job) -> None:
        if job.target_selection is not TargetSelection.SNAPSHOT:
            return
        if job.status is not JobStatus.IN_PROGRESS:
            return
        counts = self.index.counts(job.job_id)
        if job.unreleased or counts.get(_QUEUED) or counts.get(_IN_PROGRESS):
            return
        self.set_job_status(job, JobStatus.COMPLETED, Actor.SYSTEM)
        self.job_event(job, "completed")

    def _delete_some(self, job: Job) -> None:
        """One tick of a deletion: drop a batch of executions; the record goes with the last."""
        for _ in range(min(DELETE_BATCH, len(job.executions))):
            _, runs = job.executions.popitem()
            e = runs[-1]
            self.index.remove(e)
            self.index.sync(job, e)
            self.timers.cancel(_timeout_key(e))
        if job.executions:
            return
        self.set_job_status(job, DELETED, Actor.SYSTEM)
        self.notifier.job_event(job, "deleted", {}, status=DELETED)

    # ---- executions ----------
    def _new_execution(self, job: Job, thing: str) -> Execution:
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
            self.index.remove(previous)
        job.executions.setdefault(thing, []).append(e)
        self.index.add(e)
        if previous is not None:
            self.index.sync(job, previous)
        return e

    def add_targets(self, job: Job, things: list[str]) -> None:
        """Queue executions for things that have none yet (or only a REMOVED one)."""
        for thing in things:
            cur = job.current(thing)
            if cur is not None and cur.status is not ExecutionStatus.REMOVED:
                continue
            self._new_execution(job, thing)
            job.unreleased.append(thing)
        self.release(job)
        self._check_completion(job)

    def release(self, job: Job) -> None:
        """Notify as many queued executions as the rollout allows now; re-arm for the rest."""
        key = _release_key(job.job_id)
        if job.status is not JobStatus.IN_PROGRESS or not job.unreleased:
            self.timers.cancel(key)
            return
        rollout.advance(job, self.now())
        n = rollout.allowance(job)
        while n > 0 and job.unreleased:
            thing = job.unreleased.pop(0)
            e = job.current(thing)
            if e is None or e.status is not _QUEUED or e.notified:
                continue
            e.notified = True
            job.notified_count += 1
            job.released_in_window += 1
            n -= 1
            self.index.sync(job, e)
        if job.unreleased:
            self.timers.schedule(key, rollout.next_window(job))
        else:
            self.timers.cancel(key)

    def transition(
        self,
        job: Job,
        e: Execution,
        target: ExecutionTarget,
        actor: Actor,
        *,
        force: bool = False,
        details: dict[str, str] | None = None,
    ) -> None:
        """The one way an execution changes state (or, with DELETED, is removed): checks the
        table, then applies the change and every follow-up rule. ``details`` replaces the
        execution's statusDetails once the change is allowed."""
        check_execution(e.status, target, actor, force=force)
        if details is not None:
            e.status_details = dict(details)
        if target is DELETED:
            self._remove_execution(job, e)
            return
        now = self.now()
        current = job.current(e.thing_name) is e
        previous = e.status
        if target is _IN_PROGRESS and previous is _QUEUED:
            e.started_at = now
            minutes = job.configs.timeout.in_progress_minutes if job.configs.timeout else None
            if minutes:
                e.in_progress_deadline = now + float(minutes) * 60.0
        if target is ExecutionStatus.CANCELED and previous is _IN_PROGRESS:
            e.force_canceled = True  # only a forced cancel reaches an IN_PROGRESS execution
        if target is ExecutionStatus.REMOVED and e.thing_name in job.unreleased:
            job.unreleased.remove(e.thing_name)  # a removed thing leaves the rollout queue
        e.status = target
        e.version_number += 1
        e.last_updated_at = now
        job.last_updated_at = now
        if current:
            self.index.move(e, previous)
        self.index.sync(job, e)
        if target in TERMINAL_EXECUTION:
            e.in_progress_deadline = e.step_deadline = None
        self._arm(e)
        if target not in TERMINAL_EXECUTION:
            return
        self.notifier.execution_event(
            e, self.registry.arns.thing(e.thing_name), target.value.lower()
        )
        if target is ExecutionStatus.SUCCEEDED:
            job.succeeded_count += 1
        if current:
            self._maybe_retry(job, e)
            self._check_abort(job)
            self._check_completion(job)

    def _remove_execution(self, job: Job, e: Execution) -> None:
        """DeleteJobExecution's effect: the record goes; the thing's previous one (if any)
        becomes its current execution again."""
        runs = job.executions[e.thing_name]
        was_current = runs[-1] is e
        if was_current:
            self.index.remove(e)
        runs.remove(e)
        self.timers.cancel(_timeout_key(e))
        if not runs:
            del job.executions[e.thing_name]
        elif was_current:
            self.index.add(runs[-1])
            self.index.sync(job, runs[-1])
        self.index.sync(job, e)
        self.notifier.execution_event(e, self.registry.arns.thing(e.thing_name), "deleted")
        self._check_completion(job)

    def set_step_timeout(self, job: Job, e: Execution, minutes: int | None) -> None:
        if minutes is None or e.status is not _IN_PROGRESS:
            return
        if minutes == -1:
            e.step_deadline = None
        else:
            step = self.now() + float(minutes) * 60.0
            cap = e.in_progress_deadline
            e.step_deadline = min(step, cap) if cap is not None else step
        self._arm(e)

    def _maybe_retry(self, job: Job, e: Execution) -> None:
        cfg = job.configs.retry
        if cfg is None or job.status is not JobStatus.IN_PROGRESS:
            return
        if e.status not in (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT):
            return
        crit = cfg.criterion_for(e.status)
        if crit is None:
            return
        key = crit.failure_type.value
        used = e.retries_used.get(key, 0)
        if used >= crit.retries:
            return
        retry = self._new_execution(job, e.thing_name)
        retry.retry_attempt = e.retry_attempt + 1
        retry.retries_used = {**e.retries_used, key: used + 1}
        retry.notified = True  # the thing was already released by the rollout
        self.index.sync(job, retry)

    def _check_abort(self, job: Job) -> None:
        cfg = job.configs.abort
        if cfg is None or job.status is not JobStatus.IN_PROGRESS:
            return
        met = cfg.first_met(self.index.counts(job.job_id))
        if met is None:
            return
        crit, failures, executed = met
        pct = round(failures * 100.0 / executed, 2)
        lifecycle.cancel(
            self,
            job,
            force=False,
            actor=Actor.SYSTEM,
            reason_code=None,
            comment=f"Job aborted: {pct}% of {executed} executed things ended "
            f"{crit.failure_type} (threshold {crit.threshold_percentage}%).",
        )

    # ---- time ----------
    def tick(self) -> None:
        now = self.now()
        for key in list(self.timers.due(now)):
            assert isinstance(key, tuple)
            if key[0] is TimerKind.RELEASE:
                job = self.jobs.get(key[1])
                if job is not None:
                    self.release(job)
            elif key[0] is TimerKind.TIMEOUT:
                self._fire_timeout(key[1], key[2], key[3], now)
        for job_id in list(self._deleting):
            self._delete_some(self.jobs[job_id])
        self.flush()

    def _fire_timeout(self, job_id: str, thing: str, number: int, now: float) -> None:
        job = self.jobs.get(job_id)
        if job is None or job.status is JobStatus.DELETION_IN_PROGRESS:
            return
        e = job.current(thing)
        if e is None or e.execution_number != number or e.status is not _IN_PROGRESS:
            return
        deadline = e.deadline
        if deadline is None:
            return
        if deadline > now:
            self._arm(e)
            return
        self.transition(job, e, ExecutionStatus.TIMED_OUT, Actor.SYSTEM)

    # ---- notifications ----------
    def flush(self) -> None:
        """Send notify / notify-next for every thing whose pending list or head changed (after
        every operation, reads included: nothing to do, and nothing done, when none did)."""
        if not self.index.has_dirty():
            return
        dirty = self.index.take_dirty()  # one thing after a device's request: nothing to sort
        for thing in dirty if len(dirty) == 1 else sorted(dirty):
            self._announcer.announce(thing, self.index.pending_of(thing))

    def _head_document(self, head: Execution) -> dict[str, Any]:
        value = json.loads(self.device_document(self.jobs[head.job_id]))
        return value if isinstance(value, dict) else {"document": value}


def _deleting_max() -> int:
    return documented("jobs_deleting_max")
