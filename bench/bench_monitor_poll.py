"""CPU of one JobPoller poll of a 10,000-execution job, when little has changed.

Data flow: real boto3 clients joined in memory to a real ``LocalIotService`` on a FakeClock
(``tests/support/aws_pair.AwsPair``: botocore's own serialiser and parser, no sockets), one
SNAPSHOT job over ``--things`` things in a group, moved through the jobs data plane to a mid-run
mix (90 % SUCCEEDED, 5 % IN_PROGRESS, 5 % QUEUED). After a first full poll, each measured poll
follows ``--moves`` devices finishing (IN_PROGRESS -> SUCCEEDED) and as many starting (QUEUED ->
IN_PROGRESS); a quiet poll follows no move at all.

Printed per kind of poll (median of ``--polls``): process CPU of the whole poll, the part spent
inside the boto3 calls (botocore and, here in-process, the service answering them) and the
poller's own share (the rest), with the API calls the poll made. The poller's own share is the
figure a poll's bookkeeping decides; the calls are what AWS's listings cost.

    python bench/bench_monitor_poll.py                    # 10,000 things, 10 moves a poll
    python bench/bench_monitor_poll.py --things 2000 --moves 50
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tests.support.aws_pair import AwsPair

from ota_deploy.monitor.poller import JobPoller

ACCOUNT_ARN = "arn:aws:iot:us-east-1:123456789012"


class TimedClient:
    """The boto3 client, with the process time spent inside its calls added up."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.cpu = 0.0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def timed(**params: Any) -> Any:
            start = time.process_time()
            try:
                return method(**params)
            finally:
                self.cpu += time.process_time() - start

        return timed


def build(things: int) -> tuple[AwsPair, list[str]]:
    pair = AwsPair()
    call = pair.call
    names = [f"dev-{i:05d}" for i in range(things)]
    call("iot", "CreateThingGroup", thingGroupName="fleet")
    for name in names:
        call("iot", "CreateThing", thingName=name)
        call("iot", "AddThingToThingGroup", thingGroupName="fleet", thingName=name)
    call("iot", "CreateJob", jobId="J", targets=[f"{ACCOUNT_ARN}:thinggroup/fleet"], document="{}")
    done, running = int(things * 0.9), int(things * 0.05)
    for i, name in enumerate(names[: done + running]):
        move(pair, name, "IN_PROGRESS")
        if i < done:
            move(pair, name, "SUCCEEDED")
    return pair, names


def move(pair: AwsPair, name: str, status: str) -> None:
    pair.call("iot-jobs-data", "UpdateJobExecution", jobId="J", thingName=name, status=status)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--things", type=int, default=10_000)
    ap.add_argument("--moves", type=int, default=10)
    ap.add_argument("--polls", type=int, default=7)
    args = ap.parse_args()
    t0 = time.monotonic()
    pair, names = build(args.things)
    client = TimedClient(pair.client("iot"))
    poller = JobPoller(client, "J", clock=pair.clock, expected_things=names)
    print(f"setup: {args.things:,} things, one job, in {time.monotonic() - t0:.1f} s")

    def one_poll() -> tuple[float, float, int]:
        client.cpu = 0.0
        start = time.process_time()
        snap = poller.poll()
        return time.process_time() - start, client.cpu, snap.api_calls

    def report(label: str, rows: list[tuple[float, float, int]]) -> None:
        total = statistics.median(r[0] for r in rows) * 1e3
        inside = statistics.median(r[1] for r in rows) * 1e3
        own = statistics.median(r[0] - r[1] for r in rows) * 1e3
        calls = statistics.median(r[2] for r in rows)
        print(
            f"  {label:<34} {total:8.1f} ms CPU  (boto3 calls {inside:7.1f} ms, "
            f"poller {own:6.1f} ms)  {calls:.0f} API calls"
        )

    report("first poll", [one_poll()])
    done, running = int(args.things * 0.9), int(args.things * 0.05)
    finishing = iter(names[done : done + running])
    starting = iter(names[done + running :])
    quiet, moved = [], []
    for _ in range(args.polls):
        pair.clock.advance(1)
        quiet.append(one_poll())
        for _ in range(args.moves):
            move(pair, next(finishing), "SUCCEEDED")
            move(pair, next(starting), "IN_PROGRESS")
        pair.clock.advance(1)
        moved.append(one_poll())
    report("quiet poll (nothing moved)", quiet)
    report(f"poll after {args.moves} finished, {args.moves} started", moved)


if __name__ == "__main__":
    main()
