"""The on-disk layout: report.json + things/round-NNN.jsonl, written, streamed and re-rendered
(old single-file report.json too), and bad per-round files rejected as bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from report_runs import synthetic_run
from typer.testing import CliRunner, Result

from ota_deploy.cli import report as report_cli
from ota_deploy.core.errors import InputError
from ota_deploy.report.layout import read_report
from ota_deploy.report.model import ThingResult
from ota_deploy.report.results import write_outputs
from ota_deploy.report.things import iter_things, round_things


def _app():  # type: ignore[no-untyped-def]
    import typer

    app = typer.Typer()
    report_cli.register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps "report" a sub-command
        pass

    return app


def _bad_input(result: Result) -> str:
    """The InputError a command raised (main() prints it and exits 2); its message."""
    assert isinstance(result.exception, InputError), result.output
    assert result.exception.exit_code == 2
    return str(result.exception)


def _flaky(device: int, rnd: int) -> str:
    return "FAILED" if device == 3 and rnd == 2 else "SUCCEEDED"


def test_per_thing_records_go_to_one_jsonl_file_per_round(tmp_path: Path) -> None:
    run = synthetic_run(40, 3, status_of=_flaky)
    expected = {r.round: [t.model_dump() for t in r.things] for r in run.rounds}
    paths = write_outputs(run, tmp_path, html=False)
    assert [p.name for p in paths] == ["results.csv", "report.json", "things"]
    doc = json.loads((tmp_path / "report.json").read_text())
    for rnd in doc["rounds"]:
        assert "things" not in rnd  # report.json keeps run and round records only
        assert rnd["things_file"] == f"things/round-{rnd['round']:03d}.jsonl"
        assert set(rnd["download_sec"]) == {"n", "p50", "p95", "max"}
        lines = (tmp_path / rnd["things_file"]).read_text().splitlines()
        assert len(lines) == 40
        first = json.loads(lines[0])  # report.json's old per-thing field names, nulls left out
        assert set(first) <= set(ThingResult.model_fields) and "thing_name" in first
        assert [t.model_dump() for t in iter_things(tmp_path / rnd["things_file"])] == (
            expected[rnd["round"]]
        )
    assert doc["rounds"][1]["download_sec"]["n"] == 39  # the FAILED thing is not a download
    assert doc["rounds"][0]["status"] == "SUCCEEDED" and doc["summary"]["failed"] == 1


def test_read_report_streams_things_back(tmp_path: Path) -> None:
    run = synthetic_run(10, 2)
    write_outputs(run, tmp_path, html=False)
    back = read_report(tmp_path)
    assert back.rounds[0].things == [] and back.rounds[0].things_file
    names = [t.thing_name for t in round_things(back.rounds[1], tmp_path)]
    assert names == [f"dev-{i:05d}" for i in range(10)]
    assert (
        read_report(tmp_path / "report.json").rounds[1].download_sec == run.rounds[1].download_sec
    )


def test_stale_round_files_of_an_earlier_run_are_removed(tmp_path: Path) -> None:
    write_outputs(synthetic_run(5, 4), tmp_path, html=False)
    write_outputs(synthetic_run(5, 2), tmp_path, html=False)
    assert sorted(p.name for p in (tmp_path / "things").iterdir()) == [
        "round-001.jsonl",
        "round-002.jsonl",
    ]


def test_report_dir_rerenders_from_the_new_layout(tmp_path: Path) -> None:
    write_outputs(synthetic_run(30, 3, status_of=_flaky), tmp_path, html=False)
    assert not (tmp_path / "report.html").exists()
    junit = tmp_path / "junit.xml"
    result = CliRunner().invoke(_app(), ["report", str(tmp_path), "--junit", str(junit)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "dev-00003" in page  # read back from things/round-002.jsonl
    assert 'href="things/round-002.jsonl"' in page
    assert "dev-00003 FAILED (reason=r0)" in junit.read_text(encoding="utf-8")


def test_report_dir_still_reads_an_old_single_file_report_json(tmp_path: Path) -> None:
    run = synthetic_run(12, 2, status_of=_flaky)
    run.write(tmp_path / "report.json")  # things inline, no download_sec: the old layout
    assert "things" in json.loads((tmp_path / "report.json").read_text())["rounds"][0]
    result = CliRunner().invoke(_app(), ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "dev-00003" in page and "download time" in page
    assert "things/round-" not in page  # nothing to link to


def test_missing_or_bad_round_file_is_bad_input(tmp_path: Path) -> None:
    write_outputs(synthetic_run(5, 2), tmp_path, html=False)
    round2 = tmp_path / "things" / "round-002.jsonl"
    lines = round2.read_text().splitlines()
    round2.write_text("\n".join([lines[0], '{"thing_name": "x", "status": "MELTED"}']) + "\n")
    message = _bad_input(CliRunner().invoke(_app(), ["report", str(tmp_path)]))
    assert "round-002.jsonl:2" in message and "status" in message
    round2.unlink()
    message = _bad_input(CliRunner().invoke(_app(), ["report", str(tmp_path)]))
    assert "round-002.jsonl" in message and "missing" in message
    assert not (tmp_path / "report.html").exists()  # nothing written on bad input


def test_things_file_must_stay_inside_the_report_folder(tmp_path: Path) -> None:
    write_outputs(synthetic_run(3, 1), tmp_path, html=False)
    doc = json.loads((tmp_path / "report.json").read_text())
    for bad in ("../elsewhere.jsonl", "/etc/passwd", "things\\round-001.jsonl"):
        doc["rounds"][0]["things_file"] = bad
        (tmp_path / "report.json").write_text(json.dumps(doc))
        message = _bad_input(CliRunner().invoke(_app(), ["report", str(tmp_path)]))
        assert "rounds.0.things_file" in message and "report.json" in message
