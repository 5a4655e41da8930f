"""SIGKILL ``ota-deploy local serve --state-dir D`` at seeded random moments of a scripted
workload; after each restart the state equals what was acknowledged (issue 10 §3).

The workload (things, groups, firmware in S3 -- one object large enough to live beside the
database --, streams, jobs, device updates over the jobs data plane, cancellations and
deletions) runs through boto3 over loopback, one call at a time, without retries. A model
holds what the server acknowledged. A killer thread SIGKILLs the server a few milliseconds
into a chosen call; that call is in flight: after the restart the observed state must be the
model either without it or with it (the server may have committed it before dying), and
nothing else. In particular a job deleted before the kill never comes back, nor do its
executions: devices are not offered it again.

A second test replays the issue's two reports deterministically: a SIGKILL right after the
first changes (they used to wait for a save every 10 s) and right after a job's and a stream's
deletion (they used to come back, and the device was offered the job again).

Budget: every restart of ``local serve`` costs its start-up (0.8-1.5 s here), so CI runs
``OTA_DURABILITY_KILLS`` kill points (default 8) of the seeded schedule; the full run is
``OTA_DURABILITY_KILLS=50 pytest tests/integration/local/durability`` (``OTA_DURABILITY_SEED``
picks another schedule).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

KILLS = int(os.environ.get("OTA_DURABILITY_KILLS", "8"))
SEED = int(os.environ.get("OTA_DURABILITY_SEED", "10"))
ROUNDS = 8
CLI = [sys.executable, "-c", "from ota_deploy.cli.app import main; main()"]
BUCKET = "fw-durable"
ACCOUNT, REGION = "123456789012", "us-east-1"
_SESSION = boto3.session.Session(
    aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION
)
_TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "REJECTED", "REMOVED", "TIMED_OUT"}


# ---- the model of what was acknowledged --------------------------------------------------
@dataclass
class Model:
    things: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> attrs, version
    groups: dict[str, set[str]] = field(default_factory=dict)
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> version, keys
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> status, executions
    buckets: set[str] = field(default_factory=set)
    objects: dict[str, str] = field(default_factory=dict)  # key -> md5 (ETag)

    def pending(self) -> dict[str, set[str]]:
        """thing -> the jobs whose execution it is offered (QUEUED or IN_PROGRESS)."""
        out: dict[str, set[str]] = {t: set() for t in self.things}
        for job_id, job in self.jobs.items():
            for thing, status in job["executions"].items():
                if status in ("QUEUED", "IN_PROGRESS") and thing in out:
                    out[thing].add(job_id)
        return out

    def view(self) -> dict[str, Any]:
        """Everything compared after a restart, in plain comparable values."""
        return {
            "things": self.things,
            "groups": {g: sorted(m) for g, m in self.groups.items()},
            "streams": self.streams,
            "jobs": self.jobs,
            "buckets": sorted(self.buckets),
            "objects": self.objects,
            "pending": {t: sorted(j) for t, j in self.pending().items()},
        }


@dataclass
class Step:
    name: str
    call: Callable[[dict[str, Any]], Any]  # boto3 clients -> the call
    apply: Callable[[Model], None]  # what it changes once acknowledged


def _thing_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"


def _group_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/{name}"


def _md5(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


# ---- the script ----------------------------------------------------------------------------
def _script() -> list[Step]:
    steps: list[Step] = []
    add = steps.append

    def bucket(b: str) -> None:
        def apply(m: Model) -> None:
            m.buckets.add(b)

        add(Step(f"CreateBucket {b}", lambda c: c["s3"].create_bucket(Bucket=b), apply))

    def put(key: str, data: bytes) -> None:
        def apply(m: Model) -> None:
            m.objects[key] = _md5(data)

        add(
            Step(
                f"PutObject {key}",
                lambda c: c["s3"].put_object(Bucket=BUCKET, Key=key, Body=data),
                apply,
            )
        )

    def delete_object(key: str) -> None:
        def apply(m: Model) -> None:
            m.objects.pop(key, None)

        add(
            Step(
                f"DeleteObject {key}",
                lambda c: c["s3"].delete_object(Bucket=BUCKET, Key=key),
                apply,
            )
        )

    def thing(name: str) -> None:
        def apply(m: Model) -> None:
            m.things[name] = {"attributes": {}, "version": 1}

        add(Step(f"CreateThing {name}", lambda c: c["iot"].create_thing(thingName=name), apply))

    def update_thing(name: str, value: str) -> None:
        def apply(m: Model) -> None:
            m.things[name]["attributes"]["fw"] = value
            m.things[name]["version"] += 1

        add(
            Step(
                f"UpdateThing {name}",
                lambda c: c["iot"].update_thing(
                    thingName=name, attributePayload={"attributes": {"fw": value}, "merge": True}
                ),
                apply,
            )
        )

    def delete_thing(name: str) -> None:
        def apply(m: Model) -> None:
            del m.things[name]
            for members in m.groups.values():
                members.discard(name)

        add(Step(f"DeleteThing {name}", lambda c: c["iot"].delete_thing(thingName=name), apply))

    def group(name: str) -> None:
        def apply(m: Model) -> None:
            m.groups[name] = set()

        add(
            Step(
                f"CreateThingGroup {name}",
                lambda c: c["iot"].create_thing_group(thingGroupName=name),
                apply,
            )
        )

    def join(g: str, t: str, leave: bool = False) -> None:
        def apply(m: Model) -> None:
            (m.groups[g].discard if leave else m.groups[g].add)(t)

        op = "remove_thing_from_thing_group" if leave else "add_thing_to_thing_group"
        add(
            Step(
                f"{'Remove' if leave else 'Add'} {t} {g}",
                lambda c: getattr(c["iot"], op)(thingGroupName=g, thingName=t),
                apply,
            )
        )

    def stream(sid: str, key: str, update: bool = False) -> None:
        files = [{"fileId": 0, "s3Location": {"bucket": BUCKET, "key": key}}]

        def apply(m: Model) -> None:
            if update:
                m.streams[sid] = {"version": m.streams[sid]["version"] + 1, "keys": [key]}
            else:
                m.streams[sid] = {"version": 1, "keys": [key]}

        def call(c: dict[str, Any]) -> Any:
            if update:
                return c["iot"].update_stream(streamId=sid, files=files)
            return c["iot"].create_stream(
                streamId=sid, files=files, roleArn=f"arn:aws:iam::{ACCOUNT}:role/ota"
            )

        add(Step(f"{'Update' if update else 'Create'}Stream {sid}", call, apply))

    def delete_stream(sid: str) -> None:
        def apply(m: Model) -> None:
            del m.streams[sid]

        add(Step(f"DeleteStream {sid}", lambda c: c["iot"].delete_stream(streamId=sid), apply))

    def job(job_id: str, sid: str, things: list[str] | None = None, grp: str | None = None) -> None:
        targets = [_group_arn(grp)] if grp else [_thing_arn(t) for t in things or []]
        document = json.dumps({"afr_ota": {"streamname": sid}})

        def apply(m: Model) -> None:
            members = sorted(m.groups[grp]) if grp else list(things or [])
            m.jobs[job_id] = {
                "status": "IN_PROGRESS",
                "executions": dict.fromkeys(members, "QUEUED"),
            }

        add(
            Step(
                f"CreateJob {job_id}",
                lambda c: c["iot"].create_job(jobId=job_id, targets=targets, document=document),
                apply,
            )
        )

    def device(job_id: str, t: str, status: str) -> None:
        def apply(m: Model) -> None:
            j = m.jobs[job_id]
            j["executions"][t] = status
            open_ = [s for s in j["executions"].values() if s not in _TERMINAL]
            if j["status"] == "IN_PROGRESS" and not open_:
                j["status"] = "COMPLETED"  # a SNAPSHOT job completes with its last execution

        add(
            Step(
                f"UpdateJobExecution {job_id} {t} {status}",
                lambda c: c["iot-jobs-data"].update_job_execution(
                    jobId=job_id, thingName=t, status=status
                ),
                apply,
            )
        )

    def cancel(job_id: str) -> None:
        def apply(m: Model) -> None:
            j = m.jobs[job_id]
            j["status"] = "CANCELED"
            for t, s in j["executions"].items():
                if s == "QUEUED":
                    j["executions"][t] = "CANCELED"

        add(Step(f"CancelJob {job_id}", lambda c: c["iot"].cancel_job(jobId=job_id), apply))

    def delete_job(job_id: str) -> None:
        def apply(m: Model) -> None:
            del m.jobs[job_id]

        add(
            Step(
                f"DeleteJob {job_id}",
                lambda c: c["iot"].delete_job(jobId=job_id, force=True),
                apply,
            )
        )

    fleet = [f"d{i:02d}" for i in range(8)]
    bucket(BUCKET)
    for t in fleet:
        thing(t)
    group("ring-a")
    for t in fleet[:4]:
        join("ring-a", t)
    for r in range(ROUNDS):
        small, large = f"fw/{r}/app.bin", f"fw/{r}/big.bin"
        put(small, f"firmware {r}".encode() * 40)
        put(large, bytes([r]) * (96 * 1024))  # beside the database, not inline
        stream(f"s{r}", small)
        stream(f"s{r}", large, update=True)
        job(f"j{r}-g", f"s{r}", grp="ring-a")
        job(f"j{r}-t", f"s{r}", things=fleet[4:7])
        for t in fleet[:4]:
            device(f"j{r}-g", t, "IN_PROGRESS")
        for i, t in enumerate(fleet[:4]):
            device(f"j{r}-g", t, "FAILED" if i == r % 4 else "SUCCEEDED")
        device(f"j{r}-t", fleet[4], "IN_PROGRESS")
        update_thing(fleet[r % 8], f"v{r}")
        spare = f"spare-{r}"
        thing(spare)
        join("ring-a", spare)
        join("ring-a", spare, leave=True)
        if r % 2:
            cancel(f"j{r}-t")  # QUEUED ones cancel, the IN_PROGRESS one stays offered
        delete_job(f"j{r}-t")  # ... until the job is deleted: never offered again
        delete_thing(spare)
        if r:
            delete_job(f"j{r - 1}-g")
            delete_stream(f"s{r - 1}")
            delete_object(f"fw/{r - 1}/big.bin")
    return steps


# ---- the server and what it shows -------------------------------------------------------
class Server:
    def __init__(self, folder: Path, log: Path) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [*CLI, "local", "serve", "--state-dir", str(folder)],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(60)
        if not box or not box[0]:
            self.proc.kill()
            raise AssertionError(f"local serve did not start; see {log}")
        info = json.loads(box[0])
        config = Config(
            retries={"total_max_attempts": 1},  # no retry: a call's effect happens at most once
            connect_timeout=5,
            read_timeout=10,
            s3={"addressing_style": "path"},
        )
        urls = {"iot": info["iot"], "iot-jobs-data": info["jobs_data"], "s3": info["s3"]}
        self.clients = {
            n: _SESSION.client(n, endpoint_url=u, config=config) for n, u in urls.items()
        }

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()


def _observe(c: dict[str, Any]) -> dict[str, Any]:
    """The state as clients see it, in the model's terms."""
    iot = c["iot"]
    for _ in range(200):  # a deletion the server resumed finishes within a few ticks
        jobs = iot.list_jobs(maxResults=250)["jobs"]
        if all(j["status"] != "DELETION_IN_PROGRESS" for j in jobs):
            break
        time.sleep(0.02)
    else:
        raise AssertionError("a job deletion never finished")
    things = {}
    for t in iot.list_things(maxResults=250)["things"]:
        d = iot.describe_thing(thingName=t["thingName"])
        things[t["thingName"]] = {"attributes": d["attributes"], "version": d["version"]}
    groups = {
        g["groupName"]: sorted(
            iot.list_things_in_thing_group(thingGroupName=g["groupName"], maxResults=250)["things"]
        )
        for g in iot.list_thing_groups(maxResults=250)["thingGroups"]
    }
    streams = {}
    for s in iot.list_streams(maxResults=250)["streams"]:
        info = iot.describe_stream(streamId=s["streamId"])["streamInfo"]
        keys = [f["s3Location"]["key"] for f in info["files"]]
        streams[s["streamId"]] = {"version": info["streamVersion"], "keys": keys}
    out_jobs = {}
    for j in jobs:
        runs = iot.list_job_executions_for_job(jobId=j["jobId"], maxResults=250)
        out_jobs[j["jobId"]] = {
            "status": j["status"],
            "executions": {
                e["thingArn"].rsplit("/", 1)[1]: e["jobExecutionSummary"]["status"]
                for e in runs["executionSummaries"]
            },
        }
    buckets = sorted(b["Name"] for b in c["s3"].list_buckets()["Buckets"])
    objects = {}
    for b in buckets:
        for o in c["s3"].list_objects_v2(Bucket=b).get("Contents", []):
            objects[o["Key"]] = o["ETag"]
    pending = {}
    for t in things:
        p = c["iot-jobs-data"].get_pending_job_executions(thingName=t)
        pending[t] = sorted(e["jobId"] for e in p["inProgressJobs"] + p["queuedJobs"])
    return {
        "things": things,
        "groups": groups,
        "streams": streams,
        "jobs": out_jobs,
        "buckets": buckets,
        "objects": objects,
        "pending": pending,
    }


def _schedule(steps: int, kills: int, seed: int) -> dict[int, float]:
    """Step index -> seconds into that step at which the server is killed."""
    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(1, steps), min(kills, steps - 1)))
    return {i: rng.uniform(0.0, 0.004) for i in chosen}


def test_sigkill_at_seeded_moments_shows_exactly_what_was_acknowledged(tmp_path: Path) -> None:
    steps = _script()
    schedule = _schedule(len(steps), KILLS, SEED)
    folder, log = tmp_path / "state", tmp_path / "serve.log"
    model = Model()
    server = Server(folder, log)
    i = restarts = committed_in_flight = 0
    try:
        while i < len(steps):
            step = steps[i]
            killer = None
            if i in schedule:
                killer = threading.Timer(schedule.pop(i), server.kill)
                killer.start()
            try:
                step.call(server.clients)
            except (BotoCoreError, ClientError) as err:
                if server.proc.poll() is None and killer is None:
                    raise AssertionError(f"{step.name} failed with the server up: {err}") from err
            else:
                step.apply(model)
                i += 1
                if killer is None:
                    continue
            if killer is not None:
                killer.join()
            if server.proc.poll() is None:  # the kill came after the step's reply
                continue
            server.kill()
            server = Server(folder, log)
            restarts += 1
            seen = _observe(server.clients)
            if seen == model.view():
                continue  # the step in flight (if any) had not committed: it runs again
            with_step = copy.deepcopy(model)
            if i < len(steps):
                steps[i].apply(with_step)
            assert seen == with_step.view(), f"after a kill in {steps[i].name}"
            model = with_step  # it had committed before the kill: acknowledged in effect
            committed_in_flight += 1
            i += 1
        assert _observe(server.clients) == model.view()
    finally:
        server.kill()
    # restarted once per kill point, the last state survives a clean restart as well
    assert restarts == min(KILLS, len(steps) - 1)
    final = Server(folder, log)
    try:
        assert _observe(final.clients) == model.view()
        assert "j0-t" not in model.jobs and model.jobs  # deleted jobs stay deleted
    finally:
        final.stop()
    print(f"{restarts} kills, {committed_in_flight} in-flight steps had committed")


def test_the_issues_two_cases_right_after_their_replies(tmp_path: Path) -> None:
    """Issue 10 §3 as reported: a SIGKILL before the first periodic save lost everything; a
    SIGKILL after a delete brought the job, its stream and its executions back."""
    folder, log = tmp_path / "state", tmp_path / "serve.log"
    server = Server(folder, log)
    c = server.clients
    c["s3"].create_bucket(Bucket=BUCKET)
    c["s3"].put_object(Bucket=BUCKET, Key="fw.bin", Body=b"firmware" * 20_000)
    c["iot"].create_thing(thingName="dev")
    files = [{"fileId": 0, "s3Location": {"bucket": BUCKET, "key": "fw.bin"}}]
    c["iot"].create_stream(streamId="fw", files=files, roleArn=f"arn:aws:iam::{ACCOUNT}:role/r")
    c["iot"].create_job(jobId="ota", targets=[_thing_arn("dev")], document="{}")
    server.kill()  # at once: nothing waits for a periodic save any more
    server = Server(folder, log)
    c = server.clients
    try:
        assert c["iot"].describe_thing(thingName="dev")["thingName"] == "dev"
        assert c["iot"].describe_stream(streamId="fw")["streamInfo"]["streamVersion"] == 1
        body = c["s3"].get_object(Bucket=BUCKET, Key="fw.bin")["Body"].read()
        assert body == b"firmware" * 20_000
        pending = c["iot-jobs-data"].get_pending_job_executions(thingName="dev")
        assert [j["jobId"] for j in pending["queuedJobs"]] == ["ota"]
        c["iot-jobs-data"].update_job_execution(jobId="ota", thingName="dev", status="IN_PROGRESS")
        c["iot"].delete_job(jobId="ota", force=True)
        c["iot"].delete_stream(streamId="fw")
    finally:
        server.kill()  # right after the delete's reply
    server = Server(folder, log)
    c = server.clients
    try:
        seen = _observe(c)
        assert seen["jobs"] == {} and seen["streams"] == {}
        assert seen["pending"] == {"dev": []}  # the device is not offered the job again
        assert seen["objects"] == {"fw.bin": _md5(b"firmware" * 20_000)}
    finally:
        server.stop()
