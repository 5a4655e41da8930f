"""Time to prepare a run's targets beyond 100 things: the run's thing group, first and next time.

    python bench/bench_targets.py [--sizes 1000,10000] [--server process|thread]
                                  [--workers 16] [--baseline 200]

Starts the local AWS IoT -- ``ota-deploy local serve`` in its own process (``--server process``,
the default: the layout of ``run --local``, the server on its own core) or a LocalAwsIotThread in
this process (``thread``) -- registers N things (not timed), then times what a run does before
round 1 for an N-thing list (``deploy.targets.TargetGroup.prepare``, over HTTP through boto3):

- first time: DescribeThingGroup, CreateThingGroup, N AddThingToThingGroup (``--workers`` at a
  time), UpdateThingGroup (the list's digest);
- second time, same list (another order): DescribeThingGroup only;
- changed list (1 % out, 1 % new): the group repaired, not rebuilt;
- cleanUpCfg's leftover scan for a run of 1,000 and of 1,000,000 planned rounds, with 50 jobs
  and streams in the account (10 of them the run's): ListJobs/ListStreams pages, not one call
  per planned round.

Each line gives the wall time, the calls made and the calls per second. ``--baseline N`` also
times the way it was done before (one AddThingToThingGroup at a time, spaced by the sample
dev.ini's iotApiSleepTime of 50 ms) for N things and extrapolates to each size.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ota_deploy.aws.group_ops import GroupOps
from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.session import AwsClients, local_target
from ota_deploy.core.defaults import LOCAL_ACCOUNT
from ota_deploy.deploy.journal import Journal
from ota_deploy.deploy.targets import TargetGroup


@contextmanager
def local_iot(kind: str) -> Iterator[dict[str, str]]:
    """The local AWS IoT's endpoints (``iot``, ``region``) while it runs."""
    if kind == "thread":
        from ota_deploy.local.server import LocalAwsIotThread

        with LocalAwsIotThread() as ep:
            yield {"iot": ep.iot, "region": ep.region}
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "ota_deploy", "local", "serve"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ep = json.loads(proc.stdout.readline())
        yield {"iot": ep["iot"], "region": ep["region"]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def counted_iot(endpoint: str, region: str) -> tuple[IotOps, Counter[str]]:
    """IotOps over the project's own client configuration; every request counted."""
    client = AwsClients(local_target({"iot": endpoint}, region)).iot
    counts: Counter[str] = Counter()

    def note(model: Any, **_: Any) -> None:
        counts[model.name] += 1

    client.meta.events.register("before-call.iot", note)
    return IotOps(client), counts


def register(endpoint: str, region: str, names: list[str]) -> None:
    client = AwsClients(local_target({"iot": endpoint}, region)).iot
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: client.create_thing(thingName=n), names))


def timed(label: str, what: str, counts: Counter[str], work: Any) -> float:
    counts.clear()
    start = time.perf_counter()
    work()
    took = time.perf_counter() - start
    calls = sum(counts.values())
    detail = ", ".join(f"{op} {n}" for op, n in counts.most_common())
    print(
        f"{what}, {label:<12} {took:7.2f} s  {calls:>6} calls ({calls / took:6.0f}/s)  [{detail}]",
        flush=True,
    )
    return took


def scan_leftovers(iot: IotOps, counts: Counter[str]) -> None:
    from ota_deploy.deploy.cleanup import RoundIds, remove_leftovers

    role = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/bench"
    thing = iot.call("DescribeThing", thingName="bench-000000")["thingArn"]
    for rounds in (1_000, 1_000_000):
        for i in range(1, 51):  # 10 with the run's ids (rounds 1-10), 40 of other runs
            prefix = "Scan" if i <= 10 else "Other"
            iot.call("CreateJob", jobId=f"{prefix}-{i}", targets=[thing], document="{}")
            iot.call(
                "CreateStream",
                streamId=f"{prefix}S-{i}",
                roleArn=role,
                files=[{"fileId": 0, "s3Location": {"bucket": "b", "key": "k"}}],
            )
        jobs = RoundIds.of(lambda n: f"Scan-{n}", rounds)
        streams = RoundIds.of(lambda n: f"ScanS-{n}", rounds)
        what = f"leftover scan, {rounds:>9,} planned rounds"
        timed("", what, counts, partial(remove_leftovers, iot, jobs, streams))
        for i in range(11, 51):
            iot.delete_job(f"Other-{i}")
            iot.delete_stream(f"OtherS-{i}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--server", choices=("process", "thread"), default="process")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--baseline", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]

    with local_iot(args.server) as ep:
        region = ep["region"]
        arn = f"arn:aws:iot:{region}:{LOCAL_ACCOUNT}:thing/"
        total = max(sizes)
        names = [f"bench-{i:06d}" for i in range(total + total // 100)]
        start = time.perf_counter()
        register(ep["iot"], region, names)
        print(f"setup: {len(names)} things registered ({time.perf_counter() - start:.1f} s, "
              f"server: {args.server}, workers: {args.workers})", flush=True)  # fmt: skip
        iot, counts = counted_iot(ep["iot"], region)
        groups = GroupOps(iot, workers=args.workers)
        for size in sizes:
            arns = [arn + n for n in names[:size]]
            group = f"ota-deploy-Bench{size}-targets"
            target = TargetGroup(iot, Journal.in_memory(), groups=groups)
            what = f"{size:>6} things"
            timed("first time", what, counts, partial(target.prepare, group, arns))
            shuffled = list(arns)
            random.Random(size).shuffle(shuffled)
            timed("second time", what, counts, partial(target.prepare, group, shuffled))
            step = 100
            changed = [a for i, a in enumerate(arns) if i % step] + [
                arn + n for n in names[total : total + size // step]
            ]
            timed("1 % changed", what, counts, partial(target.prepare, group, changed))
        scan_leftovers(iot, counts)
        if args.baseline:
            paced = IotOps(AwsClients(local_target({"iot": ep["iot"]}, region)).iot,
                           api_sleep_sec=0.05)  # fmt: skip
            paced.create_thing_group("bench-baseline")
            start = time.perf_counter()
            for n in names[: args.baseline]:
                paced.add_thing_to_group("bench-baseline", arn + n)
            rate = args.baseline / (time.perf_counter() - start)
            for size in sizes:
                print(f"{size:>6} things, before       {size / rate:7.2f} s  (one call at a "
                      f"time, 50 ms apart: {rate:.0f}/s over {args.baseline})")  # fmt: skip


if __name__ == "__main__":
    main()
