"""The run journal: a write-ahead log of what a run means to create and what became of it.

Flow: before each create call the run records its INTENT (``Journal.intend``: kind, id, the
run's marker), appended to ``journal.jsonl`` in the run's out dir and fsync'd, so a crash right
after the create still leaves the intent on disk. Then the outcome, appended as it is known:
``created`` (AWS confirmed, or a lookup found it), ``kept`` (left on purpose: a reusable target
group), ``removed``, or ``absent`` (looked up and not there: it never came to be). Every path
(success, error, Ctrl-C, and a crash followed by ``ota-deploy cleanup``) resolves an open intent
the same way: look the resource up; remove what exists, forget what does not.

``journal.jsonl`` is JSON Lines: a header line per run (``"journal": 2``, the run's marker,
mode, region, profile, endpoint URLs, dev.ini) and one line per event. It is only ever appended
to, so a run costs one short write per event however long it lasts; a line torn by a crash is
skipped when read back. A second run into the same folder appends its own header: the earlier
run's resources stay known. ``journal.json`` beside it is a readable summary of the current run
(rewritten on each change, its resources still open plus the latest resolved ones), for people
and tools; ``cleanup`` reads the log. A pointer file (next to the dev.ini, else under
``~/.ota-deploy/``) names the latest journal so ``ota-deploy cleanup -c dev.ini`` finds it
without ``--out``. A journal written before the log existed (``journal.json`` alone) still loads.

The journal holds ids, the region, the profile name and the endpoint URLs — never credentials.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["s3_object", "s3_bucket", "stream", "job", "thing_group", "thing"]
State = Literal["intended", "created", "kept", "removed", "absent"]
OPEN_STATES: frozenset[str] = frozenset({"intended", "created"})

LOG_NAME = "journal.jsonl"
JOURNAL_NAME = "journal.json"  # the readable summary (and the whole journal of older runs)
POINTER_NAME = ".ota-deploy-last-run"
FORMAT = 2
RESOLVED_KEPT = 100  # resolved resources kept in memory and in the summary (the log has all)
FINAL_STATES: frozenset[str] = frozenset({"removed", "absent"})
SUMMARY_EVERY_SEC = 0.5  # journal.json lags the log by at most this (wall seconds)


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


class Journal:
    """The current run's section (``data``) of an append-only log at ``path`` (None: kept in
    memory only); ``earlier``: the sections of earlier runs in the same log."""

    def __init__(self, path: Path | None, data: JournalData) -> None:
        self.path = path
        self.data = data
        self.earlier: list[JournalData] = []
        self._lock = threading.Lock()
        self._line_start_checked = False
        self._dirty = False
        self._summary_at = -SUMMARY_EVERY_SEC
        self._trailing: threading.Timer | None = None  # the deferred summary write, if armed

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        out_dir: Path,
        *,
        mode: str,
        region: str,
        profile: str | None = None,
        endpoints: dict[str, str] | None = None,
        config: Path | None = None,
        now: float | None = None,
    ) -> Journal:
        """A new run's section, appended to ``out_dir/journal.jsonl`` (made if missing)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        data = JournalData(
            started=time.time() if now is None else now,
            mode=mode,
            region=region,
            profile=profile,
            endpoints=dict(endpoints or {}),
            config=str(config) if config else None,
            run=new_marker(),
        )
        journal = cls(out_dir / LOG_NAME, data)
        fresh = not journal.log_path.exists()
        journal._append(_header(data), durable=True)
        if fresh:
            _fsync_dir(out_dir)
        journal._write_summary()
        write_pointer(journal.log_path, config)
        return journal

    @classmethod
    def in_memory(cls, *, mode: str = "aws", region: str = "us-east-1") -> Journal:
        """A journal that writes nothing: the run still resolves its intents through it."""
        return cls(
            None, JournalData(started=time.time(), mode=mode, region=region, run=new_marker())
        )

    @classmethod
    def load(cls, path: Path) -> Journal:
        """The journal at ``path`` (its log, or a ``journal.json`` beside one, or a format-1
        ``journal.json``); the last run's section is ``data``, the others ``earlier``."""
        log_path = path if path.suffix == ".jsonl" else path.with_name(LOG_NAME)
        if log_path.is_file():
            sections = _replay(log_path)
            if not sections:
                raise ValueError("the journal log has no header line")
            journal = cls(log_path, sections[-1])
            journal.earlier = sections[:-1]
            return journal
        raw = json.loads(path.read_text(encoding="utf-8"))  # format 1: one JSON document
        resources = [
            Resource(
                kind=r["kind"],
                id=r["id"],
                created=r["created"],
                removed=r.get("removed"),
                bucket=r.get("bucket"),
                key=r.get("key"),
                state="created" if r.get("removed") is None else "removed",
            )
            for r in raw.pop("resources", [])
        ]
        known = {"started", "mode", "region", "profile", "endpoints", "config"}
        data = JournalData(**{k: v for k, v in raw.items() if k in known}, run=new_marker())
        data.resources = list(resources)
        for res in resources:
            if res.removed is not None:
                data.settle(res)
        journal = cls(log_path, data)
        journal._append(_header(data), durable=True)  # from now on the log is the journal
        for res in resources:
            journal._append(_event("created", res, res.created), durable=False)
            if res.removed is not None:
                journal._append(_event("removed", res, res.removed), durable=False)
        return journal

    @property
    def log_path(self) -> Path:
        assert self.path is not None
        return self.path

    @property
    def sections(self) -> list[JournalData]:
        return [*self.earlier, self.data]

    # -- recording --------------------------------------------------------------------------
    def intend(
        self,
        kind: Kind,
        ident: str,
        *,
        bucket: str | None = None,
        key: str | None = None,
        now: float | None = None,
    ) -> Resource:
        """Record that the run is about to create ``kind`` ``ident``; on disk (fsync'd) when
        this returns, before the create call goes out."""
        res = Resource(
            kind=kind,
            id=ident,
            created=time.time() if now is None else now,
            bucket=bucket,
            key=key,
            state="intended",
            run=self.data.run,
        )
        with self._lock:
            self.data.resources.append(res)
            self._append(_event("intent", res, res.created), durable=True)
            self._changed()
        return res

    def created(
        self,
        kind: Kind,
        ident: str,
        *,
        bucket: str | None = None,
        key: str | None = None,
        now: float | None = None,
        adopted: bool = False,
    ) -> Resource:
        """It exists: the open intent for it (if any) is resolved as created."""
        at = time.time() if now is None else now
        with self._lock:
            res = self._latest_open(kind, ident, self.data)
            if res is None or res.state != "intended":
                res = Resource(kind, ident, at, bucket=bucket, key=key, run=self.data.run)
                self.data.resources.append(res)
            res.state = "created"
            res.adopted = adopted
            self._append(_event("created", res, at, adopted=adopted), durable=False)
            self._changed()
        return res

    def kept(self, kind: Kind, ident: str, *, now: float | None = None) -> Resource:
        """It exists and stays on purpose (a reusable target group): ``cleanup`` removes it only
        when asked."""
        at = time.time() if now is None else now
        with self._lock:
            res = self._latest_open(kind, ident, self.data, also_kept=True)
            if res is None:
                res = Resource(kind, ident, at, run=self.data.run)
                self.data.resources.append(res)
            res.state = "kept"
            self._append(_event("kept", res, at), durable=False)
            self._changed()
        return res

    def removed(self, kind: Kind, ident: str, *, now: float | None = None) -> None:
        """It was removed (or was already gone)."""
        self._resolve(kind, ident, "removed", now)

    def absent(self, kind: Kind, ident: str, *, now: float | None = None) -> None:
        """Looked up after an intent and not there: it never came to be."""
        self._resolve(kind, ident, "absent", now)

    def _resolve(self, kind: Kind, ident: str, state: State, now: float | None) -> None:
        at = time.time() if now is None else now
        with self._lock:
            touched = _settle(self.sections, kind, ident, state, at)
            if touched is not None:
                self._append(_event(state, touched, at), durable=False)
                self._changed()

    # -- reading ----------------------------------------------------------------------------
    def present(self) -> Iterator[Resource]:
        """This run's resources that may exist and are its to remove, newest first (the order
        cleanup removes them in)."""
        yield from _unique(self.data, OPEN_STATES)

    def kept_resources(self) -> Iterator[Resource]:
        """This run's resources left on purpose (``kept``), newest first."""
        yield from _unique(self.data, frozenset({"kept"}))

    def find(self, kind: Kind, ident: str) -> Resource | None:
        """The latest record of ``kind`` ``ident`` in this run (open, kept, or among the
        latest resolved)."""
        found = [
            r
            for r in (*self.data.resources, *self.data.resolved)
            if (r.kind, r.id) == (kind, ident)
        ]
        return max(found, key=lambda r: r.created) if found else None

    # -- files ------------------------------------------------------------------------------
    @staticmethod
    def _latest_open(
        kind: Kind, ident: str, data: JournalData, *, also_kept: bool = False
    ) -> Resource | None:
        states = ("intended", "created", "kept") if also_kept else ("intended", "created")
        for res in reversed(data.resources):
            if res.kind == kind and res.id == ident and res.state in states:
                return res
        return None

    def _append(self, record: dict[str, Any], *, durable: bool) -> None:
        """One line at the end of the log; ``durable``: fsync'd before returning (intents and
        headers). Other lines are written through to the OS at once (a crash of the process
        keeps them; a power loss may cost the last of them, which a lookup recovers)."""
        if self.path is None:
            return
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if not self._line_start_checked:  # an earlier process may have died mid-line
                self._line_start_checked = True
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line
            os.write(fd, line)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def flush(self) -> None:
        """Bring ``journal.json`` up to date now (the run's end; the log never lags)."""
        with self._lock:
            if self._dirty:
                self._write_summary()

    def _changed(self) -> None:
        """The summary is rewritten at most every ``SUMMARY_EVERY_SEC`` (wall time): a round
        costs a few short log appends, not a rewrite per event. A change inside that interval
        arms one deferred write for its end, so the summary never lags the log by more (a run
        that then waits an hour on its devices still shows its job); ``flush`` ends the lag."""
        self._dirty = True
        wait = self._summary_at + SUMMARY_EVERY_SEC - time.monotonic()
        if wait <= 0:
            self._write_summary()
        elif self._trailing is None and self.path is not None:
            self._trailing = threading.Timer(wait, self._write_trailing)
            self._trailing.daemon = True
            self._trailing.start()

    def _write_trailing(self) -> None:
        with self._lock:
            self._trailing = None
            if self._dirty:
                self._write_summary()

    def _write_summary(self) -> None:
        """``journal.json``: this run's header, its open and kept resources and the latest
        resolved ones, in the order they were recorded (written aside, then renamed over:
        never half written)."""
        if self.path is None:
            return
        data = self.data
        shown = sorted([*data.resources, *data.resolved], key=lambda r: r.created)
        payload = {
            "version": data.version,
            "run": data.run,
            "started": data.started,
            "mode": data.mode,
            "region": data.region,
            "profile": data.profile,
            "endpoints": data.endpoints,
            "config": data.config,
            "log": LOG_NAME,
            "resources": [_summary_entry(r) for r in shown],
            "resolved_not_shown": data.resolved_total - len(data.resolved),
        }
        target = self.path.with_name(JOURNAL_NAME)
        tmp = target.with_name(f".{JOURNAL_NAME}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, target)
        self._dirty = False
        self._summary_at = time.monotonic()


def _summary_entry(res: Resource) -> dict[str, Any]:
    return {
        "kind": res.kind,
        "id": res.id,
        "state": res.state,
        "created": res.created,
        "removed": res.removed,
        "bucket": res.bucket,
        "key": res.key,
        "run": res.run,
        "adopted": res.adopted,
    }


def new_marker() -> str:
    """A run's marker: unique per run, short enough to read in a log."""
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


def _header(data: JournalData) -> dict[str, Any]:
    return {
        "journal": FORMAT,
        "run": data.run,
        "started": data.started,
        "mode": data.mode,
        "region": data.region,
        "profile": data.profile,
        "endpoints": data.endpoints,
        "config": data.config,
    }


def _event(op: str, res: Resource, at: float, *, adopted: bool = False) -> dict[str, Any]:
    record: dict[str, Any] = {"op": op, "at": at, "kind": res.kind, "id": res.id, "run": res.run}
    if res.bucket is not None:
        record["bucket"] = res.bucket
        record["key"] = res.key
    if adopted:
        record["adopted"] = True
    return record


def _replay(path: Path) -> list[JournalData]:
    """The sections of a log, rebuilt line by line; an unreadable line (torn by a crash) is
    skipped."""
    sections: list[JournalData] = []
    by_run: dict[str, JournalData] = {}
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            if "journal" in record:
                data = JournalData(
                    version=int(record.get("journal", FORMAT)),
                    started=float(record.get("started", 0.0)),
                    mode=str(record.get("mode", "aws")),
                    region=str(record.get("region", "us-east-1")),
                    profile=record.get("profile"),
                    endpoints=dict(record.get("endpoints") or {}),
                    config=record.get("config"),
                    run=str(record.get("run", "")),
                )
                sections.append(data)
                by_run[data.run] = data
            elif sections:
                section = by_run.get(str(record.get("run")), sections[-1])
                _apply(section, sections, record)
    return sections


def _apply(section: JournalData, sections: list[JournalData], record: dict[str, Any]) -> None:
    op, kind, ident = record.get("op"), record.get("kind"), record.get("id")
    at = float(record.get("at", 0.0))
    if not isinstance(kind, str) or not isinstance(ident, str):
        return
    if op == "intent":
        section.resources.append(
            Resource(
                kind=kind,  # type: ignore[arg-type]  # written by intend(): a Kind
                id=ident,
                created=at,
                bucket=record.get("bucket"),
                key=record.get("key"),
                state="intended",
                run=section.run,
            )
        )
    elif op in ("created", "kept"):
        states = OPEN_STATES if op == "created" else OPEN_STATES | {"kept"}
        target = None
        for res in reversed(section.resources):
            if res.kind == kind and res.id == ident and res.state in states:
                target = res
                break
        if target is None or (op == "created" and target.state != "intended"):
            target = Resource(
                kind=kind,  # type: ignore[arg-type]  # written by created()/kept(): a Kind
                id=ident,
                created=at,
                bucket=record.get("bucket"),
                key=record.get("key"),
                run=section.run,
            )
            section.resources.append(target)
        target.state = "created" if op == "created" else "kept"
        target.adopted = bool(record.get("adopted"))
    elif op in ("removed", "absent"):
        _settle(sections, kind, ident, "removed" if op == "removed" else "absent", at)  # type: ignore[arg-type]


def _settle(
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


def _unique(data: JournalData, states: frozenset[str]) -> Iterator[Resource]:
    seen: set[tuple[str, str]] = set()
    for res in reversed(data.resources):
        if res.state in states and (res.kind, res.id) not in seen:
            seen.add((res.kind, res.id))
            yield res


def _fsync_dir(folder: Path) -> None:
    """Make a new file's name durable (its directory entry), where the OS allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def ota_home() -> Path:
    return Path(os.environ.get("OTA_DEPLOY_HOME") or Path.home() / ".ota-deploy")


def pointer_path(config: Path | None) -> Path:
    """Where the latest-journal pointer lives: next to the dev.ini, else under ~/.ota-deploy."""
    if config is not None:
        return config.resolve().parent / POINTER_NAME
    return ota_home() / "last-run"


def write_pointer(journal_path: Path, config: Path | None) -> None:
    target = pointer_path(config)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(journal_path.resolve()) + "\n", encoding="utf-8")
    except OSError:
        pass  # a read-only config folder must not stop a run; --out still works for cleanup


def find_journal(*, out_dir: Path | None, config: Path | None) -> Path | None:
    """The journal named by ``--out``, else by the pointer beside ``config`` (or in home)."""
    if out_dir is not None:
        for name in (LOG_NAME, JOURNAL_NAME):
            candidate = out_dir / name
            if candidate.is_file():
                return candidate
        return None
    pointer = pointer_path(config)
    if pointer.is_file():
        candidate = Path(pointer.read_text(encoding="utf-8").strip())
        return candidate if candidate.is_file() else None
    return None
