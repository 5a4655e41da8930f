"""API-efficient job poller: one look at a job for a handful of calls, whatever the fleet size.

Data flow of one ``poll()``::

    DescribeJob(jobId)                         -> job status + jobProcessDetails counts
    for each status whose count changed (and QUEUED/IN_PROGRESS whenever anything moved):
        ListJobExecutionsForJob(jobId, status, maxResults=250, nextToken...)
                                               -> which thing is in that status now
        (or, for a terminal status that only grew, DescribeJobExecution of its newcomers)
    (optional) DescribeJobExecution(thing)     -> statusDetails, only for things whose
                                                  status / lastUpdatedAt changed, within a budget
    -> JobSnapshot (monitor/snapshot.py)

Why this is cheap: the per-status listings are only repeated when ``jobProcessDetails`` says
that status gained or lost members, so a quiet job costs one call per poll and a 1,000-thing
job costs ``1 + ceil(n_status / 250)`` calls per changed status; never one call per device. A
big terminal status that only grew is learnt from its newcomers instead (found leaving QUEUED
and IN_PROGRESS, one DescribeJobExecution each) when that takes fewer calls, so a finishing
10,000-thing job costs calls in proportion to what moved (``monitor/sweep.py``, "Newcomers").
The poll's bookkeeping is proportional to what moved too: states are copied only when they
change (``monitor/board.py``).

Hidden moves (``monitor/sweep.py``): a thing that left a listed status and was found in no
listed one triggers a listing of the remaining non-empty statuses, so its new status is always
found. QUEUED is also listed when the total changed (new executions start QUEUED). Terminal
statuses only grow (except retries and removal), so an unchanged terminal count means unchanged
members. The one move this misses until the next change is a closed cycle within one poll
interval that leaves every count equal (e.g. with retries: QUEUED -> IN_PROGRESS,
IN_PROGRESS -> FAILED, FAILED -> QUEUED); ``watch_in_progress`` narrows even that.

``jobProcessDetails`` is eventually consistent with the listings; the poller remembers the
number of members it *listed* per status, so a disagreement is re-listed on the next poll.

Throttling (``ThrottlingException`` / ``TooManyRequestsException``): the poll is abandoned,
the previous snapshot is returned unchanged, and polls within the back-off window (1 s doubling
to 30 s, on the injected clock) make no call at all.

API reference: https://docs.aws.amazon.com/iot/latest/apireference/API_ListJobExecutionsForJob.html
(maxResults 1-250) and https://docs.aws.amazon.com/iot/latest/apireference/API_JobProcessDetails.html
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ota_deploy.core.clock import Clock
from ota_deploy.core.observed import (
    JobUnseen,
    NoExecution,
    SeenJobStatus,
    ThingStatus,
    seen_job_status,
)
from ota_deploy.core.status import PENDING_EXECUTION, ExecutionStatus
from ota_deploy.monitor.board import Draft, ThingBoard
from ota_deploy.monitor.snapshot import JobSnapshot, ThingState
from ota_deploy.monitor.sweep import Sweep, sources, to_epoch

log = logging.getLogger(__name__)

# jobProcessDetails member (the wire format) -> execution status
PROCESS_DETAIL_KEYS: dict[str, ExecutionStatus] = {
    "numberOfQueuedThings": ExecutionStatus.QUEUED,
    "numberOfInProgressThings": ExecutionStatus.IN_PROGRESS,
    "numberOfSucceededThings": ExecutionStatus.SUCCEEDED,
    "numberOfFailedThings": ExecutionStatus.FAILED,
    "numberOfTimedOutThings": ExecutionStatus.TIMED_OUT,
    "numberOfRejectedThings": ExecutionStatus.REJECTED,
    "numberOfRemovedThings": ExecutionStatus.REMOVED,
    "numberOfCanceledThings": ExecutionStatus.CANCELED,
}
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "Throttling", "RequestLimitExceeded"}
)
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException"})
# Order in which the details budget is spent: failures first, then live progress. Other
# statuses' statusDetails (SUCCEEDED, CANCELED, QUEUED) are not worth a call per thing.
DETAIL_PRIORITY = (
    ExecutionStatus.FAILED,
    ExecutionStatus.TIMED_OUT,
    ExecutionStatus.REJECTED,
    ExecutionStatus.IN_PROGRESS,
)
MAX_PAGE = 250


def error_code(err: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (duck-typed: no botocore import)."""
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def thing_name_from_arn(arn: str) -> str:
    """``arn:aws:iot:REGION:ACCOUNT:thing/NAME`` -> ``NAME``."""
    return arn.rsplit("thing/", 1)[-1] if "thing/" in arn else arn.rsplit("/", 1)[-1]


class _Throttled(Exception):
    pass


class JobPoller:
    """Polls one job. ``poll()`` is synchronous; call it at whatever interval suits you.

    ``details_budget``: at most this many DescribeJobExecution calls per poll (0 = never), for
    things whose status or lastUpdatedAt changed, failures first. ``watch_in_progress``: re-list
    IN_PROGRESS every poll (one call per 250 running things) so progress in statusDetails is seen
    even when no count moved; only useful with a details budget.
    """

    def __init__(
        self,
        iot_client: Any,
        job_id: str,
        *,
        clock: Clock,
        expected_things: Iterable[str] | None = None,
        details_budget: int = 0,
        watch_in_progress: bool = False,
        page_size: int = MAX_PAGE,
        backoff_initial_sec: float = 1.0,
        backoff_max_sec: float = 30.0,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError("page_size must be 1-250 (ListJobExecutionsForJob maxResults)")
        self.iot = iot_client
        self.job_id = job_id
        self.clock = clock
        self.details_budget = details_budget
        self.watch_in_progress = watch_in_progress
        self.page_size = page_size
        self.backoff_initial_sec = backoff_initial_sec
        self.backoff_max_sec = backoff_max_sec
        self.api_calls = 0  # total calls made by this poller
        self.last: JobSnapshot | None = None
        self._expected: list[str] = list(expected_things or [])
        self._listed: dict[ExecutionStatus, int] = {}  # status -> members in its last listing
        self._board = ThingBoard()  # every thing's state, changed copy-on-write (board.py)
        self._expected_on_board = False  # every expected thing has a state on the board
        self._details_pending: set[str] = set()
        self._backoff_until = 0.0
        self._backoff = 0.0

    # -- public -------------------------------------------------------------------------
    def set_expected_things(self, names: Iterable[str]) -> None:
        """Things shown as ``NONE`` until an execution exists (the thing list changed)."""
        self._expected = list(names)
        self._expected_on_board = False

    @property
    def backing_off(self) -> bool:
        return self.clock.now() < self._backoff_until

    def poll_final(self, max_detail_calls: int = 100) -> JobSnapshot:
        """A poll that also fetches the statusDetails not fetched yet (failures first), up to
        ``max_detail_calls`` DescribeJobExecution calls: for judging and reporting a round.
        When no such details are outstanding (say, every thing SUCCEEDED), it makes no call
        and returns the last snapshot itself: a quick round saves a poll."""
        if self.last is not None and not self._details_outstanding():
            return self.last
        saved = self.details_budget
        self.details_budget = max(saved, max_detail_calls)
        try:
            return self.poll()
        finally:
            self.details_budget = saved

    def settled(self) -> dict[ExecutionStatus, int] | None:
        """One DescribeJob between polls: the execution counts when nothing is QUEUED or
        IN_PROGRESS any more (every execution reached an end, so a full poll would likely
        decide the round now), else None. Never raises: a throttled or failing probe is None
        and the next full poll deals with it. The board is not touched."""
        if self.backing_off:
            return None
        try:
            job = self._call("describe_job", jobId=self.job_id)["job"]
        except Exception:
            return None
        details = job.get("jobProcessDetails") or {}
        counts = dict.fromkeys(ExecutionStatus, 0)
        for key, status in PROCESS_DETAIL_KEYS.items():
            counts[status] = int(details.get(key) or 0)
        pending = sum(counts[s] for s in PENDING_EXECUTION)
        if pending or not any(counts.values()):
            return None
        return counts

    def poll(self) -> JobSnapshot:
        now = self.clock.now()
        if now < self._backoff_until and self.last is not None:
            return replace(self.last, api_calls=0)
        calls_before = self.api_calls
        try:
            snap = self._poll_once(now)
        except _Throttled:
            self._backoff = (
                self.backoff_initial_sec
                if self._backoff == 0
                else min(self._backoff * 2, self.backoff_max_sec)
            )
            self._backoff_until = now + self._backoff
            log.warning("throttled while polling %s; backing off %.1fs", self.job_id, self._backoff)
            if self.last is not None:
                return replace(self.last, api_calls=self.api_calls - calls_before)
            return self._placeholder(now, JobUnseen.UNKNOWN, self.api_calls - calls_before)
        self._backoff = 0.0
        snap.api_calls = self.api_calls - calls_before
        self.last = snap
        return snap

    # -- one poll -----------------------------------------------------------------------
    def _call(self, operation: str, **params: Any) -> Any:
        self.api_calls += 1
        try:
            return getattr(self.iot, operation)(**params)
        except Exception as err:
            if error_code(err) in THROTTLING_CODES:
                raise _Throttled() from err
            raise

    def _placeholder(self, now: float, status: SeenJobStatus, calls: int) -> JobSnapshot:
        things = {n: ThingState(thing_name=n, status=NoExecution.NONE) for n in self._expected}
        return JobSnapshot(
            job_id=self.job_id,
            job_status=status,
            taken_at=now,
            counts=dict.fromkeys(ExecutionStatus, 0),
            things=things,
            api_calls=calls,
        )

    def _poll_once(self, now: float) -> JobSnapshot:
        try:
            job = self._call("describe_job", jobId=self.job_id)["job"]
        except _Throttled:
            raise
        except Exception as err:
            if error_code(err) in NOT_FOUND_CODES:
                self._listed.clear()
                self._board.clear()
                self._expected_on_board = False
                return self._placeholder(now, JobUnseen.NOT_FOUND, 0)
            raise
        details = dict(job.get("jobProcessDetails") or {})
        counts = dict.fromkeys(ExecutionStatus, 0)
        for key, status in PROCESS_DETAIL_KEYS.items():
            counts[status] = int(details.get(key) or 0)

        # Work on a draft (copies of the states this poll changes, board.py); commit only when
        # the whole poll succeeded (throttling aborts it, leaving the board as it was).
        things = self._board.draft()
        listed = dict(self._listed)
        changed = {s for s in ExecutionStatus if counts[s] != listed.get(s, 0)}
        to_list: set[ExecutionStatus] = set(changed)
        if sum(counts.values()) != sum(listed.values()) and counts[ExecutionStatus.QUEUED]:
            to_list.add(
                ExecutionStatus.QUEUED
            )  # new executions (CONTINUOUS job, group grew) enter QUEUED
        if self.watch_in_progress and counts[ExecutionStatus.IN_PROGRESS]:
            to_list.add(ExecutionStatus.IN_PROGRESS)

        sweep = Sweep(
            things,
            counts,
            listed,
            list_status=self._list_status,
            describe=self._describe,
            page_size=self.page_size,
        )
        deferred = sweep.deferrable(to_list, self._listed)
        if deferred:  # learnt from their newcomers, found leaving the statuses they came from
            sweep.search((to_list - deferred) | sources(counts, listed), expand=False)
            short = sweep.describe_newcomers(deferred)  # statuses still to be listed
            sweep.search(short | (sweep.others() if sweep.unresolved else set()))
        else:
            sweep.search(to_list)
        described: set[str] = set()  # fresh statusDetails, as _fetch_details would keep them
        for name, found in sweep.details.items():
            state = things.get(name)
            if state is not None and state.status in DETAIL_PRIORITY:
                things.edit(name).status_details = found
                described.add(name)
        touched, unresolved = sweep.touched, sweep.unresolved
        for name in unresolved:  # execution gone (job deleting, or thing left the group)
            things.edit(name).status = NoExecution.NONE
            touched.add(name)

        if not self._expected_on_board:
            for name in self._expected:
                if name not in things:
                    things.edit(name)  # NONE until an execution exists
        counts = _consistent_counts(counts, things.tally())

        pending = self._fetch_details(things, (self._details_pending | touched) - described)

        self._board.commit(things)
        self._expected_on_board = True
        self._listed = listed
        self._details_pending = pending
        return JobSnapshot(
            job_id=str(job.get("jobId", self.job_id)),
            job_status=seen_job_status(job.get("status")),
            taken_at=now,
            counts=counts,
            things=self._board.states(),
            target_selection=job.get("targetSelection"),
            created_at=to_epoch(job.get("createdAt")),
            completed_at=to_epoch(job.get("completedAt")),
            process_details=details,
        )

    def _describe(self, name: str) -> dict[str, Any] | None:
        """The thing's current execution (DescribeJobExecution), None when it has none."""
        try:
            execution = self._call("describe_job_execution", jobId=self.job_id, thingName=name)
        except _Throttled:
            raise
        except Exception as err:
            if error_code(err) in NOT_FOUND_CODES:
                return None
            raise
        found = execution.get("execution")
        return found if isinstance(found, dict) else None

    def _list_status(self, status: ExecutionStatus) -> dict[str, dict[str, Any]]:
        """All executions of the job in ``status``: thing name -> jobExecutionSummary."""
        members: dict[str, dict[str, Any]] = {}
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "jobId": self.job_id,
                "status": status,
                "maxResults": self.page_size,
            }
            if token:
                params["nextToken"] = token
            page = self._call("list_job_executions_for_job", **params)
            for item in page.get("executionSummaries") or []:
                name = thing_name_from_arn(str(item.get("thingArn", "")))
                members[name] = dict(item.get("jobExecutionSummary") or {})
            token = page.get("nextToken")
            if not token:
                return members

    def _details_outstanding(self) -> bool:
        """A thing whose statusDetails are worth a call (``DETAIL_PRIORITY``) was not fetched."""
        for name in self._details_pending:
            state = self._board.get(name)
            if state is not None and state.status in DETAIL_PRIORITY:
                return True
        return False

    def _fetch_details(self, things: Draft, pending: set[str]) -> set[str]:
        """Spend the details budget on ``pending`` things; return those still pending."""
        if not pending:
            return set()
        if self.details_budget <= 0:  # remembered for poll_final
            return {n for n in pending if n in things}
        rank: dict[ThingStatus, int] = {s: i for i, s in enumerate(DETAIL_PRIORITY)}
        status = {n: state.status for n in pending if (state := things.get(n)) is not None}
        order = sorted(
            (n for n, s in status.items() if s in rank),
            key=lambda n: (rank[status[n]], n),
        )
        budget = self.details_budget
        left: set[str] = set()
        for name in order:
            if budget <= 0:
                left.add(name)
                continue
            budget -= 1
            try:
                execution = self._call(
                    "describe_job_execution", jobId=self.job_id, thingName=name
                ).get("execution", {})
            except _Throttled:
                raise
            except Exception as err:
                if error_code(err) in NOT_FOUND_CODES:
                    continue
                raise
            detail_map = (execution.get("statusDetails") or {}).get("detailsMap") or {}
            things.edit(name).status_details = {str(k): str(v) for k, v in detail_map.items()}
        return left


def _consistent_counts(
    counts: dict[ExecutionStatus, int], seen: dict[ExecutionStatus, int]
) -> dict[ExecutionStatus, int]:
    """DescribeJob's counts are read before the listings, and devices move in between (on AWS
    ``jobProcessDetails`` also lags). ``seen``: how many things the poll's listings put in each
    status. When the listings account for every execution the counts report, they are the
    later observation: a snapshot's counts then agree with its things, so a round is never
    reported SUCCEEDED with executions still IN_PROGRESS."""
    if sum(seen.values()) == sum(counts.values()):
        return seen
    return counts
