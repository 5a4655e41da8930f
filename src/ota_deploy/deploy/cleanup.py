"""Removing what runs left behind: from a journal (``ota-deploy cleanup``, and a run's own end
with cleanUpCfg), and by id (cleanUpCfg's leftover scan before round 1).

From a journal (``clean_journal``): every record still open (an intent or a created resource)
is resolved by looking it up, in an order that frees what others use first::

    jobs (DeleteJob force on all, then wait for each) -> streams -> thing groups
        -> S3 objects -> S3 buckets (last: only once the run's own objects are out)

What exists is removed and marked ``removed``; what does not is marked ``absent`` (an intent
that never came to be, or already gone). Each mark is written as soon as it is known, so an
interrupted cleanup can simply be run again. Thing groups: one without ota-deploy's mark (a fill
that stopped, see ``deploy.targets``) is removed; a marked one is the reusable target group and
stays (``kept``) unless ``groups`` asks for it (``cleanup --groups``). S3 buckets: only a bucket
the run created (the journal says so) is removed, and only if nothing else is in it once the
run's own objects are out; one holding objects the run did not put there stays, and the summary
says so. A bucket the run found is never in the journal.

By id (``remove_leftovers``): jobs and streams whose ids match this run's rounds
(``RoundIds``: ``<jobId>-<n>`` for n in 1..rounds, or the one reused id), found with ListJobs /
ListStreams (250 a page): the work is the account's pages, never the number of planned rounds.

The AWS target of ``clean_from_journal`` is each run's region and profile through the standard
chain; the standard endpoint variables (``AWS_ENDPOINT_URL_IOT`` ...) point it at a local AWS
IoT. A journal of a ``--local`` run whose embedded AWS IoT ended with it has nothing left to
remove, unless those variables point at a running one.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.retry import open_clients
from ota_deploy.aws.s3_ops import S3Ops
from ota_deploy.aws.session import AwsClients, AwsTarget
from ota_deploy.core.clock import SystemClock, TimeSource
from ota_deploy.core.errors import AwsServiceError, InputError
from ota_deploy.deploy.journal import Journal
from ota_deploy.deploy.journal_records import HELD_STATES, JournalData, Resource, unique
from ota_deploy.deploy.targets import is_marked

log = logging.getLogger(__name__)
KEPT_GROUP = "the reusable targets of its thing list (`ota-deploy cleanup --groups` removes it)"
ORDER = {"job": 0, "stream": 1, "thing_group": 2, "thing": 3, "s3_object": 4, "s3_bucket": 5}


@dataclass
class CleanupSummary:
    journal: Path | None
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # looked up: not there (never made, gone)
    kept: list[str] = field(default_factory=list)  # left on purpose, with why
    note: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    def text(self) -> str:
        lines = [f"journal: {self.journal}"] if self.journal else []
        if self.note:
            lines.append(self.note)
        lines += [f"removed {r}" for r in self.removed]
        if self.absent:
            lines.append(
                f"{len(self.absent)} recorded resource(s) were not there (never created, or "
                f"already gone): {_few(self.absent)}"
            )
        lines += [f"kept {k}" for k in self.kept]
        lines += [f"FAILED {f}" for f in self.failed]
        if not (self.removed or self.failed or self.note or self.absent or self.kept):
            lines.append("nothing left to remove")
        return "\n".join(lines)


def clean_from_journal(
    path: Path,
    *,
    profile: str | None = None,
    region: str | None = None,
    clients: AwsClients | None = None,
    groups: bool = False,
    clock: TimeSource | None = None,
) -> CleanupSummary:
    """``ota-deploy cleanup``: every run recorded in the journal at ``path``. ``clock``: the
    command's time source (the wall clock without one): its waits and the journal's times."""
    clock = clock or SystemClock()
    try:
        journal = Journal.load(path, clock=clock)
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise InputError(f"cannot read the run journal: {err}", file=str(path)) from None
    summary = CleanupSummary(journal=path)
    for section in journal.sections:
        if not _has_work(section, groups):  # at most kept groups: say so, no AWS call
            summary.kept += [f"{_label(r)}: {KEPT_GROUP}" for r in _latest_first(section)]
            continue
        section_clients = clients
        if section_clients is None:
            if section.mode == "local" and not os.environ.get("AWS_ENDPOINT_URL_IOT"):
                summary.note = (
                    "this run used the embedded local AWS IoT, which ended with the run; "
                    "nothing remains (set AWS_ENDPOINT_URL_IOT to clean a running local AWS IoT)"
                )
                continue
            target = AwsTarget(region=region or section.region, profile=profile or section.profile)
            section_clients = open_clients(target)
        iot = IotOps(section_clients.iot, clock=clock)
        s3 = S3Ops(section_clients.s3, region or section.region, clock=clock)
        clean_journal(journal, iot, s3, groups=groups, section=section, summary=summary)
    journal.flush()
    return summary


def clean_journal(
    journal: Journal,
    iot: IotOps,
    s3: S3Ops,
    *,
    groups: bool = False,
    section: JournalData | None = None,
    summary: CleanupSummary | None = None,
) -> CleanupSummary:
    """Resolve and remove the open records of one run (``section``, default the journal's
    current run); with ``groups`` also its kept target groups. See the module docstring."""
    data = section or journal.data
    summary = summary or CleanupSummary(journal=journal.path)
    pending = _latest_first(data)
    pending.sort(key=lambda r: ORDER.get(r.kind, 9))
    _clean_jobs(summary, journal, iot, [r for r in pending if r.kind == "job"])
    for res in pending:
        if res.kind == "stream":
            _attempt(summary, journal, res, partial(iot.delete_stream, res.id))
        elif res.kind == "thing_group":
            _clean_group(summary, journal, iot, res, groups)
        elif res.kind == "thing":
            _attempt(summary, journal, res, partial(_delete_thing, iot, res.id))
        elif res.kind == "s3_object" and res.bucket and res.key:
            _attempt(summary, journal, res, partial(_delete_object, s3, res))
        elif res.kind == "s3_bucket":
            _clean_bucket(summary, journal, s3, res)
    return summary


# -- one kind at a time ---------------------------------------------------------------------
def _clean_jobs(
    summary: CleanupSummary, journal: Journal, iot: IotOps, jobs: list[Resource]
) -> None:
    """Start every deletion first (they run in parallel on AWS's side), then wait for each."""
    started: list[tuple[Resource, bool]] = []
    for res in jobs:
        try:
            started.append((res, iot.delete_job(res.id, force=True)))
        except AwsServiceError as err:
            _failed(summary, res, err)
    for res, existed in started:
        try:
            if existed:
                iot.wait_job_gone(res.id)
        except AwsServiceError as err:
            _failed(summary, res, err)
            continue
        _record(summary, journal, res, existed)


def _attempt(
    summary: CleanupSummary, journal: Journal, res: Resource, action: Callable[[], bool]
) -> None:
    """Run ``action`` (True: it existed and is now gone; False: it was not there) and record
    the outcome."""
    try:
        existed = action()
    except AwsServiceError as err:
        _failed(summary, res, err)
        return
    _record(summary, journal, res, existed)


def _record(summary: CleanupSummary, journal: Journal, res: Resource, existed: bool) -> None:
    if existed:
        journal.removed(res.kind, res.id)
        summary.removed.append(_label(res))
    elif res.state == "kept":
        journal.removed(res.kind, res.id)  # it was there once: gone now
        summary.absent.append(_label(res))
    else:
        journal.absent(res.kind, res.id)
        summary.absent.append(_label(res))


def _failed(summary: CleanupSummary, res: Resource, err: AwsServiceError) -> None:
    summary.failed.append(_label(res))
    log.error("cleanup of %s failed: %s", _label(res), err)


def _clean_group(
    summary: CleanupSummary, journal: Journal, iot: IotOps, res: Resource, groups: bool
) -> None:
    if res.state == "kept" and not groups:
        summary.kept.append(f"{_label(res)}: {KEPT_GROUP}")
        return
    try:
        found = iot.describe_thing_group(res.id)
        if found is not None and is_marked(found) and not groups:
            if res.state != "kept":
                journal.kept(res.kind, res.id)
            summary.kept.append(f"{_label(res)}: {KEPT_GROUP}")
            return
        if found is not None:
            iot.delete_thing_group(res.id)
    except AwsServiceError as err:
        _failed(summary, res, err)
        return
    _record(summary, journal, res, found is not None)


def _clean_bucket(summary: CleanupSummary, journal: Journal, s3: S3Ops, res: Resource) -> None:
    """A bucket the run created: removed only when nothing else is in it (the run's own
    objects went before it)."""
    try:
        keys = s3.keys(res.id)
        if keys:
            summary.kept.append(
                f"{_label(res)}: it holds {len(keys)}{'+' if len(keys) >= 1000 else ''} "
                "object(s) this run did not put there"
            )
            return
        existed = keys is not None and s3.delete_bucket(res.id)
    except AwsServiceError as err:
        _failed(summary, res, err)
        return
    _record(summary, journal, res, existed)


def _delete_object(s3: S3Ops, res: Resource) -> bool:
    """DeleteObject answers the same whether the object was there or not: look first."""
    assert res.bucket is not None and res.key is not None
    if s3.object_size(res.bucket, res.key) is None:
        return False
    s3.delete_object(res.bucket, res.key)
    return True


def _delete_thing(iot: IotOps, name: str) -> bool:
    try:
        iot.call("DeleteThing", thingName=name)
    except AwsServiceError as err:
        if err.code == "ResourceNotFoundException":
            return False
        raise
    return True


def _label(res: Resource) -> str:
    return f"{res.kind} {res.id}"


def _latest_first(data: JournalData) -> list[Resource]:
    """The latest record of each resource that may exist (open or kept), newest first."""
    return list(unique(data, HELD_STATES))


def _has_work(data: JournalData, groups: bool) -> bool:
    """Something to remove: an open record, or (``groups``) a kept group."""
    return any(r.state != "kept" or groups for r in _latest_first(data))


def _few(labels: Sequence[str], shown: int = 5) -> str:
    head = ", ".join(labels[:shown])
    return head + (f" and {len(labels) - shown} more" if len(labels) > shown else "")


# -- leftovers by id (cleanUpCfg before round 1) --------------------------------------------
@dataclass(frozen=True)
class RoundIds:
    """The ids a run's rounds use, as a rule: ``prefix`` + round number (1..rounds), or the
    one id ``prefix`` itself when every round reuses it."""

    prefix: str
    numbered: bool
    rounds: int

    def matches(self, ident: str) -> bool:
        if not self.numbered:
            return ident == self.prefix
        rest = ident[len(self.prefix) :] if ident.startswith(self.prefix) else ""
        return rest.isdigit() and rest[0] != "0" and 1 <= int(rest) <= self.rounds

    @classmethod
    def of(cls, id_for: Callable[[int], str | None], rounds: int) -> RoundIds | None:
        """The rule behind ``id_for(n)`` (round n's id), read off rounds 1, 2 and the last;
        None when there is no id (no stream) or the ids follow no such rule."""
        first = id_for(1)
        if not first:
            return None
        if rounds == 1 or id_for(2) == first:
            same = rounds == 1 or id_for(rounds) == first
            return cls(first, False, rounds) if same else None
        match = re.fullmatch(r"(.*\D)1", first)
        if match is None:
            return None
        rule = cls(match.group(1), True, rounds)
        if id_for(2) != f"{rule.prefix}2" or id_for(rounds) != f"{rule.prefix}{rounds}":
            return None
        return rule


def remove_leftovers(iot: IotOps, jobs: RoundIds | None, streams: RoundIds | None) -> list[str]:
    """cleanUpCfg before round 1: jobs and streams with this run's ids left by an earlier run
    are removed (jobs: force-delete all, then wait until each id is free). Returns what was
    removed, as "job ID" / "stream ID" labels."""
    removed: list[str] = []
    leftover_jobs = [j for j in iot.list_job_ids() if jobs is not None and jobs.matches(j)]
    for job_id in leftover_jobs:
        log.info("removing leftover job %s", job_id)
        iot.delete_job(job_id, force=True)
    for job_id in leftover_jobs:
        iot.wait_job_gone(job_id)
        removed.append(f"job {job_id}")
    if streams is not None:
        for stream_id in iot.list_stream_ids():
            if streams.matches(stream_id) and iot.delete_stream(stream_id):
                log.info("removed leftover stream %s", stream_id)
                removed.append(f"stream {stream_id}")
    return removed
