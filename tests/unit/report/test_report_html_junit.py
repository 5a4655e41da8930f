"""report.html and JUnit XML rendered to a temp dir, parsed back and checked."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from ota_deploy.report.digest import sorted_things
from ota_deploy.report.html import render_html, write_html
from ota_deploy.report.junit import build_junit, failure_message, not_run_spans, write_junit
from ota_deploy.report.model import (
    CountsSample,
    NotRun,
    RoundReport,
    RunReport,
    Summary,
    ThingResult,
)

T0 = 1_700_000_000.0


def _thing(name: str, status: str = "SUCCEEDED", dur: float = 5.0, **details: str) -> ThingResult:
    return ThingResult(
        thing_name=name,
        status=status,
        started_at=T0 + 1,
        finished_at=T0 + 1 + dur,
        duration_sec=dur,
        status_details=details,
    )


def _round(
    n: int, status: str = "SUCCEEDED", things: list[ThingResult] | None = None
) -> RoundReport:
    things = things or [_thing(f"dev-{i}", dur=3.0 + i) for i in range(6)]
    start = T0 + 100 * (n - 1)
    return RoundReport(
        round=n,
        job_id=f"Job-{n}",
        stream_id=f"Stream-{n}",
        status=status,  # type: ignore[arg-type]
        reason=None if status == "SUCCEEDED" else "2 executions did not succeed",
        start=start,
        end=start + 20,
        duration_sec=20.0 + n,
        counts={"SUCCEEDED": sum(t.status == "SUCCEEDED" for t in things)},
        things=things,
        samples=[
            CountsSample(t=start + 1, counts={"QUEUED": 6}),
            CountsSample(t=start + 5, counts={"QUEUED": 2, "IN_PROGRESS": 4}),
            CountsSample(t=start + 15, counts={"SUCCEEDED": 6}),
        ],
        api_calls=12,
    )


def _report(failed: bool = False) -> RunReport:
    rounds = [_round(1)]
    if failed:
        rounds.append(
            _round(
                2,
                "FAILED",
                [
                    _thing("dev-ok"),
                    _thing("dev-bad", "FAILED", reason="md5 <mismatch> & more"),
                    _thing("dev-slow", "TIMED_OUT"),
                ],
            )
        )
    return RunReport(
        tool_version="0.1.0",
        config_file="/tmp/demo/dev.ini",
        mode="local",
        region="us-east-1",
        started=T0,
        ended=T0 + 300,
        rounds=rounds,
        summary=Summary(
            total=3, succeeded=1, failed=1 if failed else 0, skipped=1 if failed else 0
        ),
    )


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self.tags: list[str] = []
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs))
        if tag == "tr":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._row is not None and data.strip():
            self._row.append(data.strip())


def _parse(path: Path) -> _Collect:
    p = _Collect()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_html_self_contained_with_charts(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.html"
    write_html(_report(failed=True), out)
    page = _parse(out)
    html = out.read_text(encoding="utf-8")
    assert "script" not in page.tags
    assert "http://" not in html and "https://" not in html
    srcs = [i["src"] or "" for i in page.imgs]
    # trend (download p50/p95, max, statuses, durations) + per round (rollout + histogram) x 2
    assert len(srcs) == 8
    for src in srcs:
        assert src.startswith("data:image/svg+xml;base64,")
        svg = ET.fromstring(base64.b64decode(src.split(",", 1)[1]))  # well-formed XML
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    alts = [i["alt"] for i in page.imgs]
    assert "round 2 rollout curve" in alts and "round 1 download time distribution" in alts


def test_html_summary_and_failures_first(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    write_html(_report(failed=True), out)
    page = _parse(out)
    text = " ".join(page.text)
    assert "FAILED" in text and "3 planned, 1 succeeded, 1 failed, 1 skipped" in text
    assert "2 executions did not succeed" in text
    thing_rows = [r for r in page.rows if r and r[0] in {"dev-ok", "dev-bad", "dev-slow"}]
    # The device x round view lists them first (failures, then the slowest), then round 2's table.
    matrix, thing_rows = thing_rows[:3], thing_rows[3:]
    assert [r[0] for r in matrix] == ["dev-bad", "dev-slow", "dev-ok"]
    assert [r[0] for r in thing_rows] == ["dev-bad", "dev-slow", "dev-ok"]
    assert "reason=md5 <mismatch> & more" in thing_rows[0]  # escaped in HTML, intact in text
    assert "<mismatch>" not in out.read_text(encoding="utf-8")


def test_html_success_and_empty(tmp_path: Path) -> None:
    html = render_html(_report())
    assert "<title>ota-deploy report: SUCCEEDED</title>" in html
    empty = RunReport(
        tool_version="0.1.0",
        region="us-east-1",
        started=T0,
        summary=Summary(total=1, succeeded=0, failed=0),
    )
    assert "no rounds ran" in render_html(empty)


def test_html_interrupted_and_no_samples() -> None:
    report = _report()
    report.interrupted = True
    report.rounds[0].samples = []
    report.rounds[0].things = []
    html = render_html(report)
    assert "INTERRUPTED" in html
    assert "no per-thing results" in html


def test_sorted_things_failures_first() -> None:
    names = [
        t.thing_name
        for t in sorted_things(
            [_thing("a"), _thing("b", "REJECTED"), _thing("c", "FAILED"), _thing("d", "NONE")]
        )
    ]
    assert names == ["c", "b", "d", "a"]


def test_junit_counts_and_messages(tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    write_junit(_report(failed=True), out)
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "3"
    assert suite.get("failures") == "1"
    assert suite.get("errors") == "0"
    assert suite.get("skipped") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["round 1 (Job-1)", "round 2 (Job-2)", "round 3 (-)"]
    assert cases[0].find("failure") is None and cases[0].get("time") == "21.000"
    failure = cases[1].find("failure")
    assert failure is not None
    msg = failure.get("message") or ""
    assert "2 of 3 things did not succeed" in msg
    assert "dev-bad FAILED (reason=md5 <mismatch> & more)" in msg
    assert "dev-slow TIMED_OUT" in msg
    assert "dev-ok" not in msg
    assert cases[2].find("skipped") is not None
    assert suite.find("properties") is not None


def test_junit_of_a_million_round_run_has_one_case_for_the_rounds_not_run() -> None:
    report = _report()
    report.rounds.append(_round(2))
    report.summary = Summary(total=1_000_000, succeeded=2, failed=0, skipped=999_998)
    report.not_run = NotRun(first=3, last=1_000_000, reason="interrupted (Ctrl-C / SIGTERM)")
    suite = build_junit(report).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("skipped"), suite.get("failures")) == ("3", "1", "0")
    cases = suite.findall("testcase")
    names = [c.get("name") for c in cases]
    assert names == ["round 1 (Job-1)", "round 2 (Job-2)", "rounds 3-1000000 (-)"]
    skipped = cases[2].find("skipped")
    assert skipped is not None
    message = skipped.get("message") or ""
    assert "999998 planned rounds not run" in message and "Ctrl-C" in message


def test_not_run_spans_come_from_the_rounds_that_ran() -> None:
    assert not_run_spans([1, 2], 1_000_000_000) == [(3, 1_000_000_000)]
    assert not_run_spans([1, 2, 5], 7) == [(3, 4), (6, 7)]  # an older report with a gap
    assert not_run_spans([], 2) == [(1, 2)]
    assert not_run_spans([1, 2, 3], 3) == []
    assert not_run_spans([2, 2, 9], 3) == [(1, 1), (3, 3)]  # duplicates, a round past the plan


def test_junit_error_round(tmp_path: Path) -> None:
    report = _report()
    report.rounds[0].status = "ERROR"
    report.rounds[0].reason = "ThrottlingException on CreateJob"
    report.summary = Summary(total=1, succeeded=0, failed=1)
    out = tmp_path / "j.xml"
    write_junit(report, out)
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == "1" and suite.get("failures") == "0"
    err = suite.find("testcase/error")
    assert err is not None and "ThrottlingException" in (err.get("message") or "")


def test_failure_message_truncates() -> None:
    things = [_thing(f"d{i:03d}", "FAILED") for i in range(30)]
    rnd = _round(1, "FAILED", things)
    msg = failure_message(rnd)
    assert "30 of 30 things did not succeed" in msg
    assert "... 10 more" in msg
