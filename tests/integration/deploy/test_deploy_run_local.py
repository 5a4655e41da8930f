"""`ota-deploy run --local` end to end: the manual's dev.ini, real sockets, simulated devices."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from clihelp_deploy import CLI, cli_env, copy_samples, run_cli

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.session import AwsClients, AwsTarget
from ota_deploy.cli.local_stack import stack_for_run
from ota_deploy.deploy.entry import RunRequest, execute_run
from ota_deploy.fleet.options import FleetOptions


def test_manual_dev_ini_runs_local_to_success(tmp_path: Path) -> None:
    copy_samples(tmp_path)  # as printed: cleanUpCfg False, 3 rounds, 10 things
    out = tmp_path / "out"
    proc = run_cli(
        [
            "run",
            "-c",
            "dev.ini",
            "--local",
            "--time-scale",
            "10",
            "--out",
            str(out),
            "--no-live",
            "--no-html",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "results.csv").read_text() == "total,3\nfail,0\nsucceed,3\n"
    report = json.loads((out / "report.json").read_text())
    assert [r["status"] for r in report["rounds"]] == ["SUCCEEDED"] * 3
    assert report["mode"] == "local" and report["summary"]["succeeded"] == 3
    first = report["rounds"][0]
    assert first["job_id"] == "JobPython5566-1" and len(first["things"]) == 10
    assert all(t["status"] == "SUCCEEDED" for t in first["things"])
    assert first["counts"]["SUCCEEDED"] == 10 and first["samples"]
    assert "Traceback" not in proc.stderr
    # cleanUpCfg = False: the run's resources stay, recorded in the journal
    journal = json.loads((out / "journal.json").read_text())
    kinds = sorted(r["kind"] for r in journal["resources"] if r["removed"] is None)
    assert kinds.count("job") == 3 and kinds.count("stream") == 3


class _Inspected:
    """stack_for_run, plus a look at what is left on the local AWS IoT before it stops."""

    def __init__(self) -> None:
        self.jobs: list[str] | None = None
        self.streams: list[str] | None = None

    @contextmanager
    def __call__(self, prepared: Any, req: Any) -> Iterator[AwsTarget]:
        with stack_for_run(prepared, req) as target:
            yield target
            clients = AwsClients(target)
            self.jobs = IotOps(clients.iot).list_job_ids()
            self.streams = [s["streamId"] for s in clients.iot.list_streams()["streams"]]


def test_failing_devices_fail_the_round_stop_and_clean_up(tmp_path: Path) -> None:
    ini = copy_samples(tmp_path, cleanUpCfg="True", defaultDelay="0")
    inspect = _Inspected()
    outcome = execute_run(
        RunRequest(
            config=ini,
            local=True,
            out_dir=tmp_path / "out",
            live=False,
            time_scale=10,
            fleet=FleetOptions.model_validate({"fail_rate": 1.0}),
        ),
        stack_factory=inspect,
    )
    assert outcome.exit_code == 1
    assert outcome.report is not None
    assert [r.status for r in outcome.report.rounds] == ["FAILED", "SKIPPED", "SKIPPED"]
    assert "FAILED" in (outcome.report.rounds[0].reason or "")
    assert (tmp_path / "out" / "results.csv").read_text() == "total,3\nfail,1\nsucceed,0\n"
    assert inspect.jobs == [] and inspect.streams == []  # nothing stays on the local AWS IoT
    journal = json.loads((tmp_path / "out" / "journal.json").read_text())
    assert journal["resources"] and all(r["removed"] for r in journal["resources"])


def test_ctrl_c_mid_round_cancels_cleans_and_reports(tmp_path: Path) -> None:
    copy_samples(tmp_path, cleanUpCfg="True")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            *CLI,
            "run",
            "-c",
            "dev.ini",
            "--local",
            "--hang-rate",
            "1",
            "--out",
            str(out),
            "--no-live",
            "--no-html",
        ],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        journal = out / "journal.json"
        while time.monotonic() < deadline:
            if journal.is_file() and '"kind": "job"' in journal.read_text():
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        time.sleep(0.5)  # the devices are now holding the job IN_PROGRESS (hang)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    report = json.loads((out / "report.json").read_text())
    assert report["interrupted"] is True
    assert report["rounds"][0]["status"] == "CANCELED"
    assert [r["status"] for r in report["rounds"][1:]] == ["SKIPPED", "SKIPPED"]
    entries = json.loads(journal.read_text())["resources"]
    assert {e["kind"] for e in entries} >= {"job", "stream"}
    assert all(e["removed"] for e in entries), entries  # cleaned up as configured
    assert (out / "results.csv").read_text() == "total,3\nfail,1\nsucceed,0\n"


def test_bad_input_exits_2_before_anything(tmp_path: Path) -> None:
    copy_samples(tmp_path, thingList="missing.txt")
    proc = run_cli(["run", "-c", "dev.ini", "--local", "--out", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "missing.txt" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
