"""report.html's views across rounds: the trend (charts + table) and the device x round view.

Data flow: the rounds' own figures (``duration_sec``, ``counts``, ``download_sec``) ->
``trend_section``: four inline-SVG charts (download p50/p95, download max, executions that
did not succeed by status, round durations) and one row per round; ``trend.DeviceMatrix`` ->
``matrix_section``: one row per troubled device, one coloured cell per round, so a device that
fails every third round shows as a striped row. Both are bounded: a row per round, and at most
``trend.MATRIX_MAX`` devices.
"""

from __future__ import annotations

from collections.abc import Sequence

from ota_deploy.core.observed import NoExecution
from ota_deploy.core.status import ExecutionStatus
from ota_deploy.report import charts
from ota_deploy.report.digest import SLOW
from ota_deploy.report.html_kit import badge, esc, fmt_secs, img
from ota_deploy.report.model import RoundReport
from ota_deploy.report.trend import DeviceMatrix

# Device x round cells: mark -> (CSS class, text).
CELLS: dict[str, tuple[str, str]] = {
    ExecutionStatus.SUCCEEDED: ("ok", ""),
    SLOW: ("S", "▲"),
    ExecutionStatus.FAILED: ("F", "F"),
    ExecutionStatus.TIMED_OUT: ("T", "T"),
    ExecutionStatus.REJECTED: ("R", "R"),
    ExecutionStatus.CANCELED: ("C", "C"),
    ExecutionStatus.REMOVED: ("C", "X"),
    ExecutionStatus.IN_PROGRESS: ("P", "P"),
    ExecutionStatus.QUEUED: ("N", "Q"),
    NoExecution.NONE: ("N", "–"),
}
LEGEND = (
    "▲ among the round's slowest (5 %, at most 10) · F FAILED · T TIMED_OUT · R REJECTED · "
    "C CANCELED · X REMOVED · P still IN_PROGRESS · Q still QUEUED · – never reached · "
    "empty: succeeded"
)


def _stat(rnd: RoundReport, name: str) -> str:
    return fmt_secs(getattr(rnd.download_sec, name)) if rnd.download_sec else "-"


def trend_table(rounds: Sequence[RoundReport]) -> str:
    statuses = [s for s in charts.STATUS_ORDER if any(r.counts.get(s) for r in rounds)]
    head = (
        "<tr><th>round</th><th>result</th><th class=num>duration</th>"
        + "".join(f"<th class=num>{esc(s)}</th>" for s in statuses)
        + "<th class=num>download p50</th><th class=num>p95</th><th class=num>max</th>"
        "<th class=num>API calls</th></tr>"
    )
    rows = []
    for r in rounds:
        counts = "".join(f"<td class=num>{r.counts.get(s, 0)}</td>" for s in statuses)
        rows.append(
            f'<tr><td><a href="#round-{r.round}">{r.round}</a></td><td>{badge(r.status)}</td>'
            f"<td class=num>{fmt_secs(r.duration_sec)}</td>{counts}"
            f"<td class=num>{_stat(r, 'p50')}</td><td class=num>{_stat(r, 'p95')}</td>"
            f"<td class=num>{_stat(r, 'max')}</td><td class=num>{r.api_calls}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def trend_section(rounds: Sequence[RoundReport]) -> str:
    """Per round: duration, counts by status, download p50/p95/max; charts and a table."""
    if not rounds:
        return ""
    pictures = [
        img(charts.download_trend_chart(rounds, ("p50", "p95")), "download time per round"),
        img(charts.download_trend_chart(rounds, ("max",)), "slowest download per round"),
        img(charts.status_per_round_chart(rounds), "executions by status per round"),
        img(charts.round_durations_chart(rounds), "round durations"),
    ]
    return (
        '<div class="card" id="trend"><h2>Across rounds</h2>'
        '<p class="muted">Download time: started → finished of the executions that '
        "SUCCEEDED.</p>"
        f'<div class="charts">{"".join(pictures)}</div>{trend_table(rounds)}</div>'
    )


def matrix_section(matrix: DeviceMatrix) -> str:
    """Every device that failed, was rejected, timed out or was among the slowest somewhere."""
    if not matrix.rows:
        return (
            '<div class="card" id="devices"><h2>Devices across rounds</h2>'
            '<p class="muted">No device failed, was rejected or timed out in any round.</p></div>'
        )
    head = '<tr><th>device</th><th title="rounds failed, rejected or timed out">bad</th>'
    head += '<th title="rounds among the slowest">slow</th>'
    head += "".join(f"<th>{n}</th>" for n in matrix.rounds) + "</tr>"
    rows = []
    for row in matrix.rows:
        cells = []
        for n, mark in zip(matrix.rounds, row.cells, strict=True):
            if mark is None:
                cells.append('<td class="na"></td>')
                continue
            css, text = CELLS.get(mark, ("N", "?"))
            title = "" if css == "ok" else f' title="round {n}: {esc(mark)}"'
            cells.append(f'<td class="{css}"{title}>{text}</td>')
        rows.append(
            f"<tr><td>{esc(row.thing_name)}</td><td>{row.failures}</td><td>{row.slow}</td>"
            f"{''.join(cells)}</tr>"
        )
    more = (
        f'<p class="muted">… {matrix.more} more devices failed or were among the slowest in '
        "some round; every device is in the per-round files (things/round-*.jsonl).</p>"
        if matrix.more
        else ""
    )
    return (
        '<div class="card" id="devices"><h2>Devices across rounds</h2>'
        f"<p>{matrix.failing} devices failed, were rejected or timed out in at least one "
        f"round; {matrix.slow_only} more were only ever among a round's slowest. Most troubled "
        f'first.</p><p class="muted">{esc(LEGEND)}</p>'
        f'<table class="m">{head}{"".join(rows)}</table>{more}</div>'
    )
