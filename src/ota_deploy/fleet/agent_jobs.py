"""The Jobs side of the device agent: start-next, status updates, resync, the job's start and end.

Requests (start-next, ``{jobId}/get``, ``{jobId}/update``) carry client tokens and replies are
matched on them; one update is in flight at a time, each with ``expectedVersion``
(https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html). A reconnect or a
``notify-next`` naming another execution triggers a ``{jobId}/get`` resync: the agent resumes
an execution the service still holds IN_PROGRESS and abandons one it has ended.

Several requests can be outstanding at once (an update in flight when a resync starts), so
each owns its timeout timer, named after its client token (``request_timer``): a reply
cancels only its own request's timer and a timeout resends only that request. A reply lost
without a disconnect is therefore always resent (or, after ``max_retries``, abandoned).

``JobsFlow`` is driven by the agent (Jobs replies, its timers, the link going up or down) and
reaches the download side only through ``JobsHost.start_download`` / ``resume_download``.
"""

from __future__ import annotations

from typing import Any, Protocol

from ota_deploy.core.status import PENDING_EXECUTION, ExecutionStatus, parse_execution_status
from ota_deploy.fleet import protocol as proto
from ota_deploy.fleet.agent_state import (
    JOBS_REQUEST_PREFIX,
    JOBS_TIMER,
    MAX_DETAIL,
    PACE_TIMER,
    STREAM_TIMER,
    AgentServices,
    JobRun,
    Update,
)
from ota_deploy.fleet.behaviour import BehaviourChooser, Fault, choose_behaviour
from ota_deploy.fleet.events import ABANDONED, JobResult
from ota_deploy.fleet.phase import Phase
from ota_deploy.fleet.protocol import DocumentError

IN_PROGRESS, REJECTED = ExecutionStatus.IN_PROGRESS, ExecutionStatus.REJECTED
REMOVED = ExecutionStatus.REMOVED
# Rejections after which the execution cannot be updated any more.
_FINAL_CODES = ("TerminalStateReached", "InvalidStateTransition", "ResourceNotFound")


class JobsHost(AgentServices, Protocol):
    """What the Jobs flow needs from the agent."""

    chooser: BehaviourChooser | None

    def record(self, result: JobResult) -> None:
        """The execution is over for this device: keep and report its result."""
        ...

    def disarm_all(self) -> None: ...

    def start_download(self, job: JobRun) -> None: ...

    def resume_download(self, job: JobRun) -> None: ...


def request_timer(token: str) -> str:
    """The name of the timeout timer of the Jobs request carrying clientToken ``token``."""
    return JOBS_REQUEST_PREFIX + token


class JobsFlow:
    """The Jobs MQTT API conversation of one device."""

    def __init__(self, host: JobsHost) -> None:
        self._host = host
        self._options = host.options
        self._start_next_token: str | None = None
        self._start_next_attempts = 0
        self._notified_while_starting = False

    # ------------------------------------------------------------------ the link

    def on_connected(self) -> None:
        job = self._host.job
        if job is None:
            self._start_next()
        else:
            job.reconnects += 1
            self._resync()

    def on_link_lost(self) -> None:
        """Replies to what was sent on the dropped link may be lost: ask again after it."""
        self._start_next_token = None
        job = self._host.job
        if job is None:
            return
        job.resync_token = None
        if job.in_flight is not None:  # its reply may be lost: resend it after the resync
            if job.pending is None or not job.pending.terminal:
                job.pending = job.in_flight
            job.in_flight = None

    # ------------------------------------------------------------------ requests

    def _send(self, topic: str, body: dict[str, Any], token: str) -> None:
        """Publish a Jobs request and arm its own timeout."""
        self._host.publish(topic, proto.encode_json(body))
        self._host.arm(request_timer(token), self._options.request_timeout_sec)

    def _start_next(self) -> None:
        host = self._host
        if not host.connected:
            return
        if self._start_next_token is not None:  # superseded: only the new one is waited on
            host.disarm(request_timer(self._start_next_token))
        host.disarm(JOBS_TIMER)  # a backoff before this request is moot now
        self._start_next_token = token = host.token()
        self._start_next_attempts += 1
        self._notified_while_starting = False
        self._send(proto.jobs_topic(host.thing, "start-next"), {"clientToken": token}, token)

    def _resync(self) -> None:
        """Ask the service for the current job's execution state (after a reconnect etc.)."""
        host = self._host
        job = host.job
        if job is None or not host.connected:
            return
        if job.resync_token is not None:  # superseded: only the new one is waited on
            host.disarm(request_timer(job.resync_token))
        job.resync_token = token = host.token()
        job.resync_due = False
        job.resync_attempts += 1
        self._send(
            proto.jobs_topic(host.thing, job.job_id, "get"),
            {"clientToken": token, "includeJobDocument": False},
            token,
        )

    def queue_update(
        self, status: ExecutionStatus, details: dict[str, str], *, terminal: bool
    ) -> None:
        job = self._host.job
        assert job is not None
        if terminal:
            job.pending = Update(status, details, True)
        elif job.pending is None or not job.pending.terminal:
            job.pending = Update(status, details, False)
        self.flush_update()

    def flush_update(self) -> None:
        job = self._host.job
        if job is None or not self._host.connected or job.in_flight is not None:
            return
        if job.resync_token is not None or job.resync_due or job.pending is None:
            return
        upd, job.pending = job.pending, None
        self._send_update(job, upd)

    def _send_update(self, job: JobRun, upd: Update) -> None:
        host = self._host
        upd.token = host.token()
        upd.attempts += 1
        job.in_flight = upd
        host.publish(
            proto.jobs_topic(host.thing, job.job_id, "update"),
            proto.update_request(upd.status, upd.details, job.version, upd.token),
        )
        host.arm(request_timer(upd.token), self._options.request_timeout_sec)

    def finish(self, status: ExecutionStatus, reason: str | None, details: dict[str, str]) -> None:
        """Decide the job's terminal status and report it to the service."""
        job = self._host.job
        assert job is not None
        if job.result is not None:
            return
        job.result = (status, reason)
        job.enter(Phase.FINISHING)
        for name in (STREAM_TIMER, PACE_TIMER):
            self._host.disarm(name)
        if reason:
            details = {**details, "reason": reason[:MAX_DETAIL]}
        self.queue_update(status, details, terminal=True)

    def _close_job(self, job: JobRun, status: str, reason: str | None) -> None:
        """The execution is over (reported, or ended by the service): record it, go on."""
        host = self._host
        host.record(job.outcome(host.thing, status, reason, host.clock.now()))
        host.job = None
        host.disarm_all()
        self._start_next()

    def _abandon(self, job: JobRun, status: str, reason: str) -> None:
        if job.result is not None and job.result[0] == status:
            self._close_job(job, *job.result)
        else:
            self._close_job(job, status, reason)

    # ------------------------------------------------------------------ replies

    def on_message(self, info: proto.TopicInfo, payload: bytes) -> None:
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
                self._host.disarm(request_timer(token))
                self._start_next_token = None
                self._host.arm(JOBS_TIMER, self._host.backoff(self._start_next_attempts))
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
        job = self._host.job
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
        if token is None or msg.get("clientToken") != token or self._host.job is not None:
            return
        self._host.disarm(request_timer(token))
        self._start_next_token = None
        self._start_next_attempts = 0
        execution = msg.get("execution")
        if isinstance(execution, dict) and isinstance(execution.get("jobId"), str):
            self._begin_job(execution)
        elif self._notified_while_starting:
            self._start_next()

    def _resync_answered(self, job_id: str | None, msg: dict[str, Any]) -> JobRun | None:
        """The job whose resync this get reply answers, now settled; None if stale/foreign."""
        job = self._host.job
        token = job.resync_token if job is not None else None
        if job is None or token is None or job.job_id != job_id or msg.get("clientToken") != token:
            return None
        self._host.disarm(request_timer(token))
        job.resync_token = None
        return job

    def _on_get_accepted(self, job_id: str | None, msg: dict[str, Any]) -> None:
        job = self._resync_answered(job_id, msg)
        if job is None:
            return
        job.resync_attempts = 0
        execution = msg.get("execution")
        state = execution if isinstance(execution, dict) else {}
        status = parse_execution_status(state.get("status"))
        if status not in PENDING_EXECUTION:
            self._abandon(job, status or REMOVED, "execution ended by the service")
            return
        if isinstance(state.get("versionNumber"), int):
            job.version = state["versionNumber"]
        self._host.resume_download(job)
        self.flush_update()

    def _on_get_rejected(self, job_id: str | None, msg: dict[str, Any]) -> None:
        job = self._resync_answered(job_id, msg)
        if job is None:
            return
        if msg.get("code") == "ResourceNotFound":
            self._abandon(job, REMOVED, "execution no longer exists")
        else:
            job.resync_due = True
            self._host.arm(JOBS_TIMER, self._host.backoff(job.resync_attempts))

    def _answered_update(
        self, job_id: str | None, msg: dict[str, Any]
    ) -> tuple[JobRun, Update] | None:
        """The job and its in-flight update that this accepted/rejected reply answers, now
        settled (its request timer disarmed); None for a stale or foreign reply."""
        job = self._host.job
        upd = job.in_flight if job is not None else None
        if job is None or upd is None or job.job_id != job_id:
            return None
        if msg.get("clientToken") != upd.token:
            return None
        job.in_flight = None
        self._host.disarm(request_timer(upd.token))
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
            self._close_job(job, status, reason)
            return
        self.flush_update()

    def _on_update_rejected(self, job_id: str | None, msg: dict[str, Any]) -> None:
        answered = self._answered_update(job_id, msg)
        if answered is None:
            return
        job, upd = answered
        code = msg.get("code")
        state = msg.get("executionState")
        state = state if isinstance(state, dict) else {}
        status = parse_execution_status(state.get("status"))
        if upd.terminal and status == upd.status:  # an earlier attempt already landed
            self._close_job(job, *(job.result or (upd.status, None)))
            return
        if status is not None and status not in PENDING_EXECUTION:
            self._abandon(job, status, f"update rejected: {code}")
            return
        if code in _FINAL_CODES:
            self._abandon(job, status or ABANDONED, f"update rejected: {code}")
            return
        if code == "VersionMismatch" and isinstance(state.get("versionNumber"), int):
            job.version = state["versionNumber"]
            self._send_update(job, upd)
            return
        if code != "VersionMismatch" and upd.attempts > self._options.max_retries:
            self._abandon(job, ABANDONED, f"UpdateJobExecution rejected: {code}")
            return
        job.pending = upd if job.pending is None or not job.pending.terminal else job.pending
        if code == "VersionMismatch":
            self._resync()  # learn the version, then the pending update is resent
        else:
            self._host.arm(JOBS_TIMER, self._host.backoff(upd.attempts))

    # ------------------------------------------------------------------ timers

    def on_timer(self, name: str) -> None:
        """A request timeout (``request_timer``) or the backoff after a rejection ended."""
        if name.startswith(JOBS_REQUEST_PREFIX):
            self._on_request_timeout(name[len(JOBS_REQUEST_PREFIX) :])
            return
        job = self._host.job  # JOBS_TIMER: send again what the rejection held back
        if job is None:
            if self._start_next_token is None:
                self._start_next()
        elif job.resync_token is not None:
            return  # a resync is on its way; its reply flushes the pending update
        elif job.resync_due:
            self._resync_or_give_up(job)
        elif job.in_flight is None and job.pending is not None:
            upd, job.pending = job.pending, None
            self._send_update_or_give_up(job, upd)

    def _resync_or_give_up(self, job: JobRun) -> None:
        if job.resync_attempts > self._options.max_retries:
            self._abandon(job, ABANDONED, "no reply to DescribeJobExecution")
        else:
            self._resync()

    def _send_update_or_give_up(self, job: JobRun, upd: Update) -> None:
        if upd.attempts > self._options.max_retries:
            self._abandon(job, ABANDONED, "no reply to UpdateJobExecution")
        else:
            self._send_update(job, upd)

    def _on_request_timeout(self, token: str) -> None:
        """No reply to the Jobs request carrying ``token``: resend that request alone."""
        job = self._host.job
        if job is None:
            if token == self._start_next_token:
                self._start_next()
            return
        if token == job.resync_token:
            self._resync_or_give_up(job)
            return
        upd = job.in_flight
        if upd is None or token != upd.token:
            return  # stale: that request was answered or superseded
        job.in_flight = None  # resend the lost one; a pending one follows it
        if upd.attempts <= self._options.max_retries and (
            job.resync_token is not None or job.resync_due
        ):
            # a resync is under way: its reply resends the update with the version it learns
            if job.pending is None or (upd.terminal and not job.pending.terminal):
                job.pending = upd
        else:
            self._send_update_or_give_up(job, upd)

    # ------------------------------------------------------------------ job start

    def _begin_job(self, execution: dict[str, Any]) -> None:
        host = self._host
        job_id: str = execution["jobId"]
        number = execution.get("executionNumber")
        n = number if isinstance(number, int) else None
        behaviour = (
            host.chooser.choose(host.thing, job_id, n)
            if host.chooser is not None
            else choose_behaviour(self._options, host.thing, job_id, n)
        )
        version = execution.get("versionNumber")
        job = JobRun(
            job_id=job_id,
            execution_number=n,
            version=version if isinstance(version, int) else None,
            behaviour=behaviour,
            started_at=host.clock.now(),
        )
        host.job = job
        if behaviour.fault is Fault.REJECT:
            self.finish(REJECTED, "simulated rejection (reject rate)", {})
            return
        try:
            job.spec = proto.parse_job_document(execution.get("jobDocument"))
        except DocumentError as err:
            self.finish(REJECTED, f"unusable job document: {err}", {})
            return
        if behaviour.fault is Fault.HANG:
            job.enter(Phase.HUNG)  # IN_PROGRESS (start-next did it) and silence from now on
            return
        host.start_download(job)
