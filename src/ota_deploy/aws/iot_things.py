"""AWS IoT things and thing groups, one call each: a thing, a static group, its members.

More than 100 targets per job is beyond AWS's limit
(https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html): the run's static thing
group is filled by ``aws.group_ops`` with a few concurrent calls (``call_unpaced``), paced at
AWS's documented rate for AddThingToThingGroup, not by ``api_sleep_sec``; ``deploy.targets``
decides what to add and keeps the group for reuse. The local stack registers its things here.

Why its own module: groups and things are the registry's API, not the jobs' or the streams'.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ota_deploy.aws.iot_calls import ALREADY_EXISTS, NOT_FOUND, IotCalls


class ThingCalls(IotCalls):
    """The thing and thing-group calls of ``aws.iot_ops.IotOps``."""

    def create_thing(self, name: str) -> str:
        arn: str = self.call("CreateThing", thingName=name)["thingArn"]
        return arn

    def create_thing_group(
        self,
        name: str,
        description: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> str:
        """Create (or find) a static thing group; its ARN."""
        params: dict[str, Any] = {"thingGroupName": name}
        props: dict[str, Any] = {}
        if description:
            props["thingGroupDescription"] = description
        if attributes:
            props["attributePayload"] = {"attributes": dict(attributes)}
        if props:
            params["thingGroupProperties"] = props
        try:
            arn: str = self.call("CreateThingGroup", passthrough=[ALREADY_EXISTS], **params)[
                "thingGroupArn"
            ]
            return arn
        except ClientError:
            existing: str = self.call("DescribeThingGroup", thingGroupName=name)["thingGroupArn"]
            return existing

    def describe_thing_group(self, name: str) -> dict[str, Any] | None:
        try:
            return self.call("DescribeThingGroup", passthrough=[NOT_FOUND], thingGroupName=name)
        except ClientError:
            return None

    def add_thing_to_group(self, group_name: str, thing_arn: str) -> None:
        self.call("AddThingToThingGroup", thingGroupName=group_name, thingArn=thing_arn)

    def delete_thing_group(self, name: str) -> bool:
        """Delete. DeleteThingGroup succeeds for a group that does not exist
        (https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteThingGroup.html lists no
        ResourceNotFoundException), so True says only that the call went through."""
        try:
            self.call("DeleteThingGroup", passthrough=[NOT_FOUND], thingGroupName=name)
            return True
        except ClientError:
            return False

    def list_things_in_group(self, name: str, *, recursive: bool = True) -> list[str]:
        """Thing names in a group (and, ``recursive``, its children)."""
        names: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "thingGroupName": name,
                "recursive": recursive,
                "maxResults": 250,
            }
            if token:
                params["nextToken"] = token
            page = self.call("ListThingsInThingGroup", **params)
            names.extend(page.get("things", []))
            token = page.get("nextToken")
            if not token:
                return names
