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

This module is the writer (opening a run's section, recording, the log appends). The pieces it
shares or hands off each have a module of their own: the records and their rules
(``journal_records``), reading a log back (``journal_replay``), ``journal.json``
(``journal_summary``) and the pointer (``journal_pointer``).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ota_deploy.deploy.journal_pointer import write_pointer
from ota_deploy.deploy.journal_records import (
    LOG_NAME,
    OPEN_STATES,
    JournalData,
    Kind,
    Resource,
    State,
    event,
    header,
    new_marker,
    settle_all,
    unique,
)
from ota_deploy.deploy.journal_replay import format1_data, replay
from ota_deploy.deploy.journal_summary import SummaryFile

__all__ = ["LOG_NAME", "Journal", "JournalData", "Kind", "Resource"]


class Journal:
    """The current run's section (``data``) of an append-only log at ``path`` (None: kept in
    memory only); ``earlier``: the sections of earlier runs in the same log."""

    def __init__(self, path: Path | None, data: JournalData) -> None:
        self.path = path
        self.data = data
        self.earlier: list[JournalData] = []
        self._lock = threading.Lock()
        self._line_start_checked = False
        self.summary = SummaryFile(path, data, self._lock)  # journal.json

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
        journal._append(header(data), durable=True)
        if fresh:
            _fsync_dir(out_dir)
        journal.summary.write()
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
            sections = replay(log_path)
            if not sections:
                raise ValueError("the journal log has no header line")
            journal = cls(log_path, sections[-1])
            journal.earlier = sections[:-1]
            return journal
        raw = json.loads(path.read_text(encoding="utf-8"))  # format 1: one JSON document
        data, resources = format1_data(raw)
        journal = cls(log_path, data)
        journal._append(header(data), durable=True)  # from now on the log is the journal
        for res in resources:
            journal._append(event("created", res, res.created), durable=False)
            if res.removed is not None:
                journal._append(event("removed", res, res.removed), durable=False)
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
            self._append(event("intent", res, res.created), durable=True)
            self.summary.changed()
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
            self._append(event("created", res, at, adopted=adopted), durable=False)
            self.summary.changed()
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
            self._append(event("kept", res, at), durable=False)
            self.summary.changed()
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
            touched = settle_all(self.sections, kind, ident, state, at)
            if touched is not None:
                self._append(event(state, touched, at), durable=False)
                self.summary.changed()

    # -- reading ----------------------------------------------------------------------------
    def present(self) -> Iterator[Resource]:
        """This run's resources that may exist and are its to remove, newest first (the order
        cleanup removes them in)."""
        yield from unique(self.data, OPEN_STATES)

    def kept_resources(self) -> Iterator[Resource]:
        """This run's resources left on purpose (``kept``), newest first."""
        yield from unique(self.data, frozenset({"kept"}))

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
        self.summary.flush()


def _fsync_dir(folder: Path) -> None:
    """Make a new file's name durable (its directory entry), where the OS allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
