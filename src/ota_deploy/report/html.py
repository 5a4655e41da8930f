"""report.html: one self-contained page (inline CSS, charts as inline SVG; no script, no network).

Data flow: ``RunReport`` (report.json) -> summary header, round-durations chart, then per round:
its facts, rollout curve (``samples``), download-time histogram (``ThingResult.duration_sec``)
and a per-thing table with failures first and their statusDetails -> one HTML string -> file.

Every value from the report is escaped (thing names and statusDetails come from devices).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from ota_deploy.core.observed import NoExecution, ThingStatus
from ota_deploy.core.status import ExecutionStatus, RoundStatus
from ota_deploy.report import charts
from ota_deploy.report.model import RoundReport, RunReport, ThingResult

# Table order: failures first, then what never finished; the rest (SUCCEEDED) after them.
THING_ORDER: tuple[ThingStatus, ...] = (
    ExecutionStatus.FAILED,
    ExecutionStatus.TIMED_OUT,
    ExecutionStatus.REJECTED,
    ExecutionStatus.CANCELED,
    ExecutionStatus.REMOVED,
    NoExecution.NONE,
    ExecutionStatus.IN_PROGRESS,
)
INTERRUPTED = "INTERRUPTED"  # the run's verdict when Ctrl-C / SIGTERM ended it
MAX_THINGS_PER_TABLE = 5000

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;
  background:#fafafa}
h1{margin:0 0 4px 0;font-size:24px} h2{font-size:19px;margin:28px 0 8px 0}
.muted{color:#666} .card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:14px;
  margin:12px 0}
.verdict{display:inline-block;padding:3px 10px;border-radius:4px;color:#fff;font-weight:600}
.s-SUCCEEDED{background:#28a745} .s-FAILED{background:#dc3545} .s-ERROR{background:#6f42c1}
.s-CANCELED{background:#fd7e14} .s-TIMED_OUT{background:#b04ad6} .s-SKIPPED{background:#9e9e9e}
.s-REJECTED{background:#e0a800} .s-INTERRUPTED{background:#6c757d}
table{border-collapse:collapse;font-size:13px} td,th{border-bottom:1px solid #e5e5e5;
  padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fff0f0} .charts img{max-width:100%;margin-right:12px;vertical-align:top}
.kv td:first-child{color:#666;padding-right:16px} code{font-size:12px}
summary{cursor:pointer;font-weight:600;margin:6px 0}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _badge(status: str) -> str:
    return f'<span class="verdict s-{_e(status)}">{_e(status)}</span>'


def _img(uri: str | None, alt: str) -> str:
    return f'<img src="{uri}" alt="{_e(alt)}">' if uri else ""


def sorted_things(things: Iterable[ThingResult]) -> list[ThingResult]:
    """Failures first (in THING_ORDER), then the rest; by name within a status."""
    order = {s: i for i, s in enumerate(THING_ORDER)}
    return sorted(things, key=lambda t: (order.get(t.status, len(order)), t.thing_name))


def overall_status(report: RunReport) -> str:
    if report.interrupted:
        return INTERRUPTED
    if report.summary.failed or any(
        r.status not in (RoundStatus.SUCCEEDED, RoundStatus.SKIPPED) for r in report.rounds
    ):
        return RoundStatus.FAILED
    return RoundStatus.SUCCEEDED


def _summary(report: RunReport) -> str:
    s = report.summary
    ended = report.ended if report.ended is not None else report.started
    rows = [
        ("result", _badge(overall_status(report))),
        (
            "rounds",
            f"{s.total} planned, {s.succeeded} succeeded, {s.failed} failed, {s.skipped} skipped",
        ),
        ("mode", _e(report.mode)),
        ("region", _e(report.region)),
        ("config", f"<code>{_e(report.config_file or '-')}</code>"),
        ("started", _e(_time(report.started))),
        ("ended", _e(_time(report.ended))),
        ("duration", _e(_secs(ended - report.started))),
        ("API calls", str(sum(r.api_calls for r in report.rounds))),
        ("tool", f"ota-deploy {_e(report.tool_version)}"),
    ]
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    return f'<div class="card"><table class="kv">{body}</table></div>'


def _counts_table(counts: dict[ExecutionStatus, int]) -> str:
    if not counts:
        return '<span class="muted">no executions</span>'
    cells = "".join(
        f'<td><span class="verdict s-{_e(k)}">{_e(k)}</span> {v}</td>'
        for k, v in counts.items()
        if v
    )
    return f"<table><tr>{cells}</tr></table>"


def _things_table(rnd: RoundReport) -> str:
    things = sorted_things(rnd.things)
    if not things:
        return '<p class="muted">no per-thing results</p>'
    rows = []
    for t in things[:MAX_THINGS_PER_TABLE]:
        bad = ' class="bad"' if t.status != ExecutionStatus.SUCCEEDED else ""
        details = "; ".join(f"{k}={v}" for k, v in sorted(t.status_details.items()))
        rows.append(
            f"<tr{bad}><td>{_e(t.thing_name)}</td><td>{_e(t.status)}</td>"
            f'<td class="num">{_e(_secs(t.duration_sec))}</td>'
            f"<td>{_e(_time(t.started_at))}</td><td>{_e(details)}</td></tr>"
        )
    more = ""
    if len(things) > MAX_THINGS_PER_TABLE:
        more = f'<p class="muted">… {len(things) - MAX_THINGS_PER_TABLE} more things</p>'
    failed = sum(1 for t in things if t.status != ExecutionStatus.SUCCEEDED)
    is_open = " open" if failed else ""
    return (
        f"<details{is_open}><summary>things ({len(things)}, {failed} not succeeded)</summary>"
        "<table><tr><th>thing</th><th>status</th><th>duration</th><th>started</th>"
        f"<th>statusDetails</th></tr>{''.join(rows)}</table>{more}</details>"
    )


def _round(rnd: RoundReport) -> str:
    facts = [
        ("job", f"<code>{_e(rnd.job_id)}</code>"),
        ("stream", f"<code>{_e(rnd.stream_id)}</code>"),
        ("started", _e(_time(rnd.start))),
        ("duration", _e(_secs(rnd.duration_sec))),
        ("API calls", str(rnd.api_calls)),
    ]
    if rnd.reason:
        facts.insert(0, ("reason", _e(rnd.reason)))
    kv = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in facts)
    rollout = charts.rollout_chart(rnd.samples, rnd.start, rnd.end)
    hist = charts.duration_histogram(
        [t.duration_sec for t in rnd.things if t.duration_sec is not None]
    )
    chart_html = ""
    if rollout or hist:
        chart_html = (
            f'<div class="charts">{_img(rollout, f"round {rnd.round} rollout curve")}'
            f"{_img(hist, f'round {rnd.round} download time distribution')}</div>"
        )
    return (
        f'<div class="card round" id="round-{rnd.round}">'
        f"<h2>Round {rnd.round} {_badge(rnd.status)}</h2>"
        f'<table class="kv">{kv}</table><p>{_counts_table(rnd.counts)}</p>'
        f"{chart_html}{_things_table(rnd)}</div>"
    )


def render_html(report: RunReport) -> str:
    title = f"ota-deploy report: {overall_status(report)}"
    durations = charts.round_durations_chart(report.rounds)
    durations_html = (
        '<div class="card charts"><h2>Round durations</h2>'
        f"{_img(durations, 'round durations')}</div>"
        if durations
        else ""
    )
    rounds = "".join(_round(r) for r in report.rounds) or '<p class="muted">no rounds ran</p>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f'<h1>OTA deployment report</h1><div class="muted">{_e(report.config_file or "")}</div>'
        f"{_summary(report)}{durations_html}{rounds}</body></html>\n"
    )


def write_html(report: RunReport, path: Path) -> None:
    """Write report.html for ``report`` to ``path`` (parent folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
