"""In-process throughput of the local IoT service (no HTTP): DescribeJob, a fully paginated
ListJobExecutionsForJob over a 1,000-execution job (status-filtered and not), device updates,
and the cost of an idle tick(). Bounded: a few seconds. Run: python bench/bench_local_iot_service.py
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from ota_deploy.core.clock import FakeClock
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.core.status import ExecutionStatus
from ota_deploy.local.iot import LocalIotService

N = 1000
FLEET_ARN = f"arn:aws:iot:{DEFAULT_REGION}:{LOCAL_ACCOUNT}:thinggroup/fleet"


def rate(label: str, fn: Callable[[], object], seconds: float = 0.5) -> None:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    elapsed = time.perf_counter() - start
    print(f"{label:<58} {count / elapsed:>12,.0f} /s  ({elapsed / count * 1e6:,.1f} µs each)")


def main() -> None:
    clock = FakeClock()
    svc = LocalIotService(
        clock=clock,
        region=DEFAULT_REGION,
        account=LOCAL_ACCOUNT,
        publish=lambda t, p: None,
        read_blob=lambda b, k, v: b"",
        presign=lambda b, k, e: "http://x",
        mqtt_endpoint="127.0.0.1:1883",
    )
    svc.call("iot", "CreateThingGroup", {"thingGroupName": "fleet"})
    for i in range(N):
        svc.call("iot", "CreateThing", {"thingName": f"d{i:04d}"})
        svc.call(
            "iot", "AddThingToThingGroup", {"thingGroupName": "fleet", "thingName": f"d{i:04d}"}
        )
    t0 = time.perf_counter()
    svc.call(
        "iot",
        "CreateJob",
        {
            "jobId": "j",
            "targets": [FLEET_ARN],
            "document": json.dumps({"op": "ota"}),
        },
    )
    print(f"CreateJob over {N} things: {(time.perf_counter() - t0) * 1e3:.1f} ms")
    t0 = time.perf_counter()
    for i in range(N // 2):
        svc.call(
            "iot-jobs-data",
            "UpdateJobExecution",
            {"jobId": "j", "thingName": f"d{i:04d}", "status": ExecutionStatus.SUCCEEDED},
        )
    print(f"{N // 2} UpdateJobExecution: {(time.perf_counter() - t0) * 1e3:.1f} ms")

    def list_all(status: str | None) -> int:
        token, pages = None, 0
        while True:
            params: dict[str, object] = {"jobId": "j", "maxResults": 250}
            if status:
                params["status"] = status
            if token:
                params["nextToken"] = token
            out = svc.call("iot", "ListJobExecutionsForJob", params)
            pages += 1
            token = out.get("nextToken")
            if not token:
                return pages

    rate("DescribeJob", lambda: svc.call("iot", "DescribeJob", {"jobId": "j"}))
    rate(f"ListJobExecutionsForJob, all {N}, 4 pages (full listings)", lambda: list_all(None))
    rate(
        "ListJobExecutionsForJob status=SUCCEEDED, 500 (full listings)",
        lambda: list_all(ExecutionStatus.SUCCEEDED),
    )
    rate(
        "ListJobExecutionsForJob status=QUEUED maxResults=250 (1 page)",
        lambda: svc.call(
            "iot",
            "ListJobExecutionsForJob",
            {"jobId": "j", "status": ExecutionStatus.QUEUED, "maxResults": 250},
        ),
    )
    rate(
        "GetPendingJobExecutions",
        lambda: svc.call("iot-jobs-data", "GetPendingJobExecutions", {"thingName": "d0999"}),
    )
    rate("tick() with nothing due", svc.tick)
    svc.call(
        "iot",
        "CreateJob",
        {
            "jobId": "t",
            "targets": [FLEET_ARN],
            "document": "{}",
            "timeoutConfig": {"inProgressTimeoutInMinutes": 60},
        },
    )
    for i in range(N // 2):  # these finished job "j": their next pending one is job "t"
        svc.call("iot-jobs-data", "StartNextPendingJobExecution", {"thingName": f"d{i:04d}"})
    armed = len(svc.engine.timers)
    rate(f"tick() with nothing due, {armed} deadlines armed", svc.tick)


if __name__ == "__main__":
    main()
