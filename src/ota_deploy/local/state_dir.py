"""``--state-dir``: the local AWS IoT's records and S3 objects on disk, written through.

Data flow: ``LocalAwsIot.start`` asks ``StateDir.read`` for what was saved (opening the folder's
database, ``local.store``), resumes its clock with ``resumed_clock`` and has ``restore`` put the
records into the service and the objects into moto; ``restore`` then attaches the stores, so
from that moment every change is committed before its reply: the service commits each
operation and tick (``LocalIotService.attach_store``), the S3 front each PUT/POST/DELETE
(``LocalS3.on_change``). ``save`` (periodically and at stop) only records the virtual time;
``close`` releases the folder.

What is guaranteed, and the SQLite settings behind it: ``local.store.database``. Layout:
``local.store`` (``state.sqlite3``, ``blobs/``, ``state.lock``).

Migration: a folder written by the earlier "dump every 10 s" format (``iot-state.json`` and
``s3/index.json``) is imported once at the next start -- records, event switches, virtual time
and S3 objects -- then ``iot-state.json`` is renamed ``iot-state.json.migrated`` (``s3/`` is
left as it was; nothing reads it any more). A crash during the import leaves the JSON file in
place, and the next start imports it again from scratch. A JSON file that cannot be read is an
input error naming it, and is left untouched.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from ota_deploy.core.clock import ScaledClock, TimeSource
from ota_deploy.core.errors import InputError
from ota_deploy.local.s3 import LocalS3
from ota_deploy.local.store.database import Database
from ota_deploy.local.store.iot_store import IotStore
from ota_deploy.local.store.s3_store import S3Store

log = logging.getLogger(__name__)

LEGACY_STATE = "iot-state.json"
LEGACY_S3 = "s3"
MIGRATED = "iot-state.json.migrated"


class StateDir:
    """One state folder: read at start, restored into the service and S3, then written through."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: Database | None = None
        self._iot: IotStore | None = None
        self._s3: S3Store | None = None

    def read(self) -> dict[str, Any]:
        """What was saved: ``virtual_now`` (None if never), the records and meta values."""
        self.close()
        db = self._db = Database.open(self.path)
        self._iot = IotStore(db.connect())
        self._s3 = S3Store(db)
        legacy = _read_legacy(self.path / LEGACY_STATE)
        if legacy is not None:
            return {"virtual_now": legacy.get("virtual_now"), "legacy": legacy}
        try:
            records, meta = self._iot.load()
        except (ValueError, TypeError) as err:
            raise InputError(f"a saved record cannot be read: {err}", file=str(db.path)) from err
        return {"virtual_now": meta.get("virtual_now"), "records": records, "meta": meta}

    def restore(self, saved: dict[str, Any], service: Any, s3: LocalS3) -> None:
        """Put the saved records and objects back, then write every change through."""
        if self._iot is None or self._s3 is None or self._db is None:
            raise RuntimeError("StateDir.read() first")
        if "legacy" in saved:
            self._migrate(saved["legacy"], service, s3)
        else:
            try:
                service.load_state(saved["records"])
            except (ValueError, TypeError, KeyError) as err:
                raise InputError(
                    f"a saved record cannot be read: {err!r}", file=str(self._db.path)
                ) from err
            events = saved["meta"].get("events") or {}
            service.events_created = events.get("created", service.events_created)
            service.events_modified = events.get("modified", service.events_modified)
            self._s3.restore(s3)
        service.attach_store(self._iot)
        store = self._s3
        s3.on_change = lambda bucket, key: store.sync(s3, bucket, key)

    def save(self, virtual_now: float) -> None:
        """Record the virtual time (every change itself was written when it was made)."""
        if self._iot is not None:
            self._iot.save_clock(virtual_now)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        self._db = self._iot = self._s3 = None

    def _migrate(self, legacy: dict[str, Any], service: Any, s3: LocalS3) -> None:
        assert self._iot is not None and self._s3 is not None
        source = self.path / LEGACY_STATE
        try:
            if "service" in legacy:
                service.load_state(legacy["service"])
            for bucket, key, data in _legacy_objects(self.path / LEGACY_S3):
                s3.put_blob(bucket, key, data)
        except (ValueError, TypeError, KeyError, OSError) as err:
            raise InputError(f"not a saved local AWS IoT state: {err!r}", file=str(source)) from err
        self._s3.clear()
        self._s3.sync(s3, None, None)
        meta = {
            "events": {
                "switches": dict(service.records.events),
                "created": service.events_created,
                "modified": service.events_modified,
            }
        }
        now = legacy.get("virtual_now")
        self._iot.replace_all(service.records, meta, float(now) if now else service.clock.now())
        source.rename(self.path / MIGRATED)
        log.warning("imported %s into the state database (and renamed it %s)", source, MIGRATED)


def _read_legacy(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        loaded = json.loads(path.read_text(), object_hook=_decode)
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(f"not a saved local AWS IoT state: {err}", file=str(path)) from err
    if not isinstance(loaded, dict):
        raise InputError("not a saved local AWS IoT state", file=str(path))
    return loaded


def _decode(obj: dict[str, Any]) -> Any:
    """The earlier format's tags for datetimes and bytes."""
    if len(obj) == 1:
        if "__datetime__" in obj:
            return datetime.fromisoformat(obj["__datetime__"])
        if "__bytes__" in obj:
            return base64.b64decode(obj["__bytes__"])
    return obj


def _legacy_objects(folder: Path) -> list[tuple[str, str, bytes]]:
    index = folder / "index.json"
    if not index.exists():
        return []
    entries = json.loads(index.read_text())
    return [(e["bucket"], e["key"], (folder / e["file"]).read_bytes()) for e in entries]


def resumed_clock(clock: TimeSource, virtual_now: Any) -> TimeSource:
    """``clock``, or a ScaledClock at its scale that goes on from the saved virtual time when
    that is ahead of it (a --time-scale run saved it): restored timers and timestamps stay
    coherent instead of jumping back."""
    if isinstance(virtual_now, int | float) and virtual_now > clock.now():
        return ScaledClock(clock.scale, start=float(virtual_now))
    return clock
