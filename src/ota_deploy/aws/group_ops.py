"""A static thing group's contents in bulk: describe, mark, add and remove many things at once.

Flow: ``deploy.targets`` decides what a run's group must hold; ``GroupOps`` does it::

    describe(name)             DescribeThingGroup (None: no such group)
    set_attributes(name, ...)  UpdateThingGroup, attributes merged (empty value removes one)
    add_things(name, arns)     AddThingToThingGroup per thing ─┐ ``aws.fanout``: FILL_WORKERS
    remove_things(name, names) RemoveThingFromThingGroup ──────┘ threads, one shared Pacer
    members(name)              ListThingsInThingGroup, this group only, 250 a page

AWS has no batch call for group membership. The calls go through ``IotOps.call_unpaced``:
retried and turned into one clear error like every call, but not spaced by dev.ini's
``iotApiSleepTime`` (which paces a round's calls); they are paced instead by AWS's documented
rate for AddThingToThingGroup (``core.aws_model``: 100 per second) when the endpoint is AWS's.
A local AWS IoT documents no rate, so there only the number of workers bounds them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from ota_deploy.aws.fanout import Pacer, fan_out
from ota_deploy.aws.iot_calls import NOT_FOUND
from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.retry import error_code, error_message
from ota_deploy.aws.session import is_aws_endpoint
from ota_deploy.core.aws_model import documented
from ota_deploy.core.errors import AwsServiceError

FILL_WORKERS = 16  # calls in flight: 100 a second at AWS's ~0.1 s per call, with room


class GroupOps:
    """Bulk membership of static thing groups over one ``IotOps``."""

    def __init__(
        self, iot: IotOps, *, workers: int = FILL_WORKERS, pacer: Pacer | None = None
    ) -> None:
        self.iot = iot
        self.workers = workers
        self.pacer = pacer or fill_pacer(iot)

    def describe(self, name: str) -> dict[str, Any] | None:
        return self.iot.describe_thing_group(name)

    def set_attributes(self, name: str, attributes: dict[str, str]) -> None:
        """Merge ``attributes`` into the group's; an empty value removes that attribute
        (https://docs.aws.amazon.com/iot/latest/apireference/API_AttributePayload.html)."""
        self.iot.call(
            "UpdateThingGroup",
            thingGroupName=name,
            thingGroupProperties={"attributePayload": {"attributes": attributes, "merge": True}},
        )

    def members(self, name: str) -> list[str]:
        return self.iot.list_things_in_group(name, recursive=False)

    def add_things(self, name: str, thing_arns: Iterable[str], *, total: int | None = None) -> int:
        """AddThingToThingGroup for each thing; stops at the first failure. A thing that does
        not exist is named in the error (exit 3). Returns how many were added."""

        def add(thing_arn: str) -> None:
            try:
                self.iot.call_unpaced(
                    "AddThingToThingGroup", [NOT_FOUND], thingGroupName=name, thingArn=thing_arn
                )
            except ClientError as err:
                thing = thing_arn.rsplit("/", 1)[-1]
                raise AwsServiceError(
                    f"AWS AddThingToThingGroup failed for thing {thing!r} (group {name}): "
                    f"{error_code(err)}: {error_message(err)} (is every thing of the thing "
                    "list registered in AWS IoT?)",
                    code=error_code(err),
                    operation="AddThingToThingGroup",
                ) from None

        return fan_out(
            thing_arns,
            add,
            workers=self.workers,
            pacer=self.pacer,
            what=f"thing group {name}: things added",
            total=total,
        )

    def remove_things(self, name: str, thing_names: Iterable[str]) -> int:
        """RemoveThingFromThingGroup for each thing, like ``add_things``."""

        def remove(thing: str) -> None:
            with contextlib.suppress(ClientError):  # a thing that is gone is no member either
                self.iot.call_unpaced(
                    "RemoveThingFromThingGroup", [NOT_FOUND], thingGroupName=name, thingName=thing
                )

        return fan_out(
            thing_names,
            remove,
            workers=self.workers,
            pacer=self.pacer,
            what=f"thing group {name}: things removed",
        )


def fill_pacer(iot: IotOps) -> Pacer:
    """AddThingToThingGroup's documented rate against AWS; no limit against a local AWS IoT."""
    url = getattr(getattr(iot.client, "meta", None), "endpoint_url", None)
    rate = documented("add_thing_to_thing_group_tps") if is_aws_endpoint(url) else None
    return Pacer(rate, iot.clock)
