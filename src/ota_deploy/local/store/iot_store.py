"""The local AWS IoT's records in the state database, written through one operation at a time.

Data flow: at start ``load`` reads every row back in the shape ``persistence.dump`` makes (the
service's ``load_state`` takes it). Then, after each operation or tick, the service hands
``commit`` the ``records.Changes`` it noted; ``commit`` turns them into rows and writes them in
ONE transaction, before the service replies or publishes anything:

- a touched key of a table of ``records.TABLES``: the record's compact JSON
  (``persistence.row``) is compared with a digest of what the row holds, and written only when
  it differs; a key no longer in its table deletes its row (a job's executions go with it).
  Tables are handled by name, so a table added to ``TABLES`` is durable with no change here.
- a touched (job, thing) list of runs: rows of executions no longer in it are deleted;
- an execution whose fields were assigned: its row is written (``persistence.execution_row``);
- ``meta`` values (the event configuration) are written when their digest changed, and the
  service's virtual time goes with every transaction (``--time-scale`` resumes from it).

Rows: ``records(tbl, key, data)`` one per record (a job without its executions), and
``executions(job_id, thing, number, data)`` one per execution, so a device's update rewrites one
small row and its job's row, not the job's thousands of executions.

A failed commit (disk full, I/O error) is rolled back and raises :class:`StoreError`; its
changes are kept and written with the next commit.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from ota_deploy.local.iot import persistence
from ota_deploy.local.iot.records import TABLES, Changes, Records
from ota_deploy.local.store.database import StoreError, transaction

_JOBS = "jobs"


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


class IotStore:
    """The records' rows in one connection (the event loop's; not thread-safe)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._saved: dict[tuple[str, str], bytes] = {}  # (table, key) -> digest of its row
        self._saved_meta: dict[str, bytes] = {}
        self._unsaved = Changes()  # what a failed commit could not write

    # ---- start ----------
    def load(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the records and event switches in ``persistence.dump``'s shape, the meta values:
        ``events`` with the switches and their dates, ``virtual_now``) as saved."""
        names = {t.name for t in TABLES}
        state: dict[str, Any] = {"format": persistence.FORMAT, **{n: [] for n in names}}
        jobs: dict[str, dict[str, Any]] = {}
        for tbl, key, data in self._conn.execute("SELECT tbl, key, data FROM records"):
            if tbl not in names:  # a table this version does not know: left on disk as it is
                continue
            row = json.loads(data)
            state[tbl].append(row)
            if tbl == _JOBS:
                row["executions"] = {}
                jobs[key] = row
            self._saved[(tbl, key)] = _digest(data)
        query = "SELECT job_id, thing, data FROM executions ORDER BY job_id, thing, number"
        for job_id, thing, data in self._conn.execute(query):
            job = jobs.get(job_id)
            if job is not None:
                job["executions"].setdefault(thing, []).append(json.loads(data))
        meta = {}
        for name, value in self._conn.execute("SELECT name, value FROM meta"):
            meta[name] = json.loads(value)
            self._saved_meta[name] = _digest(value)
        state["events"] = (meta.get("events") or {}).get("switches") or {}
        return state, meta

    def is_empty(self) -> bool:
        return self._conn.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None

    # ---- write-through ----------
    def commit(self, changes: Changes, records: Records, meta: dict[str, Any], now: float) -> bool:
        """Write what ``changes`` says may differ from the rows; True when anything was."""
        pending = self._unsaved
        pending.merge(changes)
        puts: list[tuple[str, str, str]] = []
        deletes: list[tuple[str, str]] = []
        self._tables(pending, records, puts, deletes)
        run_deletes = self._runs(pending, records)
        executions = self._executions(pending, records)
        metas = []
        for name, value in meta.items():
            text = json.dumps(value, sort_keys=True)
            if self._saved_meta.get(name) != _digest(text):
                metas.append((name, text))
        if not (puts or deletes or run_deletes or executions or metas):
            self._unsaved = Changes()
            return False
        metas.append(("virtual_now", json.dumps(now)))
        try:
            self._write(puts, deletes, run_deletes, executions, metas)
        except sqlite3.Error as err:
            raise StoreError(f"could not save the change: {err}") from err
        self._unsaved = Changes()
        for tbl, key, text in puts:
            self._saved[(tbl, key)] = _digest(text)
        for gone in deletes:
            self._saved.pop(gone, None)
        for name, text in metas:
            self._saved_meta[name] = _digest(text)
        return True

    def save_clock(self, now: float) -> None:
        """Record the virtual time alone (periodically and at stop)."""
        with self._transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('virtual_now', ?)",
                (json.dumps(now),),
            )

    def replace_all(self, records: Records, meta: dict[str, Any], now: float) -> None:
        """Make the rows hold exactly ``records`` and ``meta`` (a migrated folder's start)."""
        everything = Changes(
            tables={t.name: set(getattr(records, t.name)) for t in TABLES},
            executions={
                id(e): e
                for job in dict.values(records.jobs)
                for runs in dict.values(job.executions)
                for e in runs
            },
        )
        with self._transaction():
            for sql in ("DELETE FROM records", "DELETE FROM executions", "DELETE FROM meta"):
                self._conn.execute(sql)
        self._saved.clear()
        self._saved_meta.clear()
        self.commit(everything, records, meta, now)

    # ---- turning changes into rows ----------
    def _tables(
        self,
        changes: Changes,
        records: Records,
        puts: list[tuple[str, str, str]],
        deletes: list[tuple[str, str]],
    ) -> None:
        for name, keys in changes.tables.items():
            table: dict[str, Any] = getattr(records, name)
            for key in keys:
                record = dict.get(table, key)
                if record is None:
                    if (name, key) in self._saved:
                        deletes.append((name, key))
                    continue
                text = persistence.row(record)
                if self._saved.get((name, key)) != _digest(text):
                    puts.append((name, key, text))

    def _runs(self, changes: Changes, records: Records) -> list[tuple[str, str, list[int]]]:
        out = []
        for job_id, thing in changes.runs:
            job = dict.get(records.jobs, job_id)
            if job is None:  # a deleted job's rows go with its record
                continue
            if (_JOBS, job_id) not in self._saved:  # a new job: no execution rows to drop yet
                continue
            runs = dict.get(job.executions, thing) or []
            out.append((job_id, thing, [e.execution_number for e in runs]))
        return out

    @staticmethod
    def _executions(changes: Changes, records: Records) -> list[tuple[str, str, int, str]]:
        out = []
        for e in changes.executions.values():
            job = dict.get(records.jobs, e.job_id)
            runs = dict.get(job.executions, e.thing_name) if job is not None else None
            if runs and any(r is e for r in runs):  # still stored (not removed, not a stray)
                out.append(
                    (e.job_id, e.thing_name, e.execution_number, persistence.execution_row(e))
                )
        return out

    def _write(
        self,
        puts: list[tuple[str, str, str]],
        deletes: list[tuple[str, str]],
        run_deletes: list[tuple[str, str, list[int]]],
        executions: list[tuple[str, str, int, str]],
        metas: list[tuple[str, str]],
    ) -> None:
        c = self._conn
        with self._transaction():
            c.executemany("INSERT OR REPLACE INTO records (tbl, key, data) VALUES (?, ?, ?)", puts)
            c.executemany("DELETE FROM records WHERE tbl = ? AND key = ?", deletes)
            c.executemany(
                "DELETE FROM executions WHERE job_id = ?",
                [(key,) for tbl, key in deletes if tbl == _JOBS],
            )
            for job_id, thing, numbers in run_deletes:
                keep = ",".join(str(int(n)) for n in numbers)
                c.execute(
                    "DELETE FROM executions WHERE job_id = ? AND thing = ?"
                    + (f" AND number NOT IN ({keep})" if keep else ""),
                    (job_id, thing),
                )
            c.executemany(
                "INSERT OR REPLACE INTO executions (job_id, thing, number, data) "
                "VALUES (?, ?, ?, ?)",
                executions,
            )
            c.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", metas)

    def _transaction(self) -> transaction:
        return transaction(self._conn)
