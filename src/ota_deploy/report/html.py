"""report.html: one self-contained page (inline CSS, charts as inline SVG; no script, no network).

Data flow: ``RunReport`` + one ``RoundDigest`` per round (``digest.digest_rounds``: things in
memory, or streamed from the per-round files) -> summary header, the trend view and the device
x round view (html_trend.py), then per round: its facts, rollout curve (``samples``), download
time histogram, the things that did not succeed grouped by status and reason, the first of them
and the slowest succeeded things listed (every thing in a small round), and a link to the
round's per-thing file for the rest -> one HTML string -> file. The page's size depends on the
number of rounds, not of things.

Every value from the report is escaped (thing names and statusDetails come from devices).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ota_deploy.core.status import ExecutionStatus, RoundStatus
from ota_deploy.report import charts
from ota_deploy.report.digest import RoundDigest, digest_rounds
from ota_deploy.report.html_kit import badge, esc, fmt_secs, fmt_time, img, kv_table, page
from ota_deploy.report.html_trend import matrix_section, trend_section
from ota_deploy.report.model import RoundReport, RunReport, ThingResult
from ota_deploy.report.trend import flaky_matrix

INTERRUPTED = "INTERRUPTED"  # the run's verdict when Ctrl-C / SIGTERM ended it


def overall_status(report: RunReport) -> str:
    if report.interrupted:
        return INTERRUPTED
    if report.summary.failed or any(
        r.status not in (RoundStatus.SUCCEEDED, RoundStatus.SKIPPED) for r in report.rounds
    ):
        return RoundStatus.FAILED
    return RoundStatus.SUCCEEDED


def _summary(report: RunReport, digests: Sequence[RoundDigest]) -> str:
    s = report.summary
    ended = report.ended if report.ended is not None else report.started
    rows = [
        ("result", badge(overall_status(report))),
        (
            "rounds",
            f"{s.total} planned, {s.succeeded} succeeded, {s.failed} failed, {s.skipped} skipped",
        ),
        ("things per round", str(max((d.total for d in digests), default=0))),
        ("mode", esc(report.mode)),
        ("region", esc(report.region)),
        ("config", f"<code>{esc(report.config_file or '-')}</code>"),
        ("started", esc(fmt_time(report.started))),
        ("ended", esc(fmt_time(report.ended))),
        ("duration", esc(fmt_secs(ended - report.started))),
        ("API calls", str(sum(r.api_calls for r in report.rounds))),
        ("tool", f"ota-deploy {esc(report.tool_version)}"),
    ]
    if report.not_run is not None:
        nr = report.not_run
        span = f"{nr.first}" if nr.first == nr.last else f"{nr.first}–{nr.last}"
        rows.insert(2, ("not run", f"round {esc(span)}: {esc(nr.reason)}"))
    return f'<div class="card">{kv_table(rows)}</div>'


def _counts_table(counts: dict[ExecutionStatus, int]) -> str:
    if not counts:
        return '<span class="muted">no executions</span>'
    cells = "".join(f"<td>{badge(k)} {v}</td>" for k, v in counts.items() if v)
    return f"<table><tr>{cells}</tr></table>"


def _thing_row(t: ThingResult) -> str:
    bad = ' class="bad"' if t.status != ExecutionStatus.SUCCEEDED else ""
    details = "; ".join(f"{k}={v}" for k, v in sorted(t.status_details.items()))
    return (
        f"<tr{bad}><td>{esc(t.thing_name)}</td><td>{esc(t.status)}</td>"
        f'<td class="num">{esc(fmt_secs(t.duration_sec))}</td>'
        f"<td>{esc(fmt_time(t.started_at))}</td><td>{esc(details)}</td></tr>"
    )


def _reasons_table(digest: RoundDigest) -> str:
    """The things that did not succeed, grouped by status and statusDetails' reason."""
    if not digest.not_succeeded:
        return ""
    rows = "".join(
        f"<tr><td>{esc(status)}</td><td>{esc(reason or '-')}</td><td class=num>{n}</td></tr>"
        for status, reason, n in digest.reasons
    )
    more = digest.reason_groups - len(digest.reasons)
    tail = f'<p class="muted">… {more} more (status, reason) groups</p>' if more > 0 else ""
    return (
        "<h3>Did not succeed, by reason</h3><table><tr><th>status</th><th>reason</th>"
        f"<th class=num>things</th></tr>{rows}</table>{tail}"
    )


def _things_section(rnd: RoundReport, digest: RoundDigest) -> str:
    if not digest.total:
        return '<p class="muted">no per-thing results</p>'
    rows = [_thing_row(t) for t in digest.listed]
    succeeded = digest.succeeded_things or digest.slowest
    if succeeded:
        heading = (
            "succeeded, slowest first"
            if digest.succeeded_things
            else f"the {len(digest.slowest)} slowest that succeeded"
        )
        rows.append(f'<tr><th colspan="5">{heading}</th></tr>')
        rows.extend(_thing_row(t) for t in succeeded)
    notes = []
    unlisted_bad = digest.not_succeeded - len(digest.listed)
    if unlisted_bad > 0:
        notes.append(f"{unlisted_bad} more did not succeed (counted by reason above)")
    unlisted_ok = digest.succeeded - len(succeeded)
    if unlisted_ok > 0:
        notes.append(f"{unlisted_ok} more succeeded")
    if rnd.things_file:
        link = f'<a href="{esc(rnd.things_file)}"><code>{esc(rnd.things_file)}</code></a>'
        notes.append(f"all {digest.total} things, one JSON object a line: {link}")
    more = f'<p class="muted">… {"; ".join(notes)}</p>' if notes else ""
    is_open = " open" if digest.not_succeeded else ""
    return (
        f"<details{is_open}><summary>things ({digest.total}, {digest.not_succeeded} not "
        f"succeeded)</summary>{_reasons_table(digest)}"
        "<table><tr><th>thing</th><th>status</th><th>duration</th><th>started</th>"
        f"<th>statusDetails</th></tr>{''.join(rows)}</table>{more}</details>"
    )


def _round(rnd: RoundReport, digest: RoundDigest) -> str:
    facts = [
        ("job", f"<code>{esc(rnd.job_id)}</code>"),
        ("stream", f"<code>{esc(rnd.stream_id)}</code>"),
        ("started", esc(fmt_time(rnd.start))),
        ("duration", esc(fmt_secs(rnd.duration_sec))),
        ("API calls", str(rnd.api_calls)),
    ]
    if rnd.download_sec:
        d = rnd.download_sec
        facts.append(
            (
                "download time",
                f"p50 {fmt_secs(d.p50)}, p95 {fmt_secs(d.p95)}, max {fmt_secs(d.max)}",
            )
        )
    if rnd.reason:
        facts.insert(0, ("reason", esc(rnd.reason)))
    rollout = charts.rollout_chart(rnd.samples, rnd.start, rnd.end)
    hist = charts.duration_histogram(digest.durations)
    chart_html = ""
    if rollout or hist:
        chart_html = (
            f'<div class="charts">{img(rollout, f"round {rnd.round} rollout curve")}'
            f"{img(hist, f'round {rnd.round} download time distribution')}</div>"
        )
    return (
        f'<div class="card round" id="round-{rnd.round}">'
        f"<h2>Round {rnd.round} {badge(rnd.status)}</h2>"
        f"{kv_table(facts)}<p>{_counts_table(rnd.counts)}</p>"
        f"{chart_html}{_things_section(rnd, digest)}</div>"
    )


def render_html(
    report: RunReport,
    *,
    digests: Sequence[RoundDigest] | None = None,
    base_dir: Path | None = None,
) -> str:
    """The page for ``report``; ``digests`` when the caller has them, else they are made from
    the things in memory or the per-round files under ``base_dir``."""
    if digests is None:
        digests = digest_rounds(report, base_dir)
    title = f"ota-deploy report: {overall_status(report)}"
    rounds = "".join(_round(r, d) for r, d in zip(report.rounds, digests, strict=True))
    body = (
        _summary(report, digests)
        + trend_section(report.rounds)
        + (matrix_section(flaky_matrix(report.rounds, digests)) if report.rounds else "")
        + (rounds or '<p class="muted">no rounds ran</p>')
    )
    return page(title, "OTA deployment report", report.config_file or "", body)


def write_html(
    report: RunReport,
    path: Path,
    *,
    digests: Sequence[RoundDigest] | None = None,
    base_dir: Path | None = None,
) -> None:
    """Write report.html for ``report`` to ``path`` (parent folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render_html(report, digests=digests, base_dir=base_dir)
    path.write_text(text, encoding="utf-8")
