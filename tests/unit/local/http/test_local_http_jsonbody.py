"""The capped JSON decoder: its depth measure agrees with the JSON, and a deep body is a 400.

Property tests: for any JSON value (strings full of brackets, quotes and backslashes
included), ``nests_deeper_than`` agrees with the value's real depth, and ``decode_json`` gives
what ``json.loads`` gives. Then the front ends of both services answer a body nested 50,000
levels with a 400, in memory (the socket version is in tests/integration/local/http).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.support.aws_pair import AwsPair

from ota_deploy.local.http.app import RestJsonFrontEnd
from ota_deploy.local.http.jsonbody import RequestParseError, decode_json
from ota_deploy.local.jsonsafe import MAX_JSON_DEPTH, nests_deeper_than

tricky_text = st.text(alphabet=st.sampled_from('[]{}"\\ab \n\u00e9'), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=40,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@given(json_values, st.integers(min_value=0, max_value=8), st.booleans())
def test_depth_measure_agrees_with_the_value(value: Any, limit: int, ascii_only: bool) -> None:
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert nests_deeper_than(data, limit) == (depth(value) > limit)


@given(json_values)
def test_decode_json_is_json_loads_within_the_cap(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert decode_json(text.encode()) == json.loads(text)
    assert decode_json(text) == json.loads(text)


def test_the_cap_is_exact_and_errors_are_serialization_exceptions() -> None:
    at_cap = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert depth(decode_json(at_cap)) == MAX_JSON_DEPTH
    in_a_string = b'"\\"[[[[' + b"[" * 1000 + b'"'  # brackets in a string are only text
    assert decode_json(in_a_string).endswith("[" * 1004)
    for bad, message in (
        (b"[" + at_cap + b"]", "nests deeper than 256 levels"),
        (b"[" * 1_000_000, "nests deeper than 256 levels"),
        (b'{"a": ', "Could not parse the request body as JSON"),
    ):
        with pytest.raises(RequestParseError, match=message) as info:
            decode_json(bad)
        assert (info.value.code, info.value.status) == ("SerializationException", 400)


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [("iot", "PUT", "/jobs/deep"), ("iot-jobs-data", "POST", "/things/t1/jobs/deep")],
)
def test_front_ends_answer_a_deep_body_with_a_400(service: str, method: str, path: str) -> None:
    front_end = RestJsonFrontEnd(service, AwsPair().svc)
    body = b'{"statusDetails": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    reply = front_end.handle(method, path, [], {"Content-Type": "application/json"}, body)
    assert reply.status == 400
    assert reply.headers["x-amzn-ErrorType"] == "SerializationException"
    assert "nests deeper than 256" in json.loads(reply.body)["message"]


def test_a_deeply_nested_job_document_is_an_invalid_request_not_a_500() -> None:
    pair = AwsPair()
    iot = pair.client("iot", max_attempts=1)
    thing_arn = iot.create_thing(thingName="t1")["thingArn"]
    nested = "[" * 16_000 + "]" * 16_000  # within the 32 KB document limit
    with pytest.raises(iot.exceptions.InvalidRequestException, match="not valid JSON"):
        iot.create_job(jobId="deep-doc", targets=[thing_arn], document=nested)
