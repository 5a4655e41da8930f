"""An output folder that cannot be written, through `run --local`: one error line (exit 3),
never a traceback, nothing half made.

- `--out` whose parent is a regular file (the CLI as a real process): the run ends before
  anything starts, and no folder appears;
- results.csv that cannot be written at the end (in-process, on the shared local AWS IoT): the
  rounds ran and were cleaned up, the journal was flushed, every other output was written, and
  the run's error names the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from clihelp_deploy import copy_samples, run_cli
from stackhelp_deploy import SharedStack, things_file

from ota_deploy.deploy.entry import execute_run


def test_an_out_folder_that_cannot_be_made_is_one_line_and_exit_3(tmp_path: Path) -> None:
    copy_samples(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = blocker / "out"
    proc = run_cli(["run", "-c", "dev.ini", "--local", "--no-live", "--out", str(out)], tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert str(out) in lines[0] and "Not a directory" in lines[0]
    assert blocker.is_file() and blocker.read_text() == ""  # no partial folder appeared
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a-file",
        "dev.ini",
        "job_temp.json",
        "test.bin",
        "thingsList.txt",
    ]


def test_a_results_csv_that_cannot_be_written_ends_the_run_after_cleanup(
    tmp_path: Path, shared_stack: SharedStack
) -> None:
    ini = copy_samples(tmp_path, cleanUpCfg="True", rounds="2", defaultDelay="0", jobId="OutJob")
    things_file(tmp_path, shared_stack.OK[:2])
    out = tmp_path / "out"
    (out / "results.csv").mkdir(parents=True)  # its name is taken: the write fails at the end
    outcome = execute_run(
        shared_stack.request(ini, out, live=False),
        clock=shared_stack.clock,
        stack_factory=shared_stack,
    )
    assert outcome.exit_code == 3 and outcome.error is not None
    assert "results.csv (Is a directory)" in outcome.error and str(out) in outcome.error
    assert "\n" not in outcome.error
    assert outcome.report is not None
    assert [r.status for r in outcome.report.rounds] == ["SUCCEEDED", "SUCCEEDED"]
    assert shared_stack.jobs == [] and shared_stack.streams == []  # cleanup ran
    journal = json.loads((out / "journal.json").read_text())  # flushed: everything removed
    assert journal["resources"] and all(r["removed"] for r in journal["resources"])
    report = json.loads((out / "report.json").read_text())  # the other outputs were written
    assert report["summary"]["succeeded"] == 2
    assert all((out / r["things_file"]).is_file() for r in report["rounds"])
    assert (out / "results.csv").is_dir()  # the user's folder is left as it was
