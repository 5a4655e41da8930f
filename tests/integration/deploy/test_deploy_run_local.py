"""`ota-deploy run --local` end to end: the manual's dev.ini, real sockets, simulated devices."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from clihelp_deploy import CLI, cli_env, copy_samples, run_cli
from stackhelp_deploy import SharedStack, things_file
from typer.testing import CliRunner

from ota_deploy.aws.session import AwsClients
from ota_deploy.cli.app import app
from ota_deploy.deploy.deployment import Deployment
from ota_deploy.deploy.entry import execute_run
from ota_deploy.deploy.inputs import prepare_run
from ota_deploy.deploy.progress import run_progress
from ota_deploy.monitor.snapshot import JobSnapshot


def test_manual_dev_ini_runs_local_to_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI in-process (CliRunner: no interpreter start, ~3 s less); the Ctrl-C test below
    runs `run --local` as a real process."""
    copy_samples(tmp_path)  # as printed: cleanUpCfg False, 3 rounds, 10 things
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    args = ["run", "-c", "dev.ini", "--local", "--time-scale", "50", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--no-live", "--no-html"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output
    assert (out / "results.csv").read_text() == "total,3\nfail,0\nsucceed,3\n"
    report = json.loads((out / "report.json").read_text())
    assert [r["status"] for r in report["rounds"]] == ["SUCCEEDED"] * 3
    assert report["mode"] == "local" and report["summary"]["succeeded"] == 3
    first = report["rounds"][0]
    things = [json.loads(line) for line in (out / first["things_file"]).read_text().splitlines()]
    assert first["job_id"] == "JobPython5566-1" and len(things) == 10  # things/round-001.jsonl
    assert all(t["status"] == "SUCCEEDED" for t in things)
    assert first["counts"]["SUCCEEDED"] == 10 and first["samples"]
    assert "Traceback" not in result.output and "round 3 of 3: SUCCEEDED" in result.output
    # cleanUpCfg = False: the run's resources stay, recorded in the journal
    journal = json.loads((out / "journal.json").read_text())
    kinds = sorted(r["kind"] for r in journal["resources"] if r["removed"] is None)
    assert kinds.count("job") == 3 and kinds.count("stream") == 3


def test_failing_devices_fail_the_round_stop_and_clean_up(
    tmp_path: Path, shared_stack: SharedStack
) -> None:
    ini = copy_samples(tmp_path, cleanUpCfg="True", defaultDelay="0", jobId="FailJob")
    things_file(tmp_path, shared_stack.OK[:2] + shared_stack.BAD)
    outcome = execute_run(
        shared_stack.request(ini, tmp_path / "out", live=False),
        clock=shared_stack.clock,
        stack_factory=shared_stack,
    )
    assert outcome.exit_code == 1
    assert outcome.report is not None
    assert [r.status for r in outcome.report.rounds] == ["FAILED"]  # rounds 2-3 never planned
    assert outcome.report.not_run is not None
    assert (outcome.report.not_run.first, outcome.report.not_run.last) == (2, 3)
    assert "FAILED" in (outcome.report.rounds[0].reason or "")
    assert (tmp_path / "out" / "results.csv").read_text() == "total,3\nfail,1\nsucceed,0\n"
    assert (
        shared_stack.jobs == [] and shared_stack.streams == []
    )  # nothing stays on the local AWS IoT
    journal = json.loads((tmp_path / "out" / "journal.json").read_text())
    assert journal["resources"] and all(r["removed"] for r in journal["resources"])
    # Why they failed (the fleet's statusDetails), in report.json: fetched once at round end.
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    lines = (tmp_path / "out" / report["rounds"][0]["things_file"]).read_text().splitlines()
    things = {t["thing_name"]: t for t in map(json.loads, lines)}
    for name in shared_stack.BAD:
        assert things[name]["status"] == "FAILED"
        assert "fail rate" in things[name]["status_details"]["reason"], things[name]
    assert things["ok-01"]["status"] == "SUCCEEDED"
    # One time line (--time-scale 10): the run and the local AWS IoT share one time source, so
    # the service's timestamps fall within the round the run measured.
    first = report["rounds"][0]
    for t in things.values():
        assert first["start"] <= t["started_at"] <= t["finished_at"] <= first["end"], t
    samples = report["rounds"][0]["samples"]
    assert samples[-1]["counts"]["FAILED"] == 3 and len(samples) >= 2


def test_live_view_shows_downloads_and_progress(tmp_path: Path, shared_stack: SharedStack) -> None:
    """The live wiring: MQTT watcher (from the target's "mqtt" endpoint) as the view's
    enricher, and pollers fetching statusDetails, as `run` does on a terminal."""
    ini = copy_samples(tmp_path, cleanUpCfg="True", rounds="1", jobId="LiveJob")
    things_file(tmp_path, shared_stack.OK)
    prepared = prepare_run(ini)
    req = shared_stack.request(ini, tmp_path / "out", live=True)
    assert shared_stack.target.endpoints["mqtt"] == shared_stack.stack.endpoints.mqtt
    clock = shared_stack.clock
    seen: list[JobSnapshot] = []
    with run_progress(req.live, clock, shared_stack.target) as progress:
        assert progress.live and progress.view.enricher is not None

        def on_snapshot(snap: JobSnapshot) -> None:
            progress.on_snapshot(snap)
            seen.append(progress.view.last)

        deployment = Deployment(
            prepared,
            AwsClients(shared_stack.target),
            journal=None,
            clock=clock,
            sleep=progress.sleep,
            on_snapshot=on_snapshot,
            watch_progress=progress.live,
        )
        result = deployment.execute()
    assert result.all_succeeded
    poller: Any = deployment._poller_factory([])("any-job")
    assert poller.inner.details_budget == 10 and poller.inner.watch_in_progress
    last = seen[-1]
    blocks = -(-(tmp_path / "test.bin").stat().st_size // 4096)
    assert {t.blocks_received for t in last.things.values()} == {blocks}  # MQTT: every block
    # statusDetails: a finished thing shows its last report (progress 100%) or none (AWS's
    # Jobs replies reach only the device that asked, so the watcher may not see them), never
    # a stale "progress 50%" from while it was downloading
    assert all(t.status_details.get("progress") in (None, "100%") for t in last.things.values())


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
            "--time-scale",
            "10",
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
    assert [r["status"] for r in report["rounds"]] == ["INTERRUPTED"]
    assert report["not_run"]["first"] == 2 and report["not_run"]["last"] == 3
    entries = json.loads(journal.read_text())["resources"]
    assert {e["kind"] for e in entries} >= {"job", "stream"}
    assert all(e["removed"] for e in entries), entries  # cleaned up as configured
    # an interrupted round is neither failed nor succeeded (summary.interrupted counts it)
    assert (out / "results.csv").read_text() == "total,3\nfail,0\nsucceed,0\n"
    assert report["summary"]["interrupted"] == 1 and report["summary"]["skipped"] == 2


def test_bad_input_exits_2_before_anything(tmp_path: Path) -> None:
    copy_samples(tmp_path, thingList="missing.txt")
    proc = run_cli(["run", "-c", "dev.ini", "--local", "--out", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "missing.txt" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_million_rounds_keep_going_interrupted_writes_a_small_report(tmp_path: Path) -> None:
    """Work follows the rounds that ran: a 1,000,000-round run starts at once (round k is
    planned when it starts; cleanUpCfg's leftover scan lists, it does not ask per planned
    round) and, interrupted after round 2, reports a few rounds and one not-run entry. Every
    device fails (--fail-rate 1) and --keep-going runs on regardless."""
    copy_samples(tmp_path, rounds="1000000", defaultDelay="0", cleanUpCfg="True")
    out = tmp_path / "out"
    args = ["run", "-c", "dev.ini", "--local", "--fail-rate", "1", "--keep-going"]
    proc = subprocess.Popen(
        [*CLI, *args, "--out", str(out), "--no-live", "--no-html"],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    journal = out / "journal.jsonl"  # the write-ahead log: an intent per create, at once
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # round 3's job is on its way: rounds 1-2 failed
            if journal.is_file() and '"JobPython5566-3"' in journal.read_text():
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    assert (out / "report.json").stat().st_size < 200_000  # was one record per planned round
    report = json.loads((out / "report.json").read_text())
    rounds, summary = report["rounds"], report["summary"]
    assert [r["round"] for r in rounds] == list(range(1, len(rounds) + 1)) and len(rounds) >= 2
    assert all(r["status"] == "FAILED" for r in rounds[:2])
    assert {r["status"] for r in rounds} <= {"FAILED", "INTERRUPTED"}
    interrupted = sum(r["status"] == "INTERRUPTED" for r in rounds)
    failed = len(rounds) - interrupted
    assert summary == {
        "total": 1_000_000,
        "succeeded": 0,
        "failed": failed,
        "skipped": 1_000_000 - len(rounds),
        "interrupted": interrupted,
    }
    assert report["not_run"]["first"] == len(rounds) + 1
    assert report["not_run"]["last"] == 1_000_000 and "interrupted" in report["not_run"]["reason"]
    assert (out / "results.csv").read_text() == f"total,1000000\nfail,{failed}\nsucceed,0\n"
    resources = json.loads((out / "journal.json").read_text())["resources"]
    assert resources and all(r["state"] in ("removed", "absent") for r in resources), resources


def test_keep_going_counts_failed_rounds(tmp_path: Path, shared_stack: SharedStack) -> None:
    ini = copy_samples(tmp_path, cleanUpCfg="True", rounds="2", defaultDelay="0", jobId="KeepJob")
    things_file(tmp_path, shared_stack.OK[:1] + shared_stack.BAD[:1])
    outcome = execute_run(
        shared_stack.request(ini, tmp_path / "out", live=False, keep_going=True),
        clock=shared_stack.clock,
        stack_factory=shared_stack,
    )
    assert outcome.exit_code == 1 and outcome.report is not None
    assert [r.status for r in outcome.report.rounds] == ["FAILED", "FAILED"]
    assert outcome.report.not_run is None
    assert (tmp_path / "out" / "results.csv").read_text() == "total,2\nfail,2\nsucceed,0\n"
    assert shared_stack.jobs == [] and shared_stack.streams == []
