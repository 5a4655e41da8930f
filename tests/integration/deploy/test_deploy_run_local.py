"""`ota-deploy run --local` end to end: the manual's dev.ini, real sockets, simulated devices."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clihelp_deploy import CLI, cli_env, copy_samples, run_cli

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.session import AwsClients, AwsTarget
from ota_deploy.cli.local_stack import LocalStack
from ota_deploy.core.clock import Clock
from ota_deploy.deploy.deployment import Deployment
from ota_deploy.deploy.entry import RunRequest, _progress, execute_run
from ota_deploy.deploy.inputs import prepare_run
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.runner import FleetThread
from ota_deploy.monitor.snapshot import JobSnapshot


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
            "50",
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


class SharedStack:
    """One local AWS IoT for this module's in-process runs (a stack costs ~1.5 s to start):
    healthy devices ``ok-01..05`` and always-failing devices ``bad-01..03`` (their own fleet,
    fail rate 1). Each run uses its own job id and cleans up, so the runs do not interfere;
    ``__call__`` is a ``stack_factory`` that also records what is left after a run."""

    OK = [f"ok-{i:02d}" for i in range(1, 6)]
    BAD = [f"bad-{i:02d}" for i in range(1, 4)]

    def __init__(self) -> None:
        arns = [f"arn:aws:iot:us-east-1:123456789012:thing/{n}" for n in self.OK + self.BAD]
        self.stack = LocalStack(arns, time_scale=10, start_fleet=False)
        self.fleets: list[FleetThread] = []
        self.jobs: list[str] | None = None
        self.streams: list[str] | None = None

    def __enter__(self) -> SharedStack:
        self.target = self.stack.__enter__()
        ep = self.stack.endpoints
        for names, options in (
            (self.OK, FleetOptions.model_validate({})),
            (self.BAD, FleetOptions.model_validate({"fail_rate": 1.0})),
        ):
            fleet = FleetThread(
                names, mqtt_host=ep.mqtt_host, mqtt_port=ep.mqtt_port, options=options
            )
            fleet.__enter__()
            self.fleets.append(fleet)
        return self

    def __exit__(self, *exc: object) -> None:
        for fleet in self.fleets:
            fleet.__exit__(None, None, None)
        self.stack.__exit__(None, None, None)

    def __call__(self, prepared: Any, req: Any) -> _Lease:
        return _Lease(self)

    @property
    def clock(self) -> Clock | None:
        return self.stack.clock

    def request(self, ini: Path, out: Path, **kw: Any) -> RunRequest:
        return RunRequest(config=ini, local=True, out_dir=out, time_scale=10, html=False, **kw)


class _Lease:
    """The shared stack as a ``stack_factory`` result: its target and its clock (as
    ``LocalStack`` offers); on exit, what is left on the local AWS IoT is recorded."""

    def __init__(self, shared: SharedStack) -> None:
        self.shared = shared
        self.clock = shared.clock

    def __enter__(self) -> AwsTarget:
        return self.shared.target

    def __exit__(self, *exc: object) -> None:
        clients = AwsClients(self.shared.target)
        self.shared.jobs = IotOps(clients.iot).list_job_ids()
        self.shared.streams = [s["streamId"] for s in clients.iot.list_streams()["streams"]]


@pytest.fixture(scope="module")
def shared() -> Iterator[SharedStack]:
    with SharedStack() as stack:
        yield stack


def things_file(path: Path, names: list[str]) -> None:
    (path / "thingsList.txt").write_text("\n".join(names) + "\n")


def test_failing_devices_fail_the_round_stop_and_clean_up(
    tmp_path: Path, shared: SharedStack
) -> None:
    ini = copy_samples(tmp_path, cleanUpCfg="True", defaultDelay="0", jobId="FailJob")
    things_file(tmp_path, shared.OK[:2] + shared.BAD)
    outcome = execute_run(shared.request(ini, tmp_path / "out", live=False), stack_factory=shared)
    assert outcome.exit_code == 1
    assert outcome.report is not None
    assert [r.status for r in outcome.report.rounds] == ["FAILED", "SKIPPED", "SKIPPED"]
    assert "FAILED" in (outcome.report.rounds[0].reason or "")
    assert (tmp_path / "out" / "results.csv").read_text() == "total,3\nfail,1\nsucceed,0\n"
    assert shared.jobs == [] and shared.streams == []  # nothing stays on the local AWS IoT
    journal = json.loads((tmp_path / "out" / "journal.json").read_text())
    assert journal["resources"] and all(r["removed"] for r in journal["resources"])
    # Why they failed (the fleet's statusDetails), in report.json: fetched once at round end.
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    things = {t["thing_name"]: t for t in report["rounds"][0]["things"]}
    for name in shared.BAD:
        assert things[name]["status"] == "FAILED"
        assert "fail rate" in things[name]["status_details"]["reason"], things[name]
    assert things["ok-01"]["status"] == "SUCCEEDED"
    # One time line (--time-scale 10): the run adopts the local AWS IoT's virtual clock, so
    # the service's timestamps fall within the round the run measured.
    first = report["rounds"][0]
    for t in things.values():
        assert first["start"] <= t["started_at"] <= t["finished_at"] <= first["end"], t
    samples = report["rounds"][0]["samples"]
    assert samples[-1]["counts"]["FAILED"] == 3 and len(samples) >= 2


def test_live_view_shows_downloads_and_progress(tmp_path: Path, shared: SharedStack) -> None:
    """The live wiring: MQTT watcher (from the target's "mqtt" endpoint) as the view's
    enricher, and pollers fetching statusDetails, as `run` does on a terminal."""
    ini = copy_samples(tmp_path, cleanUpCfg="True", rounds="1", jobId="LiveJob")
    things_file(tmp_path, shared.OK)
    prepared = prepare_run(ini)
    req = shared.request(ini, tmp_path / "out", live=True)
    assert shared.target.endpoints["mqtt"] == shared.stack.endpoints.mqtt
    clock = shared.clock
    assert clock is not None
    seen: list[JobSnapshot] = []
    with _progress(req, clock, shared.target) as progress:
        assert progress.live and progress.view.enricher is not None

        def on_snapshot(snap: JobSnapshot) -> None:
            progress.on_snapshot(snap)
            seen.append(progress.view.last)

        deployment = Deployment(
            prepared,
            AwsClients(shared.target),
            journal=None,
            clock=clock,
            sleep=lambda s: progress.sleep(s / 10),
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
    assert all(t.status_details.get("progress") == "100%" for t in last.things.values())


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
