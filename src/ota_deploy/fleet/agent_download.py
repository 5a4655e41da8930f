"""The download side of the device agent: MQTT file delivery or a presigned URL, then verify.

DescribeStream, then GetStream windows of ``blocks_per_request`` blocks whose bitmap names the
missing ones, each with a request timeout and retries
(https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery-in-devices.html);
or one HTTP GET of the presigned URL. Slow links are paced with a timer; simulated disconnects
and corrupted blocks come from the execution's ``Behaviour``. The image is verified
(``fleet.verify``) before SUCCEEDED is ever reported.

``DownloadFlow`` is driven by the agent (stream replies, HTTP results, its two timers, a
dropped link) and reports through ``DownloadHost``: progress and the terminal status go to the
Jobs side, which the agent forwards them to.
"""

from __future__ import annotations

from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from ota_deploy.core.status import ExecutionStatus
from ota_deploy.fleet import protocol as proto
from ota_deploy.fleet.agent_state import (
    MAX_DETAIL,
    PACE_TIMER,
    RECONNECT_AFTER_DROP,
    STREAM_TIMER,
    AgentServices,
    JobRun,
)
from ota_deploy.fleet.behaviour import Fault
from ota_deploy.fleet.block_messages import StreamWire
from ota_deploy.fleet.blocks import BlockAssembler, BlockError
from ota_deploy.fleet.events import DropConnection, HttpCompleted, HttpGet
from ota_deploy.fleet.phase import STREAMING, Phase
from ota_deploy.fleet.verify import verify_image

FAILED, SUCCEEDED = ExecutionStatus.FAILED, ExecutionStatus.SUCCEEDED

# Timers that wait on nothing the link carries, so a dropped link must not disarm them (else
# nothing re-arms them and the execution stays IN_PROGRESS for good): the slow-link delay after
# the last block (every block is in; verification and SUCCEEDED follow the timer) and the
# backoff before the presigned URL is tried again.
_LINK_FREE_TIMERS = {Phase.LINK_PACING: PACE_TIMER, Phase.HTTP: STREAM_TIMER}


class DownloadHost(AgentServices, Protocol):
    """What the download flow needs from the agent."""

    public_key: ec.EllipticCurvePublicKey | None

    def finish(self, status: ExecutionStatus, reason: str | None, details: dict[str, str]) -> None:
        """Decide the execution's terminal status and report it."""
        ...

    def report_progress(self, details: dict[str, str]) -> None:
        """Report IN_PROGRESS with ``details`` (one update in flight, the latest one waiting)."""
        ...


class DownloadFlow:
    """Getting the image and checking it."""

    __slots__ = (
        "_block_size",
        "_host",
        "_options",
        "_request_timeout",
        "_slow_link_bps",
        "_window_blocks",
    )

    def __init__(self, host: DownloadHost) -> None:
        self._host = host
        options = host.options
        self._options = options
        self._block_size = options.block_size
        self._window_blocks = max(
            1, min(options.blocks_per_request, proto.MAX_BYTES_PER_REQUEST // options.block_size)
        )
        self._request_timeout = options.request_timeout_sec
        self._slow_link_bps = options.slow_link_bps

    # ------------------------------------------------------------------ driven by the agent

    def start(self, job: JobRun) -> None:
        """The document is read: fetch the image from the presigned URL or the stream."""
        spec = job.spec
        assert spec is not None
        if self._options.prefer_https and spec.url_usable:
            self._start_http(job)
        elif spec.stream_id:
            job.transport = "mqtt"
            self._host.report_progress({"state": "downloading", "progress": "0%"})
            self._describe(job)
        else:
            self._host.finish(FAILED, "no download source: presigned URL not substituted", {})

    def resume(self, job: JobRun) -> None:
        """The service still holds the execution IN_PROGRESS (after a resync): go on."""
        if job.phase is Phase.DESCRIBING:
            self._describe(job)
        elif job.phase in (Phase.DOWNLOADING, Phase.PACING):
            job.enter(Phase.DOWNLOADING)
            self._request_window(job)

    @staticmethod
    def link_free_timer(job: JobRun | None) -> str | None:
        """The one timer a dropped link must leave armed in ``job``'s phase, if any."""
        return _LINK_FREE_TIMERS.get(job.phase) if job is not None else None

    @staticmethod
    def on_link_lost(job: JobRun) -> None:
        """Requests on the dropped link are void: resume re-sends what is still missing."""
        job.window = None
        job.stream_token = None

    def on_pace_timer(self, job: JobRun) -> None:
        if job.phase is Phase.PACING:
            job.enter(Phase.DOWNLOADING)
            self._request_window(job)
        elif job.phase is Phase.LINK_PACING:
            self._complete_download(job)

    def on_stream_timeout(self, job: JobRun) -> None:
        host = self._host
        if job.phase is Phase.HTTP:  # retry of a failed GET (counted in on_http)
            assert job.spec is not None and job.spec.url
            host.emit(HttpGet(job.spec.url))
            return
        if not host.connected:
            return
        job.retries += 1
        if job.retries > self._options.max_retries:
            what = "DescribeStream" if job.phase is Phase.DESCRIBING else "GetStream"
            host.finish(FAILED, f"no response to {what} after {job.retries} attempts", {})
            return
        if job.phase is Phase.DESCRIBING:
            self._describe(job)
        elif job.phase is Phase.DOWNLOADING:
            self._request_window(job)

    # ------------------------------------------------------------------ MQTT file delivery

    def _describe(self, job: JobRun) -> None:
        assert job.spec is not None and job.spec.stream_id
        job.enter(Phase.DESCRIBING)
        host = self._host
        if not host.connected:
            return
        job.stream_token = host.token()
        host.publish(
            proto.stream_topic(host.thing, job.spec.stream_id, "describe", host.protocol),
            proto.encode_stream_message({"c": job.stream_token}, host.protocol),
        )
        host.extend(STREAM_TIMER, self._options.request_timeout_sec)

    def _request_window(self, job: JobRun) -> None:
        assert job.wire is not None
        host = self._host
        if not host.connected:
            return
        request = self._window_request(job)
        if request is None:
            return
        host.publish(job.wire.get_topic, request)
        host.extend(STREAM_TIMER, self._request_timeout)

    def _window_request(self, job: JobRun) -> bytes | None:
        """The next window's GetStream payload, the job's window, token and count moved on
        (the caller publishes it on the wire's ``get_topic``); None when nothing is missing."""
        assembler, wire = job.assembler, job.wire
        assert assembler is not None and wire is not None
        nxt = assembler.next_window(self._window_blocks)
        if nxt is None:
            return None
        offset, count, bitmap = nxt
        job.window = (offset, count)
        job.stream_token = token = self._host.token()
        job.requests += 1
        return wire.encode(token, offset, count, bitmap)

    def on_data(self, topic: str, payload: bytes) -> bool:
        """The hot path: a block of the current download, in the common shape
        (``block_messages``), handled as ``on_stream_message`` would handle it. False, having
        done nothing, for any other message: the general path takes it."""
        found = self._download_block(topic, payload)
        if found is None:
            return False
        self._add_block(*found)
        return True

    def _download_block(
        self, topic: str, payload: bytes
    ) -> tuple[JobRun, BlockAssembler, int, bytes] | None:
        """The current download's block in ``payload`` -- its job, assembler, index and
        bytes -- when ``topic`` is the download's data topic and the message has the common
        shape (``block_messages``); None for anything else."""
        job = self._host.job
        if job is None:
            return None
        wire = job.wire
        if wire is None or topic != wire.data_topic or job.phase is not Phase.DOWNLOADING:
            return None
        block = wire.read(payload)
        if block is None:
            return None
        assert job.assembler is not None  # set with the wire
        return job, job.assembler, block[0], block[1]

    def next_request(self, topic: str, payload: bytes) -> tuple[str, bytes] | bool:
        """``on_data`` fused with its usual outcome, for the device's hot path.

        When the message is the block the current one-block window asks for and it changes
        nothing but the next request (not the last block, no progress report, no simulated
        drop or corruption, no pacing, the link up, the request timer armed), the state moves
        on exactly as ``on_data`` moves it and the request is returned as ``(topic, payload)``
        instead of being published: it is then the only action. Any other block goes through
        ``_add_block`` (True: its actions are with the host); False, having done nothing, for
        anything that is not a block of the download (as ``on_data``)."""
        # ``_download_block`` written out: this runs once per block of every download
        host = self._host
        job = host.job
        if job is None:
            return False
        wire = job.wire
        if wire is None or topic != wire.data_topic or job.phase is not Phase.DOWNLOADING:
            return False
        block = wire.read(payload)
        if block is None:
            return False
        assembler = job.assembler
        assert assembler is not None  # set with the wire
        index, data = block
        received = assembler.received_blocks + 1
        total = assembler.total_blocks
        drop_after = job.drop_after
        if (
            job.window != (index, 1)
            or received >= total
            or received * 100 // total >= job.next_progress
            or index == job.corrupt_index
            or (drop_after is not None and received >= drop_after)
            or self._slow_link_bps
            or not host.connected
            or not host.armed(STREAM_TIMER)
        ):
            self._add_block(job, assembler, index, data)
            return True
        try:
            if not assembler.add(index, data):
                self._add_block(job, assembler, index, data)  # a duplicate: nothing to do
                return True
        except BlockError:  # nothing was stored: the general path reports it
            self._add_block(job, assembler, index, data)
            return True
        job.retries = 0
        job.bytes_received = assembler.received_bytes
        request = self._window_request(job)  # the window is done: never None (not complete)
        assert request is not None
        host.extend(STREAM_TIMER, self._request_timeout)  # armed: moves the deadline only
        return wire.get_topic, request

    def on_stream_message(self, info: proto.TopicInfo, payload: bytes) -> None:
        job = self._host.job
        if job is None or job.spec is None or info.stream_id != job.spec.stream_id:
            return
        if job.phase not in STREAMING:
            return
        msg = proto.decode_stream_message(payload, self._host.protocol)
        if msg is None:
            return
        if info.name == "data":
            self._on_block(job, msg)
        elif info.name == "description" and job.phase is Phase.DESCRIBING:
            if msg.get("c") == job.stream_token:
                self._on_description(job, msg)
        elif info.name == "rejected" and msg.get("c") == job.stream_token:
            self._on_stream_rejected(job, msg)

    def _on_description(self, job: JobRun, msg: dict[str, Any]) -> None:
        spec = job.spec
        assert spec is not None
        host = self._host
        host.disarm(STREAM_TIMER)
        job.retries = 0
        files = msg.get("r")
        entry = None
        if isinstance(files, list):
            entry = next(
                (f for f in files if isinstance(f, dict) and f.get("f") == spec.file_id), None
            )
        if entry is None:
            host.finish(FAILED, f"stream has no file {spec.file_id}", {})
            return
        size = entry.get("z")
        if not isinstance(size, int):
            host.finish(FAILED, "DescribeStream gave no file size", {})
            return
        if spec.file_size is not None and size != spec.file_size:
            host.finish(
                FAILED,
                f"size mismatch: stream file is {size} bytes, job document says {spec.file_size}",
                {},
            )
            return
        version = msg.get("s")
        job.stream_version = version if isinstance(version, int) else None
        job.assembler = BlockAssembler(
            size, self._block_size, want_sha256=spec.signature is not None
        )
        assert spec.stream_id is not None  # a description answers a DescribeStream
        job.wire = StreamWire(
            host.thing,
            spec.stream_id,
            file_id=spec.file_id,
            block_size=self._block_size,
            stream_version=job.stream_version,
            protocol=host.protocol,
        )
        total = job.assembler.total_blocks
        job.drop_after = job.behaviour.disconnect_block(total)
        job.corrupt_index = job.behaviour.corrupt_block(total)
        job.next_progress = self._options.progress_every_pct
        job.enter(Phase.DOWNLOADING)
        job.download_started = host.clock.now()
        if total == 0:
            self._complete_download(job)
        else:
            self._request_window(job)

    def _on_stream_rejected(self, job: JobRun, msg: dict[str, Any]) -> None:
        host = self._host
        host.disarm(STREAM_TIMER)
        code, message = msg.get("o"), msg.get("m")
        max_retries = self._options.max_retries
        if code in ("InternalError", "RequestThrottled", "Throttling"):
            job.retries += 1
            if job.retries <= max_retries:
                host.arm(STREAM_TIMER, host.backoff(job.retries))
                return
        if code in ("VersionMismatch", "ETagMismatch") and job.retries < max_retries:
            job.retries += 1
            self._describe(job)  # the stream changed: learn its new version, keep the blocks
            return
        host.finish(FAILED, f"stream request rejected: {code}: {message}", {})

    def _on_block(self, job: JobRun, msg: dict[str, Any]) -> None:
        assembler, spec = job.assembler, job.spec
        if assembler is None or spec is None or msg.get("f") != spec.file_id:
            return
        index, data = msg.get("i"), msg.get("p")
        if not isinstance(index, int) or not isinstance(data, bytes | bytearray):
            return
        self._add_block(job, assembler, index, bytes(data))

    def _add_block(self, job: JobRun, assembler: BlockAssembler, index: int, data: bytes) -> None:
        """Block ``index`` of this download's file arrived (once per block: kept lean)."""
        host = self._host
        if index == job.corrupt_index and not assembler.has(index) and data:
            job.corrupt_index = None
            data = _flip_one_byte(data)
        try:
            if not assembler.add(index, data):
                return  # duplicate
        except BlockError as err:
            host.finish(FAILED, f"bad block from GetStream: {err}", {})
            return
        job.retries = 0
        job.bytes_received = assembler.received_bytes
        received, total = assembler.received_blocks, assembler.total_blocks
        if received == total:
            host.disarm(STREAM_TIMER)
            job.window = None
            self._complete_after_link_delay(job)
            return
        pct = received * 100 // total
        if pct >= job.next_progress:
            every = self._options.progress_every_pct
            job.next_progress = (pct // every + 1) * every
            host.report_progress({"state": "downloading", "progress": f"{pct}%"})
        if job.drop_after is not None and received >= job.drop_after:
            job.drop_after = None
            host.emit(DropConnection(RECONNECT_AFTER_DROP))
            return
        window = job.window
        if window is not None and assembler.window_done(*window):
            job.window = None
            self._next_window_or_pace(job)  # the next request moves the timer on (or pacing)
        elif host.connected:
            host.extend(STREAM_TIMER, self._request_timeout)  # the link is alive

    def _next_window_or_pace(self, job: JobRun) -> None:
        assert job.assembler is not None
        bps = self._slow_link_bps
        if bps:
            due = job.download_started + job.assembler.received_bytes / bps
            wait = due - self._host.clock.now()
            if wait > 0:
                job.enter(Phase.PACING)
                self._host.disarm(STREAM_TIMER)
                self._host.arm(PACE_TIMER, wait)
                return
        self._request_window(job)

    # ------------------------------------------------------------------ HTTPS download

    def _start_http(self, job: JobRun) -> None:
        assert job.spec is not None and job.spec.url
        job.transport = "http"
        job.enter(Phase.HTTP)
        job.download_started = self._host.clock.now()
        self._host.report_progress({"state": "downloading", "progress": "0%"})
        self._host.emit(HttpGet(job.spec.url))

    def on_http(self, event: HttpCompleted) -> None:
        host = self._host
        job = host.job
        if job is None or job.phase is not Phase.HTTP or job.spec is None:
            return
        if event.url != job.spec.url:
            return
        if event.status != 200:
            job.retries += 1
            what = f"HTTP {event.status}" if event.status is not None else event.error
            if job.retries <= self._options.max_retries:
                host.arm(STREAM_TIMER, host.backoff(job.retries))
                return
            if job.spec.stream_id:  # the presigned URL is unusable: fall back to MQTT
                job.retries = 0
                job.transport = "mqtt"
                self._describe(job)
                return
            host.finish(FAILED, f"download failed: {what}", {})
            return
        data = event.body
        if job.behaviour.corrupt_at is not None and data:
            data = _flip_one_byte(data)
        size = len(data)
        assembler = BlockAssembler(size, max(1, size), want_sha256=job.spec.signature is not None)
        if size:
            assembler.add(0, data)
        job.assembler = assembler
        job.bytes_received = size
        self._complete_after_link_delay(job)

    def _complete_after_link_delay(self, job: JobRun) -> None:
        """On a slow link the last bytes arrive ``size / bps`` after the download started."""
        assert job.assembler is not None
        bps = self._options.slow_link_bps
        due = job.download_started + job.assembler.size / bps if bps else 0.0
        wait = due - self._host.clock.now()
        if wait > 0:
            job.enter(Phase.LINK_PACING)
            self._host.arm(PACE_TIMER, wait)
            return
        self._complete_download(job)

    # ------------------------------------------------------------------ verify and finish

    def _complete_download(self, job: JobRun) -> None:
        assert job.assembler is not None and job.spec is not None
        assembler, spec = job.assembler, job.spec
        job.md5_hex = assembler.md5_hex()
        reason = verify_image(
            size=assembler.size,
            md5_hex=job.md5_hex,
            sha256_digest=assembler.sha256_digest(),
            expected_size=spec.file_size,
            expected_md5=spec.md5_hex,
            signature=spec.signature,
            public_key=self._host.public_key,
        )
        if reason is not None:
            self._host.finish(FAILED, reason, {})
        elif job.behaviour.fault is Fault.FAIL:
            self._host.finish(FAILED, "simulated install failure (fail rate)", {})
        else:
            details = {"progress": "100%", "transport": job.transport or "mqtt"}
            if spec.image_version:
                details["imageVer"] = spec.image_version[:MAX_DETAIL]
            self._host.finish(SUCCEEDED, None, details)


def _flip_one_byte(data: bytes | bytearray) -> bytes:
    """A simulated corruption: the middle byte inverted."""
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    return bytes(flipped)
