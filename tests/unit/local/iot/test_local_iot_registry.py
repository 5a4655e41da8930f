"""Things, thing groups, streams and endpoints.

Spec: https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThing.html ,
API_DeleteThing.html, API_ListThingsInThingGroup.html, API_CreateStream.html,
API_UpdateStream.html, API_DescribeEndpoint.html.
"""

from __future__ import annotations

import pytest

from ota_deploy.local.contracts import AwsError


def test_thing_lifecycle(h) -> None:
    out = h.iot("CreateThing", thingName="dev-1", attributePayload={"attributes": {"hw": "a"}})
    assert out["thingArn"] == h.thing_arn("dev-1")
    assert (
        h.iot("CreateThing", thingName="dev-1", attributePayload={"attributes": {"hw": "a"}}) == out
    )  # idempotent
    with pytest.raises(AwsError) as exc:
        h.iot("CreateThing", thingName="dev-1", attributePayload={"attributes": {"hw": "b"}})
    assert (exc.value.code, exc.value.status) == ("ResourceAlreadyExistsException", 409)
    d = h.iot("DescribeThing", thingName="dev-1")
    assert d["attributes"] == {"hw": "a"} and d["version"] == 1
    h.iot(
        "UpdateThing",
        thingName="dev-1",
        attributePayload={"attributes": {"fw": "2"}, "merge": True},
    )
    assert h.iot("DescribeThing", thingName="dev-1")["attributes"] == {"hw": "a", "fw": "2"}
    with pytest.raises(AwsError) as exc:
        h.iot("DeleteThing", thingName="dev-1", expectedVersion=1)
    assert exc.value.code == "VersionConflictException"
    h.iot("DeleteThing", thingName="dev-1")
    h.iot("DeleteThing", thingName="dev-1")  # AWS: success for a missing thing
    with pytest.raises(AwsError) as exc:
        h.iot("DescribeThing", thingName="dev-1")
    assert (exc.value.code, exc.value.status) == ("ResourceNotFoundException", 404)


def test_list_things_pages_and_filters(h) -> None:
    for i in range(7):
        h.iot(
            "CreateThing",
            thingName=f"t{i}",
            attributePayload={"attributes": {"ring": "canary" if i < 2 else "main"}},
        )
    seen, token = [], None
    while True:
        page = h.iot("ListThings", maxResults=3, **({"nextToken": token} if token else {}))
        seen += [t["thingName"] for t in page["things"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == [f"t{i}" for i in range(7)]
    canary = h.iot("ListThings", attributeName="ring", attributeValue="canary")["things"]
    assert [t["thingName"] for t in canary] == ["t0", "t1"]


def test_groups_and_membership(h) -> None:
    h.iot(
        "CreateThingGroup",
        thingGroupName="root",
        thingGroupProperties={"thingGroupDescription": "all"},
    )
    h.iot("CreateThingGroup", thingGroupName="leaf", parentGroupName="root")
    h.things("a", "b")
    h.iot("AddThingToThingGroup", thingGroupName="root", thingName="a")
    h.iot("AddThingToThingGroup", thingGroupArn=h.group_arn("leaf"), thingArn=h.thing_arn("b"))
    assert h.iot("ListThingsInThingGroup", thingGroupName="root")["things"] == ["a"]
    assert h.iot("ListThingsInThingGroup", thingGroupName="root", recursive=True)["things"] == [
        "a",
        "b",
    ]
    assert h.iot("ListThingGroupsForThing", thingName="b")["thingGroups"] == [
        {"groupName": "leaf", "groupArn": h.group_arn("leaf")}
    ]
    d = h.iot("DescribeThingGroup", thingGroupName="leaf")
    assert d["thingGroupMetadata"]["parentGroupName"] == "root"
    assert [g["groupName"] for g in h.iot("ListThingGroups")["thingGroups"]] == ["root", "leaf"]
    assert [
        g["groupName"] for g in h.iot("ListThingGroups", parentGroup="root")["thingGroups"]
    ] == ["leaf"]
    with pytest.raises(AwsError) as exc:
        h.iot("DeleteThingGroup", thingGroupName="root")  # has a child
    assert exc.value.code == "InvalidRequestException"
    h.iot("RemoveThingFromThingGroup", thingGroupName="leaf", thingName="b")
    h.iot("DeleteThingGroup", thingGroupName="leaf")
    h.iot("DeleteThingGroup", thingGroupName="root")
    with pytest.raises(AwsError) as exc:
        h.iot("AddThingToThingGroup", thingGroupName="root", thingName="a")
    assert exc.value.code == "ResourceNotFoundException"


def test_deleting_a_thing_removes_its_pending_executions(h) -> None:
    h.things("a", "b")
    h.job("j", ["a", "b"])
    h.iot("DeleteThing", thingName="a")
    assert h.counts("j") == {"Removed": 1, "Queued": 1}
    h.data("UpdateJobExecution", jobId="j", thingName="b", status="SUCCEEDED")
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "COMPLETED"


def _files(n: int) -> list[dict]:
    return [{"fileId": i, "s3Location": {"bucket": "fw", "key": f"f{i}.bin"}} for i in range(n)]


def test_stream_lifecycle(h) -> None:
    role = "arn:aws:iam::123456789012:role/ota"
    out = h.iot("CreateStream", streamId="s1", files=_files(1), roleArn=role, description="fw")
    assert out == {
        "streamId": "s1",
        "streamArn": "arn:aws:iot:us-east-1:123456789012:stream/s1",
        "streamVersion": 1,
        "description": "fw",
    }
    with pytest.raises(AwsError) as exc:
        h.iot("CreateStream", streamId="s1", files=_files(1), roleArn=role)
    assert (exc.value.code, exc.value.status) == ("ResourceAlreadyExistsException", 409)
    assert h.iot("UpdateStream", streamId="s1", files=_files(2))["streamVersion"] == 2
    info = h.iot("DescribeStream", streamId="s1")["streamInfo"]
    assert info["streamVersion"] == 2 and len(info["files"]) == 2 and info["roleArn"] == role
    assert [s["streamId"] for s in h.iot("ListStreams")["streams"]] == ["s1"]
    h.iot("DeleteStream", streamId="s1")
    with pytest.raises(AwsError) as exc:
        h.iot("DescribeStream", streamId="s1")
    assert exc.value.code == "ResourceNotFoundException"


def test_stream_revision_changes_exactly_when_describe_stream_may(h) -> None:
    role = "arn:aws:iam::123456789012:role/ota"
    assert h.svc.stream_revision("s1") is None
    h.iot("CreateStream", streamId="s1", files=_files(1), roleArn=role)
    first = h.svc.stream_revision("s1")
    h.iot("DescribeStream", streamId="s1")
    assert first is not None and h.svc.stream_revision("s1") == first  # reads change nothing
    h.iot("UpdateStream", streamId="s1", description="v2")
    second = h.svc.stream_revision("s1")
    assert second not in (None, first)
    h.iot("DeleteStream", streamId="s1")
    assert h.svc.stream_revision("s1") is None
    h.iot("CreateStream", streamId="s1", files=_files(1), roleArn=role)  # version 1 again
    third = h.svc.stream_revision("s1")
    assert third not in (None, first, second)
    h.svc.load_state(h.svc.dump_state())  # a reload makes new records
    assert h.svc.stream_revision("s1") not in (None, first, second, third)


def test_stream_limits(h) -> None:
    role = "arn:aws:iam::123456789012:role/ota"
    with pytest.raises(AwsError) as exc:  # botocore's validator does not check max
        h.svc.call("iot", "CreateStream", {"streamId": "s", "files": _files(51), "roleArn": role})
    assert exc.value.code == "InvalidRequestException"
    bad = [{"fileId": 256, "s3Location": {"bucket": "fw", "key": "k"}}]
    with pytest.raises(AwsError) as exc:
        h.svc.call("iot", "CreateStream", {"streamId": "s", "files": bad, "roleArn": role})
    assert exc.value.code == "InvalidRequestException"
    dup = _files(1) + _files(1)
    with pytest.raises(AwsError):
        h.iot("CreateStream", streamId="s", files=dup, roleArn=role)
    h.iot("CreateStream", streamId="s", files=_files(50), roleArn=role)


@pytest.mark.parametrize("kind", ["iot:Data-ATS", "iot:Data", "iot:Jobs"])
def test_describe_endpoint(h, kind) -> None:
    assert h.iot("DescribeEndpoint", endpointType=kind) == {"endpointAddress": "127.0.0.1:8883"}
