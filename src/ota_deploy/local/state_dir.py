"""``--state-dir``: the local AWS IoT's records and S3 objects on disk, and back at start.

Data flow: ``LocalAwsIot.start`` asks ``StateDir.read`` for what was saved (creating the
folder), resumes its clock with ``resumed_clock`` and has ``restore`` put the S3 objects and the
service's records back; ``save`` writes them (at stop and periodically).

Layout: ``iot-state.json`` holds ``{"virtual_now", "service": service.dump_state()}``
(datetimes and bytes tagged so they round-trip through JSON; the virtual time lets a
``--time-scale`` clock resume where it stopped instead of jumping back); ``s3/`` holds every
local S3 object (``s3/index.json`` lists bucket/key/file; an object is rewritten only when its
ETag changed). Files are replaced atomically.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from ota_deploy.core.clock import ScaledClock, TimeSource
from ota_deploy.core.errors import InputError
from ota_deploy.local.s3 import LocalS3

STATE_FILE = "iot-state.json"
S3_DIR = "s3"


# -- JSON with datetimes and bytes ---------------------------------------------------------
def _encode(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return {"__datetime__": obj.isoformat()}
    if isinstance(obj, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(obj)).decode()}
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"cannot persist {type(obj).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "__datetime__" in obj:
            return datetime.fromisoformat(obj["__datetime__"])
        if "__bytes__" in obj:
            return base64.b64decode(obj["__bytes__"])
    return obj


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class StateDir:
    """One state folder: read at start, restored into the service and S3, saved again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._s3_written: dict[str, str] = {}  # state file name -> etag already on disk

    def save(self, virtual_now: float, service: Any, s3: LocalS3) -> None:
        """Write the service state and every S3 object."""
        state = {"virtual_now": virtual_now, "service": service.dump_state()}
        _write_atomic(self.path / STATE_FILE, json.dumps(state, default=_encode, indent=1).encode())
        s3_dir = self.path / S3_DIR
        index = []
        written: dict[str, str] = {}
        for bucket, key, etag in s3.list_blobs_with_etags():
            name = hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()[:32] + ".bin"
            if self._s3_written.get(name) != etag or not (s3_dir / name).exists():
                _write_atomic(s3_dir / name, s3.read_blob(bucket, key, None))
            written[name] = etag
            index.append({"bucket": bucket, "key": key, "file": name})
        _write_atomic(s3_dir / "index.json", json.dumps(index).encode())
        for stale in set(self._s3_written) - set(written):
            (s3_dir / stale).unlink(missing_ok=True)
        self._s3_written = written

    def read(self) -> dict[str, Any]:
        """The saved state file's content ({} when nothing was saved yet); creates the folder."""
        self.path.mkdir(parents=True, exist_ok=True)
        state_path = self.path / STATE_FILE
        if not state_path.exists():
            return {}
        try:
            loaded = json.loads(state_path.read_text(), object_hook=_decode)
        except (ValueError, UnicodeDecodeError) as err:
            raise InputError(
                f"not a saved local AWS IoT state: {err}", file=str(state_path)
            ) from err
        if not isinstance(loaded, dict):
            raise InputError("not a saved local AWS IoT state", file=str(state_path))
        return loaded

    def restore(self, saved: dict[str, Any], service: Any, s3: LocalS3) -> None:
        """Put the saved S3 objects and the service's records back."""
        index_path = self.path / S3_DIR / "index.json"
        if index_path.exists():
            for entry in json.loads(index_path.read_text()):
                data = (self.path / S3_DIR / entry["file"]).read_bytes()
                s3.put_blob(entry["bucket"], entry["key"], data)
        if "service" in saved:
            service.load_state(saved["service"])


def resumed_clock(clock: TimeSource, virtual_now: Any) -> TimeSource:
    """``clock``, or a ScaledClock at its scale that goes on from the saved virtual time when
    that is ahead of it (a --time-scale run saved it): restored timers and timestamps stay
    coherent instead of jumping back."""
    if isinstance(virtual_now, int | float) and virtual_now > clock.now():
        return ScaledClock(clock.scale, start=float(virtual_now))
    return clock
