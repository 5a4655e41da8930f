"""Fixtures for the local IoT service tests: a fake clock, captured publishes, and a service
whose every call is checked against botocore's input and output shapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import botocore.session
import pytest
from botocore.model import Shape
from botocore.validate import validate_parameters
from tests.support.service import memory_service

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.iot import LocalIotService

_SESSION = botocore.session.get_session()
MODELS = {name: _SESSION.get_service_model(name) for name in ("iot", "iot-jobs-data")}
REGION, ACCOUNT = "us-east-1", "123456789012"


def thing_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"


def group_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/{name}"


def check_output(shape: Shape | None, value: Any, path: str = "$") -> None:
    """Assert ``value`` fits botocore's shape: known member names, right types, valid enums."""
    if shape is None:
        assert value == {}, f"{path}: operation has no output but got {value!r}"
        return
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{path}: expected dict"
        for key, item in value.items():
            assert key in shape.members, f"{path}: {key!r} is not a member of {shape.name}"
            check_output(shape.members[key], item, f"{path}.{key}")
    elif kind == "list":
        assert isinstance(value, list), f"{path}: expected list"
        for i, item in enumerate(value):
            check_output(shape.member, item, f"{path}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), f"{path}: expected dict"
        for key, item in value.items():
            assert isinstance(key, str)
            check_output(shape.value, item, f"{path}[{key}]")
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected str, got {value!r}"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: expected int"
    elif kind in ("double", "float"):
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}: number"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: expected bool"
    elif kind == "timestamp":
        assert isinstance(value, datetime) and value.tzinfo is not None, f"{path}: aware datetime"
    elif kind == "blob":
        assert isinstance(value, bytes), f"{path}: expected bytes"
    else:  # pragma: no cover
        raise AssertionError(f"{path}: unhandled shape type {kind}")


@dataclass
class Harness:
    clock: FakeClock
    svc: LocalIotService
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)
    called: set[tuple[str, str]] = field(default_factory=set)

    thing_arn = staticmethod(thing_arn)
    group_arn = staticmethod(group_arn)

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        op = MODELS[service].operation_model(operation)
        wire = {k: v for k, v in params.items() if v is not None}
        validate_parameters(wire, op.input_shape)
        result = self.svc.call(service, operation, wire)
        check_output(op.output_shape, result)
        self.called.add((service, operation))
        return result

    def iot(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.call("iot", operation, **params)

    def data(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.call("iot-jobs-data", operation, **params)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.svc.tick()

    def topics(self, prefix: str = "") -> list[str]:
        return [t for t, _ in self.published if t.startswith(prefix)]

    def messages(self, topic: str) -> list[dict[str, Any]]:
        return [p for t, p in self.published if t == topic]

    def things(self, *names: str, group: str | None = None) -> None:
        if group:
            self.iot("CreateThingGroup", thingGroupName=group)
        for n in names:
            self.iot("CreateThing", thingName=n)
            if group:
                self.iot("AddThingToThingGroup", thingGroupName=group, thingName=n)

    def job(self, job_id: str, things: list[str], **extra: Any) -> dict[str, Any]:
        extra.setdefault("document", json.dumps({"operation": "ota"}))
        targets = extra.pop("targets", None) or [thing_arn(t) for t in things]
        return self.iot("CreateJob", jobId=job_id, targets=targets, **extra)

    def counts(self, job_id: str) -> dict[str, int]:
        d = self.iot("DescribeJob", jobId=job_id)["job"]["jobProcessDetails"]
        return {
            k.removeprefix("numberOf").removesuffix("Things"): v
            for k, v in d.items()
            if k.startswith("numberOf") and v
        }

    def status(self, job_id: str, thing: str) -> str:
        return str(
            self.iot("DescribeJobExecution", jobId=job_id, thingName=thing)["execution"]["status"]
        )


def make_harness(start: float = 1_700_000_000.0) -> Harness:
    clock = FakeClock(start)
    holder: list[Harness] = []

    def publish(topic: str, payload: bytes) -> None:
        holder[0].published.append((topic, json.loads(payload)))

    def read_blob(bucket: str, key: str, version: str | None) -> bytes:
        return holder[0].blobs[(bucket, key)]

    def presign(bucket: str, key: str, expires: int) -> str:
        return f"http://127.0.0.1:4566/{bucket}/{key}?X-Amz-Expires={expires}&X-Amz-Signature=x"

    svc = memory_service(
        clock,
        region=REGION,
        account=ACCOUNT,
        publish=publish,
        read_blob=read_blob,
        presign=presign,
        mqtt_endpoint="127.0.0.1:8883",
    )
    h = Harness(clock=clock, svc=svc)
    holder.append(h)
    return h


@pytest.fixture
def h() -> Harness:
    return make_harness()


@pytest.fixture
def harness_factory() -> Callable[..., Harness]:
    return make_harness
