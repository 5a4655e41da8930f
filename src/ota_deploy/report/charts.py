"""Charts for report.html, as inline ``data:image/svg+xml;base64`` URIs (no network needed).

Data flow: ``RunReport`` pieces (``RoundReport.samples``, succeeded things' ``duration_sec``,
round durations, the rounds' ``counts`` and ``download_sec`` for the trend view) ->
``report.svg.Plot`` (a small SVG kit; see there why not matplotlib) -> URI for an
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
    if not rounds:
        return None
    top = max(r.duration_sec or 0.0 for r in rounds)
    plot = _round_plot("Round durations", len(rounds), top, "seconds")
    for i, rnd in enumerate(rounds):
        plot.bar(
            i + 0.15, i + 0.85, rnd.duration_sec or 0.0, ROUND_COLORS.get(rnd.status, "#9e9e9e")
        )
    _round_ticks(plot, [str(r.round) for r in rounds])
    present = sorted({r.status for r in rounds})
    plot.legend([(s, ROUND_COLORS.get(s, "#9e9e9e")) for s in present])
    return plot.to_uri()


def _round_ticks(plot: Plot, labels: Sequence[str]) -> None:
    """Label the round categories (at most ~20 labels, so 34 or 300 rounds stay legible)."""
    n = len(labels)
    step = max(1, -(-n // 20))
    idx = list(range(0, n, step))
    plot.x_ticks([i + 0.5 for i in idx], [labels[i] for i in idx])


def _round_plot(title: str, n: int, top: float, y_label: str) -> Plot:
    return Plot(
        title=title,
        x_range=(0.0, float(n)),
        y_range=(0.0, nice_ceiling(max(top, 1e-3))),
        x_label="round",
        y_label=y_label,
        width=max(440, min(1100, 60 + 26 * n)),
        bottom_extra=22,
        numeric_x=False,
    )


TREND_LINES: dict[str, str] = {"p50": "#17a2b8", "p95": "#fd7e14", "max": "#dc3545"}


def download_trend_chart(
    rounds: Sequence[RoundReport], figures: Sequence[str] = ("p50", "p95", "max")
) -> str | None:
    """Download time per round (of the things that SUCCEEDED): one line per figure of
    ``TimeStats`` asked for. The max has a chart of its own in report.html: one slow device
    sets it, and on the same axis it would flatten the p50 and p95 lines."""
    if not any(r.download_sec for r in rounds):
        return None
    n = len(rounds)
    top = max(getattr(r.download_sec, f) for r in rounds if r.download_sec for f in figures)
    title = f"Download time per round: {' / '.join(figures)} (succeeded)"
    plot = _round_plot(title, n, top, "seconds")
    xs = [i + 0.5 for i in range(n)]
    for name in figures:
        ys = [getattr(r.download_sec, name) if r.download_sec else None for r in rounds]
        plot.line(xs, ys, TREND_LINES[name])
    _round_ticks(plot, [str(r.round) for r in rounds])
    plot.legend([(f, TREND_LINES[f]) for f in figures])
    return plot.to_uri()


def status_per_round_chart(rounds: Sequence[RoundReport]) -> str | None:
    """The executions that did not succeed, by final status, one stacked bar per round (a
    stress run's failures are a few per thousand: beside the SUCCEEDED bar they would not
    show); when every execution succeeded, the SUCCEEDED counts instead."""
    bad: list[ExecutionStatus] = [
        s
        for s in STATUS_ORDER
        if s != ExecutionStatus.SUCCEEDED and any(r.counts.get(s) for r in rounds)
    ]
    present = bad or [ExecutionStatus.SUCCEEDED]
    if not any(r.counts.get(s) for r in rounds for s in present):
        return None
    top = max(sum(r.counts.get(s, 0) for s in present) for r in rounds)
    title = "Executions that did not succeed, per round" if bad else "Executions per round"
    plot = _round_plot(title, len(rounds), top, "executions")
    for i, rnd in enumerate(rounds):
        low = 0.0
        for status in present:
            n = rnd.counts.get(status, 0)
            if n:
                plot.stacked_bar(i + 0.15, i + 0.85, low, low + n, STATUS_COLORS[status])
                low += n
    _round_ticks(plot, [str(r.round) for r in rounds])
    plot.legend([(s, STATUS_COLORS[s]) for s in present])
    return plot.to_uri()


RUN_COLORS = ("#1f77b4", "#ff7f0e")  # run A, run B


def compare_download_chart(
    rounds: Sequence[tuple[int, RoundReport | None, RoundReport | None]],
) -> str | None:
    """Download p50 (solid) and p95 (dashed) per round, run A and run B on one chart."""
    stats = [s for _, a, b in rounds for s in (a, b) if s is not None and s.download_sec]
    if not stats:
        return None
    top = max(s.download_sec.p95 for s in stats if s.download_sec)
    plot = _round_plot("Download time per round: A vs B", len(rounds), top, "seconds")
    xs = [i + 0.5 for i in range(len(rounds))]
    for side, color in enumerate(RUN_COLORS):
        picked = [b if side else a for _, a, b in rounds]
        for name in ("p50", "p95"):
            ys = [getattr(r.download_sec, name) if r and r.download_sec else None for r in picked]
            plot.line(xs, ys, color, dashed=name == "p95")
    _round_ticks(plot, [str(n) for n, _, _ in rounds])
    plot.legend([("A p50", RUN_COLORS[0]), ("B p50", RUN_COLORS[1]), ("p95 dashed", "#999")])
    return plot.to_uri()


def compare_durations_chart(
    rounds: Sequence[tuple[int, RoundReport | None, RoundReport | None]],
) -> str | None:
    """Round durations, run A and run B side by side per round."""
    values = [r.duration_sec or 0.0 for _, a, b in rounds for r in (a, b) if r is not None]
    if not values:
        return None
    plot = _round_plot("Round durations: A vs B", len(rounds), max(values), "seconds")
    for i, (_, a, b) in enumerate(rounds):
        for side, rnd in enumerate((a, b)):
            if rnd is not None:
                left = i + 0.1 + 0.4 * side
                plot.bar(left, left + 0.4, rnd.duration_sec or 0.0, RUN_COLORS[side])
    _round_ticks(plot, [str(n) for n, _, _ in rounds])
    plot.legend([("A", RUN_COLORS[0]), ("B", RUN_COLORS[1])])
    return plot.to_uri()
