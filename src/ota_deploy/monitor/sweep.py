"""How one poll finds each thing's execution status: which statuses to list, and the search.

Data flow: ``JobPoller`` reads DescribeJob's counts, opens a board ``Draft`` and hands both to a
:class:`Sweep`, with its ways to list a status (ListJobExecutionsForJob, every page) and to
describe one thing's execution (DescribeJobExecution). The sweep folds every row it gets into
the draft (``merge_row``: a state is copied only when the row changes it) and leaves in
``touched`` the things whose status or lastUpdatedAt moved, in ``unresolved`` those whose
execution it could not find, and in ``listed`` how many members each status is known to have.

Hidden moves: a thing going QUEUED -> IN_PROGRESS while another goes IN_PROGRESS -> SUCCEEDED
leaves the IN_PROGRESS count unchanged. The QUEUED listing (its count changed) then misses the
first thing; a thing that left a listed status and was found in no listed one triggers a listing
of the remaining non-empty statuses (:meth:`Sweep.search`), so its new status is always found.

Newcomers (:meth:`Sweep.deferrable`, :meth:`Sweep.describe_newcomers`): a terminal status only
grows while a job runs, and whatever enters it comes from QUEUED or IN_PROGRESS. When such a
status was listed before and only grew, the poll can list QUEUED and IN_PROGRESS instead (the
few running things), describe each thing that left them unseen (one DescribeJobExecution each)
and skip the big listing -- if that is fewer calls. A finishing 10,000-thing job then costs
calls in proportion to what moved, not 40 pages of SUCCEEDED per poll. The result is checked:
when the things now known in a deferred status do not add up to its count (a newcomer came from
elsewhere, an execution was deleted, a device moved after DescribeJob), that status is listed
and searched as usual.

API reference: https://docs.aws.amazon.com/iot/latest/apireference/API_ListJobExecutionsForJob.html,
API_DescribeJobExecution.html; a JobExecutionSummary's ``lastUpdatedAt`` changes with every
update of the execution (API_JobExecutionSummary.html).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from ota_deploy.core.status import TERMINAL_EXECUTION, ExecutionStatus, parse_execution_status
from ota_deploy.monitor.board import Draft

ListStatus = Callable[[ExecutionStatus], dict[str, dict[str, Any]]]
"""Every execution in a status: thing name -> its JobExecutionSummary."""
DescribeExecution = Callable[[str], dict[str, Any] | None]
"""A thing's current JobExecution (DescribeJobExecution), or None when it has none."""


def to_epoch(value: Any) -> float | None:
    """boto3 returns timestamps as aware datetimes; epoch numbers are taken as they are."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def merge_row(things: Draft, name: str, status: ExecutionStatus, row: dict[str, Any]) -> bool:
    """Fold one JobExecutionSummary (or JobExecution) into ``things``; True when status or
    lastUpdatedAt moved.

    A row with the state's status, executionNumber and lastUpdatedAt is the state's own (an
    execution's lastUpdatedAt moves with every change to it): nothing is converted or copied.
    Otherwise the state is copied into the draft once."""
    listed_status = parse_execution_status(row.get("status")) or status
    updated = to_epoch(row.get("lastUpdatedAt"))
    raw_number = row.get("executionNumber")
    number = int(raw_number) if raw_number is not None else None
    state = things.get(name)
    if (
        state is not None
        and state.status == listed_status
        and state.last_updated_at == updated
        and state.execution_number == number
    ):
        return False
    if state is None:
        state = things.edit(name)  # NONE: new to this poller
    moved = state.status != listed_status or state.last_updated_at != updated
    new_run = state.status != listed_status or (
        number is not None and state.execution_number not in (None, number)
    )
    state = things.edit(name)
    if new_run:
        # A new status (or a retry): the old details (e.g. IN_PROGRESS "progress=50%" on a
        # thing now SUCCEEDED) no longer apply; the new ones are fetched within the budget.
        state.status_details = {}
    state.status = listed_status
    state.queued_at = to_epoch(row.get("queuedAt"))
    state.started_at = to_epoch(row.get("startedAt"))
    state.last_updated_at = updated
    state.execution_number = number
    return moved


def sources(
    counts: dict[ExecutionStatus, int], listed: dict[ExecutionStatus, int]
) -> set[ExecutionStatus]:
    """The statuses an execution reaches a terminal one from (QUEUED, IN_PROGRESS) that may
    hold one now."""
    return {
        s for s in ExecutionStatus if s not in TERMINAL_EXECUTION and (counts[s] or listed.get(s))
    }


class Sweep:
    """One poll's listings and descriptions, folded into a draft (module docstring)."""

    def __init__(
        self,
        things: Draft,
        counts: dict[ExecutionStatus, int],
        listed: dict[ExecutionStatus, int],
        *,
        list_status: ListStatus,
        describe: DescribeExecution,
        page_size: int,
    ) -> None:
        self.things = things
        self.counts = counts  # DescribeJob's, read before the listings
        self.listed = listed  # status -> members it is known to have (updated here)
        self._list_status = list_status
        self._describe = describe
        self._page_size = page_size
        self.done: set[ExecutionStatus] = set()  # statuses listed this poll
        self.touched: set[str] = set()  # things whose status / lastUpdatedAt changed
        self.unresolved: set[str] = set()  # left a listed status, not found in another
        self.details: dict[str, dict[str, str]] = {}  # statusDetails of the things described

    def search(self, to_list: set[ExecutionStatus], *, expand: bool = True) -> None:
        """List ``to_list``; then (``expand``), while a thing left a listed status and was seen
        in none, every other status that may hold it: its new status is found."""
        while to_list:
            seen: set[str] = set()
            for status in [s for s in ExecutionStatus if s in to_list]:
                members = self._list_status(status)
                self.listed[status] = len(members)
                for name, summary in members.items():
                    seen.add(name)
                    if merge_row(self.things, name, status, summary):
                        self.touched.add(name)
                self.unresolved.update(
                    n for n in self.things.names_with(status) if n not in members
                )
            self.done |= to_list
            self.unresolved -= seen
            to_list = self.others() if expand and self.unresolved else set()

    def others(self) -> set[ExecutionStatus]:
        """The statuses not listed yet that may hold an execution."""
        counts, listed = self.counts, self.listed
        return {s for s in ExecutionStatus if s not in self.done and (counts[s] or listed.get(s))}

    def pages(self, statuses: Collection[ExecutionStatus]) -> int:
        """Calls a listing of ``statuses`` takes (at least one each)."""
        size, counts, listed = self._page_size, self.counts, self.listed
        return sum(max(1, -(-max(counts[s], listed.get(s, 0)) // size)) for s in statuses)

    def deferrable(
        self, to_list: set[ExecutionStatus], listed_before: Collection[ExecutionStatus]
    ) -> set[ExecutionStatus]:
        """The terminal statuses of ``to_list`` to learn from their newcomers rather than a
        listing (module docstring): listed before, only grown since, and describing each
        newcomer plus listing the statuses they come from takes fewer calls."""
        counts, listed = self.counts, self.listed
        grown = {
            s
            for s in to_list
            if s in TERMINAL_EXECUTION and s in listed_before and counts[s] > listed.get(s, 0)
        }
        if not grown:
            return set()
        newcomers = sum(counts[s] - listed.get(s, 0) for s in grown)
        extra = self.pages(sources(counts, listed) - to_list)
        return grown if newcomers + extra < self.pages(grown) else set()

    def describe_newcomers(self, deferred: set[ExecutionStatus]) -> set[ExecutionStatus]:
        """Describe each thing that left the listed statuses unseen (while that is fewer calls
        than listing ``deferred``); returns the deferred statuses whose members are still not
        all known (the things do not add up to the count), and any other status a newcomer
        landed in that does not add up: they are to be listed."""
        if len(self.unresolved) >= self.pages(deferred):
            return deferred
        found: set[str] = set()
        landed: set[ExecutionStatus] = set()  # the statuses the newcomers were found in
        for name in sorted(self.unresolved):
            execution = self._describe(name)
            status = parse_execution_status((execution or {}).get("status"))
            if execution is None or status is None:
                continue  # no execution: unresolved (NONE unless a listing finds it)
            if merge_row(self.things, name, status, execution):
                self.touched.add(name)
            detail_map = (execution.get("statusDetails") or {}).get("detailsMap") or {}
            self.details[name] = {str(k): str(v) for k, v in detail_map.items()}
            found.add(name)
            landed.add(status)
        self.unresolved -= found
        tally = self.things.tally()
        # A newcomer may also land in a status whose count did not change (one came, another
        # left it: an execution deleted), so every status that gained one is checked too.
        short = {
            s for s in (deferred | landed) - self.done if tally[s] != self.counts[s]
        }
        for status in deferred - short:
            self.listed[status] = tally[status]  # every member known, as a listing tells
        return short
