"""AWS IoT policy evaluation, table-driven from the examples of AWS's developer guide
(connect-policy.html, pub-sub-policy.html, thing-policy-examples.html,
basic-policy-variables.html): Connect, Publish, Subscribe, Receive, wildcards, variables,
conditions, Deny over Allow and several policies at once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ota_deploy.local.auth.context import PrincipalContext, ThingFacts
from ota_deploy.local.auth.policy_eval import (
    CONNECT,
    PUBLISH,
    RECEIVE,
    RETAIN_PUBLISH,
    SUBSCRIBE,
    Decision,
    bind,
    evaluate,
    resource_arn,
)

ARN = "arn:aws:iot:us-east-1:123456789012"
ALLOW, EXPLICIT, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY


def policy(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    body: dict[str, Any] = {"Statement": list(statements)}
    if version:
        body = {"Version": version, **body}
    return json.dumps(body)


def allow(action: str | list[str], *resources: str, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": list(resources), **extra}


def deny(action: str | list[str], *resources: str, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": list(resources), **extra}


THING1 = ThingFacts("thing1", "sensor", {"attributeName": "floor7"})
THING2 = ThingFacts("thing2")


def ctx(client_id: str, *things: ThingFacts, **kw: Any) -> PrincipalContext:
    return PrincipalContext(client_id=client_id, things={t.name: t for t in things}, **kw)


# -- connect-policy.html ------------------------------------------------------------------
CONNECT_CLIENT1 = policy(allow(["iot:Connect"], f"{ARN}:client/client1"))
DENY_TWO_ALLOW_THINGS = policy(
    deny(["iot:Connect"], f"{ARN}:client/client1", f"{ARN}:client/client2"),
    allow(["iot:Connect"], f"{ARN}:client/${{iot:Connection.Thing.ThingName}}"),
)
# -- pub-sub-policy.html ------------------------------------------------------------------
REGISTERED_5 = policy(
    allow(["iot:Connect"], f"{ARN}:client/${{iot:Connection.Thing.ThingName}}"),
    allow(["iot:Publish"], f"{ARN}:topic/${{iot:Connection.Thing.ThingName}}/*"),
)
UNREGISTERED_5 = policy(
    allow(["iot:Connect"], *(f"{ARN}:client/client{i}" for i in (1, 2, 3))),
    allow(["iot:Publish"], f"{ARN}:topic/${{iot:ClientId}}/*"),
)
REGISTERED_6 = policy(
    allow(["iot:Subscribe"], f"{ARN}:topicfilter/${{iot:Connection.Thing.ThingName}}/room*"),
    allow(["iot:Receive"], f"{ARN}:topic/${{iot:Connection.Thing.ThingName}}/room*"),
)
LITERAL_PLUS = policy(allow(["iot:Subscribe"], f"{ARN}:topicfilter/some/+/topic"))
STAR_LEVEL = policy(allow(["iot:Subscribe"], f"{ARN}:topicfilter/some/*/topic"))
SUBSCRIBE_A_EXCEPT_RESTRICTED = policy(
    allow("iot:Subscribe", f"{ARN}:topicfilter/a/*"),
    deny("iot:Subscribe", f"{ARN}:topicfilter/a/restricted/*"),
    {"Effect": "Allow", "Action": "iot:Receive", "NotResource": f"{ARN}:topic/a/restricted/*"},
)
SUBSCRIBE_BUT_NOT_RECEIVE = policy(
    allow("iot:Subscribe", f"{ARN}:topicfilter/device/update"),
    deny("iot:Receive", f"{ARN}:topic/device/update"),
)
# -- thing-policy-examples.html -----------------------------------------------------------
CONNECT_IF_ATTACHED = policy(
    allow(["iot:Connect"], "*", Condition={"Bool": {"iot:Connection.Thing.IsAttached": ["true"]}})
)
PUBLISH_IF_TYPE_AND_ATTRIBUTE = policy(
    allow(
        ["iot:Publish"],
        f"{ARN}:topic/device/stats",
        Condition={
            "StringEquals": {
                "iot:Connection.Thing.Attributes[attributeName]": "floor7",
                "iot:Connection.Thing.ThingTypeName": "sensor",
            },
            "Bool": {"iot:Connection.Thing.IsAttached": "true"},
        },
    )
)
PUBLISH_UNDER_ATTRIBUTE = policy(
    allow(["iot:Publish"], f"{ARN}:topic/${{iot:Connection.Thing.Attributes[attributeName]}}/*")
)
# -- basic-policy-variables.html ----------------------------------------------------------
PUBLISH_FROM_IP = policy(
    allow(
        ["iot:Publish"],
        f"{ARN}:topic/my/topic/${{iot:ClientId}}",
        Condition={"IpAddress": {"aws:SourceIp": "123.45.167.89"}},
    )
)
SUBSCRIBE_BY_CLIENT_ID = policy(
    allow(["iot:Subscribe"], f"{ARN}:topicfilter/my/${{iot:ClientId}}/topic")
)
# -- connect-policy.html, persistent sessions ---------------------------------------------
ONLY_PERSISTENT = policy(
    allow(
        ["iot:Connect"],
        "*",
        Condition={"ForAllValues:StringEquals": {"iot:ConnectAttributes": ["PersistentConnect"]}},
    )
)
NO_PERSISTENT = policy(
    allow(["iot:Connect"], "*"),
    deny(
        ["iot:Connect"],
        "*",
        Condition={"ForAnyValue:StringEquals": {"iot:ConnectAttributes": ["PersistentConnect"]}},
    ),
)
DEFAULT_FEATURES_ONLY = policy(
    allow(
        ["iot:Connect"], "*", Condition={"ForAllValues:StringEquals": {"iot:ConnectAttributes": []}}
    )
)

CASES = [
    # connect: a named client id only
    ("connect client1", [CONNECT_CLIENT1], ctx("client1"), CONNECT, "client1", ALLOW),
    ("connect other id", [CONNECT_CLIENT1], ctx("client2"), CONNECT, "client2", IMPLICIT),
    # Deny over Allow; the thing variable resolves only for an attached thing named as the id
    ("thing connects", [DENY_TWO_ALLOW_THINGS], ctx("thing1", THING1), CONNECT, "thing1", ALLOW),
    (
        "denied id even as a thing",
        [DENY_TWO_ALLOW_THINGS],
        ctx("client1", ThingFacts("client1")),
        CONNECT,
        "client1",
        EXPLICIT,
    ),
    ("not a thing", [DENY_TWO_ALLOW_THINGS], ctx("stranger"), CONNECT, "stranger", IMPLICIT),
    (
        "thing not attached to this cert",
        [DENY_TWO_ALLOW_THINGS],
        ctx("thing1", THING2),
        CONNECT,
        "thing1",
        IMPLICIT,
    ),
    # publish under the thing name / the client id
    ("own prefix", [REGISTERED_5], ctx("thing1", THING1), PUBLISH, "thing1/temp", ALLOW),
    ("other prefix", [REGISTERED_5], ctx("thing1", THING1), PUBLISH, "thing2/temp", IMPLICIT),
    ("deep topic", [REGISTERED_5], ctx("thing1", THING1), PUBLISH, "thing1/a/b/c", ALLOW),
    ("no thing", [REGISTERED_5], ctx("thing1"), PUBLISH, "thing1/temp", IMPLICIT),
    ("client prefix", [UNREGISTERED_5], ctx("client2"), PUBLISH, "client2/x", ALLOW),
    ("not own client prefix", [UNREGISTERED_5], ctx("client2"), PUBLISH, "client1/x", IMPLICIT),
    ("connect listed", [UNREGISTERED_5], ctx("client3"), CONNECT, "client3", ALLOW),
    # subscribe / receive with * and the literal + and #
    ("room filter", [REGISTERED_6], ctx("thing1", THING1), SUBSCRIBE, "thing1/room1", ALLOW),
    ("room receive", [REGISTERED_6], ctx("thing1", THING1), RECEIVE, "thing1/room42", ALLOW),
    ("+ is no wildcard", [REGISTERED_6], ctx("thing1", THING1), SUBSCRIBE, "thing1/+", IMPLICIT),
    ("literal + filter", [LITERAL_PLUS], ctx("c"), SUBSCRIBE, "some/+/topic", ALLOW),
    ("+ does not match x", [LITERAL_PLUS], ctx("c"), SUBSCRIBE, "some/x/topic", IMPLICIT),
    ("* matches a level", [STAR_LEVEL], ctx("c"), SUBSCRIBE, "some/x/topic", ALLOW),
    ("* matches +", [STAR_LEVEL], ctx("c"), SUBSCRIBE, "some/+/topic", ALLOW),
    ("* spans levels", [STAR_LEVEL], ctx("c"), SUBSCRIBE, "some/x/y/topic", ALLOW),
    # the a/restricted example: a/# is allowed (# is literal), receiving restricted is not
    ("a/#", [SUBSCRIBE_A_EXCEPT_RESTRICTED], ctx("c"), SUBSCRIBE, "a/#", ALLOW),
    (
        "restricted filter",
        [SUBSCRIBE_A_EXCEPT_RESTRICTED],
        ctx("c"),
        SUBSCRIBE,
        "a/restricted/x",
        EXPLICIT,
    ),
    ("receive a/b", [SUBSCRIBE_A_EXCEPT_RESTRICTED], ctx("c"), RECEIVE, "a/b", ALLOW),
    (
        "receive restricted",
        [SUBSCRIBE_A_EXCEPT_RESTRICTED],
        ctx("c"),
        RECEIVE,
        "a/restricted/x",
        IMPLICIT,
    ),
    ("may subscribe", [SUBSCRIBE_BUT_NOT_RECEIVE], ctx("c"), SUBSCRIBE, "device/update", ALLOW),
    ("may not receive", [SUBSCRIBE_BUT_NOT_RECEIVE], ctx("c"), RECEIVE, "device/update", EXPLICIT),
    # thing conditions
    ("attached", [CONNECT_IF_ATTACHED], ctx("thing1", THING1), CONNECT, "thing1", ALLOW),
    ("not attached", [CONNECT_IF_ATTACHED], ctx("thing9", THING1), CONNECT, "thing9", IMPLICIT),
    (
        "type and attribute",
        [PUBLISH_IF_TYPE_AND_ATTRIBUTE],
        ctx("thing1", THING1),
        PUBLISH,
        "device/stats",
        ALLOW,
    ),
    (
        "wrong type",
        [PUBLISH_IF_TYPE_AND_ATTRIBUTE],
        ctx("thing1", ThingFacts("thing1", "camera", {"attributeName": "floor7"})),
        PUBLISH,
        "device/stats",
        IMPLICIT,
    ),
    (
        "no attribute",
        [PUBLISH_IF_TYPE_AND_ATTRIBUTE],
        ctx("thing1", ThingFacts("thing1", "sensor")),
        PUBLISH,
        "device/stats",
        IMPLICIT,
    ),
    ("attr prefix", [PUBLISH_UNDER_ATTRIBUTE], ctx("thing1", THING1), PUBLISH, "floor7/x", ALLOW),
    ("attr unresolved", [PUBLISH_UNDER_ATTRIBUTE], ctx("thing2", THING2), PUBLISH, "/x", IMPLICIT),
    # basic variables and aws:SourceIp
    (
        "from the ip",
        [PUBLISH_FROM_IP],
        ctx("c1", source_ip="123.45.167.89"),
        PUBLISH,
        "my/topic/c1",
        ALLOW,
    ),
    (
        "other ip",
        [PUBLISH_FROM_IP],
        ctx("c1", source_ip="10.0.0.1"),
        PUBLISH,
        "my/topic/c1",
        IMPLICIT,
    ),
    ("no ip known", [PUBLISH_FROM_IP], ctx("c1"), PUBLISH, "my/topic/c1", IMPLICIT),
    # the page's warning: a client named "+" may subscribe to my/+/topic
    ("client id +", [SUBSCRIBE_BY_CLIENT_ID], ctx("+"), SUBSCRIBE, "my/+/topic", ALLOW),
    (
        "client id * is literal",
        [SUBSCRIBE_BY_CLIENT_ID],
        ctx("*"),
        SUBSCRIBE,
        "my/x/topic",
        IMPLICIT,
    ),
    # connect attributes
    ("no attributes", [ONLY_PERSISTENT], ctx("c", connect_attributes=()), CONNECT, "c", ALLOW),
    (
        "persistent",
        [ONLY_PERSISTENT],
        ctx("c", connect_attributes=("PersistentConnect",)),
        CONNECT,
        "c",
        ALLOW,
    ),
    (
        "persistent + will",
        [ONLY_PERSISTENT],
        ctx("c", connect_attributes=("PersistentConnect", "LastWill")),
        CONNECT,
        "c",
        IMPLICIT,
    ),
    (
        "deny persistent",
        [NO_PERSISTENT],
        ctx("c", connect_attributes=("PersistentConnect",)),
        CONNECT,
        "c",
        EXPLICIT,
    ),
    ("will only", [NO_PERSISTENT], ctx("c", connect_attributes=("LastWill",)), CONNECT, "c", ALLOW),
    (
        "default only",
        [DEFAULT_FEATURES_ONLY],
        ctx("c", connect_attributes=("LastWill",)),
        CONNECT,
        "c",
        IMPLICIT,
    ),
    ("default ok", [DEFAULT_FEATURES_ONLY], ctx("c", connect_attributes=()), CONNECT, "c", ALLOW),
]


@pytest.mark.parametrize(
    ("name", "policies", "context", "action", "resource", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_aws_examples(
    name: str,
    policies: list[str],
    context: PrincipalContext,
    action: str,
    resource: str,
    expected: Decision,
):
    assert evaluate(context, policies, action, resource) is expected


def test_several_policies_are_one_union_and_any_deny_wins():
    pub = policy(allow("iot:Publish", f"{ARN}:topic/x"))
    con = policy(allow("iot:Connect", f"{ARN}:client/c"))
    no_pub = policy(deny("iot:Publish", f"{ARN}:topic/*"))
    both = bind(ctx("c"), [pub, con])
    assert both.can_connect() and both.can_publish("x")
    assert not both.can_publish("y")
    vetoed = bind(ctx("c"), [pub, con, no_pub])
    assert vetoed.can_connect() and not vetoed.can_publish("x")
    assert vetoed.decide(PUBLISH, "x") is EXPLICIT
    assert bind(ctx("c"), []).decide(CONNECT, "c") is IMPLICIT  # default deny


@pytest.mark.parametrize(
    ("action_pattern", "allowed", "denied"),
    [
        ("iot:*", [CONNECT, PUBLISH, SUBSCRIBE, RECEIVE, RETAIN_PUBLISH], []),
        ("*", [CONNECT, PUBLISH, RECEIVE], []),
        ("iot:Pub*", [PUBLISH], [RECEIVE, SUBSCRIBE, RETAIN_PUBLISH]),
        ("IOT:PUBLISH", [PUBLISH], [RETAIN_PUBLISH]),
        ("iot:?eceive", [RECEIVE], [PUBLISH]),
    ],
)
def test_action_wildcards_and_case(action_pattern: str, allowed: list[str], denied: list[str]):
    bound = bind(ctx("c"), [policy(allow(action_pattern, "*"))])
    for action in allowed:
        assert bound.decide(action, "t").allowed, action
    for action in denied:
        assert not bound.decide(action, "t").allowed, action


def test_not_action_applies_to_every_other_action():
    bound = bind(
        ctx("c"), [policy({"Effect": "Allow", "NotAction": "iot:Publish", "Resource": "*"})]
    )
    assert bound.can_subscribe("a") and bound.can_connect()
    assert not bound.can_publish("a")


def test_resources_of_another_account_or_region_do_not_match():
    other = policy(allow("iot:Publish", "arn:aws:iot:eu-west-1:123456789012:topic/x"))
    assert not bind(ctx("c"), [other]).can_publish("x")
    here = ctx("c", region="eu-west-1")
    assert bind(here, [other]).can_publish("x")
    assert bind(here, [other]).arn(PUBLISH, "x") == resource_arn(
        "topic", "x", region="eu-west-1", account="123456789012"
    )


def test_unresolved_variables_neither_allow_nor_deny():
    thing_deny = deny("iot:Publish", f"{ARN}:topic/${{iot:Connection.Thing.ThingName}}/*")
    not_resource = {
        "Effect": "Allow",
        "Action": "iot:Publish",
        "NotResource": f"{ARN}:topic/${{iot:Connection.Thing.ThingName}}/private",
    }
    everything = allow("iot:Publish", "*")
    no_thing = ctx("c")
    assert bind(no_thing, [policy(thing_deny, everything)]).can_publish("c/x")  # Deny void
    assert not bind(no_thing, [policy(not_resource)]).can_publish("c/x")  # NotResource void
    with_thing = ctx("thing1", THING1)
    assert not bind(with_thing, [policy(thing_deny, everything)]).can_publish("thing1/x")
    assert bind(with_thing, [policy(not_resource)]).can_publish("thing1/x")
    assert not bind(with_thing, [policy(not_resource)]).can_publish("thing1/private")


def test_a_negated_condition_with_an_unresolved_variable_voids_its_statement():
    guard = deny(
        "iot:Connect",
        "*",
        Condition={"StringNotEquals": {"iot:ClientId": "${iot:Connection.Thing.ThingName}"}},
    )
    everyone = allow("iot:Connect", "*")
    assert bind(ctx("c"), [policy(guard, everyone)]).can_connect()  # void, not a deny
    assert bind(ctx("thing1", THING1), [policy(guard, everyone)]).can_connect()  # equal
    named = bind(ctx("x", THING1, exclusive_thing="thing1"), [policy(guard, everyone)])
    assert not named.can_connect()  # resolved: client id x differs from thing1


def test_attribute_names_with_punctuation_resolve():
    odd = ThingFacts("thing3", attributes={"site,floor": "b7", "a/b:c": "x"})
    rule = allow(
        "iot:Publish",
        f"{ARN}:topic/${{iot:Connection.Thing.Attributes[site,floor]}}/"
        "${iot:Connection.Thing.Attributes[a/b:c]}",
    )
    assert bind(ctx("thing3", odd), [policy(rule)]).can_publish("b7/x")
    assert not bind(ctx("thing3", odd), [policy(rule)]).can_publish("b7/y")


def test_condition_value_variables():
    same_name = allow(
        "iot:Connect",
        "*",
        Condition={"StringEquals": {"iot:ClientId": "${iot:Connection.Thing.ThingName}"}},
    )
    assert bind(ctx("thing1", THING1), [policy(same_name)]).can_connect()
    assert not bind(ctx("other", THING1), [policy(same_name)]).can_connect()


def test_missing_keys_follow_iams_rules():
    thing = ctx("thing2", THING2)  # attached, no type

    def connects(condition: dict[str, Any]) -> bool:
        return bind(thing, [policy(allow("iot:Connect", "*", Condition=condition))]).can_connect()

    key = "iot:Connection.Thing.ThingTypeName"
    assert not connects({"StringEquals": {key: "sensor"}})
    assert connects({"StringNotEquals": {key: "sensor"}})  # negated: true when missing
    assert connects({"StringEqualsIfExists": {key: "sensor"}})
    assert connects({"Null": {key: "true"}})
    assert not connects({"Null": {key: "false"}})
    assert connects({"StringLike": {"IOT:clientID": "thing?"}})  # key names ignore case
    assert connects({"StringEqualsIgnoreCase": {"iot:ClientId": "THING2"}})
    assert not connects({"StringEquals": {"iot:ClientId": "THING2"}})


def test_exclusive_thing_gives_the_thing_when_the_client_id_is_not_its_name():
    exclusive = ctx("any-client-id", THING1, exclusive_thing="thing1")
    assert exclusive.thing == THING1
    assert bind(exclusive, [REGISTERED_5]).can_publish("thing1/x")
    assert not bind(exclusive, [REGISTERED_5]).can_connect()  # client/thing1 != client id
    named = ctx("thing2", THING1, THING2, exclusive_thing="thing1")
    assert named.thing == THING2  # a thing named as the client id comes first


def test_without_version_2012_10_17_variables_are_literal_text():
    literal = policy(allow("iot:Publish", f"{ARN}:topic/${{iot:ClientId}}"), version=None)
    bound = bind(ctx("c1"), [literal])
    assert not bound.can_publish("c1")
    assert bound.can_publish("${iot:ClientId}")


def test_escapes_and_defaults():
    escaped = policy(allow("iot:Publish", f"{ARN}:topic/a${{*}}b${{?}}${{$}}"))
    bound = bind(ctx("c"), [escaped])
    assert bound.can_publish("a*b?$")
    assert not bound.can_publish("axxb?$") and not bound.can_publish("a*bc$")
    fallback = policy(
        allow("iot:Publish", f"{ARN}:topic/${{iot:Connection.Thing.ThingName, 'nobody'}}/*")
    )
    assert bind(ctx("c"), [fallback]).can_publish("nobody/x")
    assert bind(ctx("thing1", THING1), [fallback]).can_publish("thing1/x")


def test_numeric_date_binary_and_arn_operators():
    extra = {
        "iot:Certificate.Validity.NotAfter": ("2049-12-31T23:59:59Z",),
        "x:Count": ("7",),
        "x:Blob": ("QUJD",),
        "x:Arn": (f"{ARN}:thing/thing1",),
    }
    c = ctx("c", extra=extra)

    def connects(condition: dict[str, Any]) -> bool:
        return bind(c, [policy(allow("iot:Connect", "*", Condition=condition))]).can_connect()

    assert connects({"NumericLessThan": {"x:Count": 10}})
    assert not connects({"NumericGreaterThan": {"x:Count": "10"}})
    assert connects(
        {"DateGreaterThan": {"iot:Certificate.Validity.NotAfter": "2030-01-01T00:00:00Z"}}
    )
    assert connects({"BinaryEquals": {"x:Blob": "QUJD"}})
    assert connects({"ArnLike": {"x:Arn": "arn:aws:iot:*:*:thing/thing?"}})
    assert connects({"ArnNotLike": {"x:Arn": "arn:aws:iot:*:*:thing/other"}})
    assert connects({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})  # missing key, negated


def test_bound_policy_memoises_and_retain_publish_is_its_own_action():
    bound = bind(ctx("c"), [policy(allow("iot:Publish", f"{ARN}:topic/t"))])
    assert bound.can_publish("t") and bound.can_publish("t")
    assert not bound.can_retain_publish("t")  # iot:RetainPublish must be granted separately
    assert len(bound.statements) == 1
