"""The local S3's buckets and objects in the state database (moto keeps them in memory only).

Data flow: the local S3's WSGI wrapper (``local.s3``) calls ``sync(s3, bucket, key)`` after each
request that may change something (PUT, POST, DELETE) and before the reply leaves; ``sync``
reads what moto now holds for that key (or, without a key, for the whole bucket; without a
bucket, for every bucket) and makes the rows match, in one transaction. At start ``restore``
puts every saved bucket and object back into moto (with its ETag and metadata).

Layout: ``s3_buckets(name, region)``; ``s3_objects(bucket, key, etag, meta, data, file)`` where
an object up to ``INLINE_MAX`` bytes is stored in ``data`` and a larger one (firmware) in
``blobs/<sha256>`` beside the database (``file``). A blob file is written to a temporary name,
fsynced, renamed and its folder fsynced *before* the row that names it commits, so a row never
names a missing or partial file, even after a power loss; files no row names any more are
removed after the commit (and, if the process died in between, at the next start).

Thread-safety: werkzeug serves requests on several threads; one lock makes each sync's read of
moto and its write atomic, so the rows end as the last request left moto.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
from typing import Protocol

from ota_deploy.local.store.database import Database, StoreError, fsync_dir, transaction


class S3View(Protocol):
    """What the store needs of the local S3 (``local.s3.LocalS3``)."""

    def bucket_regions(self) -> dict[str, str]: ...

    def object_keys(self, bucket: str) -> list[str]: ...

    def object_state(self, bucket: str, key: str) -> tuple[str, dict[str, str]] | None: ...

    def read_blob(self, bucket: str, key: str, version_id: str | None = None) -> bytes: ...

    def restore_bucket(self, bucket: str, region: str) -> None: ...

    def restore_object(
        self, bucket: str, key: str, data: bytes, etag: str, meta: dict[str, str]
    ) -> None: ...


class S3Store:
    INLINE_MAX = 64 * 1024

    def __init__(self, db: Database) -> None:
        self._conn = db.connect()
        self._blobs = db.blobs
        self._lock = threading.Lock()
        self._buckets: dict[str, str] = {}  # saved bucket -> region
        self._objects: dict[tuple[str, str], tuple[str, str]] = {}  # -> (etag, meta json)

    # ---- start ----------
    def restore(self, s3: S3View) -> None:
        """Put every saved bucket and object back into ``s3``; drop unreferenced blob files."""
        with self._lock:
            for name, region in self._conn.execute("SELECT name, region FROM s3_buckets"):
                s3.restore_bucket(name, region)
                self._buckets[name] = region
            rows = self._conn.execute("SELECT bucket, key, etag, meta, data, file FROM s3_objects")
            for bucket, key, etag, meta, data, file in rows:
                if file is not None:
                    data = (self._blobs / file).read_bytes()
                s3.restore_object(bucket, key, bytes(data), etag, json.loads(meta))
                self._objects[(bucket, key)] = (etag, meta)
            self._collect_garbage()

    def clear(self) -> None:
        """Forget every saved bucket and object (a migrated folder starts from its import)."""
        with self._lock, transaction(self._conn):
            self._conn.execute("DELETE FROM s3_objects")
            self._conn.execute("DELETE FROM s3_buckets")
        self._buckets.clear()
        self._objects.clear()

    # ---- write-through ----------
    def sync(self, s3: S3View, bucket: str | None, key: str | None) -> None:
        """Make the rows match what ``s3`` holds for ``key`` (None: its whole bucket; bucket
        None: every bucket)."""
        with self._lock:
            regions = s3.bucket_regions()
            names = [bucket] if bucket is not None else sorted(set(regions) | set(self._buckets))
            bucket_puts: list[tuple[str, str]] = []
            bucket_deletes: list[str] = []
            puts: list[tuple[str, str, str, str, bytes | None, str | None]] = []
            deletes: list[tuple[str, str]] = []
            for name in names:
                region = regions.get(name)
                if region is None:
                    if name in self._buckets:
                        bucket_deletes.append(name)
                    deletes += [k for k in self._objects if k[0] == name]
                    continue
                if self._buckets.get(name) != region:
                    bucket_puts.append((name, region))
                if key is not None and bucket is not None:
                    keys = [key]
                else:
                    saved = [k for b, k in self._objects if b == name]
                    keys = sorted(set(s3.object_keys(name)) | set(saved))
                for k in keys:
                    self._diff(s3, name, k, puts, deletes)
            if bucket_puts or bucket_deletes or puts or deletes:
                self._write(bucket_puts, bucket_deletes, puts, deletes)

    def _diff(
        self,
        s3: S3View,
        bucket: str,
        key: str,
        puts: list[tuple[str, str, str, str, bytes | None, str | None]],
        deletes: list[tuple[str, str]],
    ) -> None:
        state = s3.object_state(bucket, key)
        saved = self._objects.get((bucket, key))
        if state is None:
            if saved is not None:
                deletes.append((bucket, key))
            return
        etag, meta = state
        meta_text = json.dumps(meta, sort_keys=True)
        if saved == (etag, meta_text):
            return
        try:
            data = s3.read_blob(bucket, key, None)
        except KeyError:  # deleted by a request running beside this one; its sync follows
            return
        puts.append(self._row(bucket, key, etag, meta_text, data))

    def _row(
        self, bucket: str, key: str, etag: str, meta: str, data: bytes
    ) -> tuple[str, str, str, str, bytes | None, str | None]:
        if len(data) <= self.INLINE_MAX:
            return (bucket, key, etag, meta, data, None)
        return (bucket, key, etag, meta, None, self._write_blob(data))

    def _write_blob(self, data: bytes) -> str:
        """``blobs/<sha256>``, complete and fsynced (see the module docstring)."""
        name = hashlib.sha256(data).hexdigest()
        path = self._blobs / name
        if path.exists():
            return name
        self._blobs.mkdir(parents=True, exist_ok=True)
        tmp = self._blobs / f"{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        fsync_dir(self._blobs)
        return name

    def _write(
        self,
        bucket_puts: list[tuple[str, str]],
        bucket_deletes: list[str],
        puts: list[tuple[str, str, str, str, bytes | None, str | None]],
        deletes: list[tuple[str, str]],
    ) -> None:
        c = self._conn
        replaced = [(b, k) for b, k, *_ in puts] + deletes
        old_files = {
            row[0]
            for b, k in replaced
            for row in c.execute("SELECT file FROM s3_objects WHERE bucket = ? AND key = ?", (b, k))
            if row[0] is not None
        }
        try:
            with transaction(c):
                c.executemany(
                    "INSERT OR REPLACE INTO s3_buckets (name, region) VALUES (?, ?)", bucket_puts
                )
                c.executemany(
                    "DELETE FROM s3_buckets WHERE name = ?", [(b,) for b in bucket_deletes]
                )
                c.executemany(
                    "INSERT OR REPLACE INTO s3_objects (bucket, key, etag, meta, data, file) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    puts,
                )
                c.executemany("DELETE FROM s3_objects WHERE bucket = ? AND key = ?", deletes)
        except sqlite3.Error as err:
            raise StoreError(f"could not save the S3 change: {err}") from err
        self._buckets.update(bucket_puts)
        for b in bucket_deletes:
            self._buckets.pop(b, None)
        for b, k, etag, meta, _, _ in puts:
            self._objects[(b, k)] = (etag, meta)
        for b, k in deletes:
            self._objects.pop((b, k), None)
        for name in old_files:
            self._drop_blob_if_unused(name)

    def _drop_blob_if_unused(self, name: str) -> None:
        used = self._conn.execute("SELECT 1 FROM s3_objects WHERE file = ? LIMIT 1", (name,))
        if used.fetchone() is None:
            with contextlib.suppress(FileNotFoundError):
                (self._blobs / name).unlink()

    def _collect_garbage(self) -> None:
        if not self._blobs.is_dir():
            return
        used = {r[0] for r in self._conn.execute("SELECT DISTINCT file FROM s3_objects")}
        for path in self._blobs.iterdir():
            if path.name not in used:
                with contextlib.suppress(OSError):
                    path.unlink()
