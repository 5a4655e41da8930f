"""The Jobs side of the device agent: connection, start-next, status updates, resync.

Requests (start-next, ``{jobId}/get``, ``{jobId}/update``) carry client tokens and replies are
matched on them; one update is in flight at a time, each with ``expectedVersion``
(https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html). A reconnect or a
``notify-next`` naming another execution triggers a ``{jobId}/get`` resync: the agent resumes
an execution the service still holds IN_PROGRESS and abandons one it has ended.

Several requests can be outstanding at once (an update in flight when a resync starts), so
each owns its timeout timer, named after its client token (``_request_timer``): a reply
cancels only its own request's timer and a timeout resends only that request. A reply lost
without a disconnect is therefore always resent (or, after ``max_retries``, abandoned).
"""

from __future__ import annotations

import json
from typing import Any

from ota_deploy.fleet import protocol as proto
from ota_deploy.fleet.agent_state import (
    ACTIVE_STATES,
    JOBS_REQUEST_PREFIX,
    JOBS_TIMER,
    MAX_DETAIL,
    PACE_TIMER,
    STREAM_TIMER,
    AgentCore,
    _Run,
    _Update,
)
from ota_deploy.fleet.behaviour import Fault, choose_behaviour
from ota_deploy.fleet.events import (
    JobFinished,
    JobResult,
    Subscribe,
)
from ota_deploy.fleet.protocol import DocumentError


class JobsFlow(AgentCore):
    """Connection handling and the Jobs MQTT API conversation."""

    # ------------------------------------------------------------------ connection

    def _on_connected(self) -> None:
        self.connected = True
        self._out.append(Subscribe(proto.device_subscriptions(self.thing, self.protocol)))
        if self.job is None:
            self._start_next()
        else:
            self.job.reconnects += 1
            self._resync()

    def _on_connection_lost(self) -> None:
        self.connected = False
        job = self.job
        # Timers that wait on the link are void once it drops: the resync after the reconnect
        # re-sends what they guarded. Two wait on nothing the link carries and must survive,
        # else nothing ever re-arms them and the execution stays IN_PROGRESS for good: the
        # slow-link delay after the last block ("link-pacing": every block is in, the
        # verification and SUCCEEDED follow the timer) and the HTTP retry backoff ("http").
        keep = {"link-pacing": PACE_TIMER, "http": STREAM_TIMER}.get(job.phase) if job else None
        for name in list(self._timers):
            if name != keep:
                self._disarm(name)
        self._start_next_token = None
        if job is None:
            return
        job.resync_token = None
        job.window = None
        job.stream_token = None
        if job.in_flight is not None:  # its reply may be lost: resend it after the resync
            if job.pending is None or not job.pending.terminal:
                job.pending = job.in_flight
            job.in_flight = None

    # ------------------------------------------------------------------ jobs requests

    def _start_next(self) -> None:
        if not self.connected:
            return
        if self._start_next_token is not None:  # superseded: only the new one is waited on
            self._disarm(self._request_timer(self._start_next_token))
        self._disarm(JOBS_TIMER)  # a backoff before this request is moot now
        self._start_next_token = token = self._token()
        self._start_next_attempts += 1
        self._notified_while_starting = False
        self._publish(
            proto.jobs_topic(self.thing, "start-next"),
            proto.encode_json({"clientToken": token}),
        )
        self._arm(self._request_timer(token), self.options.request_timeout_sec)

    def _resync(self) -> None:
        """Ask the service for the current job's execution state (after a reconnect etc.)."""
        job = self.job
        if job is None or not self.connected:
            return
        if job.resync_token is not None:  # superseded: only the new one is waited on
            self._disarm(self._request_timer(job.resync_token))
        job.resync_token = token = self._token()
        job.resync_due = False
        job.resync_attempts += 1
        self._publish(
            proto.jobs_topic(self.thing, job.job_id, "get"),
            proto.encode_json({"clientToken": token, "includeJobDocument": False}),
        )
        self._arm(self._request_timer(token), self.options.request_timeout_sec)

    def _queue_update(self, status: str, details: dict[str, str], *, terminal: bool) -> None:
        job = self.job
        assert job is not None
        if terminal:
            job.pending = _Update(status, details, True)
        elif job.pending is None or not job.pending.terminal:
            job.pending = _Update(status, details, False)
        self._flush_update()

    def _flush_update(self) -> None:
        job = self.job
        if job is None or not self.connected or job.in_flight is not None:
            return
        if job.resync_token is not None or job.resync_due or job.pending is None:
            return
        upd, job.pending = job.pending, None
        self._send_update(upd)

    def _send_update(self, upd: _Update) -> None:
        job = self.job
        assert job is not None
        upd.token = self._token()
        upd.attempts += 1
        job.in_flight = upd
        self._publish(
            proto.jobs_topic(self.thing, job.job_id, "update"),
            proto.update_request(upd.status, upd.details, job.version, upd.token),
        )
        self._arm(self._request_timer(upd.token), self.options.request_timeout_sec)

    def _finish(self, status: str, reason: str | None, details: dict[str, str]) -> None:
        """Decide the job's terminal status and report it to the service."""
        job = self.job
        assert job is not None
        if job.result is not None:
            return
        job.result = (status, reason)
        job.phase = "finishing"
        for name in (STREAM_TIMER, PACE_TIMER):
            self._disarm(name)
        if reason:
            details = {**details, "reason": reason[:MAX_DETAIL]}
        self._queue_update(status, details, terminal=True)

    def _close_job(self, status: str, reason: str | None) -> None:
        """The execution is over (reported, or ended by the service): record it, go on."""
        job = self.job
        assert job is not None
        result = JobResult(
            thing=self.thing,
            job_id=job.job_id,
            execution_number=job.execution_number,
            status=status,
            reason=reason,
            transport=job.transport,
            bytes_received=job.bytes_received,
            md5_hex=job.md5_hex,
            started_at=job.started_at,
            finished_at=self.clock.now(),
            fault=job.behaviour.fault.value,
            reconnects=job.reconnects,
            requests=job.requests,
        )
        self.results.append(result)
        self._out.append(JobFinished(result))
        self.job = None
        for name in list(self._timers):
            self._disarm(name)
        self._start_next()

    # ------------------------------------------------------------------ messages

    def _on_message(self, topic: str, payload: bytes) -> None:
        info = proto.classify_topic(self.thing, topic)
        if info is None:
            return
        if info.kind == "stream":
            self._on_stream_message(info, payload)
            return
        msg = proto.decode_json(payload)
        if msg is None:
            return
        name = info.name
        if name == "notify-next":
            self._on_notify_next(msg)
        elif name == "start-next/accepted":
            self._on_start_next_accepted(msg)
        elif name == "start-next/rejected":
            token = self._start_next_token
            if token is not None and msg.get("clientToken") == token:
                self._disarm(self._request_timer(token))
                self._start_next_token = None
                self._arm(JOBS_TIMER, self._backoff(self._start_next_attempts))
        elif name == "get/accepted":
            self._on_get_accepted(info.job_id, msg)
        elif name == "get/rejected":
            self._on_get_rejected(info.job_id, msg)
        elif name == "update/accepted":
            self._on_update_accepted(info.job_id, msg)
        elif name == "update/rejected":
            self._on_update_rejected(info.job_id, msg)

    def _on_notify_next(self, msg: dict[str, Any]) -> None:
        execution = msg.get("execution")
        job = self.job
        if job is None:
            if isinstance(execution, dict):
                if self._start_next_token is None:
                    self._start_next()
                else:  # its reply may still say "nothing": ask again after it
                    self._notified_while_starting = True
            return
        if job.result is not None or job.resync_token is not None:
            return  # finishing: start-next follows the accepted update anyway
        if (
            not isinstance(execution, dict)
            or execution.get("jobId") != job.job_id
            or execution.get("executionNumber", job.execution_number) != job.execution_number
        ):
            self._resync()  # our execution may have been ended by the service: ask

    def _on_start_next_accepted(self, msg: dict[str, Any]) -> None:
        token = self._start_next_token
        if token is None or msg.get("clientToken") != token or self.job is not None:
            return
        self._disarm(self._request_timer(token))
        self._start_next_token = None
        self._start_next_attempts = 0
        execution = msg.get("execution")
        if isinstance(execution, dict) and isinstance(execution.get("jobId"), str):
            self._begin_job(execution)
        elif self._notified_while_starting:
            self._start_next()

    def _on_get_accepted(self, job_id: str | None, msg: dict[str, Any]) -> None:
        job = self.job
        token = job.resync_token if job is not None else None
        if job is None or token is None or job.job_id != job_id or msg.get("clientToken") != token:
            return
        self._disarm(self._request_timer(token))
        job.resync_token = None
        job.resync_attempts = 0
        execution = msg.get("execution")
        state = execution if isinstance(execution, dict) else {}
        status = state.get("status")
        if status not in ACTIVE_STATES:
            self._abandon(str(status or "REMOVED"), "execution ended by the service")
            return
        if isinstance(state.get("versionNumber"), int):
            job.version = state["versionNumber"]
        self._resume()

    def _on_get_rejected(self, job_id: str | None, msg: dict[str, Any]) -> None:
        job = self.job
        token = job.resync_token if job is not None else None
        if job is None or token is None or job.job_id != job_id or msg.get("clientToken") != token:
            return
        self._disarm(self._request_timer(token))
        job.resync_token = None
        if msg.get("code") == "ResourceNotFound":
            self._abandon("REMOVED", "execution no longer exists")
        else:
            job.resync_due = True
            self._arm(JOBS_TIMER, self._backoff(job.resync_attempts))

    def _answered_update(
        self, job_id: str | None, msg: dict[str, Any]
    ) -> tuple[_Run, _Update] | None:
        """The job and its in-flight update that this accepted/rejected reply answers, now
        settled (its request timer disarmed); None for a stale or foreign reply."""
        job = self.job
        upd = job.in_flight if job is not None else None
        if job is None or upd is None or job.job_id != job_id:
            return None
        if msg.get("clientToken") != upd.token:
            return None
        job.in_flight = None
        self._disarm(self._request_timer(upd.token))
        return job, upd

    def _on_update_accepted(self, job_id: str | None, msg: dict[str, Any]) -> None:
        answered = self._answered_update(job_id, msg)
        if answered is None:
            return
        job, upd = answered
        state = msg.get("executionState")
        if isinstance(state, dict) and isinstance(state.get("versionNumber"), int):
            job.version = state["versionNumber"]
        elif job.version is not None:
            job.version += 1
        if upd.terminal:
            status, reason = job.result or (upd.status, None)
            self._close_job(status, reason)
            return
        self._flush_update()

    def _on_update_rejected(self, job_id: str | None, msg: dict[str, Any]) -> None:
        answered = self._answered_update(job_id, msg)
        if answered is None:
            return
        job, upd = answered
        code = msg.get("code")
        state = msg.get("executionState")
        state = state if isinstance(state, dict) else {}
        status = state.get("status")
        if upd.terminal and status == upd.status:  # an earlier attempt already landed
            result = job.result or (upd.status, None)
            self._close_job(*result)
            return
        if status is not None and status not in ACTIVE_STATES:
            self._abandon(str(status), f"update rejected: {code}")
            return
        if code in ("TerminalStateReached", "InvalidStateTransition", "ResourceNotFound"):
            self._abandon(str(status or "ABANDONED"), f"update rejected: {code}")
            return
        if code == "VersionMismatch" and isinstance(state.get("versionNumber"), int):
            job.version = state["versionNumber"]
            self._send_update(upd)
            return
        if code == "VersionMismatch":
            job.pending = upd if job.pending is None or not job.pending.terminal else job.pending
            self._resync()  # learn the version, then the pending update is resent
            return
        if upd.attempts > self.options.max_retries:
            self._abandon("ABANDONED", f"UpdateJobExecution rejected: {code}")
            return
        job.pending = upd if job.pending is None or not job.pending.terminal else job.pending
        self._arm(JOBS_TIMER, self._backoff(upd.attempts))

    def _abandon(self, status: str, reason: str) -> None:
        job = self.job
        assert job is not None
        if job.result is not None and job.result[0] == status:
            self._close_job(*job.result)
        else:
            self._close_job(status, reason)

    # ------------------------------------------------------------------ timers

    def _on_timer(self, name: str) -> None:
        job = self.job
        if name.startswith(JOBS_REQUEST_PREFIX):
            self._on_request_timeout(name[len(JOBS_REQUEST_PREFIX) :])
        elif name == JOBS_TIMER:  # a backoff after a rejection ended: send again
            if job is None:
                if self._start_next_token is None:
                    self._start_next()
            elif job.resync_token is not None:
                return  # a resync is on its way; its reply flushes the pending update
            elif job.resync_due:
                if job.resync_attempts > self.options.max_retries:
                    self._abandon("ABANDONED", "no reply to DescribeJobExecution")
                else:
                    self._resync()
            elif job.in_flight is None and job.pending is not None:
                upd, job.pending = job.pending, None
                if upd.attempts > self.options.max_retries:
                    self._abandon("ABANDONED", "no reply to UpdateJobExecution")
                else:
                    self._send_update(upd)
        elif job is None:
            return
        elif name == PACE_TIMER:
            if job.phase == "pacing":
                job.phase = "downloading"
                self._request_window()
            elif job.phase == "link-pacing":
                self._complete_download()
        elif name == STREAM_TIMER:
            self._on_stream_timeout(job)

    def _on_request_timeout(self, token: str) -> None:
        """No reply to the Jobs request carrying ``token``: resend that request alone."""
        job = self.job
        if job is None:
            if token == self._start_next_token:
                self._start_next()
            return
        if token == job.resync_token:
            if job.resync_attempts > self.options.max_retries:
                self._abandon("ABANDONED", "no reply to DescribeJobExecution")
            else:
                self._resync()
            return
        upd = job.in_flight
        if upd is None or token != upd.token:
            return  # stale: that request was answered or superseded
        job.in_flight = None  # resend the lost one; a pending one follows it
        if upd.attempts > self.options.max_retries:
            self._abandon("ABANDONED", "no reply to UpdateJobExecution")
        elif job.resync_token is not None or job.resync_due:
            # a resync is under way: its reply resends the update with the version it learns
            if job.pending is None or (upd.terminal and not job.pending.terminal):
                job.pending = upd
        else:
            self._send_update(upd)

    # ------------------------------------------------------------------ job start

    def _begin_job(self, execution: dict[str, Any]) -> None:
        job_id = execution["jobId"]
        number = execution.get("executionNumber")
        version = execution.get("versionNumber")
        n = number if isinstance(number, int) else None
        behaviour = (
            self.chooser.choose(self.thing, job_id, n)
            if self.chooser is not None
            else choose_behaviour(self.options, self.thing, job_id, n)
        )
        job = _Run(
            job_id=job_id,
            execution_number=number if isinstance(number, int) else None,
            version=version if isinstance(version, int) else None,
            behaviour=behaviour,
            started_at=self.clock.now(),
        )
        self.job = job
        if behaviour.fault is Fault.REJECT:
            self._finish("REJECTED", "simulated rejection (reject rate)", {})
            return
        doc = execution.get("jobDocument")
        if isinstance(doc, str):  # over MQTT it is an object; tolerate a string
            try:
                doc = json.loads(doc)
            except ValueError:
                doc = None
        try:
            spec = proto.parse_job_document(doc)
        except DocumentError as err:
            self._finish("REJECTED", f"unusable job document: {err}", {})
            return
        job.spec = spec
        if behaviour.fault is Fault.HANG:
            job.phase = "hung"  # IN_PROGRESS (start-next did it) and silence from now on
            return
        if self.options.prefer_https and spec.url_usable:
            self._start_http(job)
        elif spec.stream_id:
            job.transport = "mqtt"
            self._queue_update(
                "IN_PROGRESS", {"state": "downloading", "progress": "0%"}, terminal=False
            )
            self._describe()
        else:
            self._finish("FAILED", "no download source: presigned URL not substituted", {})
