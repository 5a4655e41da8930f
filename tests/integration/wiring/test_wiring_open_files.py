"""``run --local`` under the usual open-file limits (issue 9 §2): the soft limit is raised to the
hard one, so 2,000 devices run under ``ulimit -Sn 1024``; when even the hard limit cannot hold
the layout the run exits 2 with one message naming the number and ``ulimit -n``, before it
creates anything."""

from __future__ import annotations

import json
import re
import resource
from pathlib import Path

import pytest
from runhelp_wiring import run_cli, write_run_folder

RUN = ["run", "-c", "dev.ini", "--local", "--out", "out", "--no-live", "--no-html"]


@pytest.mark.timeout(240)
def test_2000_devices_run_under_a_soft_limit_of_1024(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip(f"the hard open-file limit here is {hard}")
    write_run_folder(tmp_path, 2000)
    proc = run_cli(RUN, tmp_path, soft=1024, timeout=220)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "Traceback" not in output and "Too many open files" not in output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (round_1,) = report["rounds"]
    assert round_1["status"] == "SUCCEEDED"
    assert {k: v for k, v in round_1["counts"].items() if v} == {"SUCCEEDED": 2000}
    assert (tmp_path / "out" / "journal.json").is_file()
    # Every device's result came back from its worker process.
    assert "fleet: 2000 devices in" in output and "finished (SUCCEEDED 2000)" in output


def test_a_hard_limit_too_low_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    write_run_folder(tmp_path, 2000)
    proc = run_cli(RUN, tmp_path, soft=1024, hard=1024, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert line.startswith("error: 2000 simulated devices need about ")
    needed = int(re.search(r"need about (\d+) open files", line).group(1))  # type: ignore[union-attr]
    assert needed > 2000 and f"ulimit -n {needed}" in line and "1024" in line
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "out").exists()  # nothing created: no output folder, no journal


def test_fleet_run_checks_the_limit_too(tmp_path: Path) -> None:
    things = tmp_path / "things.txt"
    things.write_text("".join(f"t-{i}\n" for i in range(3000)))
    proc = run_cli(
        ["fleet", "run", "--things", str(things), "--mqtt", "127.0.0.1:9"],
        tmp_path,
        soft=1024,
        hard=1024,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "3000 simulated devices need about" in proc.stderr and "ulimit -n" in proc.stderr
