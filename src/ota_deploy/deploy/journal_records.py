"""The journal's vocabulary: what a record says, shared by the log writer and the log reader.

Data flow: ``deploy.journal.Journal`` (writing) and ``deploy.journal_replay`` (reading back)
both build and resolve ``Resource`` records inside a run's ``JournalData`` section with the
same rules (``apply_intent``, ``apply_created``, ``apply_kept``, ``settle_all``), and turn them
into log lines with ``header`` / ``event``; ``unique`` is the one place where "the latest record
of each resource" is chosen, so a run that is writing and a ``cleanup`` that is reading agree
on what is open.

Why its own module: the writer (``journal``), the reader (``journal_replay``) and the summary
(``journal_summary``) each need these and none of the others' machinery.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["s3_object", "s3_bucket", "stream", "job", "thing_group", "thing"]
State = Literal["intended", "created", "kept", "removed", "absent"]
OPEN_STATES: frozenset[str] = frozenset({"intended", "created"})
HELD_STATES: frozenset[str] = OPEN_STATES | {"kept"}  # may exist: open, or left on purpose

LOG_NAME = "journal.jsonl"
JOURNAL_NAME = "journal.json"  # the readable summary (and the whole journal of older runs)
FORMAT = 2
RESOLVED_KEPT = 100  # resolved resources kept in memory and in the summary (the log has all)


@dataclass
class Resource:
    kind: Kind
    id: str  # job id, stream id, group name, bucket name, or "bucket/key"
    created: float  # when the intent was recorded (a journal of format 1: the creation)
    removed: float | None = None  # when it was found gone: removed, or never made
    bucket: str | None = None  # s3_object
    key: str | None = None  # s3_object
    state: State = "created"
    run: str | None = None  # the marker of the run that recorded it
    adopted: bool = False  # found by a lookup after its create's reply was lost

    @property
    def present(self) -> bool:
        """May exist and is the run's to remove (an open intent, or created)."""
        return self.state in OPEN_STATES


@dataclass
class JournalData:
    """One run's section of the journal: where it ran, and its resources in order.

    ``resources`` holds the ones still open or kept; a resolved one (removed, absent) moves to
    ``resolved``, which keeps only the latest ``RESOLVED_KEPT``: memory and the summary stay
    the size of what is live, however many rounds ran (the log has everything)."""

    version: int = FORMAT
    started: float = 0.0
    mode: str = "aws"
    region: str = "us-east-1"
    profile: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    config: str | None = None
    run: str = ""
    resources: list[Resource] = field(default_factory=list)
    resolved: list[Resource] = field(default_factory=list)
    resolved_total: int = 0

    def settle(self, res: Resource) -> None:
        """``res`` (one of ``resources``) is resolved: move it to ``resolved``."""
        with contextlib.suppress(ValueError):
            self.resources.remove(res)
        self.resolved.append(res)
        self.resolved_total += 1
        if len(self.resolved) > RESOLVED_KEPT:
            del self.resolved[: len(self.resolved) - RESOLVED_KEPT]


def new_marker(now: float) -> str:
    """A run's marker: unique per run, short enough to read in a log (``now``: the run's
    time when it starts)."""
    return f"{time.strftime('%Y%m%dT%H%M%S', time.localtime(now))}-{uuid.uuid4().hex[:8]}"


def run_fields(data: JournalData) -> dict[str, Any]:
    """Where and how the run ran: its log header and its summary both start with these."""
    return {
        "run": data.run,
        "started": data.started,
        "mode": data.mode,
        "region": data.region,
        "profile": data.profile,
        "endpoints": data.endpoints,
        "config": data.config,
    }


def header(data: JournalData) -> dict[str, Any]:
    """A run's header line in the log."""
    return {"journal": FORMAT, **run_fields(data)}


def event(op: str, res: Resource, at: float, *, adopted: bool = False) -> dict[str, Any]:
    record: dict[str, Any] = {"op": op, "at": at, "kind": res.kind, "id": res.id, "run": res.run}
    if res.bucket is not None:
        record["bucket"] = res.bucket
        record["key"] = res.key
    if adopted:
        record["adopted"] = True
    return record


def latest(data: JournalData, kind: Kind, ident: str, states: frozenset[str]) -> Resource | None:
    """The latest record of ``kind`` ``ident`` in ``data`` whose state is in ``states``."""
    for res in reversed(data.resources):
        if res.kind == kind and res.id == ident and res.state in states:
            return res
    return None


def apply_intent(
    data: JournalData,
    kind: Kind,
    ident: str,
    at: float,
    *,
    bucket: str | None = None,
    key: str | None = None,
) -> Resource:
    """The run is about to create ``kind`` ``ident``: a new open intent."""
    res = Resource(kind, ident, at, bucket=bucket, key=key, state="intended", run=data.run)
    data.resources.append(res)
    return res


def apply_created(
    data: JournalData,
    kind: Kind,
    ident: str,
    at: float,
    *,
    bucket: str | None = None,
    key: str | None = None,
    adopted: bool = False,
) -> Resource:
    """It exists: the latest open intent for it becomes created; without one (or when the
    latest open record is already created: made again) a new created record."""
    res = latest(data, kind, ident, OPEN_STATES)
    if res is None or res.state != "intended":
        res = Resource(kind, ident, at, bucket=bucket, key=key, run=data.run)
        data.resources.append(res)
    res.state = "created"
    res.adopted = adopted
    return res


def apply_kept(
    data: JournalData,
    kind: Kind,
    ident: str,
    at: float,
    *,
    bucket: str | None = None,
    key: str | None = None,
) -> Resource:
    """It exists and stays on purpose: its latest open or kept record becomes kept; without
    one, a new kept record."""
    res = latest(data, kind, ident, HELD_STATES)
    if res is None:
        res = Resource(kind, ident, at, bucket=bucket, key=key, run=data.run)
        data.resources.append(res)
    res.state = "kept"
    return res


def settle_all(
    sections: list[JournalData], kind: Kind, ident: str, state: State, at: float
) -> Resource | None:
    """Resolve every open or kept record of ``kind`` ``ident`` as ``state`` (a kept one is
    never "absent": it was there); the last one touched, or None."""
    touched: Resource | None = None
    for data in sections:
        for res in list(data.resources):
            if res.kind != kind or res.id != ident:
                continue
            if res.state == "kept" and state == "absent":
                continue
            res.state = state
            res.removed = at
            data.settle(res)
            touched = res
    return touched


def unique(data: JournalData, states: frozenset[str]) -> Iterator[Resource]:
    """The latest record of each resource of ``data`` whose state is in ``states``, newest
    first (the order cleanup removes them in)."""
    seen: set[tuple[str, str]] = set()
    for res in reversed(data.resources):
        if res.state in states and (res.kind, res.id) not in seen:
            seen.add((res.kind, res.id))
            yield res
