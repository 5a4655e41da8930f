"""Across rounds: which devices fail or lag again and again (the device x round view's rows).

Data flow: the rounds and their ``RoundDigest``s (``digest.marks``: thing -> its status when
it did not succeed, or SLOW when it was among the round's slowest) -> ``flaky_matrix`` ->
the devices that failed, were rejected, timed out or were among the slowest in at least one
round, the most troubled first, capped at ``MATRIX_MAX`` rows with the number left out. The
per-round figures themselves (duration, counts, download p50/p95/max) are the rounds' own
fields; charts.py and html_trend.py draw them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ota_deploy.core.status import ExecutionStatus
from ota_deploy.report.digest import DEVICE_FAILURES, SLOW, RoundDigest
from ota_deploy.report.model import RoundReport

MATRIX_MAX = 200


@dataclass(frozen=True)
class DeviceRow:
    thing_name: str
    failures: int  # rounds in which it FAILED, was REJECTED or TIMED_OUT
    slow: int  # rounds in which it was among the slowest
    other: int  # rounds it did not succeed for another reason (CANCELED, never reached, ...)
    cells: tuple[str | None, ...]  # per round: status, SLOW, or None (the round had no things)


@dataclass
class DeviceMatrix:
    rounds: list[int] = field(default_factory=list)
    rows: list[DeviceRow] = field(default_factory=list)
    more: int = 0  # devices that qualified but were left out by the cap
    failing: int = 0  # devices (shown or not) that FAILED, were REJECTED or TIMED_OUT somewhere
    slow_only: int = 0  # devices (shown or not) only ever among the slowest


def flaky_matrix(
    rounds: Sequence[RoundReport], digests: Sequence[RoundDigest], *, cap: int = MATRIX_MAX
) -> DeviceMatrix:
    """Devices with a failure or a slowest finish in some round, worst first: most failed
    rounds, then most slow rounds, then most other unsuccessful rounds, then by name."""
    troubled: set[str] = set()
    for digest in digests:
        troubled.update(n for n, m in digest.marks.items() if m in DEVICE_FAILURES or m == SLOW)
    rows = []
    for name in troubled:
        cells = tuple(
            (d.marks.get(name, ExecutionStatus.SUCCEEDED) if d.total else None) for d in digests
        )
        failures = sum(1 for c in cells if c in DEVICE_FAILURES)
        slow = sum(1 for c in cells if c == SLOW)
        other = sum(1 for c in cells if c not in (None, SLOW, ExecutionStatus.SUCCEEDED)) - failures
        rows.append(DeviceRow(name, failures, slow, other, cells))
    rows.sort(key=lambda r: (-r.failures, -r.slow, -r.other, r.thing_name))
    failing = sum(1 for r in rows if r.failures)
    return DeviceMatrix(
        rounds=[r.round for r in rounds],
        rows=rows[:cap],
        more=max(0, len(rows) - cap),
        failing=failing,
        slow_only=len(rows) - failing,
    )
