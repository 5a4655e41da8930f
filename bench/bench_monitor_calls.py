"""How many API calls does watching a 1,000-execution job cost?

    python bench/bench_monitor_calls.py [--things 1000]

Starts the embedded local AWS IoT (LocalAwsIotThread, 127.0.0.1 only), creates N things in a
thing group and one SNAPSHOT job targeting the group (boto3, over HTTP), moves a few executions
along (IN_PROGRESS / SUCCEEDED / FAILED through iot-jobs-data), then runs
``ota-deploy monitor --once --json`` in-process and counts the calls it made, two ways:
logical API calls (``BaseClient._make_api_call``) and HTTP requests (botocore's ``before-send``
event, so retries would show). Then it measures a live monitor's steady state with JobPoller:
a poll when nothing moved, and a poll after 10 executions finished.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, redirect_stdout
from typing import Any

import boto3
import botocore.client
import botocore.endpoint

from ota_deploy.core.clock import SystemClock
from ota_deploy.core.status import ExecutionStatus, TargetSelection
from ota_deploy.local.server import LocalAwsIotThread
from ota_deploy.monitor.poller import JobPoller

JOB_ID = "BenchMonitorJob"


@contextmanager
def count_calls() -> Iterator[tuple[Counter[str], Counter[str]]]:
    """Count logical API calls and HTTP requests made by every botocore client."""
    calls: Counter[str] = Counter()
    http: Counter[str] = Counter()
    real_call = botocore.client.BaseClient._make_api_call
    real_send = botocore.endpoint.Endpoint._send

    def counted_call(self: Any, operation_name: str, api_params: Any) -> Any:
        calls[operation_name] += 1
        return real_call(self, operation_name, api_params)

    def counted_send(self: Any, request: Any) -> Any:
        http[f"{request.method} {request.url.split('?')[0].rsplit('/', 2)[-2:][0]}"] += 1
        return real_send(self, request)

    botocore.client.BaseClient._make_api_call = counted_call  # type: ignore[method-assign]
    botocore.endpoint.Endpoint._send = counted_send  # type: ignore[method-assign]
    try:
        yield calls, http
    finally:
        botocore.client.BaseClient._make_api_call = real_call  # type: ignore[method-assign]
        botocore.endpoint.Endpoint._send = real_send  # type: ignore[method-assign]


def setup(endpoints: Any, n: int) -> tuple[Any, Any]:
    session = boto3.session.Session(
        region_name=endpoints.region, aws_access_key_id="x", aws_secret_access_key="x"
    )
    cfg = botocore.config.Config(max_pool_connections=16, retries={"mode": "standard"})
    iot = session.client("iot", endpoint_url=endpoints.iot, config=cfg)
    jobs = session.client("iot-jobs-data", endpoint_url=endpoints.jobs_data, config=cfg)
    names = [f"bench-thing-{i:04d}" for i in range(n)]
    group = iot.create_thing_group(thingGroupName="bench-group")["thingGroupArn"]

    def make(name: str) -> None:
        iot.create_thing(thingName=name)
        iot.add_thing_to_thing_group(thingGroupName="bench-group", thingName=name)

    t = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(make, names))
    iot.create_job(
        jobId=JOB_ID,
        targets=[group],
        document=json.dumps({"command": "fota"}),
        targetSelection=TargetSelection.SNAPSHOT,
    )

    def move(args: tuple[str, str]) -> None:
        name, final = args
        jobs.update_job_execution(jobId=JOB_ID, thingName=name,
                                  status=ExecutionStatus.IN_PROGRESS,
                                  statusDetails={"progress": "40%"})  # fmt: skip
        if final != ExecutionStatus.IN_PROGRESS:
            jobs.update_job_execution(jobId=JOB_ID, thingName=name, status=final,
                                      statusDetails={"reason": "bench"})  # fmt: skip

    plan = [(names[i], ExecutionStatus.SUCCEEDED) for i in range(0, 300)]
    plan += [(names[i], ExecutionStatus.FAILED) for i in range(300, 310)]
    plan += [(names[i], ExecutionStatus.IN_PROGRESS) for i in range(310, 410)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(move, plan))
    print(f"setup: {n} things, 1 job, {len(plan)} executions moved in "
          f"{time.monotonic() - t:.1f}s", file=sys.stderr)  # fmt: skip
    return iot, jobs


def run_monitor(endpoints: Any, *extra: str) -> tuple[dict[str, Any], Counter[str], Counter[str]]:
    from typer.testing import CliRunner

    from ota_deploy.cli.app import app

    args = ["monitor", "--job-id", JOB_ID, "--once", "--json",
            "--local-endpoints", json.dumps(endpoints.to_json_dict()), *extra]  # fmt: skip
    with count_calls() as (calls, http), redirect_stdout(io.StringIO()):
        result = CliRunner().invoke(app, args)
    if result.exit_code != 0:
        raise SystemExit(f"monitor failed ({result.exit_code}): {result.output}")
    return json.loads(result.stdout), calls, http


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--things", type=int, default=1000)
    args = ap.parse_args()
    with LocalAwsIotThread() as endpoints:
        iot, jobs = setup(endpoints, args.things)
        print(f"\n`ota-deploy monitor --once --json` on a {args.things}-execution job:")
        for extra in ((), ("--details", "0")):
            doc, calls, http = run_monitor(endpoints, *extra)
            label = " ".join(extra) or "(default --details 10)"
            print(f"  {label:24s} API calls: {sum(calls.values()):3d}  "
                  f"HTTP requests: {sum(http.values()):3d}  snapshot.apiCalls: {doc['apiCalls']}  "
                  f"things in JSON: {len(doc['things'])}")  # fmt: skip
            for op, n in sorted(calls.items()):
                print(f"      {op:28s} {n}")
        print(f"  counts: {json.dumps({k: v for k, v in doc['counts'].items() if v})}")

        print("\nlive monitor (JobPoller):")
        finished = 310
        for budget in (10, 0):
            poller = JobPoller(iot, JOB_ID, clock=SystemClock(), details_budget=budget)
            poller.poll()
            first = poller.api_calls
            drain = 0
            while poller.poll().api_calls > 1:  # spend the statusDetails backlog
                drain += 1
            before = poller.api_calls
            poller.poll()
            quiet = poller.api_calls - before
            for i in range(finished, finished + 10):
                jobs.update_job_execution(
                    jobId=JOB_ID,
                    thingName=f"bench-thing-{i:04d}",
                    status=ExecutionStatus.SUCCEEDED,
                )
            finished += 10
            before = poller.api_calls
            poller.poll()
            moved = poller.api_calls - before
            print(f"  details budget {budget:2d}: first poll {first} calls "
                  f"(+{drain} polls to fetch the statusDetails backlog); nothing changed: "
                  f"{quiet}; after 10 executions finished: {moved}")  # fmt: skip


if __name__ == "__main__":
    main()
