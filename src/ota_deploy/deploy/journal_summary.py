"""``journal.json``: the readable summary of the current run's journal, kept close to the log.

Data flow: every change the run records (``deploy.journal.Journal``) calls
``SummaryFile.changed``; the file is rewritten from the run's ``JournalData`` (its header, the
resources still open or kept, the latest resolved ones) at most every ``SUMMARY_EVERY_SEC``,
with one deferred write armed for the end of that interval, and ``flush`` at the run's end.
It is written aside and renamed over, so a reader never sees half of it; a write that fails
(disk full) is one warning, never the run's end (the log is the journal).

Why its own module: the log (``journal.jsonl``) is the journal and what ``cleanup`` reads; this
file is for people and tools, and its pacing (a timer thread, wall time) has nothing to do with
the write-ahead log's rules.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from ota_deploy.core.output_error import reason
from ota_deploy.deploy.journal_records import (
    JOURNAL_NAME,
    LOG_NAME,
    JournalData,
    Resource,
    run_fields,
)

log = logging.getLogger("ota_deploy.deploy.journal")

SUMMARY_EVERY_SEC = 0.5  # journal.json lags the log by at most this (wall seconds)


class SummaryFile:
    """``journal.json`` beside the log at ``log_path`` (None: nothing is written), for the
    run section ``data``; ``lock`` is the journal's, held by callers of ``changed``."""

    def __init__(self, log_path: Path | None, data: JournalData, lock: threading.Lock) -> None:
        self.log_path = log_path
        self.data = data
        self._lock = lock
        self._dirty = False
        self._written_at = -SUMMARY_EVERY_SEC
        self._trailing: threading.Timer | None = None  # the deferred write, if armed
        self._warned = False  # the file could not be written (said once)

    def changed(self) -> None:
        """The summary is rewritten at most every ``SUMMARY_EVERY_SEC`` (wall time): a round
        costs a few short log appends, not a rewrite per event. A change inside that interval
        arms one deferred write for its end, so the summary never lags the log by more (a run
        that then waits an hour on its devices still shows its job); ``flush`` ends the lag."""
        self._dirty = True
        wait = self._written_at + SUMMARY_EVERY_SEC - time.monotonic()
        if wait <= 0:
            self.write()
        elif self._trailing is None and self.log_path is not None:
            self._trailing = threading.Timer(wait, self._write_trailing)
            self._trailing.daemon = True
            self._trailing.start()

    def flush(self) -> None:
        """Bring the file up to date now (the run's end)."""
        with self._lock:
            if self._dirty:
                self.write()

    def _write_trailing(self) -> None:
        with self._lock:
            self._trailing = None
            if self._dirty:
                self.write()

    def write(self) -> None:
        """``journal.json``: this run's header, its open and kept resources and the latest
        resolved ones, in the order they were recorded (written aside, then renamed over:
        never half written)."""
        if self.log_path is None:
            return
        data = self.data
        shown = sorted([*data.resources, *data.resolved], key=lambda r: r.created)
        payload = {
            "version": data.version,
            **run_fields(data),
            "log": LOG_NAME,
            "resources": [_summary_entry(r) for r in shown],
            "resolved_not_shown": data.resolved_total - len(data.resolved),
        }
        target = self.log_path.with_name(JOURNAL_NAME)
        tmp = target.with_name(f".{JOURNAL_NAME}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, target)
        except OSError as err:  # a summary for people: never worth ending a run over
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            if not self._warned:
                self._warned = True
                log.warning("%s could not be written (%s)", target, reason(err))
        self._dirty = False
        self._written_at = time.monotonic()


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
