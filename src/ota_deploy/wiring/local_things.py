"""The things a local stack creates in its local AWS IoT: the listed things, and for each listed
thing group the group and ``MEMBERS_PER_GROUP`` member things -- one simulated device each.

Flow (``create_things``, on the thread or in the process that owns the ``LocalIotService``)::

    CreateThing per listed thing
    per listed group: CreateThingGroup; per member ``<group>-member-<i>``: CreateThing (unless
        already made) and AddThingToThingGroup
    -> the device names, listed things first, each once

Straight through the service's ``call`` (no HTTP, no boto3): ten thousand things take a second,
not a minute. Used by ``local_stack`` (on the server's loop) and ``server_process`` (in the
server child, which must not load boto3), so this module imports nothing but the standard
library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MEMBERS_PER_GROUP = 3  # simulated member things made for each listed thing group


def member_names(group: str, members_per_group: int = MEMBERS_PER_GROUP) -> list[str]:
    """The simulated members of ``group`` (thing names are at most 128 characters)."""
    return [f"{group}-member-{i}"[:128] for i in range(1, members_per_group + 1)]


def create_things(
    service: Any,
    things: Sequence[str],
    groups: Sequence[str],
    members_per_group: int = MEMBERS_PER_GROUP,
) -> list[str]:
    """Create ``things``, and each of ``groups`` with its member things, through
    ``service.call``; the device names in order, each once."""
    names = list(dict.fromkeys(things))
    seen = set(names)
    for name in names:
        service.call("iot", "CreateThing", {"thingName": name})
    for group in groups:
        service.call("iot", "CreateThingGroup", {"thingGroupName": group})
        for member in member_names(group, members_per_group):
            if member not in seen:
                service.call("iot", "CreateThing", {"thingName": member})
                names.append(member)
                seen.add(member)
            service.call(
                "iot", "AddThingToThingGroup", {"thingGroupName": group, "thingName": member}
            )
    return names
