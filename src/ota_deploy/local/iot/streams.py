"""Streams: the file lists that MQTT-based file delivery serves (1-50 files, fileId 0-255).

References: https://docs.aws.amazon.com/iot/latest/apireference/API_CreateStream.html ,
API_UpdateStream.html (each update increments ``streamVersion``),
https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery.html
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

from ota_deploy.core.aws_model import shape
from ota_deploy.local.iot import pagination
from ota_deploy.local.iot.arns import Arns
from ota_deploy.local.iot.errors import already_exists, invalid, not_found
from ota_deploy.local.iot.records import Records, Stream
from ota_deploy.local.iot.registry import dt


def _check_files(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # 1-50 files (StreamFiles), fileId 0-255 (FileId), as botocore's iot model states them.
    max_files = int(shape("StreamFiles").max or 0)
    max_file_id = int(shape("FileId").max or 0)
    if not files:
        invalid("A stream needs at least one file.")
    if len(files) > max_files:
        invalid(f"A stream can have at most {max_files} files; got {len(files)}.")
    seen: set[int] = set()
    out = []
    for f in files:
        fid = f.get("fileId")
        if not isinstance(fid, int) or not 0 <= fid <= max_file_id:
            invalid(f"fileId must be an integer from 0 to {max_file_id}; got {fid!r}.")
        if fid in seen:
            invalid(f"Duplicate fileId {fid} in the stream's files.")
        seen.add(fid)
        loc = f.get("s3Location") or {}
        if not loc.get("bucket") or not loc.get("key"):
            invalid(f"File {fid} needs an s3Location with a bucket and a key.")
        s3 = {"bucket": loc["bucket"], "key": loc["key"]}
        if loc.get("version"):
            s3["version"] = loc["version"]
        out.append({"fileId": fid, "s3Location": s3})
    return out


class Streams:
    def __init__(self, arns: Arns, now: Callable[[], float], records: Records) -> None:
        self.arns = arns
        self._now = now
        self.streams: dict[str, Stream] = records.streams
        # stream id -> (the record stamped, its revision). A revision is a number that changes
        # whenever DescribeStream's answer may: UpdateStream, a new record under the same id
        # (delete + create, a state reload). Readers that cache stream data key on it.
        self._stamps: dict[str, tuple[Stream, int]] = {}
        self._revisions = itertools.count(1)

    def revision(self, stream_id: str) -> int | None:
        """The stream's current revision, or None when there is no such stream."""
        record = self.streams.get(stream_id)
        if record is None:
            return None
        stamp = self._stamps.get(stream_id)
        if stamp is None or stamp[0] is not record:
            stamp = (record, next(self._revisions))
            self._stamps[stream_id] = stamp
        return stamp[1]

    def get(self, stream_id: str) -> Stream:
        s = self.streams.get(stream_id)
        if s is None:
            not_found(f"Stream {stream_id} cannot be found.")
        return s

    def _ref(self, s: Stream) -> dict[str, Any]:
        out: dict[str, Any] = {
            "streamId": s.stream_id,
            "streamArn": s.arn,
            "streamVersion": s.version,
        }
        if s.description is not None:
            out["description"] = s.description
        return out

    def create_stream(self, p: dict[str, Any]) -> dict[str, Any]:
        sid = p["streamId"]
        if sid in self.streams:
            already_exists(f"Stream {sid} already exists.", sid, self.streams[sid].arn)
        files = _check_files(list(p.get("files") or []))
        now = self._now()
        s = Stream(
            stream_id=sid,
            arn=self.arns.stream(sid),
            files=files,
            created=now,
            updated=now,
            description=p.get("description"),
            role_arn=p.get("roleArn"),
        )
        self.streams[sid] = s
        return self._ref(s)

    def describe_stream(self, p: dict[str, Any]) -> dict[str, Any]:
        s = self.get(p["streamId"])
        info: dict[str, Any] = {
            **self._ref(s),
            "files": copy.deepcopy(s.files),  # s3Location too: callers never alias the record
            "createdAt": dt(s.created),
            "lastUpdatedAt": dt(s.updated),
        }
        if s.role_arn:
            info["roleArn"] = s.role_arn
        return {"streamInfo": info}

    def update_stream(self, p: dict[str, Any]) -> dict[str, Any]:
        s = self.get(p["streamId"])
        if "files" in p and p["files"] is not None:
            s.files = _check_files(list(p["files"]))
        if "description" in p:
            s.description = p["description"]
        if p.get("roleArn"):
            s.role_arn = p["roleArn"]
        s.version += 1
        s.updated = self._now()
        self._stamps.pop(s.stream_id, None)
        return self._ref(s)

    def list_streams(self, p: dict[str, Any]) -> dict[str, Any]:
        items = sorted(
            self.streams.values(), key=lambda s: s.created, reverse=not p.get("ascendingOrder")
        )
        chunk, token = pagination.page(
            items, "ListStreams", p.get("nextToken"), p.get("maxResults")
        )
        return {"streams": [self._ref(s) for s in chunk], **({"nextToken": token} if token else {})}

    def delete_stream(self, p: dict[str, Any]) -> dict[str, Any]:
        self.get(p["streamId"])
        del self.streams[p["streamId"]]
        self._stamps.pop(p["streamId"], None)
        return {}
