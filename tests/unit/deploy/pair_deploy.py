"""The round runner's world on the real pair: boto3 -> ``LocalIotService`` on a FakeClock.

Data flow of one test::

    RoundRunner ── IotOps ── boto3 iot ─┐                       (ops: what the runner sent)
        └─ JobPoller ── boto3 iot ──────┼─ before-send ─► LocalIotService (AwsPair)
    runner's sleep(s) ─► clock += s, service.tick(), Devices.step() ─► iot-jobs-data calls

Nothing here re-implements AWS: the jobs, streams, deletion, abort and retry behaviour are the
local AWS IoT's. ``Devices`` are the test's hands on the jobs data plane (what a device's Jobs
agent does: StartNextPendingJobExecution, then UpdateJobExecution with its outcome), stepped
each time the runner sleeps, so time and device progress advance together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.aws_pair import AwsPair

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.core.clock import FakeClock
from ota_deploy.deploy.journal import Journal
from ota_deploy.deploy.runner import RoundCalls, RoundRunner, RunnerConfig
from ota_deploy.local.contracts import AwsError
from ota_deploy.monitor.poller import JobPoller

THINGS = ["d1", "d2", "d3"]
ROLE = "arn:aws:iam::123456789012:role/ota"
Outcome = Callable[[str, str], "str | None"]  # (job id, thing) -> final status, None: never


def succeed(job_id: str, thing: str) -> str | None:
    return "SUCCEEDED"


@dataclass
class Devices:
    """Things acting through the jobs data plane, one step per call of ``step``.

    A device without a job takes its next pending one (IN_PROGRESS); after ``work_steps``
    further steps it reports ``outcome(job_id, thing)`` (with ``details`` as statusDetails);
    an outcome of None keeps it working forever. ``idle`` things never take a job. A device
    whose execution was cancelled or deleted under it looks for the next one.
    """

    pair: AwsPair
    things: list[str]
    outcome: Outcome = succeed
    work_steps: int = 1
    details: Callable[[str, str], dict[str, str]] | None = None
    idle: Iterable[str] = ()
    working: dict[str, list[Any]] = field(default_factory=dict)  # thing -> [job id, steps]

    def _data(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.pair.call("iot-jobs-data", operation, **params)

    def step(self) -> None:
        for thing in self.things:
            if thing in self.idle:
                continue
            job = self.working.get(thing)
            if job is not None and not self._still_running(thing, job[0]):
                del self.working[thing]
                job = None
            if job is None:
                started = self._data("StartNextPendingJobExecution", thingName=thing)
                if started.get("execution"):
                    self.working[thing] = [started["execution"]["jobId"], 0]
                continue
            job[1] += 1
            status = self.outcome(job[0], thing)
            if status is None or job[1] < self.work_steps:
                continue
            params: dict[str, Any] = {"jobId": job[0], "thingName": thing, "status": status}
            if self.details is not None:
                params["statusDetails"] = self.details(job[0], thing)
            self._data("UpdateJobExecution", **params)
            del self.working[thing]

    def _still_running(self, thing: str, job_id: str) -> bool:
        try:
            found = self._data("DescribeJobExecution", jobId=job_id, thingName=thing)
        except AwsError:  # the job (or its execution) is gone
            return False
        return bool(found.get("execution", {}).get("status") == "IN_PROGRESS")


@dataclass
class World:
    """A runner, the pair it talks to and the devices, on one FakeClock."""

    pair: AwsPair
    devices: Devices
    runner: RoundRunner
    journal: Journal
    sleeps: list[float]
    ops: list[tuple[str, dict[str, Any]]]  # (operation, params) the runner's IotOps sent
    poll_client: Any

    @property
    def clock(self) -> FakeClock:
        return self.pair.clock

    def op_names(self) -> list[str]:
        return [op for op, _ in self.ops]

    def job_ids(self) -> set[str]:
        return {j["jobId"] for j in self.pair.call("iot", "ListJobs")["jobs"]}

    def stream_ids(self) -> set[str]:
        return {s["streamId"] for s in self.pair.call("iot", "ListStreams")["streams"]}


def plan_for(n: int) -> RoundCalls:
    """Round ``n``'s requests: stream S-n, job J-n targeting the three things."""
    return RoundCalls(
        round_number=n,
        job_id=f"J-{n}",
        stream_id=f"S-{n}",
        create_stream={
            "streamId": f"S-{n}",
            "files": [{"fileId": 0, "s3Location": {"bucket": "b", "key": "fw.bin"}}],
            "roleArn": ROLE,
        },
        create_job={
            "jobId": f"J-{n}",
            "targets": [thing_arn(t) for t in THINGS],
            "document": '{"command":"fota"}',
        },
    )


def thing_arn(name: str) -> str:
    return f"arn:aws:iot:us-east-1:123456789012:thing/{name}"


def record_calls(client: Any, into: list[tuple[str, dict[str, Any]]]) -> None:
    """Note every operation ``client`` is asked for, with its parameters (botocore's event)."""

    def note(params: dict[str, Any], model: Any, **_: Any) -> None:
        into.append((model.name, dict(params)))

    client.meta.events.register("before-parameter-build.iot", note)


def make_world(
    tmp_path: Path,
    *,
    outcome: Outcome = succeed,
    work_steps: int = 1,
    details: Callable[[str, str], dict[str, str]] | None = None,
    idle: Iterable[str] = (),
    rounds: int = 3,
    clean_up: bool = True,
    timeout: float = 600.0,
    delay: float = 5.0,
    reuse_job_id: bool = False,
    interrupt_at_sleep: int | None = None,
    pair: AwsPair | None = None,
    keep_going: bool = False,
) -> World:
    """A runner over a fresh pair with THINGS registered; ``interrupt_at_sleep`` (1-based)
    makes that sleep raise KeyboardInterrupt, as Ctrl-C during a wait does."""
    pair = pair or AwsPair()
    for thing in THINGS:
        pair.call("iot", "CreateThing", thingName=thing)
    devices = Devices(
        pair, list(THINGS), outcome=outcome, work_steps=work_steps, details=details, idle=idle
    )
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if interrupt_at_sleep is not None and len(sleeps) == interrupt_at_sleep:
            raise KeyboardInterrupt
        pair.clock.advance(seconds)
        pair.svc.tick()
        devices.step()

    client = pair.client("iot", max_attempts=1)
    ops: list[tuple[str, dict[str, Any]]] = []
    record_calls(client, ops)
    poll_client = pair.client("iot", max_attempts=1)
    clock = pair.clock
    journal = Journal.start(tmp_path, mode="aws", region="us-east-1", clock=clock)
    runner = RoundRunner(
        IotOps(client, clock=clock, sleep=sleep),
        RunnerConfig(
            rounds=rounds,
            clean_up=clean_up,
            default_delay_sec=delay,
            round_timeout_sec=timeout,
            reuse_job_id=reuse_job_id,
            keep_going=keep_going,
        ),
        poller_factory=lambda job_id: JobPoller(
            poll_client, job_id, clock=clock, expected_things=THINGS
        ),
        expected_things=THINGS,
        clock=clock,
        sleep=sleep,
        journal=journal,
    )
    return World(pair, devices, runner, journal, sleeps, ops, poll_client)
