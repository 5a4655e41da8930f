"""Percentiles and medians for the report's figures (pure; no numpy for a few thousand floats).

Data flow: per-thing durations (``report.digest``) -> ``time_stats`` -> ``model.TimeStats`` in
report.json, the trend view and ``report --compare``. Percentiles interpolate linearly between
the closest ranks (numpy's default), so p50 of an even count is the mean of the middle two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ota_deploy.report.model import TimeStats


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``ordered`` (sorted ascending, not empty)."""
    if not ordered:
        raise ValueError("percentile of no values")
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    return percentile(ordered, 50) if ordered else None


def time_stats(values: Iterable[float]) -> TimeStats | None:
    """n, p50, p95 and max of ``values`` (seconds), rounded to the millisecond; None if none."""
    ordered = sorted(values)
    if not ordered:
        return None
    return TimeStats(
        n=len(ordered),
        p50=round(percentile(ordered, 50), 3),
        p95=round(percentile(ordered, 95), 3),
        max=round(ordered[-1], 3),
    )
