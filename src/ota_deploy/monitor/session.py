"""The monitor's loop pieces: which job to watch, the thing list that may change, one tick.

Data flow of ``ota-deploy monitor``::

    dev.ini -> Settings (jobId, thingList, rounds)
    resolve_job(iot, jobId)  -> the exact job, or the latest existing round ``<jobId>-N``
    ThingListWatcher(path)   -> expected thing names, re-read when the file's mtime changes
    MonitorSession.tick()    -> JobPoller.poll() (+ MQTT watcher merge) -> JobSnapshot

When the job id came from dev.ini (not ``--job-id``) and the watched job ended or was deleted,
the session looks again (at most every ``follow_every_sec``) for a newer round, so one monitor
follows a whole multi-round run the way the original monitor.py did.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ota_deploy.core.clock import Clock
from ota_deploy.core.observed import JobUnseen, SeenJobStatus
from ota_deploy.core.status import FINISHED_JOB, JobStatus
from ota_deploy.monitor.poller import NOT_FOUND_CODES, JobPoller, error_code
from ota_deploy.monitor.snapshot import JobSnapshot

log = logging.getLogger(__name__)
# A job in one of these runs no more: time to look for the next round's.
ENDED_JOB_STATUSES: frozenset[SeenJobStatus] = FINISHED_JOB | {
    JobUnseen.NOT_FOUND,
    JobStatus.DELETION_IN_PROGRESS,
}


class SnapshotEnricher(Protocol):
    def merge(self, snapshot: JobSnapshot) -> JobSnapshot: ...


@dataclass(frozen=True)
class ResolvedJob:
    job_id: str
    round_number: int | None  # from the ``-N`` suffix, when the job id had one
    exact: bool  # the configured id itself exists


def round_of(base: str, job_id: str) -> int | None:
    m = re.fullmatch(re.escape(base) + r"-(\d+)", job_id)
    return int(m.group(1)) if m else None


def resolve_job(iot: Any, base_job_id: str) -> ResolvedJob:
    """``base_job_id`` if it exists; else the latest ``<base>-N`` that ListJobs shows; else
    ``base-1`` (not created yet: the monitor waits for it)."""
    try:
        iot.describe_job(jobId=base_job_id)
        return ResolvedJob(base_job_id, None, exact=True)
    except Exception as err:
        if error_code(err) not in NOT_FOUND_CODES:
            raise
    best: tuple[int, str] | None = None
    token: str | None = None
    while True:
        params: dict[str, Any] = {"maxResults": 250}
        if token:
            params["nextToken"] = token
        page = iot.list_jobs(**params)
        for job in page.get("jobs") or []:
            n = round_of(base_job_id, str(job.get("jobId", "")))
            if n is not None and (best is None or n > best[0]):
                best = (n, str(job["jobId"]))
        token = page.get("nextToken")
        if not token:
            break
    if best is None:
        return ResolvedJob(f"{base_job_id}-1", 1, exact=False)
    return ResolvedJob(best[1], best[0], exact=False)


class ThingListWatcher:
    """The thing list's names, re-read when the file's modification time changes."""

    def __init__(self, path: Path, read: Callable[[Path], list[str]]) -> None:
        self.path = path
        self._read = read
        self._mtime: float | None = None
        self.names: list[str] = []
        self.error: str | None = None

    def check(self) -> bool:
        """Re-read when changed; True when the names changed. A bad edit keeps the old list."""
        try:
            mtime = self.path.stat().st_mtime_ns / 1e9
        except OSError as err:
            self.error = f"{self.path}: {err.strerror}"
            return False
        if mtime == self._mtime:
            return False
        self._mtime = mtime
        try:
            names = self._read(self.path)
        except Exception as err:  # an InputError while the user edits the file
            self.error = str(err)
            log.warning("thing list not re-read: %s", err)
            return False
        self.error = None
        if names == self.names:
            return False
        self.names = names
        return True


class MonitorSession:
    """One monitor: the poller for the current job, the thing list, optional MQTT enrichment."""

    def __init__(
        self,
        iot: Any,
        *,
        clock: Clock,
        job_id: str,
        follow_rounds_of: str | None = None,
        rounds: int | None = None,
        things: ThingListWatcher | None = None,
        enricher: SnapshotEnricher | None = None,
        details_budget: int = 10,
        watch_in_progress: bool = True,
        follow_every_sec: float = 5.0,
    ) -> None:
        self.iot = iot
        self.clock = clock
        self.base = follow_rounds_of
        self.rounds = rounds
        self.things = things
        self.enricher = enricher
        self.details_budget = details_budget
        self.watch_in_progress = watch_in_progress
        self.follow_every_sec = follow_every_sec
        self._last_follow = clock.now()
        self.poller = self._poller(job_id)
        self.round_number = round_of(follow_rounds_of, job_id) if follow_rounds_of else None

    def _poller(self, job_id: str) -> JobPoller:
        expected = self.things.names if self.things else None
        return JobPoller(
            self.iot,
            job_id,
            clock=self.clock,
            expected_things=expected,
            details_budget=self.details_budget,
            watch_in_progress=self.watch_in_progress,
        )

    def tick(self) -> JobSnapshot:
        if self.things is not None and self.things.check():
            self.poller.set_expected_things(self.things.names)
        snap = self.poller.poll()
        if self.base is not None and snap.job_status in ENDED_JOB_STATUSES:
            snap = self._maybe_follow(snap)
        snap.round_number = self.round_number
        snap.rounds = self.rounds
        if self.enricher is not None:
            snap = self.enricher.merge(snap)
        return snap

    def _maybe_follow(self, snap: JobSnapshot) -> JobSnapshot:
        now = self.clock.now()
        if self.base is None or now - self._last_follow < self.follow_every_sec:
            return snap
        self._last_follow = now
        resolved = resolve_job(self.iot, self.base)
        if resolved.job_id != self.poller.job_id and (resolved.round_number or 0) > (
            self.round_number or 0
        ):
            log.info("following the next round: %s", resolved.job_id)
            self.poller = self._poller(resolved.job_id)
            self.round_number = resolved.round_number
            return self.poller.poll()
        return snap


class CountingClient:
    """Wraps a boto3 client and counts every operation called through it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: dict[str, int] = {}

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name.startswith("_") or name in ("can_paginate", "get_paginator"):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return attr(*args, **kwargs)

        return counted
