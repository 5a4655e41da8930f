"""The simulated device's OTA agent: a sans-I/O state machine (events in, actions out).

What it does, as FreeRTOS's OTA agent does
(https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html,
https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery-in-devices.html):

1. On connect: one SUBSCRIBE for notify-next and the replies it needs, then ``start-next``
   (again whenever ``notify-next`` announces work while idle, and after each finished job).
2. ``start-next/accepted`` with an execution: the job is now IN_PROGRESS; its behaviour for this
   execution is drawn from the seed (``fleet.behaviour``); the document is parsed
   (``fleet.protocol``); a bad document is REJECTED with the reason.
3. Download: over HTTPS when ``prefer_https`` and the document carries a substituted presigned
   ``url``; else over MQTT file delivery: DescribeStream, then GetStream windows of
   ``blocks_per_request`` blocks whose bitmap names the missing blocks (``fleet.blocks``),
   each with a request timeout and ``max_retries`` retries.
4. Progress as IN_PROGRESS ``statusDetails`` every ``progress_every_pct`` percent (one update
   in flight at a time, each with ``expectedVersion``), then verification (``fleet.verify``)
   and SUCCEEDED, or FAILED with ``{"reason": ...}``.

Robustness: every request carries a client token and replies are matched on it (stale or
duplicate replies are ignored). After a reconnect, or when ``notify-next`` names another job
while one is running, the agent asks ``{jobId}/get`` for the execution's real state: it
resumes (missing blocks only) if the execution is still IN_PROGRESS, and abandons it if the
service ended it (TIMED_OUT, CANCELED, removed). ``VersionMismatch`` adopts the service's
version and resends.

How it is cut: ``DeviceAgent`` owns the state (``agent_state``: the link, the ``JobRun``, the
token sequence, the timers), dispatches each event to one of two flows it composes,
``agent_jobs.JobsFlow`` and ``agent_download.DownloadFlow``, and gives them what their
``JobsHost`` / ``DownloadHost`` protocols ask for, forwarding the few calls one flow makes
into the other (``finish``, ``report_progress``, ``start_download``, ``resume_download``).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from ota_deploy.core.clock import Clock
from ota_deploy.core.status import ExecutionStatus
from ota_deploy.fleet import protocol as proto
from ota_deploy.fleet.agent_download import DownloadFlow
from ota_deploy.fleet.agent_jobs import JobsFlow
from ota_deploy.fleet.agent_state import (
    JOBS_REQUEST_PREFIX,
    JOBS_TIMER,
    PACE_TIMER,
    STREAM_TIMER,
    JobRun,
)
from ota_deploy.fleet.behaviour import BehaviourChooser
from ota_deploy.fleet.events import (
    Action,
    CancelTimer,
    Connected,
    ConnectionLost,
    Event,
    HttpCompleted,
    JobFinished,
    JobResult,
    MessageReceived,
    Publish,
    StartTimer,
    Subscribe,
    TimerFired,
)
from ota_deploy.fleet.options import FleetOptions

__all__ = ["DeviceAgent"]


class DeviceAgent:
    """One thing's OTA agent. Feed ``handle(event)``; perform the returned actions in order."""

    def __init__(
        self,
        thing: str,
        options: FleetOptions,
        *,
        clock: Clock,
        public_key: ec.EllipticCurvePublicKey | None = None,
        chooser: BehaviourChooser | None = None,
    ) -> None:
        self.thing = thing
        self.options = options
        self.clock = clock
        self.public_key = public_key
        self.chooser = chooser  # exact fleet-wide shares; None: this device draws alone
        self.protocol: proto.Protocol = options.protocol
        self.connected = False
        self.job: JobRun | None = None
        self.results: list[JobResult] = []
        self._seq = 0
        self._timers: dict[str, int] = {}  # armed timer name -> token
        self._deadlines: dict[str, float] = {}  # lazily extended deadlines (see extend)
        self._out: list[Action] = []
        self._jobs = JobsFlow(self)
        self._download = DownloadFlow(self)

    # ------------------------------------------------------------------ events in

    def handle(self, event: Event) -> list[Action]:
        self._out = []
        if isinstance(event, MessageReceived):
            self._on_message(event.topic, event.payload)
        elif isinstance(event, TimerFired):
            if self._timers.get(event.name) == event.token:
                del self._timers[event.name]
                due = self._deadlines.pop(event.name, None)
                if due is not None and due - self.clock.now() > 0.01:  # the deadline moved on
                    self._start_timer(event.name, due - self.clock.now())
                    self._deadlines[event.name] = due
                else:
                    self._on_timer(event.name)
        elif isinstance(event, HttpCompleted):
            self._download.on_http(event)
        elif isinstance(event, Connected):
            self._on_connected()
        elif isinstance(event, ConnectionLost):
            self._on_connection_lost()
        out, self._out = self._out, []
        return out

    def handle_message(self, topic: str, payload: bytes) -> list[Action]:
        """``handle(MessageReceived(topic, payload))`` without building the event: the
        device's hot path (one call per received block)."""
        self._out = []
        self._on_message(topic, payload)
        out, self._out = self._out, []
        return out

    def handle_block(self, topic: str, payload: bytes) -> tuple[str, bytes] | list[Action]:
        """``handle_message`` for the device's hot path: a ``(topic, payload)`` tuple when the
        message's one action is to publish that (a block whose only outcome is the next
        GetStream request: ``DownloadFlow.next_request``), else the action list."""
        out: list[Action] = []
        self._out = out
        request = self._download.next_request(topic, payload)
        if type(request) is tuple:
            return request  # nothing else was emitted: out is empty
        if request is False:
            self._on_other_message(topic, payload)
        self._out = []
        return out

    def _on_message(self, topic: str, payload: bytes) -> None:
        if self._download.on_data(topic, payload):  # a block of the download: its hot path
            return
        self._on_other_message(topic, payload)

    def _on_other_message(self, topic: str, payload: bytes) -> None:
        info = proto.classify_topic(self.thing, topic)
        if info is None:
            return
        if info.kind == "stream":
            self._download.on_stream_message(info, payload)
        else:
            self._jobs.on_message(info, payload)

    def _on_timer(self, name: str) -> None:
        if name == JOBS_TIMER or name.startswith(JOBS_REQUEST_PREFIX):
            self._jobs.on_timer(name)
            return
        job = self.job
        if job is None:
            return
        if name == PACE_TIMER:
            self._download.on_pace_timer(job)
        elif name == STREAM_TIMER:
            self._download.on_stream_timeout(job)

    def _on_connected(self) -> None:
        self.connected = True
        self._out.append(Subscribe(proto.device_subscriptions(self.thing, self.protocol)))
        self._jobs.on_connected()

    def _on_connection_lost(self) -> None:
        # Timers that wait on the link are void once it drops: the resync after the reconnect
        # re-sends what they guarded. The download may keep one that waits on nothing the
        # link carries.
        self.connected = False
        job = self.job
        keep = self._download.link_free_timer(job)
        for name in list(self._timers):
            if name != keep:
                self.disarm(name)
        self._jobs.on_link_lost()
        if job is not None:
            self._download.on_link_lost(job)

    # ------------------------------------------------------------------ for the flows

    def token(self) -> str:
        self._seq += 1
        return f"{self._seq}"

    def publish(self, topic: str, payload: bytes) -> None:
        self._out.append(Publish(topic, payload))

    def emit(self, action: Action) -> None:
        self._out.append(action)

    def record(self, result: JobResult) -> None:
        self.results.append(result)
        self._out.append(JobFinished(result))

    def _start_timer(self, name: str, delay: float) -> None:
        self._seq += 1
        self._timers[name] = self._seq
        self._out.append(StartTimer(name, max(0.0, delay), self._seq))

    def arm(self, name: str, delay: float) -> None:
        self._deadlines.pop(name, None)
        self._start_timer(name, delay)

    def extend(self, name: str, delay: float) -> None:
        """Make timer ``name`` fire ``delay`` seconds from now, lazily.

        Request timeouts move on with every block; re-arming a real timer per block costs a
        timer-heap insertion each time, so only the deadline moves and the armed timer, when
        it fires early, re-arms itself for the rest.
        """
        self._deadlines[name] = self.clock.now() + delay
        if name not in self._timers:
            self._start_timer(name, delay)

    def armed(self, name: str) -> bool:
        return name in self._timers

    def disarm(self, name: str) -> None:
        self._deadlines.pop(name, None)
        if self._timers.pop(name, None) is not None:
            self._out.append(CancelTimer(name))

    def disarm_all(self) -> None:
        for name in list(self._timers):
            self.disarm(name)

    def backoff(self, attempts: int) -> float:
        return float(min(self.options.request_timeout_sec, 0.2 * 2.0 ** min(attempts, 8)))

    def finish(self, status: ExecutionStatus, reason: str | None, details: dict[str, str]) -> None:
        self._jobs.finish(status, reason, details)

    def report_progress(self, details: dict[str, str]) -> None:
        self._jobs.queue_update(ExecutionStatus.IN_PROGRESS, details, terminal=False)

    def start_download(self, job: JobRun) -> None:
        self._download.start(job)

    def resume_download(self, job: JobRun) -> None:
        self._download.resume(job)
