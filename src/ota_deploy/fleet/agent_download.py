"""The download side of the device agent: MQTT file delivery or a presigned URL, then verify.

DescribeStream, then GetStream windows of ``blocks_per_request`` blocks whose bitmap names the
missing ones, each with a request timeout and retries
(https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery-in-devices.html);
or one HTTP GET of the presigned URL. Slow links are paced with a timer; simulated disconnects
and corrupted blocks come from the execution's ``Behaviour``. The image is verified
(``fleet.verify``) before SUCCEEDED is ever reported.
"""

from __future__ import annotations

from typing import Any

from ota_deploy.fleet import protocol as proto
from ota_deploy.fleet.agent_state import (
    MAX_DETAIL,
    PACE_TIMER,
    RECONNECT_AFTER_DROP,
    STREAM_TIMER,
    AgentCore,
    _Run,
)
from ota_deploy.fleet.behaviour import Fault
from ota_deploy.fleet.blocks import BlockAssembler, BlockError
from ota_deploy.fleet.events import (
    DropConnection,
    HttpCompleted,
    HttpGet,
)
from ota_deploy.fleet.verify import verify_image


class DownloadFlow(AgentCore):
    """Getting the image and checking it."""

    def _on_stream_timeout(self, job: _Run) -> None:
        if job.phase == "http":  # retry of a failed GET (counted in _on_http)
            assert job.spec is not None and job.spec.url
            self._out.append(HttpGet(job.spec.url))
            return
        if not self.connected:
            return
        job.retries += 1
        if job.retries > self.options.max_retries:
            what = "DescribeStream" if job.phase == "describing" else "GetStream"
            self._finish("FAILED", f"no response to {what} after {job.retries} attempts", {})
            return
        if job.phase == "describing":
            self._describe()
        elif job.phase == "downloading":
            self._request_window()

    def _start_http(self, job: _Run) -> None:
        assert job.spec is not None and job.spec.url
        job.transport = "http"
        job.phase = "http"
        job.download_started = self.clock.now()
        self._queue_update(
            "IN_PROGRESS", {"state": "downloading", "progress": "0%"}, terminal=False
        )
        self._out.append(HttpGet(job.spec.url))

    def _resume(self) -> None:
        job = self.job
        assert job is not None
        if job.phase == "describing":
            self._describe()
        elif job.phase in ("downloading", "pacing"):
            job.phase = "downloading"
            self._request_window()
        self._flush_update()

    # ------------------------------------------------------------------ MQTT file delivery

    def _describe(self) -> None:
        job = self.job
        assert job is not None and job.spec is not None and job.spec.stream_id
        job.phase = "describing"
        if not self.connected:
            return
        job.stream_token = self._token()
        self._publish(
            proto.stream_topic(self.thing, job.spec.stream_id, "describe", self.protocol),
            proto.encode_stream_message({"c": job.stream_token}, self.protocol),
        )
        self._extend(STREAM_TIMER, self.options.request_timeout_sec)

    def _request_window(self) -> None:
        job = self.job
        assert job is not None and job.assembler is not None and job.spec is not None
        if not self.connected or job.spec.stream_id is None:
            return
        nxt = job.assembler.next_window(self._window_blocks)
        if nxt is None:
            return
        offset, count, bitmap = nxt
        job.window = (offset, count)
        job.stream_token = self._token()
        job.requests += 1
        self._publish(
            proto.stream_topic(self.thing, job.spec.stream_id, "get", self.protocol),
            proto.encode_get_stream(
                client_token=job.stream_token,
                stream_version=job.stream_version,
                file_id=job.spec.file_id,
                block_size=self._block_size,
                offset=offset,
                count=count,
                bitmap=bitmap,
                protocol=self.protocol,
            ),
        )
        self._extend(STREAM_TIMER, self.options.request_timeout_sec)

    def _on_stream_message(self, info: proto.TopicInfo, payload: bytes) -> None:
        job = self.job
        if job is None or job.spec is None or info.stream_id != job.spec.stream_id:
            return
        if job.phase not in ("describing", "downloading", "pacing"):
            return
        msg = proto.decode_stream_message(payload, self.protocol)
        if msg is None:
            return
        if info.name == "data":
            self._on_block(job, msg)
        elif info.name == "description" and job.phase == "describing":
            if msg.get("c") == job.stream_token:
                self._on_description(job, msg)
        elif info.name == "rejected" and msg.get("c") == job.stream_token:
            self._on_stream_rejected(job, msg)

    def _on_description(self, job: _Run, msg: dict[str, Any]) -> None:
        assert job.spec is not None
        self._disarm(STREAM_TIMER)
        job.retries = 0
        files = msg.get("r")
        entry = None
        if isinstance(files, list):
            entry = next(
                (f for f in files if isinstance(f, dict) and f.get("f") == job.spec.file_id), None
            )
        if entry is None:
            self._finish("FAILED", f"stream has no file {job.spec.file_id}", {})
            return
        size = entry.get("z")
        if not isinstance(size, int):
            self._finish("FAILED", "DescribeStream gave no file size", {})
            return
        if job.spec.file_size is not None and size != job.spec.file_size:
            self._finish(
                "FAILED",
                f"size mismatch: stream file is {size} bytes, job document says "
                f"{job.spec.file_size}",
                {},
            )
            return
        version = msg.get("s")
        job.stream_version = version if isinstance(version, int) else None
        job.assembler = BlockAssembler(
            size, self._block_size, want_sha256=job.spec.signature is not None
        )
        total = job.assembler.total_blocks
        job.drop_after = job.behaviour.disconnect_block(total)
        job.corrupt_index = job.behaviour.corrupt_block(total)
        job.next_progress = self.options.progress_every_pct
        job.phase = "downloading"
        job.download_started = self.clock.now()
        if total == 0:
            self._complete_download()
        else:
            self._request_window()

    def _on_stream_rejected(self, job: _Run, msg: dict[str, Any]) -> None:
        self._disarm(STREAM_TIMER)
        code, message = msg.get("o"), msg.get("m")
        if code in ("InternalError", "RequestThrottled", "Throttling"):
            job.retries += 1
            if job.retries <= self.options.max_retries:
                self._arm(STREAM_TIMER, self._backoff(job.retries))
                return
        if code in ("VersionMismatch", "ETagMismatch") and job.retries < self.options.max_retries:
            job.retries += 1
            self._describe()  # the stream changed: learn its new version, keep the blocks
            return
        self._finish("FAILED", f"stream request rejected: {code}: {message}", {})

    def _on_block(self, job: _Run, msg: dict[str, Any]) -> None:
        assembler, spec = job.assembler, job.spec
        if assembler is None or spec is None or msg.get("f") != spec.file_id:
            return
        index, data = msg.get("i"), msg.get("p")
        if not isinstance(index, int) or not isinstance(data, bytes | bytearray):
            return
        if index == job.corrupt_index and not assembler.has(index) and data:
            job.corrupt_index = None
            flipped = bytearray(data)
            flipped[len(flipped) // 2] ^= 0xFF
            data = bytes(flipped)
        try:
            if not assembler.add(index, bytes(data)):
                return  # duplicate
        except BlockError as err:
            self._finish("FAILED", f"bad block from GetStream: {err}", {})
            return
        job.retries = 0
        job.bytes_received = assembler.received_bytes
        if assembler.complete:
            self._disarm(STREAM_TIMER)
            job.window = None
            self._complete_after_link_delay(job)
            return
        if self.connected:
            self._extend(STREAM_TIMER, self.options.request_timeout_sec)  # the link is alive
        pct = assembler.received_blocks * 100 // assembler.total_blocks
        if pct >= job.next_progress:
            every = self.options.progress_every_pct
            job.next_progress = (pct // every + 1) * every
            self._queue_update(
                "IN_PROGRESS", {"state": "downloading", "progress": f"{pct}%"}, terminal=False
            )
        if job.drop_after is not None and assembler.received_blocks >= job.drop_after:
            job.drop_after = None
            self._out.append(DropConnection(RECONNECT_AFTER_DROP))
            return
        if job.window is not None and assembler.window_done(*job.window):
            job.window = None
            self._next_window_or_pace(job)

    def _next_window_or_pace(self, job: _Run) -> None:
        assert job.assembler is not None
        bps = self.options.slow_link_bps
        if bps:
            due = job.download_started + job.assembler.received_bytes / bps
            wait = due - self.clock.now()
            if wait > 0:
                job.phase = "pacing"
                self._disarm(STREAM_TIMER)
                self._arm(PACE_TIMER, wait)
                return
        self._request_window()

    # ------------------------------------------------------------------ HTTPS download

    def _on_http(self, event: HttpCompleted) -> None:
        job = self.job
        if job is None or job.phase != "http" or job.spec is None or event.url != job.spec.url:
            return
        if event.status != 200:
            job.retries += 1
            what = f"HTTP {event.status}" if event.status is not None else event.error
            if job.retries <= self.options.max_retries:
                self._arm(STREAM_TIMER, self._backoff(job.retries))
                return
            if job.spec.stream_id:  # the presigned URL is unusable: fall back to MQTT
                job.retries = 0
                job.transport = "mqtt"
                self._describe()
                return
            self._finish("FAILED", f"download failed: {what}", {})
            return
        data = event.body
        if job.behaviour.corrupt_at is not None and data:
            flipped = bytearray(data)
            flipped[len(flipped) // 2] ^= 0xFF
            data = bytes(flipped)
        size = len(data)
        assembler = BlockAssembler(size, max(1, size), want_sha256=job.spec.signature is not None)
        if size:
            assembler.add(0, data)
        job.assembler = assembler
        job.bytes_received = size
        self._complete_after_link_delay(job)

    def _complete_after_link_delay(self, job: _Run) -> None:
        """On a slow link the last bytes arrive ``size / bps`` after the download started."""
        assert job.assembler is not None
        bps = self.options.slow_link_bps
        due = job.download_started + job.assembler.size / bps if bps else 0.0
        wait = due - self.clock.now()
        if wait > 0:
            job.phase = "link-pacing"
            self._arm(PACE_TIMER, wait)
            return
        self._complete_download()

    # ------------------------------------------------------------------ verify and finish

    def _complete_download(self) -> None:
        job = self.job
        assert job is not None and job.assembler is not None and job.spec is not None
        assembler, spec = job.assembler, job.spec
        job.md5_hex = assembler.md5_hex()
        reason = verify_image(
            size=assembler.size,
            md5_hex=job.md5_hex,
            sha256_digest=assembler.sha256_digest(),
            expected_size=spec.file_size,
            expected_md5=spec.md5_hex,
            signature=spec.signature,
            public_key=self.public_key,
        )
        if reason is not None:
            self._finish("FAILED", reason, {})
        elif job.behaviour.fault is Fault.FAIL:
            self._finish("FAILED", "simulated install failure (fail rate)", {})
        else:
            details = {"progress": "100%", "transport": job.transport or "mqtt"}
            if spec.image_version:
                details["imageVer"] = spec.image_version[:MAX_DETAIL]
            self._finish("SUCCEEDED", None, details)
