"""The device agent's state and plumbing, shared by its two flows.

``AgentCore`` holds what a ``DeviceAgent`` knows (connection, the job being worked on as a
``_Run``, client-token and timer sequence, armed timers and lazily extended deadlines) and the
helpers that turn decisions into actions (publish, arm/extend/disarm a timer). The Jobs side
(``agent_jobs.JobsFlow``) and the download side (``agent_download.DownloadFlow``) build on it;
``agent.DeviceAgent`` combines them and dispatches events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from ota_deploy.core.clock import Clock
from ota_deploy.fleet import protocol as proto
from ota_deploy.fleet.behaviour import Behaviour, BehaviourChooser
from ota_deploy.fleet.blocks import BlockAssembler
from ota_deploy.fleet.events import (
    Action,
    CancelTimer,
    HttpCompleted,
    JobResult,
    Publish,
    StartTimer,
)
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.protocol import FirmwareSpec

ACTIVE_STATES = ("QUEUED", "IN_PROGRESS")
RECONNECT_AFTER_DROP = 0.2  # seconds a simulated disconnect keeps the link down
JOBS_TIMER, STREAM_TIMER, PACE_TIMER = "jobs", "stream", "pace"
# Each outstanding Jobs request (start-next, {jobId}/get, {jobId}/update) owns a timeout timer
# named after its clientToken, so a reply cancels only its own request's timer. JOBS_TIMER is
# left for the backoff after a rejection, when no request is outstanding.
JOBS_REQUEST_PREFIX = "jobs:"
MAX_DETAIL = 1000  # statusDetails values are at most 1024 characters


@dataclass
class _Update:
    status: str
    details: dict[str, str]
    terminal: bool
    token: str = ""
    attempts: int = 0


@dataclass
class _Run:
    """One job execution being worked on."""

    job_id: str
    execution_number: int | None
    version: int | None
    behaviour: Behaviour
    started_at: float
    phase: str = "starting"  # describing | downloading | pacing | http | hung | finishing
    spec: FirmwareSpec | None = None
    transport: str | None = None
    assembler: BlockAssembler | None = None
    stream_version: int | None = None
    window: tuple[int, int] | None = None
    stream_token: str | None = None
    retries: int = 0
    requests: int = 0
    download_started: float = 0.0
    drop_after: int | None = None
    corrupt_index: int | None = None
    next_progress: int = 0
    md5_hex: str | None = None
    bytes_received: int = 0
    reconnects: int = 0
    in_flight: _Update | None = None
    pending: _Update | None = None
    result: tuple[str, str | None] | None = None  # (terminal status, reason) once decided
    resync_token: str | None = None
    resync_due: bool = False  # a DescribeJobExecution must be (re)sent when the timer fires
    resync_attempts: int = 0
    details: dict[str, str] = field(default_factory=dict)


class AgentCore:
    """State and action helpers of one device's OTA agent."""

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
        self.chooser = chooser  # exact fleet-wide shares; None: this device draws alone
        self.options = options
        self.clock = clock
        self.public_key = public_key
        self.protocol: proto.Protocol = options.protocol
        self.connected = False
        self.job: _Run | None = None
        self.results: list[JobResult] = []
        self._seq = 0
        self._timers: dict[str, int] = {}  # armed timer name -> token
        self._deadlines: dict[str, float] = {}  # lazily extended deadlines (see _extend)
        self._start_next_token: str | None = None
        self._start_next_attempts = 0
        self._notified_while_starting = False
        self._out: list[Action] = []
        self._block_size = options.block_size
        self._window_blocks = max(
            1, min(options.blocks_per_request, proto.MAX_BYTES_PER_REQUEST // options.block_size)
        )

    # ------------------------------------------------------------------ helpers

    def _token(self) -> str:
        self._seq += 1
        return f"{self._seq}"

    def _set_timer(self, name: str, delay: float) -> None:
        self._seq += 1
        self._timers[name] = self._seq
        self._out.append(StartTimer(name, max(0.0, delay), self._seq))

    def _arm(self, name: str, delay: float) -> None:
        """(Re)arm timer ``name`` to fire in ``delay`` seconds exactly."""
        self._deadlines.pop(name, None)
        self._set_timer(name, delay)

    def _extend(self, name: str, delay: float) -> None:
        """Make timer ``name`` fire ``delay`` seconds from now, lazily.

        Request timeouts move on with every block; re-arming a real timer per block costs a
        timer-heap insertion each time, so only the deadline moves and the armed timer, when
        it fires early, re-arms itself for the rest.
        """
        self._deadlines[name] = self.clock.now() + delay
        if name not in self._timers:
            self._set_timer(name, delay)

    def _disarm(self, name: str) -> None:
        self._deadlines.pop(name, None)
        if self._timers.pop(name, None) is not None:
            self._out.append(CancelTimer(name))

    @staticmethod
    def _request_timer(token: str) -> str:
        """The name of the timeout timer of the Jobs request carrying clientToken ``token``."""
        return JOBS_REQUEST_PREFIX + token

    def _publish(self, topic: str, payload: bytes) -> None:
        self._out.append(Publish(topic, payload))

    def _backoff(self, attempts: int) -> float:
        return float(min(self.options.request_timeout_sec, 0.2 * 2.0 ** min(attempts, 8)))

    # ------------------------------------------------------------------ provided by the flows
    # (JobsFlow in agent_jobs, DownloadFlow in agent_download; DeviceAgent combines them)

    def _finish(self, status: str, reason: str | None, details: dict[str, str]) -> None:
        raise NotImplementedError

    def _queue_update(self, status: str, details: dict[str, str], *, terminal: bool) -> None:
        raise NotImplementedError

    def _flush_update(self) -> None:
        raise NotImplementedError

    def _describe(self) -> None:
        raise NotImplementedError

    def _start_http(self, job: _Run) -> None:
        raise NotImplementedError

    def _resume(self) -> None:
        raise NotImplementedError

    def _on_stream_message(self, info: proto.TopicInfo, payload: bytes) -> None:
        raise NotImplementedError

    def _on_http(self, event: HttpCompleted) -> None:
        raise NotImplementedError

    def _on_stream_timeout(self, job: _Run) -> None:
        raise NotImplementedError

    def _on_timer(self, name: str) -> None:
        raise NotImplementedError

    def _request_window(self) -> None:
        raise NotImplementedError

    def _complete_download(self) -> None:
        raise NotImplementedError

    def _on_message(self, topic: str, payload: bytes) -> None:
        raise NotImplementedError

    def _on_connected(self) -> None:
        raise NotImplementedError

    def _on_connection_lost(self) -> None:
        raise NotImplementedError
