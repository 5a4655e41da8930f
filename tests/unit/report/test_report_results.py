"""results.csv is exactly the manual's three lines; report.json round-trips."""

from __future__ import annotations

from pathlib import Path

from ota_deploy.report.model import RoundReport, RunReport
from ota_deploy.report.results import results_csv_text, summarize, write_outputs


def rr(n: int, status: str) -> RoundReport:
    return RoundReport(round=n, job_id=f"J-{n}", stream_id=f"S-{n}", status=status, start=1.0)  # type: ignore[arg-type]


def test_all_succeeded() -> None:
    s = summarize([rr(1, "SUCCEEDED"), rr(2, "SUCCEEDED"), rr(3, "SUCCEEDED")], 3)
    assert results_csv_text(s) == "total,3\nfail,0\nsucceed,3\n"


def test_failure_then_skipped() -> None:
    s = summarize([rr(1, "SUCCEEDED"), rr(2, "FAILED"), rr(3, "SKIPPED")], 3)
    assert results_csv_text(s) == "total,3\nfail,1\nsucceed,1\n"
    assert s.skipped == 1


def test_canceled_timed_out_error_count_as_fail() -> None:
    s = summarize([rr(1, "CANCELED"), rr(2, "TIMED_OUT"), rr(3, "ERROR")], 3)
    assert (s.failed, s.succeeded, s.skipped) == (3, 0, 0)


def test_write_outputs(tmp_path: Path) -> None:
    rounds = [rr(1, "SUCCEEDED"), rr(2, "FAILED")]
    report = RunReport(
        tool_version="t",
        region="us-east-1",
        started=1.0,
        rounds=rounds,
        summary=summarize(rounds, 2),
    )
    paths = write_outputs(report, tmp_path / "out", html=False)
    assert [p.name for p in paths] == ["results.csv", "report.json"]
    assert (tmp_path / "out" / "results.csv").read_text() == "total,2\nfail,1\nsucceed,1\n"
    back = RunReport.read(tmp_path / "out" / "report.json")
    assert back.rounds[1].status == "FAILED" and back.summary.failed == 1
