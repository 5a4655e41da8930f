"""Nothing lost, nothing leaked, through `run --local`'s code path against a local AWS IoT over
HTTP and its own fault injection:

- every create the run makes (CreateBucket, PutObject, CreateThingGroup, AddThingToThingGroup,
  UpdateThingGroup, CreateStream, CreateJob) has its reply lost once after the service acted:
  the run ends as it would have (no "earlier run" blamed), and `cleanup` leaves nothing;
- more than 100 targets: Ctrl-C while the run's group is being filled, and a listed thing that
  does not exist: neither leaks the group (issue 10 §1);
- Ctrl-C during a large upload: exit 130 with one line, no third-party traceback (§8).
"""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from clihelp_deploy import CLI, cli_env, copy_samples

from ota_deploy.aws.session import AwsClients, AwsTarget, local_target
from ota_deploy.core.clock import ScaledClock, TimeSource
from ota_deploy.deploy.cleanup import clean_from_journal
from ota_deploy.deploy.entry import RunRequest, execute_run
from ota_deploy.local.faults import FaultConfig, OperationFaults
from ota_deploy.local.server import LocalAwsIotThread

CREATES = (
    "s3:CreateBucket",
    "s3:PutObject",
    "iot:CreateThingGroup",
    "iot:AddThingToThingGroup",
    "iot:UpdateThingGroup",
    "iot:CreateStream",
    "iot:CreateJob",
)


class Stack:
    """A local AWS IoT (HTTP, S3) with ``things`` registered and no devices; a
    ``stack_factory`` for ``execute_run``. ``seen`` records what is left after each run."""

    def __init__(self, things: list[str], faults: FaultConfig | None = None) -> None:
        self.clock: TimeSource = ScaledClock(20)
        self.server = LocalAwsIotThread(clock=self.clock, faults=faults)
        self.things = things

    def __enter__(self) -> Stack:
        ep = self.server.start()
        self.target: AwsTarget = local_target(
            {"iot": ep.iot, "iot-jobs-data": ep.jobs_data, "s3": ep.s3}, ep.region
        )
        self.clients = AwsClients(self.target)
        for name in self.things:
            self.clients.iot.create_thing(thingName=name)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @contextmanager
    def __call__(self, prepared: Any, req: Any, clock: TimeSource) -> Iterator[AwsTarget]:
        yield self.target

    def left(self) -> dict[str, list[str]]:
        iot, s3 = self.clients.iot, self.clients.s3
        return {
            "jobs": [j["jobId"] for j in iot.list_jobs()["jobs"]],
            "streams": [s["streamId"] for s in iot.list_streams()["streams"]],
            "groups": [g["groupName"] for g in iot.list_thing_groups()["thingGroups"]],
            "buckets": [b["Name"] for b in s3.list_buckets().get("Buckets", [])],
        }


NOTHING: dict[str, list[str]] = {"jobs": [], "streams": [], "groups": [], "buckets": []}


def bulk_config(tmp_path: Path, names: list[str], **overrides: str) -> Path:
    ini = copy_samples(
        tmp_path, rounds="1", roundTimeout="2", defaultDelay="0", iotApiSleepTime="0", **overrides
    )
    (tmp_path / "thingsList.txt").write_text("\n".join(names) + "\n")
    return ini


def test_every_create_losing_its_reply_once_ends_the_run_as_usual_and_leaks_nothing(
    tmp_path: Path,
) -> None:
    names = [f"wal-{i:03d}" for i in range(120)]
    faults = FaultConfig(
        per_operation={op: OperationFaults(lose_reply_rate=1.0, times=1) for op in CREATES},
        services=frozenset({"iot", "s3"}),
    )
    ini = bulk_config(tmp_path, names, jobId="WalJob", streamId="WalStream", cleanUpCfg="False")
    with Stack(names, faults) as stack:
        out = tmp_path / "out"
        outcome = execute_run(
            RunRequest(config=ini, local=True, out_dir=out, live=False, html=False),
            clock=stack.clock,
            stack_factory=stack,
        )
        fired = stack.server.local.faults.by_operation  # type: ignore[union-attr]
        assert {op for op in CREATES if fired.get(op, {}).get("lose_reply")} == set(CREATES)
        # No device answers: the round times out (exit 1), exactly as without the faults.
        assert outcome.exit_code == 1 and outcome.error is None, outcome.error
        assert outcome.report is not None and outcome.report.rounds[0].status == "TIMED_OUT"
        assert stack.left()["jobs"] == ["WalJob-1"] and stack.left()["groups"]
        summary = clean_from_journal(out / "journal.jsonl", clients=stack.clients, groups=True)
        assert summary.ok, summary.text()
        assert stack.left() == NOTHING


def test_over_100_targets_ctrl_c_while_filling_or_a_missing_thing_leak_no_group(
    tmp_path: Path,
) -> None:
    names = [f"bulk-{i:03d}" for i in range(400)]
    slow_fill = FaultConfig(
        per_operation={"iot:AddThingToThingGroup": OperationFaults(latency_ms=40.0)}
    )
    with Stack(names, slow_fill) as stack:
        # Ctrl-C once the group holds 20 things; cleanUpCfg True: the run removes it itself.
        ini = bulk_config(tmp_path / "a", names, jobId="CutJob", cleanUpCfg="True")
        iot = AwsClients(stack.target).iot

        def ctrl_c_mid_fill() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if (
                        len(
                            iot.list_things_in_thing_group(
                                thingGroupName="ota-deploy-CutJob-targets", maxResults=50
                            )["things"]
                        )
                        >= 20
                    ):
                        _thread.interrupt_main()
                        return
                except iot.exceptions.ResourceNotFoundException:
                    pass
                time.sleep(0.02)

        watcher = threading.Thread(target=ctrl_c_mid_fill, daemon=True)
        watcher.start()
        cut = execute_run(
            RunRequest(config=ini, local=True, out_dir=tmp_path / "a" / "out", live=False),
            clock=stack.clock,
            stack_factory=stack,
        )
        watcher.join(5)
        assert cut.exit_code == 130
        assert stack.left() == NOTHING
        again = clean_from_journal(tmp_path / "a" / "out" / "journal.jsonl", clients=stack.clients)
        assert again.removed == [] and again.ok

        # A listed thing that does not exist: exit 3 naming it; cleanUpCfg False, so the
        # half-filled group stays until `cleanup`, which removes it (it was never complete).
        ini = bulk_config(tmp_path / "b", [*names[:150], "ghost-thing"], jobId="GhostJob")
        ghost = execute_run(
            RunRequest(config=ini, local=True, out_dir=tmp_path / "b" / "out", live=False),
            clock=stack.clock,
            stack_factory=stack,
        )
        assert ghost.exit_code == 3 and "'ghost-thing'" in (ghost.error or "")
        assert stack.left()["groups"] == ["ota-deploy-GhostJob-targets"]
        summary = clean_from_journal(
            tmp_path / "b" / "out" / "journal.jsonl", clients=stack.clients
        )
        assert summary.ok and "thing_group ota-deploy-GhostJob-targets" in summary.removed
        assert stack.left() == NOTHING


def test_ctrl_c_during_a_large_upload_is_one_line(tmp_path: Path) -> None:
    copy_samples(tmp_path, binName="big.bin", cleanUpCfg="True")
    with (tmp_path / "big.bin").open("wb") as fh:  # 96 MiB: a multipart upload of 12 parts
        fh.truncate(96 * 1024 * 1024)
    command = [
        *CLI[:2],
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        + CLI[2],  # SIGINT as a terminal delivers it, even if this test's parent ignores it
        "run",
        "-c",
        "dev.ini",
        "--local",
        "--out",
        "out",
        "--no-live",
        "--no-html",
    ]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: Ctrl-C goes to the whole group
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "uploading big.bin" in line:
                time.sleep(0.2)
                os.killpg(proc.pid, signal.SIGINT)
                break
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    after = rest.splitlines()
    assert proc.returncode == 130, "".join(lines) + rest
    assert "Traceback" not in rest and "Treating Python exception" not in rest, rest
    noisy = [line for line in after if "WARNING" in line or "ERROR" in line]
    assert len(noisy) <= 2, rest  # "interrupted ..." (and at most one cleanup line)
