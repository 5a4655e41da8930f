"""Round trips through botocore's own serialiser and parser, for every supported operation.

Requests: random valid inputs (Hypothesis, built from the operation's input shape: min/max,
enum and pattern respected) -> botocore's REST-JSON serialiser -> a prepared HTTP request ->
our router + parser + validator (RestJsonFrontEnd with a recording service) -> the same params.
Responses: random outputs (from the output shape) -> our serialiser -> botocore's REST-JSON
parser -> the same dict. A valid input our validator rejects fails here too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import botocore.session
import pytest
from botocore import xform_name
from botocore.awsrequest import (
    AWSResponse,
    HeadersDict,
    create_request_object,
    prepare_request_dict,
)
from botocore.config import Config
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ota_deploy.local.contracts import AwsError
from ota_deploy.local.http.app import RestJsonFrontEnd
from ota_deploy.local.http.javaregex import java_regex
from ota_deploy.local.http.serialize import serialize_error, serialize_result
from ota_deploy.local.http.validate import documented_decimals, number_bounds

SUPPORTED = {
    "iot": [
        "CreateThing", "DescribeThing", "ListThings", "DeleteThing",
        "CreateThingGroup", "DescribeThingGroup", "DeleteThingGroup", "AddThingToThingGroup",
        "RemoveThingFromThingGroup", "ListThingsInThingGroup", "ListThingGroupsForThing",
        "CreateStream", "DescribeStream", "UpdateStream", "ListStreams", "DeleteStream",
        "CreateJob", "DescribeJob", "ListJobs", "CancelJob", "DeleteJob", "GetJobDocument",
        "AssociateTargetsWithJob", "DescribeJobExecution", "ListJobExecutionsForJob",
        "ListJobExecutionsForThing", "CancelJobExecution", "DeleteJobExecution",
        "DescribeEndpoint", "UpdateEventConfigurations", "DescribeEventConfigurations",
    ],
    "iot-jobs-data": [
        "GetPendingJobExecutions", "StartNextPendingJobExecution", "DescribeJobExecution",
        "UpdateJobExecution",
    ],
}  # fmt: skip
CASES = [(svc, op) for svc, ops in SUPPORTED.items() for op in ops]

_SESSION = botocore.session.get_session()
MODELS = {name: _SESSION.get_service_model(name) for name in SUPPORTED}

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)
TIMESTAMPS = st.integers(min_value=0, max_value=4_000_000_000).map(
    lambda s: datetime.fromtimestamp(s, UTC)
)


def _string(shape: Any) -> st.SearchStrategy[str]:
    meta = shape.metadata
    lo = int(meta.get("min", 0))
    hi = min(int(meta.get("max", 24)), 24 + lo)
    if shape.enum:
        return st.sampled_from(list(shape.enum))
    pattern = meta.get("pattern")
    if pattern:
        rx = java_regex(pattern)
        assert rx is not None, pattern
        if "\\p{" in pattern:
            # Single-class patterns with Java \\p{..} classes: draw characters the class admits
            # (hypothesis' regex strategy is slow on the huge translated classes).
            chars = st.characters(blacklist_categories=("Cs",)).filter(
                lambda c, rx=rx: rx.fullmatch(c) is not None
            )
            base: st.SearchStrategy[str] = st.text(alphabet=chars, min_size=max(lo, 1), max_size=8)
        else:
            base = st.from_regex(rx, fullmatch=True)
    else:
        base = TEXT if lo <= 12 else st.text(alphabet="abcdefxyz", min_size=lo, max_size=hi)
    return base.filter(lambda s: lo <= len(s) <= hi)


def from_shape(
    shape: Any, depth: int = 0, *, body_only: bool = False, owner: tuple[str, str] | None = None
) -> st.SearchStrategy[Any]:
    """Valid values of a botocore shape (small, bounded depth); ``owner`` (structure, member)
    brings in the ranges and precisions AWS documents only in prose (``validate.documented_ranges``,
    ``validate.documented_decimals``)."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        required = {
            name: from_shape(m, depth + 1, owner=(shape.name, name))
            for name, m in shape.members.items()
            if name in shape.required_members
        }
        optional = (
            {
                name: from_shape(m, depth + 1, owner=(shape.name, name))
                for name, m in shape.members.items()
                if name not in shape.required_members
            }
            if depth < 4
            else {}
        )
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        lo = int(meta.get("min", 0))
        hi = min(int(meta.get("max", 3)), max(lo, 3))
        return st.lists(from_shape(shape.member, depth + 1), min_size=lo, max_size=hi)
    if kind == "map":
        lo = int(meta.get("min", 0))
        hi = min(int(meta.get("max", 3)), max(lo, 3))
        return st.dictionaries(
            _string(shape.key), from_shape(shape.value, depth + 1), min_size=lo, max_size=hi
        )
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        bounds = number_bounds("integer", meta, owner)  # long drawn within int32 too
        assert bounds.min is not None and bounds.max is not None
        return st.integers(min_value=int(bounds.min), max_value=int(bounds.max))
    if kind in ("float", "double"):
        floats = st.floats(
            min_value=float(meta.get("min", -1e9)),
            max_value=float(meta.get("max", 1e9)),
            allow_nan=False,
            allow_infinity=False,
        )
        places = documented_decimals().get(owner) if owner is not None else None
        return floats if places is None else floats.map(lambda x: round(x, places))
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return TIMESTAMPS
    if kind == "blob":
        return st.binary(max_size=16)
    raise AssertionError(f"unhandled shape type {kind}")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def supports(self, service: str, operation: str) -> bool:
        return True

    def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((service, operation, params))
        return {}


def _normalise(value: Any) -> Any:
    if isinstance(value, datetime):
        return round(value.timestamp(), 3)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def wire_request(service: str, operation: str, params: dict[str, Any]) -> tuple[Any, Any]:
    """What botocore puts on the wire for these params (no signing): prepared request."""
    op = MODELS[service].operation_model(operation)
    request_dict = create_serializer("rest-json", include_validation=True).serialize_to_request(
        params, op
    )
    prepare_request_dict(request_dict, endpoint_url="http://127.0.0.1:1")
    return op, create_request_object(request_dict).prepare()


def parse_back(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    op, prepared = wire_request(service, operation, params)
    split = urlsplit(prepared.url)
    raw_path = split.path + ("?" + split.query if split.query else "")
    query = parse_qsl(split.query, keep_blank_values=True)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    recorder = Recorder()
    front = RestJsonFrontEnd(service, recorder)
    reply = front.handle(prepared.method, raw_path, query, dict(prepared.headers), body)
    assert reply.status == 200, (reply.status, reply.body)
    assert len(recorder.calls) == 1
    called_service, called_op, got = recorder.calls[0]
    assert (called_service, called_op) == (service, op.name)
    return got


@pytest.mark.parametrize(("service", "operation"), CASES)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_request_round_trip(service: str, operation: str, data: st.DataObject) -> None:
    op = MODELS[service].operation_model(operation)
    params = data.draw(from_shape(op.input_shape)) if op.input_shape is not None else {}
    assert _normalise(parse_back(service, operation, params)) == _normalise(params)


@pytest.mark.parametrize(("service", "operation"), CASES)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_response_round_trip(service: str, operation: str, data: st.DataObject) -> None:
    op = MODELS[service].operation_model(operation)
    if op.output_shape is None:
        return
    result = data.draw(from_shape(op.output_shape))
    status, headers, body = serialize_result(op, result)
    parsed = create_parser("rest-json").parse(
        {"status_code": status, "headers": HeadersDict(headers), "body": body}, op.output_shape
    )
    parsed.pop("ResponseMetadata", None)
    assert _normalise(parsed) == _normalise(result)


def minimal_params(service: str, operation: str) -> dict[str, Any]:
    """The smallest valid input of an operation."""
    op = MODELS[service].operation_model(operation)
    simple = {"string": "x1", "long": 1, "integer": 1, "list": ["x1"]}
    params: dict[str, Any] = {
        name: simple[op.input_shape.members[name].type_name]
        for name in (op.input_shape.required_members if op.input_shape else [])
    }
    if operation == "CreateJob":
        params["targets"] = ["arn:aws:iot:us-east-1:123456789012:thing/x1"]
    if operation == "CreateStream":
        params["files"] = [{"fileId": 0, "s3Location": {"bucket": "b", "key": "k"}}]
        params["roleArn"] = "arn:aws:iam::123456789012:role/r"
    if operation == "UpdateJobExecution":
        params["status"] = "IN_PROGRESS"
    if operation == "AddThingToThingGroup":
        params = {"thingName": "t", "thingGroupName": "g"}
    return params


def test_every_case_routes_to_itself() -> None:
    """Minimal valid params of each operation route to that operation (no shadowing)."""
    for service, operation in CASES:
        parse_back(service, operation, minimal_params(service, operation))


def _raising_client(service: str, err: AwsError) -> Any:
    """A real botocore client whose HTTP answer is our serialised ``err`` (before-send hook)."""
    client = _SESSION.create_client(
        service,
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"mode": "standard", "max_attempts": 0}),
    )

    def answer(request: Any, **_: Any) -> AWSResponse:
        status, headers, body = serialize_error(MODELS[service], err)
        raw = type("Raw", (), {"stream": lambda self, *a, **k: iter([body])})()
        return AWSResponse(request.url, status, HeadersDict(headers), raw)

    client.meta.events.register("before-send", answer)
    return client


@pytest.mark.parametrize(("service", "operation"), CASES)
def test_every_modeled_error_raises_its_exception_class(service: str, operation: str) -> None:
    op = MODELS[service].operation_model(operation)
    method = xform_name(operation)
    for shape in op.error_shapes:
        extra = {"resourceId": "r-1"} if "resourceId" in shape.members else {}
        client = _raising_client(service, AwsError(shape.error_code, "boom", 400, **extra))
        exc_class = getattr(client.exceptions, shape.name)
        with pytest.raises(exc_class) as caught:
            getattr(client, method)(**minimal_params(service, operation))
        response = caught.value.response
        assert response["Error"] == {"Code": shape.error_code, "Message": "boom"}
        assert (
            response["ResponseMetadata"]["HTTPStatusCode"]
            == shape.metadata["error"]["httpStatusCode"]
        )
        if extra:
            assert response["resourceId"] == "r-1"


def test_job_document_body_keeps_json_text() -> None:
    document = json.dumps({"files": [{"fileName": "a b.bin", "fileSize": 3}]})
    got = parse_back(
        "iot",
        "CreateJob",
        {"jobId": "j-1", "targets": ["arn:aws:iot:us-east-1:123456789012:thing/t"],
         "document": document},
    )  # fmt: skip
    assert got["document"] == document
