"""The parser and serialiser on REST-JSON features our IoT operations do not use (a made-up
model): header and statusCode members, prefix-header maps, list and map querystrings,
header timestamps, a greedy label and a blob payload -- round-tripped through botocore."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from ota_deploy.local.http.parse import parse_request
from ota_deploy.local.http.routes import Router
from ota_deploy.local.http.serialize import serialize_result

MODEL = ServiceModel(
    {
        "metadata": {
            "protocol": "rest-json",
            "apiVersion": "2020-01-01",
            "endpointPrefix": "synthetic",
            "signatureVersion": "v4",
            "serviceId": "Synthetic",
        },
        "operations": {
            "PutThing": {
                "name": "PutThing",
                "http": {"method": "PUT", "requestUri": "/things/{path+}?mode=fast"},
                "input": {"shape": "PutInput"},
                "output": {"shape": "PutOutput"},
            },
        },
        "shapes": {
            "PutInput": {
                "type": "structure",
                "required": ["path"],
                "payload": "data",
                "members": {
                    "path": {"shape": "Str", "location": "uri", "locationName": "path"},
                    "tags": {"shape": "StrList", "location": "querystring", "locationName": "tag"},
                    "extra": {"shape": "StrMap", "location": "querystring"},
                    "since": {"shape": "Time", "location": "header", "locationName": "x-since"},
                    "count": {"shape": "Int", "location": "header", "locationName": "x-count"},
                    "meta": {"shape": "StrMap", "location": "headers", "locationName": "x-meta-"},
                    "data": {"shape": "Blob"},
                },
            },
            "PutOutput": {
                "type": "structure",
                "members": {
                    "code": {"shape": "Int", "location": "statusCode"},
                    "etag": {"shape": "Str", "location": "header", "locationName": "ETag"},
                    "when": {"shape": "Time", "location": "header", "locationName": "x-when"},
                    "items": {"shape": "StrList"},
                    "at": {"shape": "Time"},
                },
            },
            "Str": {"type": "string"},
            "Int": {"type": "integer"},
            "Blob": {"type": "blob"},
            "Time": {"type": "timestamp"},
            "StrList": {"type": "list", "member": {"shape": "Str"}},
            "StrMap": {"type": "map", "key": {"shape": "Str"}, "value": {"shape": "Str"}},
        },
    },
    service_name="synthetic",
)
OP = MODEL.operation_model("PutThing")


def test_request_features_round_trip() -> None:
    params: dict[str, Any] = {
        "path": "a b/c%d/e",
        "tags": ["x", "y z"],
        "extra": {"k1": "v1", "k2": "v 2"},
        "since": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        "count": 3,
        "meta": {"owner": "me"},
        "data": b"\x00\x01binary",
    }
    request = create_serializer("rest-json").serialize_to_request(params, OP)
    prepare_request_dict(request, endpoint_url="http://127.0.0.1:1")
    prepared = create_request_object(request).prepare()
    split = urlsplit(prepared.url)
    query = parse_qsl(split.query, keep_blank_values=True)
    match = Router(MODEL).match(prepared.method, split.path, dict(query))
    assert match is not None and match.operation.name == "PutThing"
    body = prepared.body if isinstance(prepared.body, bytes) else prepared.body.encode()
    assert match.literal_query == ("mode",)
    got = parse_request(OP, match.labels, query, dict(prepared.headers), body, match.literal_query)
    assert got == params  # "mode=fast" is the route's own literal, not part of "extra"


def test_response_features_round_trip() -> None:
    result = {
        "code": 201,
        "etag": '"abc"',
        "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "items": ["p", "q"],
        "at": datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    }
    status, headers, body = serialize_result(OP, result)
    assert status == 201
    parsed = create_parser("rest-json").parse(
        {"status_code": status, "headers": HeadersDict(headers), "body": body}, OP.output_shape
    )
    parsed.pop("ResponseMetadata", None)
    assert parsed["code"] == 201
    assert parsed["etag"] == '"abc"'
    assert parsed["when"].timestamp() == result["when"].timestamp()  # type: ignore[attr-defined]
    assert parsed["at"].timestamp() == result["at"].timestamp()  # type: ignore[attr-defined]
    assert parsed["items"] == ["p", "q"]
