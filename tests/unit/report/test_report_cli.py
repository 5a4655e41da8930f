"""`ota-deploy report DIR [--junit FILE]` through the Typer app (in-process CliRunner)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from ota_deploy.cli.report import load_report
from ota_deploy.core.errors import InputError
from ota_deploy.report.model import RoundReport, RunReport, Summary, ThingResult

T0 = 1_700_000_000.0


def _write_report(d: Path) -> None:
    RunReport(
        tool_version="0.1.0",
        mode="local",
        region="us-east-1",
        started=T0,
        ended=T0 + 30,
        rounds=[
            RoundReport(
                round=1,
                job_id="J-1",
                stream_id="S-1",
                status="SUCCEEDED",
                start=T0,
                end=T0 + 30,
                duration_sec=30,
                counts={"SUCCEEDED": 1},
                things=[ThingResult(thing_name="a", status="SUCCEEDED", duration_sec=4)],
            )
        ],
        summary=Summary(total=1, succeeded=1, failed=0),
    ).write(d / "report.json")


def _app():  # type: ignore[no-untyped-def]
    import typer

    from ota_deploy.cli import report

    app = typer.Typer()
    report.register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps "report" a sub-command
        pass

    return app


def test_report_renders_html_and_junit(tmp_path: Path) -> None:
    _write_report(tmp_path)
    junit = tmp_path / "ci" / "junit.xml"
    result = CliRunner().invoke(_app(), ["report", str(tmp_path), "--junit", str(junit)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").is_file()
    assert "report.html" in result.output
    assert ET.parse(junit).getroot().find("testsuite").get("tests") == "1"  # type: ignore[union-attr]


def test_missing_report_json_is_input_error(tmp_path: Path) -> None:
    try:
        load_report(tmp_path / "report.json")
    except InputError as err:
        assert "report.json" in str(err) and err.exit_code == 2
    else:
        raise AssertionError("no error")


def test_bad_json_and_bad_shape(tmp_path: Path) -> None:
    p = tmp_path / "report.json"
    p.write_text("{not json", encoding="utf-8")
    try:
        load_report(p)
    except InputError as err:
        assert str(p) in str(err) and "not valid JSON" in str(err)
    else:
        raise AssertionError("no error")
    p.write_text('{"tool_version": "x"}', encoding="utf-8")
    try:
        load_report(p)
    except InputError as err:
        assert "not a report.json of this tool" in str(err)
    else:
        raise AssertionError("no error")
