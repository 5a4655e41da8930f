"""Control-plane throughput of the local AWS IoT, through unmodified boto3 over HTTP.

    python bench/bench_control_plane.py [--seconds 3] [--threads 1,4] [--executions 1000]

Starts a LocalAwsIotThread on free 127.0.0.1 ports, puts ``--executions`` things into a thing
group (set up directly on the service, not timed), creates one job targeting the group (so it
has that many executions), then measures for ``--seconds`` each:

- DescribeJob requests per second;
- DescribeJob requests per second from a bare keep-alive HTTP client (the server's own cost,
  without botocore's signing and parsing);
- ListJobExecutionsForJob pages per second, walking the whole 1,000-execution list with
  boto3's paginator (``--page-size`` per page), and full walks per second.

Each figure is measured with 1 and N client threads (one boto3 client per thread). Prints one
line per figure. Bounded in time: roughly 2 x seconds x (figures) plus set-up.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import boto3
from botocore.config import Config

from ota_deploy.local.server import LocalAwsIotThread


def make_client(session: Any, url: str) -> Any:
    return session.client(
        "iot",
        endpoint_url=url,
        config=Config(retries={"mode": "standard", "max_attempts": 1}, max_pool_connections=4),
    )


def run_for(seconds: float, threads: int, make_work: Callable[[], Callable[[], int]]) -> float:
    """Run each thread's ``work()`` (returns units done) until ``seconds`` pass; units/s."""
    works = [make_work() for _ in range(threads)]
    for work in works:  # warm up each client (connection, model caches)
        work()
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def loop(i: int) -> None:
        while time.perf_counter() < stop:
            counts[i] += works[i]()

    started = time.perf_counter()
    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", default="1,4")
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()
    thread_counts = [int(n) for n in args.threads.split(",")]

    server = LocalAwsIotThread()
    endpoints = server.start()
    try:
        service = server.service

        def setup() -> None:
            service.call("iot", "CreateThingGroup", {"thingGroupName": "bench-fleet"})
            for i in range(args.executions):
                name = f"bench-{i:05d}"
                service.call("iot", "CreateThing", {"thingName": name})
                service.call(
                    "iot",
                    "AddThingToThingGroup",
                    {"thingGroupName": "bench-fleet", "thingName": name},
                )

        t0 = time.perf_counter()
        server.call_in_loop(setup)
        session = boto3.session.Session(
            region_name=endpoints.region, aws_access_key_id="x", aws_secret_access_key="y"
        )
        iot = make_client(session, endpoints.iot)
        group_arn = iot.describe_thing_group(thingGroupName="bench-fleet")["thingGroupArn"]
        iot.create_job(jobId="bench-job", targets=[group_arn], document='{"op": "bench"}')
        total = 0
        for page in iot.get_paginator("list_job_executions_for_job").paginate(
            jobId="bench-job", PaginationConfig={"PageSize": args.page_size}
        ):
            total += len(page["executionSummaries"])
        print(f"setup: {args.executions} things in a group, job with {total} executions "
              f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip
        if total != args.executions:
            raise SystemExit(f"expected {args.executions} executions, listed {total}")
        pages_per_walk = -(-total // args.page_size)

        def describe_work() -> Callable[[], int]:
            client = make_client(session, endpoints.iot)

            def work() -> int:
                client.describe_job(jobId="bench-job")
                return 1

            return work

        def list_work() -> Callable[[], int]:
            client = make_client(session, endpoints.iot)
            paginator = client.get_paginator("list_job_executions_for_job")

            def work() -> int:
                pages = 0
                for _ in paginator.paginate(
                    jobId="bench-job", PaginationConfig={"PageSize": args.page_size}
                ):
                    pages += 1
                return pages

            return work

        def raw_describe_work() -> Callable[[], int]:
            # The server alone: a keep-alive HTTP client, no botocore signing or parsing.
            parsed = urlsplit(endpoints.iot)
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)

            def work() -> int:
                conn.request("GET", "/jobs/bench-job")
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise SystemExit(f"DescribeJob answered {response.status}")
                return 1

            return work

        for threads in thread_counts:
            rate = run_for(args.seconds, threads, describe_work)
            print(f"DescribeJob: {rate:8.1f} requests/s  ({threads} client thread(s))")
        for threads in thread_counts:
            rate = run_for(args.seconds, threads, raw_describe_work)
            print(
                f"DescribeJob (raw HTTP, no boto3): {rate:8.1f} requests/s  ({threads} thread(s))"
            )

        def raw_list_work() -> Callable[[], int]:
            parsed = urlsplit(endpoints.iot)
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)

            def work() -> int:
                pages, token = 0, None
                while True:
                    query = {"maxResults": str(args.page_size)}
                    if token:
                        query["nextToken"] = token
                    conn.request("GET", "/jobs/bench-job/things?" + urlencode(query))
                    response = conn.getresponse()
                    body = json.loads(response.read())
                    pages += 1
                    token = body.get("nextToken")
                    if not token:
                        return pages

            return work

        for threads in thread_counts:
            rate = run_for(args.seconds, threads, raw_list_work)
            print(
                f"ListJobExecutionsForJob (raw HTTP, no boto3): {rate:8.1f} pages/s = "
                f"{rate / pages_per_walk:6.2f} full walks/s ({threads} thread(s))"
            )
        for threads in thread_counts:
            rate = run_for(args.seconds, threads, list_work)
            print(
                f"ListJobExecutionsForJob: {rate:8.1f} pages/s of {args.page_size} = "
                f"{rate / pages_per_walk:6.2f} full walks/s of {total} executions "
                f"({threads} client thread(s))"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
