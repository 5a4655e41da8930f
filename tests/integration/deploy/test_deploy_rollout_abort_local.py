"""A dev.ini with a rollout rate and abort criteria, through `ota-deploy run --local` end to end.

The manual's keys: [JOB_EXECUTE_ROLLOUT_CONFIG] with an exponential rate ([EXP_RATE_CONFIG],
[INCREASE_CRITERIA]) and [ABORT_CONFIG] / [ABORT_CONFIG_TYPE_ALL]. The CLI runs as a real
process (the contract users have); the embedded local AWS IoT paces the releases and applies
the abort; every simulated device fails (--fail-rate 1), so the abort criteria cancel the job.

Rollout model (the local AWS IoT's, after AWS's JobExecutionsRolloutConfig): one-minute
windows from the job's creation; baseRatePerMinute 2 releases 2 things in the first minute;
once 2 are notified (numberOfNotifiedThings) the rate doubles (incrementFactor 2.0), so the
second minute releases 4. Abort: ALL failures, 50 % of at least 6 executed -> CANCEL, which
cancels the 4 things never released. --time-scale 20 makes a virtual minute 3 real seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ota_deploy.config.sample import copy_sample, edit_ini

D, ROLL, EXP, CRIT = "DEFAULT", "JOB_EXECUTE_ROLLOUT_CONFIG", "EXP_RATE_CONFIG", "INCREASE_CRITERIA"
ABORT_ALL = "ABORT_CONFIG_TYPE_ALL"
SETTINGS: dict[tuple[str, str], str | None] = {
    (D, "rounds"): "2",
    (D, "defaultDelay"): "0",
    (D, "cleanUpCfg"): "True",
    (D, "useJobExecutionsRolloutConfig"): "True",
    (D, "useAbortConfig"): "True",
    (ROLL, "maximumPerMinute"): "100",
    (ROLL, "useExponentialRateCfg"): "True",
    (EXP, "baseRatePerMinute"): "2",
    (EXP, "incrementFactor"): "2.0",
    (EXP, "useRateIncreaseCriteria"): "True",
    (CRIT, "numberOfNotifiedThings"): "2",
    (CRIT, "numberOfSucceededThings"): None,  # AWS takes one criterion
    ("ABORT_CONFIG", "useAllSubsection"): "True",
    (ABORT_ALL, "thresholdPercentage"): "50",
    (ABORT_ALL, "minNumberOfExecutedThings"): "6",
}


def ota_deploy(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed console script (beside this interpreter), as a user runs it."""
    folder = os.path.dirname(sys.executable)
    script = shutil.which("ota-deploy", path=folder)
    command = [script] if script else [sys.executable, "-m", "ota_deploy"]
    env = {**os.environ, "PATH": folder + os.pathsep + os.environ.get("PATH", "")}
    env.pop("AWS_PROFILE", None)
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def executed(counts: dict[str, int]) -> int:
    """Things that took the job: every execution neither waiting (QUEUED) nor CANCELED."""
    return sum(n for status, n in counts.items() if status not in ("QUEUED", "CANCELED"))


def test_rollout_paces_releases_and_abort_cancels_the_job(tmp_path: Path) -> None:
    ini = copy_sample(tmp_path)
    ini.write_text(edit_ini(ini.read_text(), SETTINGS))
    out = tmp_path / "out"
    args = ["run", "-c", "dev.ini", "--local", "--out", str(out), "--no-live", "--no-html"]
    result = ota_deploy([*args, "--fail-rate", "1", "--time-scale", "20"], tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr  # a failed round: exit 1
    assert "Traceback" not in result.stderr + result.stdout
    assert (out / "results.csv").read_text() == "total,2\nfail,1\nsucceed,0\n"

    report = json.loads((out / "report.json").read_text())
    first: dict[str, Any] = report["rounds"][0]
    assert [r["status"] for r in report["rounds"]] == ["CANCELED"]  # round 2: not run
    assert report["not_run"]["first"] == 2 and "round 1 CANCELED" in report["not_run"]["reason"]
    # The abort, in words: AWS cancelled the job; the failures that tripped it are named.
    assert "CANCELED (abort criteria?)" in first["reason"] and "6 FAILED" in first["reason"]
    things = [json.loads(line) for line in (out / first["things_file"]).read_text().splitlines()]
    statuses = sorted(t["status"] for t in things)
    assert statuses == ["CANCELED"] * 4 + ["FAILED"] * 6
    assert first["counts"]["CANCELED"] == 4 and first["counts"]["FAILED"] == 6

    # The rollout paced the releases: 2 things in the job's first minute, 4 more in the
    # second (the doubled rate), never all 10 at once.
    curve = [(s["t"] - first["start"], executed(s["counts"])) for s in first["samples"]]
    assert all(n <= 2 for t, n in curve if t < 60), curve
    assert any(n == 2 for _, n in curve), curve  # a step held at the first minute's 2
    assert all(t >= 60 for t, n in curve if n > 2), curve
    assert max(n for _, n in curve) == 6, curve
    assert [n for _, n in curve] == sorted(n for _, n in curve)  # executions only accumulate
