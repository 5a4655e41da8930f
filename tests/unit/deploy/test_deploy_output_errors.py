"""An output folder that cannot be written: one clear error or one warning, never a traceback,
and nothing the run made is left behind (issue: "Under exhaustion or faults: one clear line").

- the journal's header or an intent cannot be written -> ``OutputError``: nothing (more) is
  created; mid-run the round ends in ERROR and what was made before is still cleaned up;
- any other journal line, or journal.json, cannot be written -> one warning, the run goes on;
- a per-round file cannot be written as its round ends -> one warning, the run goes on, and the
  end's ``write_outputs`` names every file it could not write in one ``OutputError``, after
  writing all the others (results.csv, report.json, report.html: never half a file).

Real boto3 against the real local AWS IoT in memory (``AwsPair``, ``pair_deploy``). A full disk
is the journal module's ``os.write`` failing (``FailingOs``) or a file's name taken by a folder
(CI runs as root: permission bits stop nothing).
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pair_deploy import make_world, plan_for
from tests.unit.report.report_runs import synthetic_run

from ota_deploy.core.clock import FakeClock, SystemClock
from ota_deploy.core.json_lines import records
from ota_deploy.core.output_error import OutputError
from ota_deploy.core.status import RoundStatus
from ota_deploy.deploy import journal as journal_module
from ota_deploy.deploy.journal import LOG_NAME, Journal
from ota_deploy.report.results import write_outputs
from ota_deploy.report.round_files import RoundFiles

ENOSPC = os.strerror(errno.ENOSPC)


class FailingOs:
    """The journal module's ``os``: ``write`` of a line that ``fails`` picks runs out of space,
    by raising ENOSPC, or (``short``) by writing only the first ``short(len(line))`` bytes and
    returning that count, as a write on a full disk does. Everything else is the real ``os``."""

    def __init__(
        self, fails: Callable[[dict[str, Any]], bool], short: Callable[[int], int] | None = None
    ) -> None:
        self.fails = fails
        self.short = short
        self.failed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: bytes) -> int:
        if not self.fails(json.loads(data.strip())):
            return os.write(fd, data)
        self.failed += 1
        if self.short is None:
            raise OSError(errno.ENOSPC, ENOSPC)
        return os.write(fd, data[: self.short(len(data))])


def full_disk(
    monkeypatch: pytest.MonkeyPatch,
    fails: Callable[[dict[str, Any]], bool],
    short: Callable[[int], int] | None = None,
) -> FailingOs:
    failing = FailingOs(fails, short)
    monkeypatch.setattr(journal_module, "os", failing)
    return failing


def log_records(folder: Path) -> list[dict[str, Any]]:
    """The log as ``cleanup`` reads it: torn lines skipped."""
    with (folder / LOG_NAME).open(encoding="utf-8") as fh:
        return list(records(fh))


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# -- the journal cannot start: nothing is created ----------------------------------------------
def test_a_journal_in_a_folder_that_cannot_be_made_is_one_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "out"  # its parent is a regular file: NotADirectoryError, even for root
    with pytest.raises(OutputError) as caught:
        Journal.start(out, clock=FakeClock(), mode="aws", region="us-east-1")
    message = str(caught.value)
    assert str(out / LOG_NAME) in message and "nothing was created" in message
    assert "Not a directory" in message and caught.value.exit_code == 3
    assert blocker.read_text() == "not a folder"  # nothing of the user's touched


def test_a_journal_header_that_cannot_be_written_is_one_output_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full_disk(monkeypatch, lambda record: True)
    with pytest.raises(OutputError) as caught:
        Journal.start(tmp_path, clock=FakeClock(), mode="aws", region="us-east-1")
    assert str(tmp_path / LOG_NAME) in str(caught.value)
    assert ENOSPC in str(caught.value) and "nothing was created" in str(caught.value)
    assert not (tmp_path / LOG_NAME).exists()  # the empty log it began does not stay


def test_a_header_that_cannot_be_appended_keeps_the_earlier_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Journal.start(tmp_path, clock=FakeClock(), mode="aws", region="us-east-1")
    before = (tmp_path / LOG_NAME).read_bytes()
    full_disk(monkeypatch, lambda record: True)
    with pytest.raises(OutputError):
        Journal.start(tmp_path, clock=FakeClock(), mode="aws", region="eu-west-1")
    assert (tmp_path / LOG_NAME).read_bytes() == before  # an earlier run's log: untouched


# -- an intent that cannot be written: the create never goes out -------------------------------
def _job_2_intent(record: dict[str, Any]) -> bool:
    return record.get("op") == "intent" and record.get("id") == "J-2"


@pytest.mark.parametrize(
    "short",
    [None, lambda n: n - 1, lambda n: n // 2],
    ids=["ENOSPC", "short-write-all-but-newline", "short-write-half"],
)
def test_an_intent_that_cannot_be_written_stops_the_run_and_cleanup_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short: Callable[[int], int] | None
) -> None:
    w = make_world(tmp_path, rounds=3)
    failing = full_disk(monkeypatch, _job_2_intent, short)
    result = w.runner.run(plan_for)
    assert failing.failed == 1
    assert [r.status for r in result.rounds] == [RoundStatus.SUCCEEDED, RoundStatus.ERROR]
    assert result.stop_reason == "round 2 could not write the run journal"
    assert isinstance(result.error, OutputError)
    message = str(result.error)
    assert str(tmp_path / LOG_NAME) in message and "job J-2 was not created" in message
    assert result.rounds[1].reason == message
    # The create never went out; what round 2 made before it (its stream) was cleaned up.
    assert [p["jobId"] for op, p in w.ops if op == "CreateJob"] == ["J-1"]
    assert [p["streamId"] for op, p in w.ops if op == "CreateStream"] == ["S-1", "S-2"]
    assert [p["streamId"] for op, p in w.ops if op == "DeleteStream"] == ["S-1", "S-2"]
    assert w.job_ids() == set() and w.stream_ids() == set()
    assert list(w.journal.present()) == []
    # The log agrees: no intent of J-2 in it (a torn one is taken back), nothing open.
    assert not any(_job_2_intent(r) for r in log_records(tmp_path))
    assert list(Journal.load(tmp_path / LOG_NAME, clock=SystemClock()).present()) == []


def test_an_intent_before_the_rounds_that_cannot_be_written_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = make_world(tmp_path, rounds=2)
    full_disk(monkeypatch, lambda record: record.get("op") == "intent")
    result = w.runner.run(plan_for)
    assert [r.status for r in result.rounds] == [RoundStatus.ERROR]
    assert result.stop_reason == "round 1 could not write the run journal"
    assert "stream S-1 was not created" in str(result.error)
    assert not {"CreateStream", "CreateJob"} & set(w.op_names())
    assert w.job_ids() == set() and w.stream_ids() == set()


# -- other lines, journal.json: one warning, the run goes on -----------------------------------
def test_event_lines_that_cannot_be_written_are_one_warning_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    w = make_world(tmp_path, rounds=3)
    failing = full_disk(monkeypatch, lambda record: record.get("op") not in (None, "intent"))
    with caplog.at_level(logging.WARNING):
        result = w.runner.run(plan_for)
    assert result.all_succeeded and len(result.rounds) == 3
    assert failing.failed >= 12  # created + removed, for a job and a stream, three rounds
    found = warnings_of(caplog)
    assert len(found) == 1, found
    assert str(tmp_path / LOG_NAME) in found[0] and ENOSPC in found[0]
    assert w.job_ids() == set() and w.stream_ids() == set()  # cleanup removed everything
    assert list(w.journal.present()) == []  # the run knows, though the log lags
    assert {r.get("op") for r in log_records(tmp_path)} == {None, "intent"}
    w.journal.flush()  # journal.json is written from memory: it knows too
    summary = json.loads((tmp_path / "journal.json").read_text())
    assert len(summary["resources"]) == 6 and all(r["removed"] for r in summary["resources"])


def test_a_journal_json_that_cannot_be_written_is_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "journal.json").mkdir()  # its name is taken: every rewrite fails
    with caplog.at_level(logging.WARNING):
        w = make_world(tmp_path, rounds=3)
        result = w.runner.run(plan_for)
        w.journal.flush()
    assert result.all_succeeded and len(result.rounds) == 3
    found = warnings_of(caplog)
    assert len(found) == 1 and str(tmp_path / "journal.json") in found[0], found
    assert w.job_ids() == set() and w.stream_ids() == set()
    ops = [(r.get("op"), r.get("id")) for r in log_records(tmp_path)]
    assert ops.count(("removed", "J-3")) == 1  # the log is the journal: whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.json", LOG_NAME]  # no .tmp


# -- per-round files and the end's outputs -----------------------------------------------------
def test_per_round_files_that_cannot_be_written_warn_once_and_the_end_names_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "things").write_text("a file where the per-round folder goes")
    run = synthetic_run(4, 3)
    files = RoundFiles(out)
    with caplog.at_level(logging.WARNING):
        for rnd in run.rounds:  # what the runner's on_round_end hands over
            files.add(rnd)
    assert len(warnings_of(caplog)) == 1  # three rounds failed: one warning, the run goes on
    assert all(len(r.things) == 4 for r in run.rounds)  # kept whole in memory
    with pytest.raises(OutputError) as caught:
        write_outputs(run, out, html=True, round_files=files)
    message = str(caught.value)
    for n in (1, 2, 3):  # each named, with why (the folder cannot be made: a file is there)
        assert f"things/round-00{n}.jsonl (File exists)" in message
    assert message.endswith("written: results.csv, report.json, report.html")
    assert (out / "results.csv").read_text().startswith("total,")
    doc = json.loads((out / "report.json").read_text())
    assert [r["things_file"] for r in doc["rounds"]] == [None, None, None]  # names no lost file
    assert (out / "report.html").is_file()
    many = synthetic_run(2, 40)
    with pytest.raises(OutputError) as caught:  # a long run's failures: still one short line
        write_outputs(many, out, html=False)
    assert "round-003.jsonl (File exists), and 37 more per-round file(s); written" in str(
        caught.value
    )
    assert "round-004" not in str(caught.value)


@pytest.mark.parametrize("name", ["results.csv", "report.json", "report.html"])
def test_an_output_whose_name_is_taken_is_named_and_the_others_are_written(
    tmp_path: Path, name: str
) -> None:
    (tmp_path / name).mkdir()
    with pytest.raises(OutputError) as caught:
        write_outputs(synthetic_run(3, 2), tmp_path, html=True)
    message = str(caught.value)
    assert f"{tmp_path}: {name} (Is a directory); written: " in message
    others = [n for n in ("results.csv", "report.json", "things", "report.html") if n != name]
    assert all((tmp_path / n).exists() for n in others)
    assert message.endswith("written: " + ", ".join(others))
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert caught.value.exit_code == 3


def test_a_report_json_cut_short_leaves_the_earlier_one_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reused --out: the earlier run's report.json stays as it was, no half file, no
    temporary file left."""
    (tmp_path / "report.json").write_text('{"earlier": true}\n')
    real = Path.write_text

    def disk_fills(self: Path, data: str, *args: Any, **kwargs: Any) -> int:
        if "report.json" in self.name:
            real(self, data[: len(data) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, ENOSPC)
        return real(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_fills)
    with pytest.raises(OutputError, match=f"report.json \\({ENOSPC}\\)"):
        write_outputs(synthetic_run(3, 2), tmp_path, html=False)
    assert (tmp_path / "report.json").read_text() == '{"earlier": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert (tmp_path / "results.csv").is_file()


def test_an_output_folder_that_cannot_be_made_is_one_output_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(OutputError, match=r"the folder .*a-file/out cannot be made"):
        write_outputs(synthetic_run(2, 1), tmp_path / "a-file" / "out")
