"""One local AWS IoT shared by the deploy integration tests that run in-process (a stack costs
about 1.5 s to start). Each run uses its own job id and cleans up, so the runs do not interfere;
the ``shared_stack`` fixture (conftest.py, session scope) makes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ota_deploy.aws.session import AwsClients, AwsTarget
from ota_deploy.core.clock import ScaledClock, TimeSource
from ota_deploy.deploy.entry import RunRequest
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.runner import FleetThread
from ota_deploy.wiring.local_stack import LocalStack


class SharedStack:
    """The local AWS IoT of the in-process runs, on one time source at scale 10 (``clock``:
    the runs use it too), with healthy devices ``ok-01..05`` and always-failing devices
    ``bad-01..03`` (their own fleet, fail rate 1). Each run uses its own job id and cleans up,
    so the runs do not interfere; ``__call__`` is a ``stack_factory`` that also records what
    is left after a run."""

    OK = [f"ok-{i:02d}" for i in range(1, 6)]
    BAD = [f"bad-{i:02d}" for i in range(1, 4)]

    def __init__(self) -> None:
        arns = [f"arn:aws:iot:us-east-1:123456789012:thing/{n}" for n in self.OK + self.BAD]
        self.clock: TimeSource = ScaledClock(10)
        self.stack = LocalStack(arns, clock=self.clock, start_fleet=False)
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
                names,
                mqtt_host=ep.mqtt_host,
                mqtt_port=ep.mqtt_port,
                options=options,
                clock=self.clock,
            )
            fleet.__enter__()
            self.fleets.append(fleet)
        return self

    def __exit__(self, *exc: object) -> None:
        for fleet in self.fleets:
            fleet.__exit__(None, None, None)
        self.stack.__exit__(None, None, None)

    def __call__(self, prepared: Any, req: Any, clock: TimeSource) -> _Lease:
        assert clock is self.clock, "a run on the shared stack runs on its time source"
        return _Lease(self)

    def request(self, ini: Path, out: Path, **kw: Any) -> RunRequest:
        return RunRequest(config=ini, local=True, out_dir=out, html=False, **kw)


class _Lease:
    """The shared stack as a ``stack_factory`` result: its target; on exit, what is left on
    the local AWS IoT is recorded."""

    def __init__(self, shared: SharedStack) -> None:
        self.shared = shared

    def __enter__(self) -> AwsTarget:
        return self.shared.target

    def __exit__(self, *exc: object) -> None:
        clients = AwsClients(self.shared.target)
        self.shared.jobs = [j["jobId"] for j in clients.iot.list_jobs()["jobs"]]
        self.shared.streams = [s["streamId"] for s in clients.iot.list_streams()["streams"]]


def things_file(path: Path, names: list[str]) -> None:
    (path / "thingsList.txt").write_text("\n".join(names) + "\n")
