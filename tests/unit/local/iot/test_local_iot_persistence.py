"""dump_state / load_state round trip, and the write-through store behind --state-dir: every
step of a workload is on disk before the next, reads are never tracked, one device update writes
two rows, messages leave after the commit, a failed commit answers 500 and is retried."""

from __future__ import annotations

import contextlib
import copy
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ota_deploy.core.aws_model import required_members
from ota_deploy.local.contracts import AwsError
from ota_deploy.local.iot import persistence
from ota_deploy.local.iot.records import TABLES, Records, TrackedTable, tracking
from ota_deploy.local.iot.service import READ_ONLY_PREFIXES
from ota_deploy.local.store.database import Database
from ota_deploy.local.store.iot_store import IotStore


def test_round_trip_resumes_rollout_and_timeouts(h, harness_factory) -> None:
    names = [f"d{i}" for i in range(6)]
    h.things(*names, group="g")
    h.iot(
        "CreateStream",
        streamId="s",
        roleArn="arn:aws:iam::123456789012:role/ota",
        files=[{"fileId": 0, "s3Location": {"bucket": "fw", "key": "a.bin"}}],
    )
    h.iot("UpdateEventConfigurations", eventConfigurations={"JOB": {"Enabled": True}})
    h.job(
        "j",
        [],
        targets=[h.group_arn("g")],
        timeoutConfig={"inProgressTimeoutInMinutes": 2},
        jobExecutionsRolloutConfig={"maximumPerMinute": 2},
        jobExecutionsRetryConfig={
            "criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]
        },
    )
    h.data("StartNextPendingJobExecution", thingName="d0", statusDetails={"p": "1"})
    h.data("UpdateJobExecution", jobId="j", thingName="d1", status="FAILED")  # retried
    h.iot("CreateKeysAndCertificate", setAsActive=True)
    state = json.loads(json.dumps(h.svc.dump_state()))  # must be JSON-clean

    h2 = harness_factory(start=h.clock.now())
    h2.svc.load_state(state)
    assert h2.published == []
    assert h2.iot("DescribeJob", jobId="j") == h.iot("DescribeJob", jobId="j")
    assert h2.iot("ListJobExecutionsForJob", jobId="j") == h.iot(
        "ListJobExecutionsForJob", jobId="j"
    )
    assert h2.iot("DescribeStream", streamId="s") == h.iot("DescribeStream", streamId="s")
    assert h2.iot("ListThingsInThingGroup", thingGroupName="g")["things"] == names
    assert h2.svc.dump_state() == state
    # the rollout and the in-progress timer continue after the restart
    h2.advance(60)
    assert h2.data("GetPendingJobExecutions", thingName="d2")["queuedJobs"]
    h2.advance(60)
    assert h2.status("j", "d0") == "TIMED_OUT"
    retry = h2.data("StartNextPendingJobExecution", thingName="d1")["execution"]
    assert retry["executionNumber"] == 2
    assert h2.topics("$aws/things/d2/jobs/notify")


# ---- write-through (--state-dir): every change in the database before the reply ----------
def _attach(h: Any, folder: Path) -> tuple[Database, sqlite3.Connection]:
    db = Database.open(folder)
    conn = db.connect()
    h.svc.attach_store(IotStore(conn))
    return db, conn


def _on_disk(folder: Path) -> dict[str, Any]:
    """What a restarted server would load, read beside the running one (no lock taken)."""
    conn = sqlite3.connect(folder / "state.sqlite3")
    try:
        state, meta = IotStore(conn).load()
    finally:
        conn.close()
    assert state["events"] == meta["events"]["switches"]
    return _by_key(persistence.dump(persistence.load(state)))


def _by_key(state: dict[str, Any]) -> dict[str, Any]:
    """A dump with each table as {key: record}: the store does not keep insertion order."""
    out: dict[str, Any] = {"events": state["events"]}
    for table in TABLES:
        out[table.name] = {r[table.key]: r for r in state[table.name]}
    return out


def _workload(h: Any) -> Iterator[str]:
    """A scripted run touching every kind of record; yields after each step."""
    names = [f"d{i}" for i in range(5)]
    h.things(*names, group="g")
    yield "things"
    h.iot("UpdateThing", thingName="d0", attributePayload={"attributes": {"fw": "1"}})
    h.iot("CreateThingGroup", thingGroupName="child", parentGroupName="g")
    h.iot("AddThingToThingGroup", thingGroupName="child", thingName="d4")
    yield "registry"
    h.iot(
        "CreateStream",
        streamId="s",
        roleArn="arn:aws:iam::123456789012:role/ota",
        files=[{"fileId": 0, "s3Location": {"bucket": "fw", "key": "a.bin"}}],
    )
    h.iot("UpdateEventConfigurations", eventConfigurations={"JOB": {"Enabled": True}})
    cert = h.iot("CreateKeysAndCertificate", setAsActive=True)
    h.iot("AttachThingPrincipal", thingName="d1", principal=cert["certificateArn"])
    yield "stream, events, certificate"
    h.job(
        "j",
        [],
        targets=[h.group_arn("g")],
        timeoutConfig={"inProgressTimeoutInMinutes": 2},
        jobExecutionsRolloutConfig={"maximumPerMinute": 2},
        jobExecutionsRetryConfig={
            "criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]
        },
    )
    yield "job"
    h.data("StartNextPendingJobExecution", thingName="d0", statusDetails={"p": "1"})
    h.data("UpdateJobExecution", jobId="j", thingName="d1", status="FAILED")  # retried
    yield "device updates"
    h.advance(61)  # the rollout releases two more
    yield "rollout release (tick)"
    h.advance(60)  # d0's in-progress timeout fires
    yield "timeout (tick)"
    h.iot("DeleteJobExecution", jobId="j", thingName="d1", executionNumber=1, force=True)
    h.iot("RemoveThingFromThingGroup", thingGroupName="child", thingName="d4")
    h.iot("DeleteThing", thingName="d3")
    yield "deletions"
    h.job("k", ["d2"])
    h.iot("CancelJob", jobId="j", force=True)
    h.iot("DeleteJob", jobId="j", force=True)
    yield "cancel, delete job"
    h.advance(1)  # the deletion finishes: the job and its executions go
    h.iot("DeleteStream", streamId="s")
    h.iot("DeleteThingGroup", thingGroupName="child")
    yield "deletion done (tick)"


def test_every_step_is_on_disk_before_the_next(h, tmp_path: Path) -> None:
    db, _ = _attach(h, tmp_path)
    try:
        for step in _workload(h):
            assert _on_disk(tmp_path) == _by_key(h.svc.dump_state()), step
        assert "j" not in _on_disk(tmp_path)["jobs"]
        assert set(_on_disk(tmp_path)["jobs"]) == {"k"}
    finally:
        db.close()


def test_a_restarted_service_resumes_from_the_database(h, harness_factory, tmp_path) -> None:
    db, _ = _attach(h, tmp_path)
    steps = _workload(h)
    for step in steps:
        if step == "device updates":
            break
    db.close()
    db2 = Database.open(tmp_path)
    try:
        state, meta = IotStore(db2.connect()).load()
        h2 = harness_factory(start=h.clock.now())
        h2.svc.load_state(state)
        assert _by_key(h2.svc.dump_state()) == _by_key(h.svc.dump_state())
        assert meta["events"]["switches"]["JOB"] is True
        assert meta["virtual_now"] == h.clock.now()
        h2.advance(61)  # the restarted rollout goes on
        assert h2.data("GetPendingJobExecutions", thingName="d2")["queuedJobs"]
    finally:
        db2.close()


def _read_params(operation: str, service: str, known: dict[str, Any]) -> dict[str, Any]:
    return {m: known.get(m, "x") for m in required_members(operation, service)}


def test_reads_change_nothing_so_they_are_not_tracked(h, tmp_path: Path) -> None:
    """The service skips tracking for Describe*/List*/Get*: each one it implements must leave
    the records as they were, whatever it is asked."""
    db, _ = _attach(h, tmp_path)
    try:
        for _ in _workload(h):
            pass
        cert = h.iot("ListCertificates")["certificates"][0]
        known = {
            "thingName": "d0",
            "jobId": "k",
            "streamId": "s",
            "thingGroupName": "g",
            "certificateId": cert["certificateId"],
            "principal": cert["certificateArn"],
            "target": cert["certificateArn"],
            "policyName": "p",
            "policyVersionId": "1",
            "caCertificateId": "c" * 64,
        }
        before = h.svc.dump_state()
        reads = [
            (service, op)
            for service in ("iot", "iot-jobs-data")
            for op in h.svc.operations(service)
            if op.startswith(READ_ONLY_PREFIXES)
        ]
        assert len(reads) >= 20
        for service, op in reads:
            with contextlib.suppress(AwsError):  # a read that fails changes nothing either
                h.svc.call(service, op, _read_params(op, service, known))
            assert h.svc.dump_state() == before, op
    finally:
        db.close()


def test_one_device_update_writes_its_execution_and_its_job_only(h, tmp_path: Path) -> None:
    names = [f"t{i}" for i in range(200)]
    h.things(*names, group="fleet")
    db, conn = _attach(h, tmp_path)
    try:
        h.job("big", [], targets=[h.group_arn("fleet")])
        watcher = sqlite3.connect(tmp_path / "state.sqlite3")
        rows = watcher.execute("SELECT count(*) FROM executions").fetchone()[0]
        assert rows == 200
        h.clock.advance(5)  # the job's lastUpdatedAt moves too
        before = conn.total_changes
        h.data("UpdateJobExecution", jobId="big", thingName="t7", status="IN_PROGRESS")
        # the job's row, the execution's row and the virtual time; nothing of the other 199
        assert conn.total_changes - before == 3
        data = watcher.execute(
            "SELECT data FROM executions WHERE job_id = 'big' AND thing = 't7'"
        ).fetchone()[0]
        assert json.loads(data)["status"] == "IN_PROGRESS"
        watcher.close()
    finally:
        db.close()


def test_messages_leave_only_after_the_commit(harness_factory, tmp_path: Path) -> None:
    h = harness_factory()
    seen_on_disk: list[bool] = []
    publish = h.svc._publish

    def checking(topic: str, payload: bytes) -> None:  # the gateway's place
        if topic.endswith("/jobs/notify-next"):
            conn = sqlite3.connect(tmp_path / "state.sqlite3")
            row = conn.execute("SELECT 1 FROM records WHERE tbl = 'jobs' AND key = 'n'")
            seen_on_disk.append(row.fetchone() is not None)
            conn.close()
        publish(topic, payload)

    h.svc._publish = checking
    h.things("d0")
    db, _ = _attach(h, tmp_path)
    try:
        h.job("n", ["d0"])
        assert seen_on_disk == [True]
        assert h.topics("$aws/things/d0/jobs/notify-next")
    finally:
        db.close()


def test_a_failed_commit_answers_500_and_is_saved_with_the_next(h, tmp_path: Path) -> None:
    db, conn = _attach(h, tmp_path)
    try:
        h.things("d0")
        conn.execute("PRAGMA query_only = ON")  # the disk refuses writes from now on
        with pytest.raises(AwsError) as failed:
            h.iot("CreateThing", thingName="lost-reply")
        assert failed.value.code == "InternalFailureException" and failed.value.status == 500
        assert "lost-reply" not in _on_disk(tmp_path)["things"]
        conn.execute("PRAGMA query_only = OFF")
        h.iot("CreateThing", thingName="next")
        assert {"d0", "lost-reply", "next"} <= set(_on_disk(tmp_path)["things"])
    finally:
        db.close()


def test_tracked_tables_survive_copies() -> None:
    records = Records()
    records.things["a"] = "record"  # type: ignore[assignment]
    clone = copy.deepcopy(records)
    assert clone.things == {"a": "record"}
    assert isinstance(clone.things, TrackedTable)
    with tracking() as changes:
        clone.things.get("a")
        list(clone.things)  # plain iteration notes nothing
    assert changes.tables == {"things": {"a"}}


def test_a_stored_row_says_what_encode_says(h) -> None:
    """The store serialises records straight from their fields (fast); load decodes what
    ``encode`` makes: the two must agree for every record of every table."""
    for _ in _workload(h):
        for table in TABLES:
            for record in getattr(h.svc.records, table.name).values():
                expected = persistence.encode(record, with_executions=False)
                assert json.loads(persistence.row(record)) == expected, table.name
        for job in h.svc.records.jobs.values():
            for runs in job.executions.values():
                for e in runs:
                    assert json.loads(persistence.execution_row(e)) == persistence.encode(e)
