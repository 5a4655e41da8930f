"""``service.device_authority`` (``contracts.DeviceAuthority``): what the gateway's mutual-TLS
listener is told, driven by real boto3 calls on the control plane (``AwsPair``).

Spec: https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html (all attached
policies count; thing-group policies when the client ID is the thing's name),
thing-policy-variables.html, exclusive-thing.html, activate-or-deactivate-device-cert.html.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.support.aws_pair import AwsPair

from ota_deploy.local.contracts import DeviceAuthority

THING = "${iot:Connection.Thing.ThingName}"
BASE = "arn:aws:iot:us-east-1:123456789012"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str, resource: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


class Heard:
    def __init__(self) -> None:
        self.statuses: list[tuple[str, str]] = []
        self.permissions: list[frozenset[str] | None] = []
        self.anchors: list[str] = []

    def certificate_status_changed(self, certificate_id: str, status: str) -> None:
        self.statuses.append((certificate_id, status))

    def permissions_changed(self, certificate_ids: frozenset[str] | None) -> None:
        self.permissions.append(certificate_ids)

    def trust_anchor_added(self, pem: str) -> None:
        self.anchors.append(pem)


@pytest.fixture
def pair() -> AwsPair:
    return AwsPair()


@pytest.fixture
def iot(pair: AwsPair) -> Any:
    return pair.client("iot", max_attempts=1)


def test_it_is_the_contract(pair: AwsPair) -> None:
    authority: DeviceAuthority = pair.svc.device_authority  # mypy checks the Protocol here
    assert authority.certificate_status("0" * 64) is None
    assert not authority.connection_policy("0" * 64, "anyone").can_connect()
    assert len(authority.trust_anchor_pems()) == 1  # the local root only


def test_thing_variables_exclusive_thing_and_group_policies(pair: AwsPair, iot: Any) -> None:
    authority = pair.svc.device_authority
    iot.create_thing(
        thingName="pump-1", thingTypeName="pump", attributePayload={"attributes": {"site": "north"}}
    )
    iot.create_thing_group(thingGroupName="fleet")
    iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="pump-1")
    cert = iot.create_keys_and_certificate(setAsActive=True)
    cid, arn = cert["certificateId"], cert["certificateArn"]
    own = policy(
        allow("iot:Connect", f"{BASE}:client/{THING}"),
        allow("iot:Publish", f"{BASE}:topic/sites/${{iot:Connection.Thing.Attributes[site]}}/*"),
        {
            "Effect": "Allow",
            "Action": "iot:Subscribe",
            "Resource": f"{BASE}:topicfilter/types/*",
            "Condition": {"StringEquals": {"iot:Connection.Thing.ThingTypeName": "pump"}},
        },
    )
    iot.create_policy(policyName="own", policyDocument=own)
    iot.attach_policy(policyName="own", target=arn)
    # not attached to the thing yet: the thing variables do not resolve
    assert not authority.connection_policy(cid, "pump-1").can_connect()
    iot.attach_thing_principal(thingName="pump-1", principal=arn)
    as_thing = authority.connection_policy(cid, "pump-1")
    assert as_thing.can_connect()
    assert as_thing.can_publish("sites/north/temp") and not as_thing.can_publish("sites/south/x")
    assert as_thing.can_subscribe("types/pump")
    # another client id: no thing (non-exclusive attachment), nothing resolves
    other = authority.connection_policy(cid, "someone")
    assert not other.can_connect() and not other.can_publish("sites/north/temp")
    # exclusive: the certificate's thing is the connection's thing whatever the client id
    iot.attach_thing_principal(
        thingName="pump-1", principal=arn, thingPrincipalType="EXCLUSIVE_THING"
    )
    exclusive = authority.connection_policy(cid, "someone")
    assert exclusive.can_publish("sites/north/temp") and not exclusive.can_connect()
    # thing-group policies apply when the client id is the thing's name
    iot.create_policy(policyName="grp", policyDocument=policy(allow("iot:Receive", "*")))
    iot.attach_policy(
        policyName="grp", target=iot.describe_thing_group(thingGroupName="fleet")["thingGroupArn"]
    )
    assert authority.connection_policy(cid, "pump-1").can_receive("anything")
    assert not authority.connection_policy(cid, "someone").can_receive("anything")
    # a Deny anywhere wins over every Allow
    iot.create_policy(
        policyName="deny",
        policyDocument=json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": "iot:Publish",
                        "Resource": f"{BASE}:topic/sites/north/alarm",
                    }
                ]
            }
        ),
    )
    iot.attach_policy(policyName="deny", target=arn)
    bound = authority.connection_policy(cid, "pump-1")
    assert bound.can_publish("sites/north/temp") and not bound.can_publish("sites/north/alarm")


def test_listeners_hear_every_identity_change(pair: AwsPair, iot: Any) -> None:
    authority = pair.svc.device_authority
    heard = Heard()
    authority.add_listener(heard)
    authority.add_listener(heard)  # once is enough
    iot.create_thing(thingName="t")
    iot.create_thing_group(thingGroupName="g")
    cert = iot.create_keys_and_certificate(setAsActive=True)
    cid, arn = cert["certificateId"], cert["certificateArn"]
    mine = frozenset({cid})
    iot.create_policy(policyName="p", policyDocument=policy(allow("iot:Connect", "*")))
    assert heard.permissions == []  # nothing attached: nobody concerned
    iot.attach_policy(policyName="p", target=arn)
    iot.create_policy_version(policyName="p", policyDocument=policy(allow("iot:*", "*")))
    iot.create_policy_version(
        policyName="p", policyDocument=policy(allow("iot:*", "*")), setAsDefault=True
    )
    iot.set_default_policy_version(policyName="p", policyVersionId="1")
    iot.attach_thing_principal(thingName="t", principal=arn)
    iot.update_thing(thingName="t", attributePayload={"attributes": {"k": "v"}})
    iot.add_thing_to_thing_group(thingGroupName="g", thingName="t")
    iot.remove_thing_from_thing_group(thingGroupName="g", thingName="t")
    iot.attach_policy(
        policyName="p", target=iot.describe_thing_group(thingGroupName="g")["thingGroupArn"]
    )
    iot.detach_thing_principal(thingName="t", principal=arn)
    iot.detach_policy(policyName="p", target=arn)
    # attach, 2 default changes (the non-default version says nothing), principal, thing
    # attributes, group join and leave, a group target (None: any certificate), detaches
    assert heard.permissions == [mine, mine, mine, mine, mine, mine, mine, None, mine, mine]
    iot.update_certificate(certificateId=cid, newStatus="INACTIVE")
    iot.delete_certificate(certificateId=cid)
    assert heard.statuses == [(cid, "INACTIVE"), (cid, "DELETED")]


def test_a_broken_listener_does_not_break_the_control_plane(pair: AwsPair, iot: Any) -> None:
    class Broken(Heard):
        def certificate_status_changed(self, certificate_id: str, status: str) -> None:
            raise RuntimeError("gateway hook failed")

    heard = Heard()
    pair.svc.device_authority.add_listener(Broken())
    pair.svc.device_authority.add_listener(heard)
    cid = iot.create_keys_and_certificate(setAsActive=True)["certificateId"]
    iot.update_certificate(certificateId=cid, newStatus="INACTIVE")  # committed and answered
    assert pair.svc.device_authority.certificate_status(cid) == "INACTIVE"
    assert heard.statuses == [(cid, "INACTIVE")]
