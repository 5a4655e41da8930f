"""report.html stays bounded however many things: structural caps, not timings.

A 3,000-thing round in which 700 things fail gets the same few dozen table rows as a small one:
the failures grouped by reason, the first LISTED_MAX listed, the slowest listed, the rest in
the round's per-thing file; the device x round view lists at most MATRIX_MAX devices.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from report_runs import synthetic_run

from ota_deploy.report.digest import (
    ALL_LISTED_MAX,
    LISTED_MAX,
    SLOW,
    digest_round,
    slowest_count,
)
from ota_deploy.report.html import render_html
from ota_deploy.report.junit import build_junit
from ota_deploy.report.results import write_outputs
from ota_deploy.report.stats import percentile, time_stats
from ota_deploy.report.trend import MATRIX_MAX, flaky_matrix

DEVICES = 3_000


def _mass_failure(device: int, rnd: int) -> str:
    if rnd == 2 and device < 700:
        return "FAILED" if device % 2 else "TIMED_OUT"
    if device == 2999:  # fails in every round: the flakiest device
        return "REJECTED"
    return "SUCCEEDED"


def _rows_per_round(html: str) -> dict[int, int]:
    """Per-thing rows in each round's table (rows whose first cell is a thing name)."""
    out = {}
    for part in html.split('<div class="card round" id="round-')[1:]:
        number = int(part.split('"', 1)[0])
        out[number] = len(re.findall(r"<tr(?: class=\"bad\")?><td>dev-\d{5}</td>", part))
    return out


def test_large_report_lists_a_bounded_number_of_things(tmp_path: Path) -> None:
    run = synthetic_run(DEVICES, 3, status_of=_mass_failure)
    write_outputs(run, tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    cap = LISTED_MAX + slowest_count(DEVICES)
    rows = _rows_per_round(html)
    assert rows == {1: 1 + slowest_count(DEVICES - 1), 2: cap, 3: 1 + slowest_count(DEVICES - 1)}
    assert "651 more did not succeed (counted by reason above)" in html  # 701 - 50 listed
    assert "all 3000 things, one JSON object a line" in html
    # Failures grouped by status and reason: every one of them counted.
    assert re.search(r"<td>TIMED_OUT</td><td>-</td><td class=num>350</td>", html)
    assert re.search(r"<td>REJECTED</td><td>-</td><td class=num>1</td>", html)
    # The device x round view: the flakiest device first, at most MATRIX_MAX rows.
    matrix = html.split('id="devices"', 1)[1].split("</table>", 1)[0]
    devices = re.findall(r"<tr><td>(dev-\d{5})</td>", matrix)
    assert len(devices) == MATRIX_MAX and devices[0] == "dev-02999"
    troubled = {t.thing_name for r in run.rounds for t in r.things if t.status != "SUCCEEDED"}
    for r in run.rounds:  # ... and each round's slowest succeeded things
        done = sorted(
            (t for t in r.things if t.status == "SUCCEEDED"), key=lambda t: -(t.duration_sec or 0)
        )
        troubled |= {t.thing_name for t in done[: slowest_count(len(done))]}
    assert len(troubled) > 700 + 1 + 10
    assert f"… {len(troubled) - MATRIX_MAX} more devices failed" in html
    assert "701 devices failed, were rejected or timed out in at least one round; " in html
    assert f"{len(troubled) - 701} more were only ever among a round's slowest" in html
    assert len(html) < 400_000


def test_a_small_round_lists_every_thing_failures_first_then_slowest() -> None:
    def status_of(device: int, rnd: int) -> str:
        return "FAILED" if device == 7 else "SUCCEEDED"

    run = synthetic_run(ALL_LISTED_MAX, 1, status_of=status_of)
    rows = _rows_per_round(render_html(run))
    assert rows == {1: ALL_LISTED_MAX}
    digest = digest_round(run.rounds[0].things)
    assert [t.thing_name for t in digest.listed] == ["dev-00007"]
    durations = [t.duration_sec or 0.0 for t in digest.succeeded_things]
    assert len(durations) == ALL_LISTED_MAX - 1 and durations == sorted(durations, reverse=True)
    bigger = synthetic_run(ALL_LISTED_MAX + 1, 1)
    assert _rows_per_round(render_html(bigger)) == {1: slowest_count(ALL_LISTED_MAX + 1)}


def test_junit_of_a_mass_failure_stays_small() -> None:
    run = synthetic_run(DEVICES, 2, status_of=_mass_failure)
    suite = build_junit(run).find("testsuite")
    assert suite is not None
    failure = suite.findall("testcase")[1].find("failure")
    assert failure is not None and failure.text is not None
    lines = failure.text.splitlines()
    assert len(lines) == LISTED_MAX + 1 and lines[-1] == "... 651 more"
    assert "701 of 3000 things did not succeed" in (failure.get("message") or "")
    assert len(ET.tostring(suite)) < 20_000


def test_trend_table_has_a_row_per_round_with_download_figures() -> None:
    run = synthetic_run(200, 4)
    html = render_html(run)
    trend = html.split('id="trend"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr><td><a href="#round-(\d+)">', trend)
    assert rows == ["1", "2", "3", "4"]
    for rnd in run.rounds:
        stats = time_stats(t.duration_sec or 0.0 for t in rnd.things)
        assert rnd.download_sec == stats and stats is not None
        assert f"<td class=num>{stats.p95:.1f} s</td>" in trend
    for alt in ("download time per round", "slowest download per round", "round durations"):
        assert f'alt="{alt}"' in html


def test_flaky_matrix_ranks_repeat_offenders_first() -> None:
    def status_of(device: int, rnd: int) -> str:
        if device == 5 and rnd in (1, 3):
            return "FAILED"
        if device == 9 and rnd == 2:
            return "TIMED_OUT"
        return "SUCCEEDED"

    run = synthetic_run(60, 3, status_of=status_of)
    digests = [digest_round(r.things) for r in run.rounds]
    matrix = flaky_matrix(run.rounds, digests, cap=3)
    assert [r.thing_name for r in matrix.rows[:2]] == ["dev-00005", "dev-00009"]
    cells = matrix.rows[0].cells
    assert cells[0] == cells[2] == "FAILED" and cells[1] in ("SUCCEEDED", SLOW)
    assert matrix.rows[0].failures == 2 and matrix.rows[1].failures == 1
    assert (matrix.failing, matrix.slow_only) == (2, len(matrix.rows) + matrix.more - 2)
    slow = {n for d in digests for n, m in d.marks.items() if m == SLOW}
    assert len(matrix.rows) == 3 and matrix.more == len(slow - {"dev-00005", "dev-00009"}) - 1


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([0.0, 10.0], 95) == 9.5
    assert percentile([7.0], 95) == 7.0
    stats = time_stats([5.0, 1.0, 3.0])
    assert stats is not None and (stats.n, stats.p50, stats.max) == (3, 3.0, 5.0)
    assert time_stats([]) is None
