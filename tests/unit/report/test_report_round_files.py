"""Per-round files written as each round ends (``RoundFiles``): the round's records leave memory,
its digest stays, and the end of the run writes the same report.json and report.html as when
every round's records were kept until the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_runs import synthetic_run

from ota_deploy.report.digest import digest_rounds
from ota_deploy.report.results import write_outputs
from ota_deploy.report.round_files import RoundFiles
from ota_deploy.report.things import iter_things


def _flaky(device: int, rnd: int) -> str:
    return "FAILED" if device == 3 and rnd == 2 else "SUCCEEDED"


def test_a_round_is_written_when_it_ends_and_leaves_memory(tmp_path: Path) -> None:
    run = synthetic_run(40, 3, status_of=_flaky)
    expected = [t.model_dump() for t in run.rounds[1].things]
    files = RoundFiles(tmp_path)
    files.add(run.rounds[1])
    rnd = run.rounds[1]
    assert rnd.things == [] and rnd.things_file == "things/round-002.jsonl"
    assert [t.model_dump() for t in iter_things(tmp_path / rnd.things_file)] == expected
    assert rnd.download_sec is not None and rnd.download_sec.n == 39  # FAILED: no download
    digest = files.digests[2]
    assert (digest.total, digest.not_succeeded) == (40, 1)
    assert [t.thing_name for t in digest.listed] == ["dev-00003"]
    assert sorted(p.name for p in (tmp_path / "things").iterdir()) == ["round-002.jsonl"]


def test_the_end_of_the_run_writes_what_the_all_in_memory_path_wrote(tmp_path: Path) -> None:
    at_end, per_round = tmp_path / "at-end", tmp_path / "per-round"
    write_outputs(synthetic_run(60, 4, status_of=_flaky), at_end)
    run = synthetic_run(60, 4, status_of=_flaky)
    files = RoundFiles(per_round)
    for rnd in run.rounds:
        files.add(rnd)
    assert all(r.things == [] for r in run.rounds)
    paths = write_outputs(run, per_round, round_files=files)
    assert [p.name for p in paths] == ["results.csv", "report.json", "things", "report.html"]
    for name in ("report.json", "results.csv", "report.html"):  # the format is unchanged
        assert (per_round / name).read_bytes() == (at_end / name).read_bytes(), name
    for n in range(1, 5):
        part = f"things/round-{n:03d}.jsonl"
        assert (per_round / part).read_bytes() == (at_end / part).read_bytes()
    # The digests kept are the ones `ota-deploy report DIR` makes from the files.
    doc = json.loads((per_round / "report.json").read_text())
    assert [r["download_sec"]["n"] for r in doc["rounds"]] == [60, 59, 60, 60]
    assert [d.marks for d in digest_rounds(run, per_round)] == [
        files.digests[n].marks for n in range(1, 5)
    ]


def test_an_earlier_runs_round_files_go_when_the_run_starts(tmp_path: Path) -> None:
    write_outputs(synthetic_run(5, 4), tmp_path, html=False)
    files = RoundFiles(tmp_path)
    assert list((tmp_path / "things").iterdir()) == []
    files.add(synthetic_run(5, 1).rounds[0])
    assert [p.name for p in (tmp_path / "things").iterdir()] == ["round-001.jsonl"]


def test_a_round_that_cannot_be_written_stays_in_memory_until_the_end(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = synthetic_run(8, 2)
    files = RoundFiles(tmp_path)
    blocker = tmp_path / "things" / "round-001.jsonl"
    blocker.mkdir(parents=True)  # the file's name is taken: the write fails (IsADirectory)
    files.add(run.rounds[0])
    files.add(run.rounds[1])
    assert len(run.rounds[0].things) == 8 and run.rounds[0].things_file is None
    assert run.rounds[1].things == []
    assert sum("round-001.jsonl not written" in r.getMessage() for r in caplog.records) == 1
    assert not list((tmp_path / "things").glob(".*.tmp"))  # no half-written file left
    blocker.rmdir()
    write_outputs(run, tmp_path, html=False, round_files=files)
    assert len(list(iter_things(tmp_path / "things" / "round-001.jsonl"))) == 8
    doc = json.loads((tmp_path / "report.json").read_text())
    assert [r["things_file"] for r in doc["rounds"]] == [
        "things/round-001.jsonl",
        "things/round-002.jsonl",
    ]
    assert doc["rounds"][0]["download_sec"]["n"] == 8
