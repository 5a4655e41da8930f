"""The thing registry: things, thing groups (nested) and membership.

Operations take botocore-shaped params and return botocore-shaped results. Membership changes
and thing deletion are reported to a :class:`RegistryListener` (the jobs engine) so CONTINUOUS
jobs reach things that join a target group later, and executions of deleted things become
REMOVED. A change to a thing's facts that policies may refer to (its attributes and type, its
groups: ``identity`` resolves thing policy variables and thing-group policies from them) is
reported to ``identity_events`` as a permissions change of the thing's certificates.

API references: https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThing.html ,
API_DeleteThing.html ("returns successfully ... if you specify a thing that doesn't exist"),
API_AddThingToThingGroup.html, API_ListThingsInThingGroup.html, API_DeleteThingGroup.html.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from ota_deploy.local.iot import pagination
from ota_deploy.local.iot.arns import Arns
from ota_deploy.local.iot.errors import already_exists, error, invalid, not_found
from ota_deploy.local.iot.identity_events import IdentityEvents
from ota_deploy.local.iot.records import Records, Thing, ThingGroup


@lru_cache(maxsize=8192)
def dt(ts: float) -> datetime:
    """An aware UTC datetime (cached: listings repeat the same few timestamps)."""
    return datetime.fromtimestamp(ts, tz=UTC)


class RegistryListener(Protocol):
    def thing_joined_group(self, thing: str, group: str) -> None: ...
    def thing_left_group(self, thing: str, group: str) -> None: ...
    def thing_deleted(self, thing: str) -> None: ...


class Registry:
    def __init__(self, arns: Arns, now: Callable[[], float], records: Records) -> None:
        self.arns = arns
        self._now = now
        self.things: dict[str, Thing] = records.things
        self.groups: dict[str, ThingGroup] = records.groups
        self.listener: RegistryListener | None = None
        self.identity_events: IdentityEvents | None = None

    def _thing_facts_changed(self, t: Thing) -> None:
        """Tell the gateway that connections of ``t``'s certificates must be re-bound."""
        if self.identity_events is not None:
            ids = frozenset(p.rsplit("/", 1)[-1] for p in t.principals if ":cert/" in p)
            self.identity_events.permissions_changed(ids)

    # ---- lookups used by the engine ----------
    def thing(self, name: str) -> Thing:
        t = self.things.get(name)
        if t is None:
            not_found(f"Thing {name} cannot be found.")
        return t

    def group(self, name: str) -> ThingGroup:
        g = self.groups.get(name)
        if g is None:
            not_found(f"Thing group {name} cannot be found.")
        return g

    def group_things(self, name: str, recursive: bool = True) -> list[str]:
        """Things in a group (and its descendants when ``recursive``), in join order."""
        seen: dict[str, None] = {}
        stack = [name]
        visited: set[str] = set()
        while stack:
            g = self.groups.get(stack.pop(0))
            if g is None or g.name in visited:
                continue
            visited.add(g.name)
            seen.update(g.members)
            if recursive:
                stack.extend(g.children)
        return list(seen)

    def ancestors(self, group: str) -> list[str]:
        """The group and its ancestors, nearest first."""
        out: list[str] = []
        g = self.groups.get(group)
        while g is not None and g.name not in out:
            out.append(g.name)
            g = self.groups.get(g.parent) if g.parent else None
        return out

    def thing_group_closure(self, thing: str) -> set[str]:
        """Every group the thing is in, directly or through a child group."""
        t = self.things.get(thing)
        out: set[str] = set()
        for g in t.groups if t else ():
            out.update(self.ancestors(g))
        return out

    # ---- things ----------
    def create_thing(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["thingName"]
        attrs = dict((p.get("attributePayload") or {}).get("attributes") or {})
        existing = self.things.get(name)
        if existing is not None:
            if existing.attributes == attrs and existing.thing_type == p.get("thingTypeName"):
                return self._thing_ref(existing)
            already_exists(
                f"Thing {name} already exists with different attributes", name, existing.arn
            )
        t = Thing(
            name=name,
            thing_id=str(uuid.uuid4()),
            arn=self.arns.thing(name),
            created=self._now(),
            attributes=attrs,
            thing_type=p.get("thingTypeName"),
        )
        self.things[name] = t
        return self._thing_ref(t)

    @staticmethod
    def _thing_ref(t: Thing) -> dict[str, Any]:
        return {"thingName": t.name, "thingArn": t.arn, "thingId": t.thing_id}

    def describe_thing(self, p: dict[str, Any]) -> dict[str, Any]:
        t = self.thing(p["thingName"])
        out: dict[str, Any] = {
            "defaultClientId": t.name,
            "thingName": t.name,
            "thingId": t.thing_id,
            "thingArn": t.arn,
            "attributes": dict(t.attributes),
            "version": t.version,
        }
        if t.thing_type:
            out["thingTypeName"] = t.thing_type
        return out

    def update_thing(self, p: dict[str, Any]) -> dict[str, Any]:
        t = self.thing(p["thingName"])
        self._check_version(t.version, p.get("expectedVersion"))
        payload = p.get("attributePayload") or {}
        if "attributes" in payload:
            new = dict(payload["attributes"] or {})
            merged = {**t.attributes, **new} if payload.get("merge") else new
            t.attributes = {k: v for k, v in merged.items() if v != ""}
        if p.get("removeThingType"):
            t.thing_type = None
        elif p.get("thingTypeName"):
            t.thing_type = p["thingTypeName"]
        t.version += 1
        self._thing_facts_changed(t)
        return {}

    @staticmethod
    def _check_version(actual: int, expected: int | None) -> None:
        if expected is not None and expected != actual:
            raise error(
                "VersionConflictException",
                f"The version for the thing is {actual}, not {expected}.",
            )

    def delete_thing(self, p: dict[str, Any]) -> dict[str, Any]:
        t = self.things.get(p["thingName"])
        if t is None:
            return {}  # AWS: success when the thing does not exist
        self._check_version(t.version, p.get("expectedVersion"))
        if t.principals:
            invalid(f"Cannot delete thing {t.name}: it still has attached principals.")
        for g in list(t.groups):
            self._remove_member(t.name, g)
        del self.things[t.name]
        if self.listener:
            self.listener.thing_deleted(t.name)
        return {}

    def list_things(self, p: dict[str, Any]) -> dict[str, Any]:
        items = list(self.things.values())
        if p.get("thingTypeName"):
            items = [t for t in items if t.thing_type == p["thingTypeName"]]
        if p.get("attributeName"):
            key, value = p["attributeName"], p.get("attributeValue")
            prefix = bool(p.get("usePrefixAttributeValue"))
            items = [
                t
                for t in items
                if key in t.attributes
                and (
                    value is None
                    or (
                        t.attributes[key].startswith(value)
                        if prefix
                        else t.attributes[key] == value
                    )
                )
            ]
        chunk, token = pagination.page(items, "ListThings", p.get("nextToken"), p.get("maxResults"))
        out: dict[str, Any] = {
            "things": [
                {
                    "thingName": t.name,
                    "thingArn": t.arn,
                    "attributes": dict(t.attributes),
                    "version": t.version,
                    **({"thingTypeName": t.thing_type} if t.thing_type else {}),
                }
                for t in chunk
            ]
        }
        if token:
            out["nextToken"] = token
        return out

    # ---- groups ----------
    def create_thing_group(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["thingGroupName"]
        props = p.get("thingGroupProperties") or {}
        parent = p.get("parentGroupName")
        existing = self.groups.get(name)
        if existing is not None:
            if existing.parent == parent:
                return self._group_ref(existing)
            already_exists(f"Thing group {name} already exists", name, existing.arn)
        if parent is not None:
            self.group(parent)
        g = ThingGroup(
            name=name,
            group_id=str(uuid.uuid4()),
            arn=self.arns.group(name),
            created=self._now(),
            parent=parent,
            description=props.get("thingGroupDescription"),
            attributes=dict((props.get("attributePayload") or {}).get("attributes") or {}),
        )
        self.groups[name] = g
        if parent:
            self.groups[parent].children[name] = None
        return self._group_ref(g)

    @staticmethod
    def _group_ref(g: ThingGroup) -> dict[str, Any]:
        return {"thingGroupName": g.name, "thingGroupArn": g.arn, "thingGroupId": g.group_id}

    def describe_thing_group(self, p: dict[str, Any]) -> dict[str, Any]:
        g = self.group(p["thingGroupName"])
        props: dict[str, Any] = {"attributePayload": {"attributes": dict(g.attributes)}}
        if g.description is not None:
            props["thingGroupDescription"] = g.description
        meta: dict[str, Any] = {"creationDate": dt(g.created)}
        if g.parent:
            meta["parentGroupName"] = g.parent
            meta["rootToParentThingGroups"] = [
                {"groupName": n, "groupArn": self.groups[n].arn}
                for n in reversed(self.ancestors(g.parent))
            ]
        return {
            "thingGroupName": g.name,
            "thingGroupId": g.group_id,
            "thingGroupArn": g.arn,
            "version": g.version,
            "thingGroupProperties": props,
            "thingGroupMetadata": meta,
        }

    def update_thing_group(self, p: dict[str, Any]) -> dict[str, Any]:
        """Description and attributes; ``merge`` keeps the other attributes and an empty value
        removes one (API_UpdateThingGroup.html, API_AttributePayload.html)."""
        g = self.group(p["thingGroupName"])
        exp = p.get("expectedVersion")
        if exp is not None and exp != g.version:
            raise error(
                "VersionConflictException",
                f"The version for the thing group is {g.version}, not {exp}.",
            )
        props = p.get("thingGroupProperties") or {}
        if "thingGroupDescription" in props:
            g.description = props["thingGroupDescription"]
        payload = props.get("attributePayload") or {}
        if "attributes" in payload:
            new = dict(payload["attributes"] or {})
            merged = {**g.attributes, **new} if payload.get("merge") else new
            g.attributes = {k: v for k, v in merged.items() if v != ""}
        g.version += 1
        return {"version": g.version}

    def delete_thing_group(self, p: dict[str, Any]) -> dict[str, Any]:
        g = self.groups.get(p["thingGroupName"])
        if g is None:
            return {}
        exp = p.get("expectedVersion")
        if exp is not None and exp != g.version:
            raise error(
                "VersionConflictException",
                f"The version for the thing group is {g.version}, not {exp}.",
            )
        if g.children:
            invalid(f"Cannot delete thing group {g.name}: it has child groups.")
        for thing in list(g.members):
            self._remove_member(thing, g.name)
        if g.parent and g.parent in self.groups:
            self.groups[g.parent].children.pop(g.name, None)
        del self.groups[g.name]
        return {}

    def _resolve(self, p: dict[str, Any]) -> tuple[Thing, ThingGroup]:
        gname = p.get("thingGroupName") or _name_of(p.get("thingGroupArn"))
        tname = p.get("thingName") or _name_of(p.get("thingArn"))
        if not gname or not tname:
            invalid("A thing (name or ARN) and a thing group (name or ARN) are required.")
        return self.thing(tname), self.group(gname)

    def add_thing_to_thing_group(self, p: dict[str, Any]) -> dict[str, Any]:
        t, g = self._resolve(p)
        if t.name not in g.members:
            g.members[t.name] = None
            t.groups[g.name] = None
            if self.listener:
                self.listener.thing_joined_group(t.name, g.name)
            self._thing_facts_changed(t)
        return {}

    def remove_thing_from_thing_group(self, p: dict[str, Any]) -> dict[str, Any]:
        t, g = self._resolve(p)
        self._remove_member(t.name, g.name)
        return {}

    def _remove_member(self, thing: str, group: str) -> None:
        g = self.groups.get(group)
        t = self.things.get(thing)
        if g is None or thing not in g.members:
            return
        del g.members[thing]
        if t is not None:
            t.groups.pop(group, None)
            self._thing_facts_changed(t)
        if self.listener:
            self.listener.thing_left_group(thing, group)

    def list_things_in_thing_group(self, p: dict[str, Any]) -> dict[str, Any]:
        g = self.group(p["thingGroupName"])
        things = self.group_things(g.name, bool(p.get("recursive")))
        chunk, token = pagination.page(
            things, "ListThingsInThingGroup:" + g.name, p.get("nextToken"), p.get("maxResults")
        )
        return {"things": chunk, **({"nextToken": token} if token else {})}

    def list_thing_groups_for_thing(self, p: dict[str, Any]) -> dict[str, Any]:
        t = self.thing(p["thingName"])
        refs = [{"groupName": n, "groupArn": self.groups[n].arn} for n in t.groups]
        chunk, token = pagination.page(
            refs, "ListThingGroupsForThing:" + t.name, p.get("nextToken"), p.get("maxResults")
        )
        return {"thingGroups": chunk, **({"nextToken": token} if token else {})}

    def list_thing_groups(self, p: dict[str, Any]) -> dict[str, Any]:
        groups = list(self.groups.values())
        parent = p.get("parentGroup")
        if parent:
            self.group(parent)
            if p.get("recursive"):
                groups = [g for g in groups if parent in self.ancestors(g.name)[1:]]
            else:
                groups = [g for g in groups if g.parent == parent]
        elif p.get("recursive") is False:
            groups = [g for g in groups if g.parent is None]
        if p.get("namePrefixFilter"):
            groups = [g for g in groups if g.name.startswith(p["namePrefixFilter"])]
        refs = [{"groupName": g.name, "groupArn": g.arn} for g in groups]
        chunk, token = pagination.page(
            refs, "ListThingGroups", p.get("nextToken"), p.get("maxResults")
        )
        return {"thingGroups": chunk, **({"nextToken": token} if token else {})}


def _name_of(arn: str | None) -> str | None:
    if not arn:
        return None
    return arn.rsplit("/", 1)[-1] if "/" in arn else None
