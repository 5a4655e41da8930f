"""A small in-test stand-in for the local IoT service (only what the reserved handlers call).

It keeps the botocore shapes the real service returns (datetimes, jobDocument as a string,
AwsError codes with executionState extras) so the handlers' mapping is exercised faithfully.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.contracts import AwsError

TERMINAL = {"SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED"}


@dataclass
class FakeExecution:
    job_id: str
    thing: str
    document: dict[str, Any]
    status: str = "QUEUED"
    version: int = 1
    details: dict[str, str] = field(default_factory=dict)
    queued_at: float = 1_700_000_000.0
    started_at: float | None = None
    updated_at: float = 1_700_000_000.0
    number: int = 1


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


class FakeService:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.things: set[str] = set()
        self.executions: list[FakeExecution] = []
        self.streams: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail_next: AwsError | None = None

    # -- helpers for tests
    def add_job(self, job_id: str, thing: str, document: dict[str, Any]) -> FakeExecution:
        ex = FakeExecution(job_id, thing, document, queued_at=self.clock.now())
        ex.updated_at = ex.queued_at
        self.executions.append(ex)
        return ex

    def add_stream(
        self, stream_id: str, files: dict[int, tuple[str, str]], description: str | None = "d"
    ) -> None:
        info: dict[str, Any] = {
            "streamId": stream_id,
            "streamVersion": 1,
            "createdAt": _dt(self.clock.now()),
            "files": [
                {"fileId": f, "s3Location": {"bucket": b, "key": k}} for f, (b, k) in files.items()
            ],
        }
        if description is not None:
            info["description"] = description
        self.streams[stream_id] = info

    # -- the IotService protocol
    def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((service, operation, params))
        if self.fail_next is not None:
            err, self.fail_next = self.fail_next, None
            raise err
        handler = getattr(self, f"_{operation}")
        result: dict[str, Any] = handler(params)
        return result

    def _DescribeThing(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["thingName"] not in self.things:
            raise AwsError("ResourceNotFoundException", f"Thing {p['thingName']} not found", 404)
        return {"thingName": p["thingName"]}

    def _DescribeStream(self, p: dict[str, Any]) -> dict[str, Any]:
        info = self.streams.get(p["streamId"])
        if info is None:
            raise AwsError("ResourceNotFoundException", "stream not found", 404)
        return {"streamInfo": {**info, "files": json.loads(json.dumps(info["files"]))}}

    def _UpdateStream(self, p: dict[str, Any]) -> dict[str, Any]:
        info = self.streams[p["streamId"]]
        info["streamVersion"] += 1
        if "files" in p:
            info["files"] = p["files"]
        return {"streamId": p["streamId"], "streamVersion": info["streamVersion"]}

    def _pending(self, thing: str) -> list[FakeExecution]:
        return [e for e in self.executions if e.thing == thing and e.status not in TERMINAL]

    def _summary(self, e: FakeExecution) -> dict[str, Any]:
        out: dict[str, Any] = {
            "jobId": e.job_id,
            "queuedAt": _dt(e.queued_at),
            "lastUpdatedAt": _dt(e.updated_at),
            "versionNumber": e.version,
            "executionNumber": e.number,
        }
        if e.started_at is not None:
            out["startedAt"] = _dt(e.started_at)
        return out

    def _full(self, e: FakeExecution, include_doc: bool = True) -> dict[str, Any]:
        out = self._summary(e)
        out.update({"thingName": e.thing, "status": e.status, "statusDetails": dict(e.details)})
        if include_doc:
            out["jobDocument"] = json.dumps(e.document)
        return out

    def _state(self, e: FakeExecution) -> dict[str, Any]:
        return {"status": e.status, "statusDetails": dict(e.details), "versionNumber": e.version}

    def _GetPendingJobExecutions(self, p: dict[str, Any]) -> dict[str, Any]:
        pending = self._pending(p["thingName"])
        return {
            "inProgressJobs": [self._summary(e) for e in pending if e.status == "IN_PROGRESS"],
            "queuedJobs": [self._summary(e) for e in pending if e.status == "QUEUED"],
        }

    def _StartNextPendingJobExecution(self, p: dict[str, Any]) -> dict[str, Any]:
        pending = self._pending(p["thingName"])
        if not pending:
            return {}
        e = next((x for x in pending if x.status == "IN_PROGRESS"), pending[0])
        if e.status == "QUEUED":
            e.status = "IN_PROGRESS"
            e.version += 1
            e.started_at = e.updated_at = self.clock.now()
            if "statusDetails" in p:
                e.details = dict(p["statusDetails"])
        return {"execution": self._full(e)}

    def _find(self, thing: str, job_id: str) -> FakeExecution:
        if job_id == "$next":
            pending = self._pending(thing)
            if pending:
                return pending[0]
        for e in self.executions:
            if e.thing == thing and e.job_id == job_id:
                return e
        raise AwsError("ResourceNotFoundException", "Job execution not found", 404)

    def _DescribeJobExecution(self, p: dict[str, Any]) -> dict[str, Any]:
        e = self._find(p["thingName"], p["jobId"])
        return {"execution": self._full(e, p.get("includeJobDocument", False))}

    def _UpdateJobExecution(self, p: dict[str, Any]) -> dict[str, Any]:
        e = self._find(p["thingName"], p["jobId"])
        if "expectedVersion" in p and p["expectedVersion"] != e.version:
            raise AwsError(
                "VersionConflictException", "version mismatch", 409, executionState=self._state(e)
            )
        if e.status in TERMINAL:
            raise AwsError(
                "InvalidStateTransitionException",
                f"cannot go from {e.status} to {p['status']}",
                409,
                executionState=self._state(e),
            )
        e.status = p["status"]
        e.version += 1
        e.updated_at = self.clock.now()
        if "statusDetails" in p:
            e.details = dict(p["statusDetails"])
        out: dict[str, Any] = {}
        if p.get("includeJobExecutionState"):
            out["executionState"] = self._state(e)
        if p.get("includeJobDocument"):
            out["jobDocument"] = json.dumps(e.document)
        return out


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000.0)


@pytest.fixture
def fake_service(clock: FakeClock) -> FakeService:
    return FakeService(clock)
