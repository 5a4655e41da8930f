"""MQTT-based file delivery of the local AWS IoT, as a gateway ``ReservedTopicHandler``.

A device publishes DescribeStream / GetStream requests to
``$aws/things/T/streams/S/{describe|get}/{json|cbor}``. For each request this handler:

1. parses topic and payload (``streams_protocol``, ``streams_codec``);
2. asks the service for the stream as it is *now* (``iot`` DescribeStream), so an UpdateStream
   (which bumps ``streamVersion``) is visible to devices at once and a stale ``s`` is rejected
   with VersionMismatch. A download asks for the same stream tens of times a second per device,
   so the DescribeStream result is kept and re-used while the service's stream record is the
   same object at the same ``version`` (see ``_StreamCache``): every UpdateStream bumps the
   version, a DeleteStream/CreateStream or a state reload makes a new record, either of which
   makes the next request ask the service again;
3. gets the file bytes from S3 through ``read_blob`` (in a worker thread) -- once per stream
   version and file: the bytes are kept in a small LRU cache and concurrent first reads share
   one S3 read, so a fleet of 1,000 devices downloading the same image reads it once;
4. answers on ``.../description/<fmt>``, one ``.../data/<fmt>`` message per block, or
   ``.../rejected/<fmt>`` with AWS's error code.

``handle`` is synchronous whenever the bytes are cached (the gateway then needs no task per
request) and returns a coroutine only when S3 must be read first. Parsed request topics are
memoised too (a device uses the same few topics for a whole download). The blocks are handed to
``reply`` back to back without awaiting in between: the gateway queues them on the connection
and writes asynchronously. Data messages come from ``streams_blocks.ServedFile``, encoded once
per block and block size (only the client token differs between devices).

The hot path (``_one_block``): the request a device sends per block -- one block of a file
whose bytes are cached, in either format -- is read by position (``streams_requests``: the
token, and the rest as learnt once per distinct request tail), else decoded and read with
``one_block_request`` (no request object); then checked against the stream's current
revision, and answered with the block's pre-encoded message. Whatever it does not take (other
shapes, any doubt, any error but the stream's own) goes the general way below, the one place
requests are fully validated and rejected; the unit tests check that both answer every
request byte for byte alike.
Spec: https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery-in-devices.html
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

import cbor2

from ota_deploy.local.contracts import AwsError, BlobReader, IotService, Reply
from ota_deploy.local.reserved import streams_codec as codec
from ota_deploy.local.reserved import streams_protocol as proto
from ota_deploy.local.reserved.streams_blocks import ServedFile
from ota_deploy.local.reserved.streams_codec import Format
from ota_deploy.local.reserved.streams_protocol import StreamError, StreamsOp
from ota_deploy.local.reserved.streams_requests import OneBlockReader

log = logging.getLogger(__name__)

# (stream id, stream version, file id, stream createdAt, bucket, key, object version): a stream
# deleted and re-created under the same id (a new round) starts at version 1 again, so its
# creation time and S3 location are part of the key too.
FileKey = tuple[str, int, int, Any, str, str, Any]

# memoised request topics and streams; a memo is simply emptied when full (a device uses two
# request topics: 65,536 hold 30,000 devices' downloads; ~40 MB at most)
_MAX_TOPICS = 65_536


class _Stream:
    """A stream as DescribeStream answered it (``info``, shared: never mutated), with what
    every GetStream needs from it worked out once: its version and each file's cache key
    (a ``StreamError`` for a file without an S3 location)."""

    __slots__ = ("info", "keys", "version")

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        self.version = int(info.get("streamVersion", 1))
        self.keys: dict[int, FileKey | StreamError] = {}
        for entry in info.get("files", []):
            file_id = int(entry.get("fileId", -1))
            if file_id in self.keys:
                continue  # the first entry of an id is the one served (_file_entry)
            try:
                self.keys[file_id] = _file_key(info, entry)
            except StreamError as err:
                self.keys[file_id] = err


class _StreamCache:
    """DescribeStream results, re-used while the service says the stream is unchanged.

    The ``IotService`` contract only has ``call``; ``LocalIotService`` also offers
    ``stream_revision(stream_id)``, a number that changes with every UpdateStream and with a
    new record under the same id (DeleteStream + CreateStream, a state reload). It is read on
    every request, so an UpdateStream is seen by the very next request, as with a
    DescribeStream per request. A service without it (a test stand-in) gets a DescribeStream
    per request. Cached results are shared: callers must not mutate them.
    """

    def __init__(self, service: IotService) -> None:
        self._service = service
        self._revision: Callable[[str], int | None] | None = getattr(
            service, "stream_revision", None
        )
        self._cached: dict[str, tuple[int, _Stream]] = {}

    def info(self, stream_id: str) -> dict[str, Any]:
        """The stream's ``streamInfo`` as DescribeStream gives it now."""
        return self.stream(stream_id).info

    def stream(self, stream_id: str) -> _Stream:
        """The stream as DescribeStream gives it now; ``StreamError`` ResourceNotFound when
        there is none."""
        revision = self._revision(stream_id) if self._revision is not None else None
        hit = self._cached.get(stream_id)
        if revision is not None and hit is not None and hit[0] == revision:
            return hit[1]
        try:
            result = self._service.call("iot", "DescribeStream", {"streamId": stream_id})
        except AwsError as err:
            self._cached.pop(stream_id, None)
            if err.code == "ResourceNotFoundException":
                raise StreamError("ResourceNotFound", f"Stream {stream_id} not found") from err
            raise
        stream = _Stream(result["streamInfo"])
        if revision is not None:
            if len(self._cached) >= _MAX_TOPICS:
                self._cached.clear()
            self._cached[stream_id] = (revision, stream)
        return stream


class StreamsMqttHandler:
    """Serves DescribeStream and GetStream over MQTT from the service's streams and S3."""

    def __init__(
        self,
        service: IotService,
        read_blob: BlobReader,
        *,
        cache_files: int = 32,
        hot_path: bool = True,
    ) -> None:
        self._service = service
        self._read_blob = read_blob
        self._cache: OrderedDict[FileKey, ServedFile] = OrderedDict()
        self._cache_files = cache_files
        self._hot_path = hot_path  # False: every request the general way (tests compare)
        self._loading: dict[FileKey, asyncio.Future[ServedFile]] = {}
        self._topics: dict[str, proto.StreamsTopic | None] = {}
        self._streams = _StreamCache(service)
        self._requests = OneBlockReader()
        self.blob_reads = 0  # S3 reads made (the cache's effect is visible in tests/benchmarks)

    def handles(self, topic: str) -> bool:
        return self._topic(topic) is not None

    def _topic(self, topic: str) -> proto.StreamsTopic | None:
        """The parsed request topic, or None when it is not a file-delivery request topic."""
        try:
            return self._topics[topic]
        except KeyError:
            pass
        parsed = proto.parse_streams_topic(topic) if proto.is_streams_topic(topic) else None
        if len(self._topics) >= _MAX_TOPICS:
            self._topics.clear()
        self._topics[topic] = parsed
        return parsed

    def handle(
        self, client_id: str, topic: str, payload: bytes, reply: Reply
    ) -> Coroutine[Any, Any, None] | None:
        """Answer one request. When the file bytes are cached (every request but the first
        few of a download) everything happens right here and ``None`` is returned, which
        spares the gateway a task per block request; otherwise a coroutine that reads S3 first.
        """
        parsed = self._topic(topic) or proto.parse_streams_topic(topic)
        hot = parsed.op is StreamsOp.GET and self._hot_path
        if hot and self._one_block(parsed, payload, reply):
            return None
        token: str | None = None
        try:
            if parsed.op is StreamsOp.INVALID:
                raise StreamError("InvalidTopic", f"{topic} is not a file delivery API topic")
            try:
                doc = codec.decode(parsed.fmt, payload)
            except codec.DecodeError as err:
                raise StreamError(err.code, err.message) from err
            except ValueError as err:
                if isinstance(err, codec.BinaryMemberError):
                    with contextlib.suppress(StreamError):
                        token = proto.client_token(err.doc)
                raise StreamError("InvalidRequest", f"b (bitmap): {err}") from err
            token = proto.client_token(doc)
            info = self._streams.info(parsed.stream_id)
            if parsed.op is StreamsOp.GET:  # the hot path: one request per block or window
                request = proto.parse_get_stream(doc)
                entry = self._file_entry(info, request)
                data = self._cached(info, entry)
                if data is None:
                    return self._answer_after_load(parsed, request, token, info, [entry], reply)
                self._send_blocks(parsed, request, token, data, reply)
                return None
            entries = list(info.get("files", []))
            files = [self._cached(info, entry) for entry in entries]
            if any(data is None for data in files):
                return self._answer_after_load(parsed, None, token, info, entries, reply)
            self._answer(parsed, None, token, info, [d for d in files if d is not None], reply)
        except Exception as exc:
            self._reject(parsed, token, exc, reply)
        return None

    def _one_block(self, parsed: proto.StreamsTopic, payload: bytes, reply: Reply) -> bool:
        """The hot path (see the module docstring): True when the request was answered here,
        False (nothing sent) for the general path to decode, check and answer."""
        fmt = parsed.fmt
        known = self._requests.read(fmt, payload)  # by position (streams_requests.py)
        item: bytes | None = None
        token: str | None
        if known is not None:
            token, item, file_id, block_size, index, version = known
        else:
            try:
                if fmt is Format.CBOR:  # codec.decode's first step, with its depth cap (what
                    # it checks after that, one_block_request checks too)
                    doc = cbor2.loads(payload, max_depth=codec.MAX_CBOR_DEPTH - 1)
                else:
                    doc = codec.decode(fmt, payload)
            except Exception:  # the general path reports it (InvalidCbor, InvalidJson, ...)
                return False
            if type(doc) is not dict:
                return False
            request = proto.one_block_request(doc)
            if request is None:
                return False
            token, file_id, block_size, index, version = request
        try:
            stream = self._streams.stream(parsed.stream_id)
        except Exception as exc:  # as the general path: AWS's code, else InternalError
            self._reject(parsed, token, exc, reply)
            return True
        if version is not None and version != stream.version:
            return False  # VersionMismatch
        key = stream.keys.get(file_id)
        served = self._cache.get(key) if isinstance(key, tuple) else None
        if served is None or index * block_size >= len(served.data):
            return False  # no such file, not read yet (S3), or no such block
        self._cache.move_to_end(key)  # type: ignore[arg-type]  # (a tuple: a FileKey)
        try:
            if item is not None:
                message = served.message_with(fmt, block_size, index, item)
            else:
                message = served.message(fmt, block_size, index, token)
        except Exception as exc:  # as the general path: InternalError
            self._reject(parsed, token, exc, reply)
            return True
        reply(parsed.data_topic, message)
        return True

    async def _answer_after_load(
        self,
        parsed: proto.StreamsTopic,
        request: proto.GetStreamRequest | None,
        token: str | None,
        info: dict[str, Any],
        entries: list[dict[str, Any]],
        reply: Reply,
    ) -> None:
        try:
            files = [await self._file_bytes(info, entry) for entry in entries]
            self._answer(parsed, request, token, info, files, reply)
        except Exception as exc:
            self._reject(parsed, token, exc, reply)

    def _answer(
        self,
        parsed: proto.StreamsTopic,
        request: proto.GetStreamRequest | None,
        token: str | None,
        info: dict[str, Any],
        files: list[ServedFile],
        reply: Reply,
    ) -> None:
        version = int(info.get("streamVersion", 1))
        if request is None:
            sizes = [
                (int(entry["fileId"]), len(data))
                for entry, data in zip(info.get("files", []), files, strict=True)
            ]
            message = proto.description_message(token, version, info.get("description"), sizes)
            reply(parsed.description_topic, codec.encode(parsed.fmt, message))
            return
        self._send_blocks(parsed, request, token, files[0], reply)

    @staticmethod
    def _send_blocks(
        parsed: proto.StreamsTopic,
        request: proto.GetStreamRequest,
        token: str | None,
        served: ServedFile,
        reply: Reply,
    ) -> None:
        """One data message per selected block of the file, handed to ``reply`` in order."""
        size = request.block_size
        blocks = proto.select_blocks(request, len(served))  # may reject: before any block goes
        topic, fmt = parsed.data_topic, parsed.fmt
        for i in blocks:
            reply(topic, served.message(fmt, size, i, token))

    def _reject(
        self, parsed: proto.StreamsTopic, token: str | None, exc: Exception, reply: Reply
    ) -> None:
        if isinstance(exc, StreamError):
            code, message = exc.code, exc.message
        else:
            log.error("stream request on %s failed", parsed.data_topic, exc_info=exc)
            code, message = "InternalError", "An internal error occurred"
        reply(
            parsed.rejected_topic,
            codec.encode(parsed.fmt, proto.rejected_message(code, message, token)),
        )

    # -----------------------------------------------------------------------------------------

    @staticmethod
    def _file_entry(info: dict[str, Any], req: proto.GetStreamRequest) -> dict[str, Any]:
        """The stream's entry for the requested file (``info`` may be shared: not mutated)."""
        version = int(info.get("streamVersion", 1))
        if req.stream_version is not None and req.stream_version != version:
            raise StreamError(
                "VersionMismatch",
                f"Stream version {req.stream_version} requested, the stream is at {version}",
            )
        for entry in info.get("files", []):
            if int(entry.get("fileId", -1)) == req.file_id:
                return entry  # type: ignore[no-any-return]
        raise StreamError(
            "ResourceNotFound", f"File {req.file_id} not found in stream {info.get('streamId')}"
        )

    def _cached(self, info: dict[str, Any], entry: dict[str, Any]) -> ServedFile | None:
        key = _file_key(info, entry)
        data = self._cache.get(key)
        if data is not None:
            self._cache.move_to_end(key)
        return data

    async def _file_bytes(self, info: dict[str, Any], entry: dict[str, Any]) -> ServedFile:
        """The file's bytes: from the cache, from a read already under way, or from S3."""
        key = _file_key(info, entry)
        _, _, file_id, _, bucket, obj_key, obj_version = key
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ServedFile] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            try:
                self.blob_reads += 1
                data = await asyncio.to_thread(self._read_blob, bucket, obj_key, obj_version)
            except KeyError as err:
                raise StreamError(
                    "ResourceNotFound", f"s3://{bucket}/{obj_key} of file {file_id} does not exist"
                ) from err
            served = self._cache[key] = ServedFile(file_id, data)
            while len(self._cache) > self._cache_files:
                self._cache.popitem(last=False)
            future.set_result(served)
            return served
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it themselves
            raise
        finally:
            del self._loading[key]


def _file_key(info: dict[str, Any], entry: dict[str, Any]) -> FileKey:
    location = entry.get("s3Location") or {}
    bucket, obj_key = location.get("bucket"), location.get("key")
    if not bucket or not obj_key:
        raise StreamError("ResourceNotFound", f"File {entry.get('fileId')} has no S3 location")
    return (
        str(info.get("streamId")),
        int(info.get("streamVersion", 1)),
        int(entry["fileId"]),
        info.get("createdAt"),
        bucket,
        obj_key,
        location.get("version"),
    )
