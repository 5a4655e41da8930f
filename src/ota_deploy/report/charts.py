"""Charts for report.html, as inline ``data:image/svg+xml;base64`` URIs (no network needed).

Data flow: ``RunReport`` pieces (``RoundReport.samples``, ``ThingResult.duration_sec``, round
durations) -> ``report.svg.Plot`` (a small SVG kit; see there why not matplotlib) -> URI for an
``<img>``. Colours match the terminal view's status colours (monitor/live.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from ota_deploy.core.observed import NoExecution, ThingStatus
from ota_deploy.core.status import ExecutionStatus, RoundStatus
from ota_deploy.report.model import CountsSample, RoundReport
from ota_deploy.report.svg import Plot, nice_ceiling

STATUS_COLORS: dict[ThingStatus, str] = {
    ExecutionStatus.QUEUED: "#9e9e9e",
    ExecutionStatus.IN_PROGRESS: "#17a2b8",
    ExecutionStatus.SUCCEEDED: "#28a745",
    ExecutionStatus.FAILED: "#dc3545",
    ExecutionStatus.TIMED_OUT: "#b04ad6",
    ExecutionStatus.REJECTED: "#e0a800",
    ExecutionStatus.REMOVED: "#616161",
    ExecutionStatus.CANCELED: "#fd7e14",
    NoExecution.NONE: "#cfcfcf",
}
ROUND_COLORS: dict[RoundStatus, str] = {
    RoundStatus.SUCCEEDED: "#28a745",
    RoundStatus.FAILED: "#dc3545",
    RoundStatus.CANCELED: "#fd7e14",
    RoundStatus.TIMED_OUT: "#b04ad6",
    RoundStatus.ERROR: "#6f42c1",
    RoundStatus.SKIPPED: "#9e9e9e",
}
# Stacking order of the rollout chart: finished executions at the bottom.
STATUS_ORDER = (
    ExecutionStatus.SUCCEEDED,
    ExecutionStatus.FAILED,
    ExecutionStatus.TIMED_OUT,
    ExecutionStatus.REJECTED,
    ExecutionStatus.CANCELED,
    ExecutionStatus.REMOVED,
    ExecutionStatus.IN_PROGRESS,
    ExecutionStatus.QUEUED,
)


def rollout_chart(
    samples: Sequence[CountsSample], start: float, end: float | None = None
) -> str | None:
    """Executions by status over time (stacked steps), seconds since the round started.

    Each sample holds until the next one; the last one is held until ``end`` (or a little
    longer than the last sample) so the final state is visible, not a zero-width step.
    """
    if not samples:
        return None
    present = [s for s in STATUS_ORDER if any(x.counts.get(s) for x in samples)]
    if not present:
        return None
    samples = sorted(samples, key=lambda x: x.t)
    last_x = samples[-1].t - start
    hold = (end - start) if end is not None and end - start > last_x else last_x * 1.1 + 0.5
    samples.append(CountsSample(t=start + hold, counts=samples[-1].counts))
    xs = [max(0.0, x.t - start) for x in samples]
    top = max(sum(x.counts.get(s, 0) for s in present) for x in samples)
    plot = Plot(
        title="Rollout: executions by status",
        x_range=(0.0, xs[-1]),
        y_range=(0.0, nice_ceiling(max(top, 1))),
        x_label="seconds since round start",
        y_label="executions",
        bottom_extra=22,
    )
    lower = [0.0] * len(samples)
    for status in present:
        upper = [lo + x.counts.get(status, 0) for lo, x in zip(lower, samples, strict=True)]
        plot.step_area(xs, lower, upper, STATUS_COLORS[status])
        lower = upper
    plot.legend([(s, STATUS_COLORS[s]) for s in present])
    return plot.to_uri()


def duration_histogram(durations: Sequence[float]) -> str | None:
    """Distribution of per-thing download/execution times."""
    values = [d for d in durations if d is not None and d >= 0]
    if not values:
        return None
    top = max(values)
    low = min(values)
    # Nearly equal times: show them against zero, not as a histogram of rounding noise.
    if top - low < 0.1 * top or top == low:
        lo, hi, bins = 0.0, top * 1.05 + 1e-3, 40
    else:
        pad = (top - low) * 0.02
        lo, hi, bins = max(0.0, low - pad), top + pad, min(30, max(5, len(values) // 3))
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    plot = Plot(
        title="Download time distribution",
        x_range=(lo, hi),
        y_range=(0.0, nice_ceiling(max(counts))),
        x_label="seconds (started -> finished)",
        y_label="things",
        width=440,
    )
    for i, n in enumerate(counts):
        if n:
            plot.bar(lo + i * width, lo + (i + 1) * width, n, "#17a2b8")
    return plot.to_uri()


def round_durations_chart(rounds: Sequence[RoundReport]) -> str | None:
    """One bar per round, coloured by the round's outcome."""
    data = [(r.round, r.duration_sec or 0.0, r.status) for r in rounds]
    if not data:
        return None
    n = len(data)
    top = max(d for _, d, _ in data)
    plot = Plot(
        title="Round durations",
        x_range=(0.0, float(n)),
        y_range=(0.0, nice_ceiling(max(top, 1e-3))),
        x_label="round",
        y_label="seconds",
        width=max(440, min(1100, 60 + 26 * n)),
        bottom_extra=22,
        numeric_x=False,
    )
    for i, (_, duration, status) in enumerate(data):
        plot.bar(i + 0.15, i + 0.85, duration, ROUND_COLORS.get(status, "#9e9e9e"))
    step = max(1, n // 20)
    idx = list(range(0, n, step))
    plot.x_ticks([i + 0.5 for i in idx], [str(data[i][0]) for i in idx])
    present = sorted({s for _, _, s in data})
    plot.legend([(s, ROUND_COLORS.get(s, "#9e9e9e")) for s in present])
    return plot.to_uri()
