"""The real local AWS IoT behind the reserved-topic handlers under test, with a log of calls.

``Iot`` is what the handlers get as their ``IotService``: every ``call`` is recorded and goes
to a real ``LocalIotService`` on a ``FakeClock`` (built as ``tests/support/aws_pair.py`` builds
one), and ``stream_revision`` is passed through so the stream cache works as in production.
Scenes are set up with real operations (CreateThing, CreateJob, CreateStream) straight on the
service, so ``calls`` holds only what the handler asked. A test that needs the service to fail
replaces ``call`` on the instance.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.support.service import memory_service

from ota_deploy.core.clock import FakeClock
from ota_deploy.core.defaults import LOCAL_ACCOUNT

ROLE = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/ota"


class Iot:
    """A real ``LocalIotService`` that records the calls made to it."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.svc = memory_service(
            clock, read_blob=lambda bucket, key, version: b""  # the streams handler reads its own
        )
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    # -- the IotService the handlers use
    def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((service, operation, params))
        return self.svc.call(service, operation, params)

    def stream_revision(self, stream_id: str) -> int | None:
        return self.svc.stream_revision(stream_id)

    def count(self, operation: str) -> int:
        return sum(1 for _, op, _ in self.calls if op == operation)

    # -- scenes, with real operations
    def add_thing(self, name: str) -> str:
        arn: str = self.svc.call("iot", "CreateThing", {"thingName": name})["thingArn"]
        return arn

    def add_job(self, job_id: str, thing: str, document: dict[str, Any]) -> None:
        arn = self.svc.call("iot", "DescribeThing", {"thingName": thing})["thingArn"]
        self.svc.call(
            "iot",
            "CreateJob",
            {"jobId": job_id, "targets": [arn], "document": json.dumps(document)},
        )

    def add_stream(
        self, stream_id: str, files: dict[int, tuple[str, str]], description: str | None = "d"
    ) -> None:
        params: dict[str, Any] = {
            "streamId": stream_id,
            "files": [
                {"fileId": f, "s3Location": {"bucket": b, "key": k}} for f, (b, k) in files.items()
            ],
            "roleArn": ROLE,
        }
        if description is not None:
            params["description"] = description
        self.svc.call("iot", "CreateStream", params)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000.0)


@pytest.fixture
def iot(clock: FakeClock) -> Iot:
    return Iot(clock)


@pytest.fixture(scope="session")
def make_iot() -> type[Iot]:
    """For property tests: a fresh service per example (function fixtures are shared)."""
    return Iot
