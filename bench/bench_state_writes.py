"""What durable local state (``local serve --state-dir``) costs per write.

Prints changes per second without a state folder and with one (SQLite WAL, synchronous=NORMAL,
the shipped setting; FULL and OFF for comparison in-process), for:

- in-process ``LocalIotService.call`` (no HTTP): CreateThing, and UpdateJobExecution progress
  updates (IN_PROGRESS with new statusDetails, what a device sends during a download) on a
  1,000-execution job;
- through HTTP with boto3 against ``LocalAwsIotThread``: the same two, and S3 PutObject of
  1 KiB (stored inline) and 1 MiB (a file beside the database);
- the on-disk size per 1,000 executions (queued, then all SUCCEEDED), after a checkpoint, and
  how long a restart takes to read such a folder back into the service.

Bounded: about a minute and a half. Run: python bench/bench_state_writes.py [seconds-per-figure]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from ota_deploy.core.clock import FakeClock
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.local.iot import LocalIotService
from ota_deploy.local.server import LocalAwsIotThread
from ota_deploy.local.store import database
from ota_deploy.local.store.database import Database
from ota_deploy.local.store.iot_store import IotStore

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
FLEET = 1000
GROUP_ARN = f"arn:aws:iot:{DEFAULT_REGION}:{LOCAL_ACCOUNT}:thinggroup/fleet"


def rate(fn: Callable[[int], object], seconds: float = SECONDS) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(count)
        count += 1
    return count / (time.perf_counter() - start)


def service(clock: FakeClock) -> LocalIotService:
    return LocalIotService(
        clock=clock,
        region=DEFAULT_REGION,
        account=LOCAL_ACCOUNT,
        publish=lambda t, p: None,
        read_blob=lambda b, k, v: b"",
        presign=lambda b, k, e: "http://x",
        mqtt_endpoint="127.0.0.1:1883",
    )


def fleet_job(call: Callable[[str, str, dict[str, Any]], object]) -> None:
    call("iot", "CreateThingGroup", {"thingGroupName": "fleet"})
    for i in range(FLEET):
        call("iot", "CreateThing", {"thingName": f"d{i:04d}"})
        call("iot", "AddThingToThingGroup", {"thingGroupName": "fleet", "thingName": f"d{i:04d}"})
    call("iot", "CreateJob", {"jobId": "j", "targets": [GROUP_ARN], "document": "{}"})


def progress(call: Callable[[str, str, dict[str, Any]], object]) -> Callable[[int], object]:
    def update(n: int) -> object:
        return call(
            "iot-jobs-data",
            "UpdateJobExecution",
            {
                "jobId": "j",
                "thingName": f"d{n % FLEET:04d}",
                "status": "IN_PROGRESS",
                "statusDetails": {"progress": str(n)},
            },
        )

    return update


@contextmanager
def stored(svc: LocalIotService, sync: str | None) -> Iterator[Path | None]:
    if sync is None:
        yield None
        return
    database.SYNCHRONOUS = sync
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(Path(tmp))
        svc.attach_store(IotStore(db.connect()))
        try:
            yield Path(tmp)
        finally:
            db.close()
            database.SYNCHRONOUS = "NORMAL"


def in_process_variant(sync: str | None) -> tuple[float, float]:
    clock = FakeClock()
    svc = service(clock)

    def call(s: str, op: str, p: dict[str, Any]) -> object:
        clock.advance(0.001)  # every change carries a new timestamp, as in real time
        return svc.call(s, op, p)

    with stored(svc, sync):
        things = rate(lambda n: call("iot", "CreateThing", {"thingName": f"new-{n}"}))
        fleet_job(call)
        updates = rate(progress(call))
    return things, updates


def in_process() -> None:
    print("in-process LocalIotService.call (changes per second)")
    print(f"  {'':<34} {'memory':>10} {'OFF':>10} {'NORMAL':>10} {'FULL':>10}")
    figures = [in_process_variant(sync) for sync in (None, "OFF", "NORMAL", "FULL")]
    for k, label in enumerate(("CreateThing", "UpdateJobExecution (progress)")):
        print(f"  {label:<34} " + " ".join(f"{f[k]:>10,.0f}" for f in figures))


def size_per_1000_executions() -> None:
    clock = FakeClock()
    svc = service(clock)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(Path(tmp))
        conn = db.connect()
        svc.attach_store(IotStore(conn))

        def call(s: str, op: str, p: dict[str, Any]) -> object:
            clock.advance(0.001)
            return svc.call(s, op, p)

        def size() -> int:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            return int(pages) * int(conn.execute("PRAGMA page_size").fetchone()[0])

        call("iot", "CreateThingGroup", {"thingGroupName": "fleet"})
        for i in range(FLEET):
            call("iot", "CreateThing", {"thingName": f"d{i:04d}"})
            call(
                "iot", "AddThingToThingGroup", {"thingGroupName": "fleet", "thingName": f"d{i:04d}"}
            )
        before = size()
        call("iot", "CreateJob", {"jobId": "j", "targets": [GROUP_ARN], "document": "{}"})
        queued = size()
        for i in range(FLEET):
            for status in ("IN_PROGRESS", "SUCCEEDED"):
                call(
                    "iot-jobs-data",
                    "UpdateJobExecution",
                    {"jobId": "j", "thingName": f"d{i:04d}", "status": status},
                )
        done = size()
        row = conn.execute("SELECT avg(length(data)) FROM executions").fetchone()[0]
        db.close()
        db = Database.open(Path(tmp))
        start = time.perf_counter()
        state, _ = IotStore(db.connect()).load()
        service(FakeClock(clock.now())).load_state(state)
        load_ms = (time.perf_counter() - start) * 1e3
        db.close()
    per = 1000 / FLEET
    print(
        f"on disk per 1,000 executions: {(queued - before) * per / 1024:,.0f} KiB queued, "
        f"{(done - before) * per / 1024:,.0f} KiB once SUCCEEDED "
        f"(an execution's row holds {row:,.0f} bytes of JSON; {FLEET:,} things took "
        f"{before / 1024:,.0f} KiB)"
    )
    print(
        f"start-up read of that folder ({FLEET:,} things, {FLEET:,} executions): {load_ms:.0f} ms"
    )


def over_http_variant(folder: Path | None) -> dict[str, float]:
    session = boto3.session.Session(
        region_name=DEFAULT_REGION, aws_access_key_id="local", aws_secret_access_key="local"
    )
    config = Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"})
    server = LocalAwsIotThread(state_dir=folder)
    out: dict[str, float] = {}
    with server as ep:
        iot = session.client("iot", endpoint_url=ep.iot, config=config)
        data = session.client("iot-jobs-data", endpoint_url=ep.jobs_data, config=config)
        s3 = session.client("s3", endpoint_url=ep.s3, config=config)
        out["CreateThing"] = rate(lambda n: iot.create_thing(thingName=f"new-{n}"))

        def in_loop(s: str, op: str, p: dict[str, Any]) -> object:
            return server.call_in_loop(lambda: server.service.call(s, op, p))

        fleet_job(in_loop)
        out["UpdateJobExecution (progress)"] = rate(
            lambda n: data.update_job_execution(
                jobId="j",
                thingName=f"d{n % FLEET:04d}",
                status="IN_PROGRESS",
                statusDetails={"progress": str(n)},
            )
        )
        s3.create_bucket(Bucket="bench-bucket")
        for label, size in (("S3 PutObject 1 KiB", 1024), ("S3 PutObject 1 MiB", 1024 * 1024)):
            out[label] = rate(put_object(s3, b"m" * size))
    return out


def put_object(s3: Any, body: bytes) -> Callable[[int], object]:
    def put(n: int) -> object:  # new bytes each time: every PUT is a real change
        return s3.put_object(Bucket="bench-bucket", Key=f"o{n % 50}", Body=n.to_bytes(8) + body)

    return put


def over_http(repeats: int = 3) -> None:
    print(
        f"through HTTP with boto3 (changes per second, one client, sequential; best of {repeats},"
    )
    print("  the two variants alternating so background load hits both alike)")
    print(f"  {'':<34} {'memory':>10} {'NORMAL':>10}")
    best: dict[str, list[float]] = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            for k, folder in enumerate((None, Path(tmp))):
                for label, figure in over_http_variant(folder).items():
                    row = best.setdefault(label, [0.0, 0.0])
                    row[k] = max(row[k], figure)
    for label, (memory, durable) in best.items():
        print(f"  {label:<34} {memory:>10,.0f} {durable:>10,.0f}")


def main() -> None:
    in_process()
    size_per_1000_executions()
    over_http()
    print(json.dumps({"seconds_per_figure": SECONDS}))


if __name__ == "__main__":
    main()
