"""In-process CPU per Jobs MQTT request: the server's side of what each simulated device asks.

Data flow: one real ``LocalIotService`` (FakeClock) with ``--things`` things in a group and one
SNAPSHOT job over the group; a real ``JobsMqttHandler`` answers, for every thing in turn, the
requests the fleet's device agent makes (``fleet/agent_jobs.py``): start-next, three IN_PROGRESS
progress updates (statusDetails, expectedVersion, includeJobExecutionState), the SUCCEEDED
update, then start-next again (nothing pending). Replies are encoded as the gateway would send
them (``JobsMqttHandler.handle``); the service's notify/notify-next messages go to a counter.
No sockets, no gateway: only the request path (topic and JSON parsing, the service call, the
engine's flush and notifications, the reply's encoding).

``--state-dir`` adds the write-through store (``local/store``, SQLite WAL in a temporary folder),
as ``local serve --state-dir`` runs it: every changing request is committed before its reply.

Printed: CPU microseconds per request (process time), overall and per kind of request. The
machine may be shared; process time is the steadier figure. Bounded: a few seconds.

    python bench/bench_jobs_mqtt.py                      # 2,000 things, in memory
    python bench/bench_jobs_mqtt.py --state-dir          # with the SQLite write-through
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ota_deploy.core.clock import FakeClock
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.local.iot import LocalIotService
from ota_deploy.local.reserved.jobs_mqtt import JobsMqttHandler
from ota_deploy.local.store.database import Database
from ota_deploy.local.store.iot_store import IotStore

GROUP_ARN = f"arn:aws:iot:{DEFAULT_REGION}:{LOCAL_ACCOUNT}:thinggroup/fleet"


def build(things: int, state_dir: Path | None) -> tuple[LocalIotService, FakeClock, list[int]]:
    clock = FakeClock(1_700_000_000.0)
    published = [0]

    def publish(topic: str, payload: bytes) -> None:
        published[0] += 1

    svc = LocalIotService(
        clock=clock,
        region=DEFAULT_REGION,
        account=LOCAL_ACCOUNT,
        publish=publish,
        read_blob=lambda b, k, v: b"",
        presign=lambda b, k, e: "https://s3.local.test/x",
        mqtt_endpoint="127.0.0.1:8883",
    )
    if state_dir is not None:
        db = Database.open(state_dir)
        svc.attach_store(IotStore(db.connect()))
    svc.call("iot", "CreateThingGroup", {"thingGroupName": "fleet"})
    for i in range(things):
        name = f"dev-{i:05d}"
        svc.call("iot", "CreateThing", {"thingName": name})
        svc.call("iot", "AddThingToThingGroup", {"thingGroupName": "fleet", "thingName": name})
    document = {"afr_ota": {"streamname": "s", "files": [{"fileid": 0, "filesize": 262144}]}}
    svc.call(
        "iot",
        "CreateJob",
        {"jobId": "ota-1", "targets": [GROUP_ARN], "document": json.dumps(document)},
    )
    return svc, clock, published


def run(things: int, with_store: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        svc, clock, published = build(things, Path(tmp) if with_store else None)
        handler = JobsMqttHandler(svc, clock)
        cpu: dict[str, float] = {}
        count: dict[str, int] = {}
        replies = [0]

        def reply(topic: str, payload: bytes) -> None:
            replies[0] += 1

        def timed(kind: str, work: Callable[[], None]) -> None:
            start = time.process_time()
            work()
            cpu[kind] = cpu.get(kind, 0.0) + time.process_time() - start
            count[kind] = count.get(kind, 0) + 1

        def request(thing: str, tail: str, body: dict[str, object]) -> Callable[[], None]:
            topic = f"$aws/things/{thing}/jobs/{tail}"
            payload = json.dumps(body, separators=(",", ":")).encode()
            return lambda: handler.handle(thing, topic, payload, reply)

        before = published[0]
        for i in range(things):
            thing = f"dev-{i:05d}"
            timed("start-next", request(thing, "start-next", {"clientToken": f"{thing}-s"}))
            version = 2
            for pct in (25, 50, 75):
                body = {
                    "status": "IN_PROGRESS",
                    "statusDetails": {"progress": f"{pct}%"},
                    "expectedVersion": version,
                    "includeJobExecutionState": True,
                    "clientToken": f"{thing}-{pct}",
                }
                timed("update IN_PROGRESS", request(thing, "ota-1/update", body))
                version += 1
            body = {
                "status": "SUCCEEDED",
                "statusDetails": {"progress": "100%"},
                "expectedVersion": version,
                "includeJobExecutionState": True,
                "clientToken": f"{thing}-done",
            }
            timed("update SUCCEEDED", request(thing, "ota-1/update", body))
            timed("start-next (none)", request(thing, "start-next", {"clientToken": f"{thing}-n"}))
            clock.advance(0.001)
        status = svc.call("iot", "DescribeJob", {"jobId": "ota-1"})["job"]["status"]
        total_cpu, total = sum(cpu.values()), sum(count.values())
        mode = "with --state-dir (SQLite write-through)" if with_store else "in memory"
        print(f"{things:,} things, {total:,} Jobs MQTT requests, {mode}; job {status}")
        print(f"  {'all requests':<22} {total_cpu / total * 1e6:8.1f} µs CPU each")
        for kind in cpu:
            print(f"  {kind:<22} {cpu[kind] / count[kind] * 1e6:8.1f} µs CPU each")
        print(f"  replies {replies[0]:,}, notify/notify-next messages {published[0] - before:,}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--things", type=int, default=2000)
    ap.add_argument("--state-dir", action="store_true", help="commit through SQLite")
    args = ap.parse_args()
    run(args.things, args.state_dir)


if __name__ == "__main__":
    main()
