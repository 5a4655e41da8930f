"""Policy documents as CreatePolicy / CreatePolicyVersion check them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.core.aws_model import DOCUMENTED
from ota_deploy.local.auth.errors import AuthError
from ota_deploy.local.auth.policy import parse_policy_document

ARN = "arn:aws:iot:us-east-1:123456789012"
OK_STATEMENT = {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{ARN}:client/c1"}


def doc(*statements: Any, version: str | None = "2012-10-17", **extra: Any) -> str:
    body: dict[str, Any] = {"Statement": list(statements) or [OK_STATEMENT], **extra}
    if version is not None:
        body = {"Version": version, **body}
    return json.dumps(body)


def malformed(text: str) -> str:
    with pytest.raises(AuthError) as err:
        parse_policy_document(text)
    assert err.value.code == "MalformedPolicyException"
    assert err.value.status == 400
    return err.value.message


def test_the_examples_of_the_developer_guide_parse():
    thing_example = {
        "Effect": "Allow",
        "Action": ["iot:Publish"],
        "Resource": f"{ARN}:topic/device/stats",
        "Condition": {
            "StringEquals": {
                "iot:Connection.Thing.Attributes[attributeName]": "attributeValue",
                "iot:Connection.Thing.ThingTypeName": "Thing_Type_Name",
            },
            "Bool": {"iot:Connection.Thing.IsAttached": "true"},
        },
    }
    receive_not_resource = {
        "Effect": "Allow",
        "Action": "iot:Receive",
        "NotResource": f"{ARN}:topic/a/restricted/*",
    }
    connect_attributes = {
        "Effect": "Allow",
        "Action": ["iot:Connect"],
        "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"iot:ConnectAttributes": []}},
    }
    source_ip = {
        "Effect": "Allow",
        "Action": ["iot:Publish"],
        "Resource": [f"{ARN}:topic/my/topic/${{iot:ClientId}}"],
        "Condition": {"IpAddress": {"aws:SourceIp": "123.45.167.89"}},
    }
    parsed = parse_policy_document(
        doc(thing_example, receive_not_resource, connect_attributes, source_ip)
    )
    assert len(parsed.statements) == 4
    assert parsed.variables
    assert parsed.statements[1].not_resource
    assert parsed.statements[0].conditions[0].key.endswith("[attributeName]")


def test_statement_may_be_a_single_object_and_version_may_be_absent():
    parsed = parse_policy_document(json.dumps({"Statement": OK_STATEMENT}))
    assert parsed.version is None and not parsed.variables
    assert len(parsed.statements) == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("{not json", "JSON"),
        ('{"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": NaN}]}', "JSON"),
        ("[]", "object"),
        ('"a string"', "object"),
        (json.dumps({"Version": "2012-10-17"}), "Statement is required"),
        (doc(version="2012-10-18"), "Version"),
        (doc(Foo=1), "unknown element Foo"),
        (json.dumps({"Version": "2012-10-17", "Statement": []}), "must not be empty"),
        (doc("not a statement"), "must be an object"),
        (doc({**OK_STATEMENT, "Effect": "allow"}), "Effect"),
        (doc({k: v for k, v in OK_STATEMENT.items() if k != "Effect"}), "Effect"),
        (doc({**OK_STATEMENT, "NotAction": "iot:Publish"}), "Action and NotAction"),
        (doc({"Effect": "Allow", "Resource": "*"}), "Action and NotAction"),
        (doc({"Effect": "Allow", "Action": "iot:Connect"}), "Resource and NotResource"),
        (doc({**OK_STATEMENT, "NotResource": "*"}), "Resource and NotResource"),
        (doc({**OK_STATEMENT, "Action": []}), "must not be empty"),
        (doc({**OK_STATEMENT, "Action": [1]}), "list of strings"),
        (doc({**OK_STATEMENT, "Action": "Connect"}), "not an action"),
        (doc({**OK_STATEMENT, "Resource": "client/c1"}), "not a resource ARN"),
        (doc({**OK_STATEMENT, "Resource": "arn:aws:iot:us-east-1:123456789012"}), "ARN"),
        (doc({**OK_STATEMENT, "Principal": {"AWS": "*"}}), "principal"),
        (doc({**OK_STATEMENT, "Extra": 1}), "unknown element Extra"),
        (doc({**OK_STATEMENT, "Sid": 3}), "Sid"),
        (doc({**OK_STATEMENT, "Sid": "a"}, {**OK_STATEMENT, "Sid": "a"}), "unique"),
        (doc({**OK_STATEMENT, "Condition": []}), "Condition must be an object"),
        (doc({**OK_STATEMENT, "Condition": {"StringEqual": {"k": "v"}}}), "unknown condition"),
        (doc({**OK_STATEMENT, "Condition": {"ForSomeValues:StringEquals": {"k": "v"}}}), "set"),
        (doc({**OK_STATEMENT, "Condition": {"NullIfExists": {"k": "true"}}}), "unknown"),
        (doc({**OK_STATEMENT, "Condition": {"StringEquals": {}}}), "must map"),
        (doc({**OK_STATEMENT, "Condition": {"StringEquals": {"k": {"a": 1}}}}), "values"),
        (doc({**OK_STATEMENT, "Condition": {"NumericLessThan": {"k": "ten"}}}), "valid value"),
        (doc({**OK_STATEMENT, "Condition": {"DateLessThan": {"k": "yesterday"}}}), "valid"),
        (doc({**OK_STATEMENT, "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3"}}}), "valid"),
        (doc({**OK_STATEMENT, "Condition": {"Null": {"k": "maybe"}}}), "valid value"),
        (doc({**OK_STATEMENT, "Condition": {"BinaryEquals": {"k": "%%%"}}}), "valid value"),
    ],
)
def test_malformed_documents(text: str, says: str):
    assert says in malformed(text)


def test_size_limit_is_2048_characters_excluding_whitespace():
    limit = DOCUMENTED["policy_document_chars_max"].value
    assert limit == 2048
    assert "API_CreatePolicy" in DOCUMENTED["policy_document_chars_max"].source
    skeleton = doc({**OK_STATEMENT, "Resource": f"{ARN}:client/X"})
    fill = limit - len("".join(skeleton.split())) + 1  # "X" becomes fill characters
    at_limit = skeleton.replace("client/X", "client/" + "x" * fill)
    assert len("".join(at_limit.split())) == limit
    parse_policy_document(at_limit)
    spaced = json.dumps(json.loads(at_limit), indent=8)  # whitespace is not counted
    assert len(spaced) > limit + 100
    parse_policy_document(spaced)
    over = skeleton.replace("client/X", "client/" + "x" * (fill + 1))
    assert "at most 2048" in malformed(over)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["Version", "Statement", "Effect", "Action", "NotAction", "Resource", "NotResource",
     "Condition", "Sid", "StringEquals", "ForAllValues:StringLike", "Null", "Bool",
     "iot:ClientId", "Allow", "Deny", "*", "iot:*", "2012-10-17", "arn:aws:iot:r:a:topic/x"]
)  # fmt: skip
POLICYISH = st.recursive(
    st.none() | st.booleans() | st.integers() | KEYS | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)


def _parse_or_malformed(text: str) -> None:
    try:
        parse_policy_document(text)
    except AuthError as err:
        assert err.code == "MalformedPolicyException"


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_arbitrary_json_is_parsed_or_refused_never_crashes(value: Any):
    _parse_or_malformed(json.dumps(value))


@settings(max_examples=600, deadline=None)
@given(POLICYISH)
def test_policy_shaped_json_is_parsed_or_refused_never_crashes(value: Any):
    _parse_or_malformed(json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_is_parsed_or_refused_never_crashes(text: str):
    _parse_or_malformed(text)


def test_a_deeply_nested_document_is_refused_not_crashed():
    _parse_or_malformed('{"Statement":' + "[" * 1000 + "]" * 1000 + "}")
