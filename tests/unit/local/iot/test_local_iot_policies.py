"""Policies, policy versions and attachments as AWS IoT manages them, through real boto3
clients (``AwsPair``), and what ``aws.provisioning`` (``fleet provision`` / ``destroy``)
calls, run as is against the local AWS IoT.

Spec: API_CreatePolicy.html, API_CreatePolicyVersion.html, API_DeletePolicyVersion.html,
API_DeletePolicy.html, API_SetDefaultPolicyVersion.html, API_AttachPolicy.html,
API_ListAttachedPolicies.html, API_ListTargetsForPolicy.html, API_AttachThingPrincipal.html
(apireference).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.support.aws_pair import AwsPair

from ota_deploy.aws.provisioning import describe_ats_endpoint, destroy, policy_document, provision
from ota_deploy.aws.session import AwsClients, AwsTarget


def doc(*actions: str) -> str:
    statements = [{"Effect": "Allow", "Action": a, "Resource": "*"} for a in actions]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def pair() -> AwsPair:
    return AwsPair()


@pytest.fixture
def iot(pair: AwsPair) -> Any:
    return pair.client("iot", max_attempts=1)


def test_versions_limit_default_and_deletion_rules(iot: Any) -> None:
    created = iot.create_policy(policyName="p", policyDocument=doc("iot:Connect"))
    assert created["policyVersionId"] == "1"
    with pytest.raises(ClientError) as exc:
        iot.create_policy(policyName="p", policyDocument=doc("iot:Connect"))
    assert code_of(exc) == ("ResourceAlreadyExistsException", 409)
    for bad in (
        "{",
        json.dumps({"Statement": []}),
        json.dumps({"Statement": [{"Effect": "Allow"}]}),
    ):
        with pytest.raises(ClientError) as exc:
            iot.create_policy(policyName="bad", policyDocument=bad)
        assert code_of(exc) == ("MalformedPolicyException", 400)
    v2 = iot.create_policy_version(policyName="p", policyDocument=doc("iot:Publish"))
    assert (v2["policyVersionId"], v2["isDefaultVersion"]) == ("2", False)
    v3 = iot.create_policy_version(
        policyName="p", policyDocument=doc("iot:Subscribe"), setAsDefault=True
    )
    assert (v3["policyVersionId"], v3["isDefaultVersion"]) == ("3", True)
    got = iot.get_policy(policyName="p")
    assert got["defaultVersionId"] == "3" and "iot:Subscribe" in got["policyDocument"]
    iot.create_policy_version(policyName="p", policyDocument=doc("iot:Receive"))
    iot.create_policy_version(policyName="p", policyDocument=doc("iot:Receive"))
    with pytest.raises(ClientError) as exc:  # "up to five versions"
        iot.create_policy_version(policyName="p", policyDocument=doc("iot:Receive"))
    assert code_of(exc) == ("VersionsLimitExceededException", 409)
    with pytest.raises(ClientError) as exc:
        iot.create_policy_version(policyName="p", policyDocument="{not json")
    assert code_of(exc) == ("MalformedPolicyException", 400)
    with pytest.raises(ClientError) as exc:  # the default version cannot go this way
        iot.delete_policy_version(policyName="p", policyVersionId="3")
    assert code_of(exc) == ("DeleteConflictException", 409)
    iot.delete_policy_version(policyName="p", policyVersionId="5")
    sixth = iot.create_policy_version(policyName="p", policyDocument=doc("iot:Receive"))
    assert sixth["policyVersionId"] == "6"  # ids are never reused
    listed = iot.list_policy_versions(policyName="p")["policyVersions"]
    assert [(v["versionId"], v["isDefaultVersion"]) for v in listed] == [
        ("1", False),
        ("2", False),
        ("3", True),
        ("4", False),
        ("6", False),
    ]
    iot.set_default_policy_version(policyName="p", policyVersionId="1")
    v1 = iot.get_policy_version(policyName="p", policyVersionId="1")
    assert v1["isDefaultVersion"] and "iot:Connect" in v1["policyDocument"]
    with pytest.raises(ClientError) as exc:
        iot.get_policy_version(policyName="p", policyVersionId="5")
    assert code_of(exc) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as exc:  # non-default versions are left
        iot.delete_policy(policyName="p")
    assert code_of(exc) == ("DeleteConflictException", 409)
    for version in ("2", "3", "4", "6"):
        iot.delete_policy_version(policyName="p", policyVersionId=version)
    iot.delete_policy(policyName="p")
    assert iot.list_policies()["policies"] == []


def test_attachments_to_certificates_and_thing_groups(pair: AwsPair, iot: Any) -> None:
    iot.create_thing_group(thingGroupName="root")
    child = iot.create_thing_group(thingGroupName="child", parentGroupName="root")["thingGroupArn"]
    root = iot.describe_thing_group(thingGroupName="root")["thingGroupArn"]
    cert = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    for name in ("a", "b", "c"):
        iot.create_policy(policyName=name, policyDocument=doc("iot:Connect"))
        pair.clock.advance(1)
    iot.attach_policy(policyName="a", target=cert)
    iot.attach_policy(policyName="a", target=cert)  # idempotent
    iot.attach_policy(policyName="b", target=root)
    iot.attach_policy(policyName="c", target=child)
    names = lambda out: [p["policyName"] for p in out["policies"]]  # noqa: E731
    assert names(iot.list_attached_policies(target=cert)) == ["a"]
    assert names(iot.list_attached_policies(target=child)) == ["c"]
    assert sorted(names(iot.list_attached_policies(target=child, recursive=True))) == ["b", "c"]
    assert iot.list_targets_for_policy(policyName="a")["targets"] == [cert]
    with pytest.raises(ClientError) as exc:
        iot.attach_policy(policyName="a", target=cert.replace(cert[-64:], "0" * 64))
    assert code_of(exc) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as exc:
        iot.attach_policy(policyName="nope", target=cert)
    assert code_of(exc) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as exc:
        iot.attach_policy(policyName="a", target="us-east-1:cognito-id")
    assert code_of(exc) == ("InvalidRequestException", 400)
    with pytest.raises(ClientError) as exc:
        iot.delete_policy(policyName="a")
    assert code_of(exc) == ("DeleteConflictException", 409)
    iot.detach_policy(policyName="a", target=cert)
    iot.detach_policy(policyName="a", target=cert)  # nothing attached: still fine
    iot.detach_policy(policyName="gone", target=cert)
    assert iot.list_attached_policies(target=cert)["policies"] == []
    newest_first = [p["policyName"] for p in iot.list_policies()["policies"]]
    assert newest_first == ["c", "b", "a"]
    page = iot.list_policies(ascendingOrder=True, pageSize=2)
    assert [p["policyName"] for p in page["policies"]] == ["a", "b"] and page["nextMarker"]


def test_exclusive_thing_principals(iot: Any) -> None:
    for name in ("t1", "t2"):
        iot.create_thing(thingName=name)
    cert = iot.create_keys_and_certificate(setAsActive=True)["certificateArn"]
    iot.attach_thing_principal(thingName="t1", principal=cert, thingPrincipalType="EXCLUSIVE_THING")
    with pytest.raises(ClientError) as exc:  # "cannot be associated with any other things"
        iot.attach_thing_principal(thingName="t2", principal=cert)
    assert code_of(exc) == ("InvalidRequestException", 400)
    objects = iot.list_principal_things_v2(principal=cert)["principalThingObjects"]
    assert objects == [{"thingName": "t1", "thingPrincipalType": "EXCLUSIVE_THING"}]
    iot.attach_thing_principal(thingName="t1", principal=cert)  # now non-exclusive
    iot.attach_thing_principal(thingName="t2", principal=cert)
    with pytest.raises(ClientError) as exc:  # shared: it cannot become exclusive
        iot.attach_thing_principal(
            thingName="t1", principal=cert, thingPrincipalType="EXCLUSIVE_THING"
        )
    assert code_of(exc) == ("InvalidRequestException", 400)
    assert iot.list_principal_things(principal=cert)["things"] == ["t1", "t2"]
    v2 = iot.list_thing_principals_v2(thingName="t2", thingPrincipalType="NON_EXCLUSIVE_THING")
    assert v2["thingPrincipalObjects"] == [
        {"principal": cert, "thingPrincipalType": "NON_EXCLUSIVE_THING"}
    ]
    with pytest.raises(ClientError) as exc:
        iot.attach_thing_principal(thingName="t1", principal="us-east-1:cognito")
    assert code_of(exc) == ("InvalidRequestException", 400)
    with pytest.raises(ClientError) as exc:
        iot.attach_thing_principal(thingName="ghost", principal=cert)
    assert code_of(exc) == ("ResourceNotFoundException", 404)


def test_fleet_provision_and_destroy_run_as_is(pair: AwsPair, tmp_path: Path) -> None:
    """``aws.provisioning`` against the local AWS IoT: every call it makes answers as AWS's."""
    clients = AwsClients(
        AwsTarget(
            region="us-east-1",
            credentials={"aws_access_key_id": "local", "aws_secret_access_key": "local"},
        )
    )
    clients._clients["iot"] = pair.client("iot")  # its lazily made client, the pair's
    out = tmp_path / "fleet"
    manifest = provision(clients, count=2, prefix="dev", group="grp", out_dir=out, clock=pair.clock)
    authority = pair.svc.device_authority
    for device in manifest.devices:
        assert device.certificate_id is not None
        assert authority.certificate_status(device.certificate_id) == "ACTIVE"
        policy = authority.connection_policy(device.certificate_id, device.name)
        assert policy.can_connect()  # ${iot:Connection.Thing.ThingName} = the client id
        assert policy.can_subscribe(f"$aws/things/{device.name}/jobs/notify-next")
        assert not policy.can_subscribe("$aws/things/someone-else/jobs/notify-next")
        assert not authority.connection_policy(device.certificate_id, "intruder").can_connect()
    stored = json.loads(
        pair.client("iot").get_policy(policyName="dev-fleet-policy")["policyDocument"]
    )
    assert stored == policy_document("us-east-1", "123456789012")
    assert describe_ats_endpoint(clients, clock=pair.clock) == "mqtt.local.test:8883"
    pair.svc.set_endpoint("iot:Data-ATS", "127.0.0.1:18883")
    assert describe_ats_endpoint(clients, clock=pair.clock) == "127.0.0.1:18883"
    destroy(clients, out_dir=out, clock=pair.clock)
    iot = pair.client("iot")
    assert iot.list_certificates()["certificates"] == []
    assert iot.list_policies()["policies"] == [] and iot.list_things()["things"] == []


def test_identity_survives_a_restart_and_older_states_load(pair: AwsPair, iot: Any) -> None:
    iot.create_policy(policyName="p", policyDocument=doc("iot:Connect"))
    iot.create_policy_version(policyName="p", policyDocument=doc("iot:Publish"), setAsDefault=True)
    cert = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName="p", target=cert["certificateArn"])
    state = pair.svc.dump_state()
    restarted = AwsPair()
    restarted.svc.load_state(json.loads(json.dumps(state)))  # as --state-dir stores it
    again = restarted.client("iot", max_attempts=1)
    assert again.get_policy(policyName="p")["defaultVersionId"] == "2"
    assert (
        again.create_policy_version(policyName="p", policyDocument=doc("iot:Receive"))[
            "policyVersionId"
        ]
        == "3"
    )
    authority = restarted.svc.device_authority
    assert authority.certificate_status(cert["certificateId"]) == "ACTIVE"
    assert authority.connection_policy(cert["certificateId"], "any").can_publish("t")
    # a state saved before policy versions existed: only the default version and its document
    for row in state["policies"]:
        row.pop("versions"), row.pop("last_version")
    older = AwsPair()
    older.svc.load_state(state)
    loaded = older.svc.dump_state()["policies"]
    old = older.client("iot", max_attempts=1)
    listed = old.list_policy_versions(policyName="p")["policyVersions"]
    assert [(v["versionId"], v["isDefaultVersion"]) for v in listed] == [("2", True)]
    old.get_policy_version(policyName="p", policyVersionId="2")
    assert older.svc.dump_state()["policies"] == loaded  # reading changed nothing
    assert (
        old.create_policy_version(policyName="p", policyDocument=doc("iot:Receive"))[
            "policyVersionId"
        ]
        == "3"
    )
