"""The SVG charts: well-formed, the right shapes and labels for the data given."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from ota_deploy.report.charts import (
    compare_download_chart,
    compare_durations_chart,
    download_trend_chart,
    duration_histogram,
    rollout_chart,
    round_durations_chart,
    status_per_round_chart,
)
from ota_deploy.report.model import CountsSample, RoundReport, TimeStats
from ota_deploy.report.svg import nice_ticks

NS = "{http://www.w3.org/2000/svg}"


def _svg(uri: str | None) -> ET.Element:
    assert uri is not None and uri.startswith("data:image/svg+xml;base64,")
    return ET.fromstring(base64.b64decode(uri.split(",", 1)[1]))


def _texts(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{NS}text")]


def test_rollout_chart_one_band_per_status_and_legend() -> None:
    samples = [
        CountsSample(t=101, counts={"QUEUED": 4}),
        CountsSample(t=103, counts={"QUEUED": 1, "IN_PROGRESS": 3}),
        CountsSample(t=106, counts={"SUCCEEDED": 3, "FAILED": 1}),
    ]
    svg = _svg(rollout_chart(samples, 100.0, 110.0))
    assert len(list(svg.iter(f"{NS}polygon"))) == 4
    texts = _texts(svg)
    for status in ("QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED"):
        assert status in texts
    assert "Rollout: executions by status" in texts
    assert "10" in texts  # the x axis reaches the round's end


def test_empty_inputs_give_no_chart() -> None:
    assert rollout_chart([], 0.0) is None
    assert rollout_chart([CountsSample(t=1, counts={"QUEUED": 0})], 0.0) is None
    assert duration_histogram([]) is None
    assert round_durations_chart([]) is None


def test_histogram_bars_count_every_value() -> None:
    svg = _svg(duration_histogram([1.0, 2.0, 2.1, 5.0, 9.5]))
    assert len(list(svg.iter(f"{NS}rect"))) >= 2
    same = _svg(duration_histogram([2.02, 2.03, 2.02]))  # near-equal: drawn from zero
    assert "0" in _texts(same)


def test_round_durations_labels_rounds() -> None:
    rounds = [
        RoundReport(round=i, job_id=f"J-{i}", stream_id="S", status=st_, start=0, duration_sec=d)
        for i, st_, d in ((1, "SUCCEEDED", 10.0), (2, "FAILED", 30.0), (3, "SKIPPED", None))
    ]
    svg = _svg(round_durations_chart(rounds))
    texts = _texts(svg)
    assert {"1", "2", "3", "SUCCEEDED", "FAILED", "SKIPPED"} <= set(texts)


@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.floats(min_value=1e-3, max_value=1e6, allow_nan=False),
)
def test_nice_ticks_cover_range(lo: float, span: float) -> None:
    hi = lo + span
    ticks = nice_ticks(lo, hi)
    assert ticks and ticks == sorted(ticks)
    assert 2 <= len(ticks) <= 12
    tol = 1e-6 * (span + abs(lo))
    assert ticks[0] >= lo - tol and ticks[-1] <= hi + tol


@given(st.floats(min_value=1e-3, max_value=1e7, allow_nan=False))
def test_nice_ceiling_is_at_least_value(value: float) -> None:
    from ota_deploy.report.svg import nice_ceiling

    top = nice_ceiling(value)
    assert value * (1 - 1e-9) <= top <= value * 2.5


def test_bars_stay_inside_the_plot() -> None:
    rounds = [
        RoundReport(
            round=1, job_id="J", stream_id="S", status="SUCCEEDED", start=0, duration_sec=2.3
        )
    ]
    svg = _svg(round_durations_chart(rounds))
    bar_tops = [float(r.get("y", 0)) for r in svg.iter(f"{NS}rect") if r.get("fill") == "#28a745"]
    assert bar_tops and min(bar_tops) >= 28  # below the plot's top edge


def _trend_rounds() -> list[RoundReport]:
    stats = [TimeStats(n=5, p50=3.0 + i, p95=5.0 + i, max=9.0 + i) for i in range(3)]
    rounds = [
        RoundReport(
            round=i + 1,
            job_id=f"J-{i}",
            stream_id="S",
            status="SUCCEEDED",
            start=0,
            duration_sec=20.0,
            counts={"SUCCEEDED": 4, "FAILED": 1},
            download_sec=s,
        )
        for i, s in enumerate(stats)
    ]
    rounds.append(
        RoundReport(round=4, job_id="J-4", stream_id="S", status="ERROR", start=0, duration_sec=1)
    )
    return rounds


def test_download_trend_has_a_line_per_figure_and_a_gap_for_a_round_without() -> None:
    svg = _svg(download_trend_chart(_trend_rounds()))
    assert len(list(svg.iter(f"{NS}polyline"))) == 3  # p50, p95, max; round 4 has none
    assert len(list(svg.iter(f"{NS}circle"))) == 9
    texts = _texts(svg)
    assert {"p50", "p95", "max", "1", "4"} <= set(texts)
    assert download_trend_chart(_trend_rounds()[3:]) is None
    only_max = _svg(download_trend_chart(_trend_rounds(), ("max",)))
    assert len(list(only_max.iter(f"{NS}polyline"))) == 1 and "p50" not in _texts(only_max)


def test_status_per_round_stacks_what_did_not_succeed() -> None:
    rounds = _trend_rounds()
    rounds[1].counts["TIMED_OUT"] = 2
    svg = _svg(status_per_round_chart(rounds))
    bars = [r for r in svg.iter(f"{NS}rect") if r.get("height") not in (None, "10", "100%")]
    assert len(bars) == 4  # FAILED in rounds 1-3, TIMED_OUT in round 2; round 4 had none
    assert {"FAILED", "TIMED_OUT"} <= set(_texts(svg)) and "SUCCEEDED" not in _texts(svg)
    for rnd in rounds:
        rnd.counts = {"SUCCEEDED": 4} if rnd.counts else {}
    clean = _svg(status_per_round_chart(rounds))  # all succeeded: the SUCCEEDED counts
    assert "Executions per round" in _texts(clean) and "SUCCEEDED" in _texts(clean)
    assert status_per_round_chart(rounds[3:]) is None


def test_compare_charts_draw_both_runs() -> None:
    a, b = _trend_rounds(), _trend_rounds()[:2]
    pairs = [(n, a[n - 1], b[n - 1] if n <= len(b) else None) for n in range(1, 5)]
    lines = _svg(compare_download_chart(pairs))
    assert len(list(lines.iter(f"{NS}polyline"))) == 4  # A p50, A p95, B p50, B p95
    bars = _svg(compare_durations_chart(pairs))
    assert len([r for r in bars.iter(f"{NS}rect") if r.get("stroke") == "white"]) == 6  # 4 + 2
    assert compare_download_chart([(1, None, None)]) is None
