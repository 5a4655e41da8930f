"""The state folder's SQLite database: where it lives, its settings, its schema, one server per
folder.

Data flow: ``Database.open(folder)`` takes the folder's lock, opens (or creates)
``state.sqlite3`` and hands out connections (``connect``): one for the local AWS IoT's records
(the event loop's thread) and one for the local S3 (werkzeug's request threads, behind a lock).

Settings, and why (https://www.sqlite.org/pragma.html#pragma_synchronous,
https://www.sqlite.org/wal.html):

- ``journal_mode=WAL``: a commit appends its pages to ``state.sqlite3-wal``; a transaction cut
  short by the process's death is simply absent at the next open (no torn record), and a
  reader never blocks the writer.
- ``synchronous=NORMAL``: COMMIT returns once the transaction is written (``write(2)``) to the
  WAL; the fsync happens only at checkpoints. Written data sits in the kernel's page cache,
  which outlives the process, so **every committed change survives the process's death at any
  moment** (SIGKILL, a crash, the OOM killer): SQLite's page says "transactions are durable
  across application crashes regardless of the synchronous setting or journal mode". That is
  the guarantee ``local serve --state-dir`` gives. After a power loss or kernel crash the
  database stays consistent (WAL + NORMAL never corrupts it) but the last commits before the
  last checkpoint may be missing; FULL (an fsync per commit) would close that gap at the cost
  bench/bench_state_writes.py measures. OFF would also survive SIGKILL but could corrupt the
  file after a power loss, for a saving too small to matter (NORMAL already skips the fsync).
- ``busy_timeout``: the IoT and S3 connections write the same file from two threads; the one
  that finds the WAL's write lock taken waits instead of failing.
- ``wal_autocheckpoint`` stays SQLite's default (1,000 pages): the WAL is folded back into the
  database file in the background of a commit, so it stays a few MB.

``PRAGMA user_version`` holds the schema's version: a folder written by a newer version is
refused with the file's name instead of being misread.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from ota_deploy.core.errors import InputError

try:  # advisory lock: one server per folder (fcntl is POSIX; elsewhere the lock is skipped)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

DATABASE = "state.sqlite3"
LOCK = "state.lock"
BLOBS = "blobs"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
SYNCHRONOUS = "NORMAL"  # see the module docstring; bench/bench_state_writes.py compares FULL

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    tbl TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tbl, key)
);
CREATE TABLE IF NOT EXISTS executions (
    job_id TEXT NOT NULL,
    thing TEXT NOT NULL,
    number INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, thing, number)
);
CREATE TABLE IF NOT EXISTS s3_buckets (
    name TEXT PRIMARY KEY,
    region TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS s3_objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    etag TEXT NOT NULL,
    meta TEXT NOT NULL,
    data BLOB,
    file TEXT,
    PRIMARY KEY (bucket, key)
);
CREATE INDEX IF NOT EXISTS s3_objects_file ON s3_objects (file) WHERE file IS NOT NULL;
"""


class StoreError(Exception):
    """The database refused a write; the change is in memory only, for now."""


class Database:
    """One state folder's database file and lock (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / DATABASE
        self.blobs = folder / BLOBS
        self._lock_file: Any = None
        self._connections: list[sqlite3.Connection] = []

    @classmethod
    def open(cls, folder: Path) -> Database:
        """Lock ``folder`` (creating it) and make sure the schema is there."""
        db = cls(folder)
        folder.mkdir(parents=True, exist_ok=True)
        db._lock()
        try:
            conn = db.connect()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise InputError(
                    f"written by a newer ota-deploy (schema {version}, this one reads "
                    f"{SCHEMA_VERSION})",
                    file=str(db.path),
                )
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            db.close()
            raise
        return db

    def connect(self) -> sqlite3.Connection:
        """A new connection with the folder's settings (autocommit; callers BEGIN/COMMIT)."""
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        except sqlite3.DatabaseError as err:
            raise InputError(
                f"not a local AWS IoT state database: {err}", file=str(self.path)
            ) from err
        if str(mode).lower() != "wal":
            raise InputError(
                f"cannot use write-ahead logging here (got {mode})", file=str(self.path)
            )
        self._connections.append(conn)
        return conn

    def _lock(self) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            return
        handle = open(self.folder / LOCK, "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            handle.close()
            raise InputError(
                "another local AWS IoT is using this state folder", file=str(self.folder)
            ) from err
        self._lock_file = handle

    def close(self) -> None:
        """Close every connection (SQLite checkpoints the WAL) and release the lock."""
        for conn in self._connections:
            with contextlib.suppress(sqlite3.Error):  # closing is best effort
                conn.close()
        self._connections.clear()
        if self._lock_file is not None:
            self._lock_file.close()  # closing the file releases the flock
            self._lock_file = None


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class transaction:  # used like a function: ``with transaction(conn):``
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the body (or the COMMIT) raised."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            try:
                self._conn.execute("COMMIT")
                return
            except sqlite3.Error:
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
