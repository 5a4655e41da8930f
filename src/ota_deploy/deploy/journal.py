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
Every time in it (the run's start, each event's ``at``) is the run's own clock (``clock``: the
one ``TimeSource`` of the run, virtual under ``--time-scale``), so its times and the report's
agree; ``cleanup`` records its events on its own clock, the wall clock.

A line that cannot be written (disk full, read-only ``--out``): a header or an intent raises
``core.output_error.OutputError`` -- the run creates nothing the journal does not know of; any
other event is kept in memory (the run still resolves and removes what it made), one warning
says the log lags, and a later lookup (``cleanup``) settles what the log missed.

This module is the writer (opening a run's section, recording, the log appends). The pieces it
shares or hands off each have a module of their own: the records and their rules
(``journal_records``), reading a log back (``journal_replay``), ``journal.json``
(``journal_summary``) and the pointer (``journal_pointer``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ota_deploy.core.clock import Clock
from ota_deploy.core.output_error import OutputError, reason
from ota_deploy.deploy.journal_pointer import write_pointer
from ota_deploy.deploy.journal_records import (
    LOG_NAME,
    OPEN_STATES,
    JournalData,
    Kind,
    Resource,
    State,
    apply_created,
    apply_intent,
    apply_kept,
    event,
    header,
    new_marker,
    settle_all,
    unique,
)
from ota_deploy.deploy.journal_replay import format1_data, replay
from ota_deploy.deploy.journal_summary import SummaryFile

__all__ = ["LOG_NAME", "Journal", "JournalData", "Kind", "Resource"]

log = logging.getLogger(__name__)


class Journal:
    """The current run's section (``data``) of an append-only log at ``path`` (None: kept in
    memory only); ``earlier``: the sections of earlier runs in the same log. Every event is
    stamped with ``clock``'s time."""

    def __init__(self, path: Path | None, data: JournalData, *, clock: Clock) -> None:
        self.path = path
        self.data = data
        self.clock = clock
        self.earlier: list[JournalData] = []
        self._lock = threading.Lock()
        self._line_start_checked = False
        self._lagging = False  # an event line could not be written (warned once)
        self.summary = SummaryFile(path, data, self._lock)  # journal.json

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        out_dir: Path,
        *,
        clock: Clock,
        mode: str,
        region: str,
        profile: str | None = None,
        endpoints: dict[str, str] | None = None,
        config: Path | None = None,
    ) -> Journal:
        """A new run's section, appended to ``out_dir/journal.jsonl`` (made if missing).
        ``OutputError`` when it cannot be written: the run must not create anything then."""
        now = clock.now()
        data = JournalData(
            started=now,
            mode=mode,
            region=region,
            profile=profile,
            endpoints=dict(endpoints or {}),
            config=str(config) if config else None,
            run=new_marker(now),
        )
        journal = cls(out_dir / LOG_NAME, data, clock=clock)
        fresh = False
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            fresh = not journal.log_path.exists()
            journal._write(header(data), durable=True)
        except OSError as err:
            if fresh:  # the log this call began holds nothing: it does not stay behind
                with contextlib.suppress(OSError):
                    if journal.log_path.stat().st_size == 0:
                        journal.log_path.unlink()
            raise OutputError(
                f"cannot write the run journal {journal.log_path} ({reason(err)}); "
                "nothing was created"
            ) from None
        if fresh:
            _fsync_dir(out_dir)
        journal.summary.write()
        write_pointer(journal.log_path, config)
        return journal

    @classmethod
    def in_memory(cls, *, clock: Clock, mode: str = "aws", region: str = "us-east-1") -> Journal:
        """A journal that writes nothing: the run still resolves its intents through it."""
        now = clock.now()
        data = JournalData(started=now, mode=mode, region=region, run=new_marker(now))
        return cls(None, data, clock=clock)

    @classmethod
    def load(cls, path: Path, *, clock: Clock) -> Journal:
        """The journal at ``path`` (its log, or a ``journal.json`` beside one, or a format-1
        ``journal.json``); the last run's section is ``data``, the others ``earlier``. Events
        recorded from now on (``cleanup``'s) are stamped with ``clock``'s time."""
        log_path = path if path.suffix == ".jsonl" else path.with_name(LOG_NAME)
        if log_path.is_file():
            sections = replay(log_path)
            if not sections:
                raise ValueError("the journal log has no header line")
            journal = cls(log_path, sections[-1], clock=clock)
            journal.earlier = sections[:-1]
            return journal
        raw = json.loads(path.read_text(encoding="utf-8"))  # format 1: one JSON document
        data, resources = format1_data(raw, clock.now())
        journal = cls(log_path, data, clock=clock)
        journal._write(header(data), durable=True)  # from now on the log is the journal
        for res in resources:
            journal._write(event("created", res, res.created), durable=False)
            if res.removed is not None:
                journal._write(event("removed", res, res.removed), durable=False)
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
        self, kind: Kind, ident: str, *, bucket: str | None = None, key: str | None = None
    ) -> Resource:
        """Record that the run is about to create ``kind`` ``ident``; on disk (fsync'd) when
        this returns, before the create call goes out (its ``created`` is that time). An
        intent that cannot be written raises ``OutputError``: the create must not go out."""
        with self._lock:
            at = self.clock.now()
            probe = Resource(kind, ident, at, bucket=bucket, key=key, run=self.data.run)
            try:
                self._write(event("intent", probe, at), durable=True)
            except OSError as err:
                raise OutputError(
                    f"cannot write the run journal {self.path} ({reason(err)}): {kind} {ident} "
                    "was not created, and the run creates nothing more"
                ) from None
            res = apply_intent(self.data, kind, ident, at, bucket=bucket, key=key)
            self.summary.changed()
        return res

    def created(
        self,
        kind: Kind,
        ident: str,
        *,
        bucket: str | None = None,
        key: str | None = None,
        adopted: bool = False,
    ) -> Resource:
        """It exists: the open intent for it (if any) is resolved as created."""
        with self._lock:
            at = self.clock.now()
            res = apply_created(
                self.data, kind, ident, at, bucket=bucket, key=key, adopted=adopted
            )
            self._append(event("created", res, at, adopted=adopted))
        return res

    def kept(self, kind: Kind, ident: str) -> Resource:
        """It exists and stays on purpose (a reusable target group): ``cleanup`` removes it only
        when asked."""
        with self._lock:
            at = self.clock.now()
            res = apply_kept(self.data, kind, ident, at)
            self._append(event("kept", res, at))
        return res

    def removed(self, kind: Kind, ident: str) -> None:
        """It was removed (or was already gone)."""
        self._resolve(kind, ident, "removed")

    def absent(self, kind: Kind, ident: str) -> None:
        """Looked up after an intent and not there: it never came to be."""
        self._resolve(kind, ident, "absent")

    def _resolve(self, kind: Kind, ident: str, state: State) -> None:
        with self._lock:
            at = self.clock.now()
            touched = settle_all(self.sections, kind, ident, state, at)
            if touched is not None:
                self._append(event(state, touched, at))

    # -- reading ----------------------------------------------------------------------------
    def present(self) -> Iterator[Resource]:
        """This run's resources that may exist and are its to remove, newest first (the order
        cleanup removes them in)."""
        yield from unique(self.data, OPEN_STATES)

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
    def _append(self, record: dict[str, Any]) -> None:
        """An event line that is not an intent (the caller holds the lock). One that cannot be
        written is kept in memory only: one warning says so; the run goes on (what it made,
        it still knows, resolves and removes)."""
        try:
            self._write(record, durable=False)
        except OSError as err:
            if not self._lagging:
                self._lagging = True
                log.warning(
                    "the run journal %s could not be written (%s); the run goes on, and "
                    "`ota-deploy cleanup` looks up what the log missed",
                    self.path,
                    reason(err),
                )
        self.summary.changed()

    def _write(self, record: dict[str, Any], *, durable: bool) -> None:
        """One line at the end of the log; ``durable``: fsync'd before returning (intents and
        headers). Other lines are written through to the OS at once (a crash of the process
        keeps them; a power loss may cost the last of them, which a lookup recovers)."""
        if self.path is None:
            return
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        wrote = 0
        try:
            if not self._line_start_checked:  # an earlier process may have died mid-line
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line
                self._line_start_checked = True
            wrote = os.write(fd, line)
            if wrote != len(line):  # a short write: the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            if durable:
                os.fsync(fd)
        except OSError:
            self._take_back(fd, wrote)
            raise
        finally:
            os.close(fd)

    def _take_back(self, fd: int, wrote: int) -> None:
        """A line that failed is taken off the log's end: the caller reports it as not written
        (an intent: its create does not go out), so the log must not say otherwise -- a short
        write may lack only the newline and read back as a whole intent. If the truncation
        fails too, the next line starts on a line of its own (the torn one is skipped)."""
        self._line_start_checked = False
        if wrote:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, os.fstat(fd).st_size - wrote)

    def flush(self) -> None:
        """Bring ``journal.json`` up to date now (the run's end; the log is always current
        unless it could not be written)."""
        self.summary.flush()


def _fsync_dir(folder: Path) -> None:
    """Make a new file's name durable (its directory entry), where the OS allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
