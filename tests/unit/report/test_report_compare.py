"""`report --compare RUN_A RUN_B`: an injected slowdown is flagged (exit 1, JUnit failures);
noise under the thresholds is not (exit 0); bad input exits 2."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from report_runs import synthetic_run
from typer.testing import CliRunner, Result

from ota_deploy.cli import report as report_cli
from ota_deploy.core.errors import InputError
from ota_deploy.report.compare import (
    IMPROVED,
    NOT_JUDGED,
    OK,
    REGRESSION,
    Thresholds,
    compare_runs,
    judge_time,
)
from ota_deploy.report.digest import fill_download_stats
from ota_deploy.report.html_compare import render_compare_html
from ota_deploy.report.results import write_outputs


def _app():  # type: ignore[no-untyped-def]
    import typer

    app = typer.Typer()
    report_cli.register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps "report" a sub-command
        pass

    return app


def _runs(tmp_path: Path, *, slowdown: float, seed_b: int = 2) -> tuple[Path, Path]:
    """Run A (firmware v1) and run B (v2): 300 devices x 4 rounds, B's times x ``slowdown``
    and drawn from another seed (so B differs from A by noise as well)."""
    a, b = tmp_path / "v1", tmp_path / "v2"
    write_outputs(synthetic_run(300, 4, seed=1), a, html=False)
    write_outputs(synthetic_run(300, 4, seed=seed_b, slowdown=slowdown), b, html=False)
    return a, b


def _compare(*args: str) -> Result:
    return CliRunner().invoke(_app(), ["report", "--compare", *args])


def test_injected_slowdown_is_flagged_with_exit_1_and_junit(tmp_path: Path) -> None:
    a, b = _runs(tmp_path, slowdown=1.4)
    junit = tmp_path / "ci" / "compare.xml"
    page = tmp_path / "compare.html"
    result = _compare(str(a), str(b), "--junit", str(junit), "--html", str(page))
    assert result.exit_code == 1, result.output
    out = result.output
    assert "download p50 (median of rounds)" in out and "REGRESSION" in out
    assert "3 regression(s): round duration" in out
    assert "not judged" in out  # download max is shown, not judged
    # per round, side by side
    assert any(
        line.startswith("4  ") and "SUCCEEDED/SUCCEEDED" in line for line in out.splitlines()
    )
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "3", "1")
    failure = suite.find("testcase[@name='download p95 (median of rounds)']/failure")
    assert failure is not None and "slower by > 10 % and > 0.5 s" in (failure.get("message") or "")
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and html.count("data:image/svg+xml;base64,") == 2
    assert "<title>ota-deploy compare: REGRESSION</title>" in html


def test_noise_under_the_threshold_is_not_flagged(tmp_path: Path) -> None:
    a, b = _runs(tmp_path, slowdown=1.03)  # 3 % slower, plus the other seed's noise
    result = _compare(str(a), str(b))
    assert result.exit_code == 0, result.output
    assert "no regression" in result.output and "REGRESSION" not in result.output
    # A tighter relative threshold (and no absolute one) catches the same 3 %.
    result = _compare(str(a), str(b), "--threshold-pct", "1", "--threshold-sec", "0")
    assert result.exit_code == 1 and "REGRESSION" in result.output


def test_both_bounds_must_be_exceeded() -> None:
    t = Thresholds(pct=10, sec=0.5)
    assert judge_time(0.1, 0.2, t) == OK  # +100 % but only 0.1 s
    assert judge_time(60.0, 60.9, t) == OK  # +0.9 s but only 1.5 %
    assert judge_time(10.0, 11.2, t) == REGRESSION
    assert judge_time(10.0, 8.0, t) == IMPROVED
    assert judge_time(None, 8.0, t) == "n/a"


def test_more_failures_are_a_regression() -> None:
    def flaky(device: int, rnd: int) -> str:
        return "FAILED" if device < 6 else "SUCCEEDED"  # 6 of 200 = 3 % of executions

    a = synthetic_run(200, 2, seed=1)
    b = synthetic_run(200, 2, seed=1, status_of=flaky)
    for run in (a, b):
        fill_download_stats(run, None)  # as `report --compare` does for a report without them
    cmp = compare_runs(a, b)
    share = cmp.figures[-1]
    assert share.name == "executions not succeeded" and share.verdict == REGRESSION
    assert share.change_text() == "+3.00 pt"
    assert [f.verdict for f in cmp.figures[:4]] == [OK, OK, OK, NOT_JUDGED]
    assert compare_runs(a, b, Thresholds(fail_pct=5)).regressions == []
    assert "REGRESSION" in render_compare_html(cmp)


def test_old_single_file_reports_compare_too(tmp_path: Path) -> None:
    synthetic_run(50, 2, seed=1).write(tmp_path / "a.json")  # things inline, no download_sec
    synthetic_run(50, 2, seed=1, slowdown=2.0).write(tmp_path / "b.json")
    result = _compare(str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert result.exit_code == 1 and "download p95 (median of rounds)" in result.output


def _bad_input(result: Result) -> str:
    assert isinstance(result.exception, InputError), result.output
    assert result.exception.exit_code == 2
    return str(result.exception)


def test_bad_input_exits_2(tmp_path: Path) -> None:
    a, _ = _runs(tmp_path, slowdown=1.0)
    assert "report.json" in _bad_input(_compare(str(a), str(tmp_path / "nope")))
    both = CliRunner().invoke(_app(), ["report", str(a), "--compare", str(a), str(a)])
    assert "not both" in _bad_input(both)
    assert "--compare" in _bad_input(CliRunner().invoke(_app(), ["report"]))
    html_alone = CliRunner().invoke(_app(), ["report", str(a), "--html", "x.html"])
    assert "--html is for --compare" in _bad_input(html_alone)
    negative = _compare(str(a), str(a), "--threshold-pct", "-1")
    assert negative.exit_code == 2  # click's usage error
