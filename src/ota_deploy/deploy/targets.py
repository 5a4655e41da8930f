"""A run's targets beyond 100 things: one static thing group, kept and reused while the list holds.

Flow (``TargetGroup.prepare``), for the group named after the run's job id
(``ota-deploy-<jobId>-targets``)::

    DescribeThingGroup ──► marked with this list's digest ─► reuse it: done (one call)
        │ absent                    │ other digest, or unmarked (an earlier fill stopped)
        ▼                           ▼
    journal intent ─► CreateThingGroup ─► created     journal intent ─► unmark (UpdateThingGroup)
        ▼                                                ▼
    AddThingToThingGroup × N (aws.group_ops)          ListThingsInThingGroup ─► add the missing,
        ▼                                              remove the extra (aws.group_ops)
    mark: UpdateThingGroup attributes ota-deploy-targets-sha256 / -count ─► journal "kept"

The digest is SHA-256 over the list's thing ARNs, sorted and de-duplicated: the same things in
another order are the same list. The mark goes on only once the group holds exactly the list, so
a fill cut short (an error, Ctrl-C, a crash) leaves an unmarked group, which the next run
repairs and which ``cleanup`` removes (it was never complete). A marked group stays after the
run, for the next round and the next run with the same list; ``ota-deploy cleanup --groups``
removes it (the journal records it as "kept"). A group with the run's name that ota-deploy did
not make (its description does not say ota-deploy) is never touched: the run stops with exit 3.

``--target-group ARN`` skips all of this: the user's own group is the target (``with_user_group``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any

from ota_deploy.aws.group_ops import GroupOps
from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.core.errors import AwsServiceError, InputError, excerpt
from ota_deploy.deploy.inputs import PreparedRun
from ota_deploy.deploy.journal import Journal

log = logging.getLogger(__name__)

DIGEST_ATTRIBUTE = "ota-deploy-targets-sha256"
COUNT_ATTRIBUTE = "ota-deploy-targets-count"
DESCRIPTION = "ota-deploy: the targets of a thing list, kept for the runs that use it"
OURS_PREFIX = "ota-deploy:"  # every description ota-deploy ever gave its groups starts so
# arn:PARTITION:iot:REGION:ACCOUNT:thinggroup/NAME (NAME: [a-zA-Z0-9:_-]+, 1-128 characters,
# https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThingGroup.html)
GROUP_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:iot:[a-z0-9-]+:\d{12}:thinggroup/[a-zA-Z0-9:_-]{1,128}$"
)


def list_digest(thing_arns: Sequence[str]) -> str:
    """SHA-256 of the sorted, de-duplicated thing ARNs (hex)."""
    text = "\n".join(sorted(set(thing_arns)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_marked(group: dict[str, Any] | None, digest: str | None = None) -> bool:
    """Whether a DescribeThingGroup answer carries a complete fill's mark (of ``digest``)."""
    if group is None:
        return False
    attrs = group.get("thingGroupProperties", {}).get("attributePayload", {}).get("attributes", {})
    found = attrs.get(DIGEST_ATTRIBUTE)
    return bool(found) and (digest is None or found == digest)


def is_ours(group: dict[str, Any]) -> bool:
    description = group.get("thingGroupProperties", {}).get("thingGroupDescription") or ""
    return str(description).startswith(OURS_PREFIX)


class TargetGroup:
    """Makes, repairs or reuses the run's thing group, recording it in the journal."""

    def __init__(self, iot: IotOps, journal: Journal, *, groups: GroupOps | None = None) -> None:
        self.iot = iot
        self.journal = journal
        self.groups = groups or GroupOps(iot)

    def prepare(self, name: str, thing_arns: Sequence[str]) -> str:
        """The ARN of group ``name`` holding exactly ``thing_arns``."""
        wanted = list(dict.fromkeys(thing_arns))
        digest = list_digest(wanted)
        found = self.groups.describe(name)
        if found is not None and not is_ours(found):
            raise AwsServiceError(
                f"thing group {name} exists and was not made by ota-deploy (its description "
                "does not start with 'ota-deploy:'); choose another jobId, or pass "
                "--target-group with its ARN to target it as it is",
                code="ResourceAlreadyExistsException",
                operation="CreateThingGroup",
            )
        if found is not None and is_marked(found, digest):
            log.info("thing group %s already holds these %d things: reused", name, len(wanted))
            self.journal.kept("thing_group", name)
            return str(found["thingGroupArn"])
        self.journal.intend("thing_group", name)
        if found is None:
            log.info("%d things > 100 targets: making thing group %s", len(wanted), name)
            arn = self.iot.create_thing_group(name, DESCRIPTION)
            self.journal.created("thing_group", name)
            self.groups.add_things(name, wanted, total=len(wanted))
        else:
            arn = str(found["thingGroupArn"])
            self.journal.created("thing_group", name)
            self._repair(name, wanted, marked=is_marked(found))
        self.groups.set_attributes(
            name, {DIGEST_ATTRIBUTE: digest, COUNT_ATTRIBUTE: str(len(wanted))}
        )
        self.journal.kept("thing_group", name)
        log.info(
            "thing group %s holds the %d things; kept for the next run with this list "
            "(`ota-deploy cleanup --groups` removes it)",
            name,
            len(wanted),
        )
        return arn

    def _repair(self, name: str, wanted: list[str], *, marked: bool) -> None:
        """Make an existing group hold exactly ``wanted``: unmark it first (a stop midway
        leaves it unmarked), then add what is missing and remove what is extra."""
        if marked:
            self.groups.set_attributes(name, {DIGEST_ATTRIBUTE: "", COUNT_ATTRIBUTE: ""})
        members = set(self.groups.members(name))
        by_name = {arn.rsplit("/", 1)[-1]: arn for arn in wanted}
        missing = [arn for thing, arn in by_name.items() if thing not in members]
        extra = sorted(members - set(by_name))
        log.info(
            "thing group %s: the thing list changed; adding %d, removing %d",
            name,
            len(missing),
            len(extra),
        )
        if extra:
            self.groups.remove_things(name, extra)
        if missing:
            self.groups.add_things(name, missing, total=len(missing))


def check_group_arn(arn: str, *, key: str = "--target-group") -> str:
    """A thing group ARN, or an ``InputError`` (exit 2) naming ``key``."""
    if not GROUP_ARN_RE.match(arn):
        raise InputError(
            f"{excerpt(arn)!r} is not a thing group ARN "
            "(arn:aws:iot:REGION:ACCOUNT:thinggroup/NAME)",
            key=key,
        )
    return arn


def with_user_group(prepared: PreparedRun, arn: str | None) -> PreparedRun:
    """``--target-group ARN``: the run targets the user's own group (plus the list's groups)
    instead of making one; the listed things are expected to be its members."""
    if not arn:
        return prepared
    check_group_arn(arn)
    return dataclasses.replace(prepared, target_group=None, target_group_arn=arn)
