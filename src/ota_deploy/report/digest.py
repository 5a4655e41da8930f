"""One pass over a round's things -> what the report shows of them, bounded whatever the size.

Data flow: ``things.round_things`` (in memory or streamed from the per-round file) ->
``digest_round`` -> ``RoundDigest``: the download times of the things that SUCCEEDED (for
the histogram and ``TimeStats``), the things that did not succeed (the first ``LISTED_MAX``
in ``THING_ORDER``, all of them counted, grouped by status and statusDetails reason), the
slowest succeeded things, and ``marks`` (thing -> its status, or ``SLOW``) for the device x
round view (and, in a round of at most ``ALL_LISTED_MAX`` things, every succeeded thing).
report.html, JUnit and ``report --compare`` read digests, never the raw lists, so
a 10,000-thing round costs the page the same as a 100-thing one.
"""

from __future__ import annotations

import heapq
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ota_deploy.core.observed import NoExecution, ThingStatus
from ota_deploy.core.status import ExecutionStatus
from ota_deploy.report.model import RunReport, ThingResult, TimeStats
from ota_deploy.report.stats import time_stats
from ota_deploy.report.things import round_things

# Listing order: failures first, then what never finished; SUCCEEDED after them.
THING_ORDER: tuple[ThingStatus, ...] = (
    ExecutionStatus.FAILED,
    ExecutionStatus.TIMED_OUT,
    ExecutionStatus.REJECTED,
    ExecutionStatus.CANCELED,
    ExecutionStatus.REMOVED,
    NoExecution.NONE,
    ExecutionStatus.IN_PROGRESS,
)
# What a device did wrong itself (a CANCELED or never-reached thing is the round's doing).
DEVICE_FAILURES: frozenset[ThingStatus] = frozenset(
    {ExecutionStatus.FAILED, ExecutionStatus.REJECTED, ExecutionStatus.TIMED_OUT}
)
SLOW = "SLOW"  # the mark of a succeeded thing among its round's slowest
LISTED_MAX = 50  # not-succeeded things listed per round (the rest counted and grouped)
REASONS_MAX = 10  # (status, reason) groups shown per round
SLOWEST_MAX = 10
ALL_LISTED_MAX = 50  # a round this small lists every thing (see ``succeeded_things``)


def slowest_count(succeeded: int) -> int:
    """How many succeeded things count as a round's slowest: 5 %, at least 1, at most 10."""
    return 0 if succeeded <= 0 else max(1, min(SLOWEST_MAX, succeeded // 20))


_ORDER = {s: i for i, s in enumerate(THING_ORDER)}


def _order_key(thing: ThingResult) -> tuple[int, str]:
    return (_ORDER.get(thing.status, len(_ORDER)), thing.thing_name)


def sorted_things(things: Iterable[ThingResult]) -> list[ThingResult]:
    """Failures first (in THING_ORDER), then the rest; by name within a status."""
    return sorted(things, key=_order_key)


@dataclass
class RoundDigest:
    total: int = 0  # things in the round
    # Of the things that SUCCEEDED: 8 bytes each (not a float object each), since a run keeps
    # every round's digest until its end (report.round_files).
    durations: array[float] = field(default_factory=lambda: array("d"))
    stats: TimeStats | None = None
    not_succeeded: int = 0
    listed: list[ThingResult] = field(default_factory=list)  # first LISTED_MAX, THING_ORDER
    reasons: list[tuple[str, str, int]] = field(default_factory=list)  # status, reason, count
    reason_groups: int = 0  # how many (status, reason) groups there were in all
    slowest: list[ThingResult] = field(default_factory=list)  # slowest first
    marks: dict[str, str] = field(default_factory=dict)  # thing -> status (not SUCCEEDED) or SLOW
    # Every succeeded thing, slowest first, when the round has at most ALL_LISTED_MAX things.
    succeeded_things: list[ThingResult] = field(default_factory=list)

    @property
    def succeeded(self) -> int:
        return self.total - self.not_succeeded


def digest_round(things: Iterable[ThingResult], *, listed_max: int = LISTED_MAX) -> RoundDigest:
    """Read ``things`` once (it may be a stream) and keep only what the report shows."""
    digest = RoundDigest()
    bad: list[ThingResult] = []
    timed: list[tuple[float, str, ThingResult]] = []
    succeeded_untimed: list[ThingResult] = []  # kept only while the round is small
    reasons: Counter[tuple[str, str]] = Counter()
    for thing in things:
        digest.total += 1
        if thing.status == ExecutionStatus.SUCCEEDED:
            if thing.duration_sec is not None and thing.duration_sec >= 0:
                digest.durations.append(thing.duration_sec)
                timed.append((thing.duration_sec, thing.thing_name, thing))
            elif digest.total <= ALL_LISTED_MAX:
                succeeded_untimed.append(thing)
            continue
        digest.not_succeeded += 1
        digest.marks[thing.thing_name] = thing.status
        reasons[(thing.status, thing.status_details.get("reason", ""))] += 1
        bad.append(thing)
    digest.listed = heapq.nsmallest(listed_max, bad, key=_order_key)
    digest.reasons = [(s, r, n) for (s, r), n in reasons.most_common(REASONS_MAX)]
    digest.reason_groups = len(reasons)
    top = heapq.nlargest(slowest_count(len(timed)), timed, key=lambda x: (x[0], x[1]))
    digest.slowest = [t for _, _, t in top]
    for thing in digest.slowest:
        digest.marks[thing.thing_name] = SLOW
    digest.stats = time_stats(digest.durations)
    if digest.total <= ALL_LISTED_MAX:
        done = [t for _, _, t in sorted(timed, key=lambda x: (-x[0], x[1]))]
        digest.succeeded_things = done + sorted(succeeded_untimed, key=lambda t: t.thing_name)
    return digest


def digest_rounds(report: RunReport, base_dir: Path | None) -> list[RoundDigest]:
    """One digest per round of ``report`` (things in memory, or streamed from the per-round
    files under ``base_dir``); each round's ``download_sec`` is filled in from its digest."""
    digests = []
    for rnd in report.rounds:
        digest = digest_round(round_things(rnd, base_dir))
        if digest.total:
            rnd.download_sec = digest.stats
        digests.append(digest)
    return digests


def fill_download_stats(report: RunReport, base_dir: Path | None) -> None:
    """Give every round with things its ``download_sec`` (a report.json written before the
    field existed has none); rounds that have it are not read again."""
    for rnd in report.rounds:
        if rnd.download_sec is None and (rnd.things or rnd.things_file):
            rnd.download_sec = digest_round(round_things(rnd, base_dir)).stats
