"""Removing what a run left behind, from its journal (``ota-deploy cleanup``).

Flow: ``Journal.load`` -> every resource still marked present, newest first -> remove it
(jobs: DeleteJob force + wait until gone, then streams, thing groups, S3 objects) -> mark it
removed in the journal as soon as it is gone, so an interrupted cleanup can simply be re-run.
A resource that is already gone counts as removed. The AWS target is the run's region and
profile through the standard chain; the standard endpoint variables (``AWS_ENDPOINT_URL_IOT``
...) point it at a local AWS IoT. A journal of a ``--local`` run whose embedded AWS IoT ended
with it has nothing left to remove, unless those variables point at a running one.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.retry import open_clients
from ota_deploy.aws.s3_ops import S3Ops
from ota_deploy.aws.session import AwsClients, AwsTarget
from ota_deploy.core.errors import AwsServiceError, InputError
from ota_deploy.deploy.journal import Journal, Resource

log = logging.getLogger(__name__)
ORDER = {"job": 0, "stream": 1, "thing_group": 2, "thing": 3, "s3_object": 4}


@dataclass
class CleanupSummary:
    journal: Path
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    def text(self) -> str:
        lines = [f"journal: {self.journal}"]
        if self.note:
            lines.append(self.note)
        lines += [f"removed {r}" for r in self.removed]
        lines += [f"FAILED {f}" for f in self.failed]
        if not self.removed and not self.failed and not self.note:
            lines.append("nothing left to remove")
        return "\n".join(lines)


def clean_from_journal(
    path: Path,
    *,
    profile: str | None = None,
    region: str | None = None,
    clients: AwsClients | None = None,
) -> CleanupSummary:
    try:
        journal = Journal.load(path)
    except (OSError, ValueError, TypeError) as err:
        raise InputError(f"cannot read the run journal: {err}", file=str(path)) from None
    summary = CleanupSummary(journal=path)
    pending = sorted(journal.present(), key=lambda r: ORDER.get(r.kind, 9))
    if not pending:
        return summary
    if clients is None:
        if journal.data.mode == "local" and not os.environ.get("AWS_ENDPOINT_URL_IOT"):
            summary.note = (
                "this run used the embedded local AWS IoT, which ended with the run; "
                "nothing remains (set AWS_ENDPOINT_URL_IOT to clean a running local AWS IoT)"
            )
            return summary
        target = AwsTarget(
            region=region or journal.data.region, profile=profile or journal.data.profile
        )
        clients = open_clients(target)
    iot = IotOps(clients.iot)
    s3 = S3Ops(clients.s3, region or journal.data.region)
    jobs = [r for r in pending if r.kind == "job"]
    for res in jobs:  # start every deletion first, then wait: deletions run in parallel
        _attempt(summary, res, lambda r=res: iot.delete_job(r.id, force=True), journal, final=False)
    for res in pending:
        if res.kind == "job":
            _attempt(summary, res, lambda r=res: iot.wait_job_gone(r.id), journal)
        elif res.kind == "stream":
            _attempt(summary, res, lambda r=res: iot.remove_stream(r.id), journal)
        elif res.kind == "thing_group":
            _attempt(summary, res, lambda r=res: iot.delete_thing_group(r.id), journal)
        elif res.kind == "thing":
            _attempt(summary, res, lambda r=res: iot.call("DeleteThing", thingName=r.id), journal)
        elif res.kind == "s3_object" and res.bucket and res.key:
            _attempt(
                summary, res, lambda r=res: s3.delete_object(str(r.bucket), str(r.key)), journal
            )
    return summary


def _attempt(
    summary: CleanupSummary, res: Resource, action: object, journal: Journal, final: bool = True
) -> None:
    label = f"{res.kind} {res.id}"
    if label in summary.failed:
        return
    try:
        action()  # type: ignore[operator]
    except AwsServiceError as err:
        summary.failed.append(label)
        log.error("cleanup of %s failed: %s", label, err)
        return
    if final:
        journal.removed(res.kind, res.id)
        summary.removed.append(label)
