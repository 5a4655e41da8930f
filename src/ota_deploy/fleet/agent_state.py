"""What the device agent knows about the execution it works on, and what its flows may ask of it.

``agent.DeviceAgent`` owns the state: the link, the current ``JobRun`` (one job execution:
its phase, download bookkeeping, the status update in flight and the one waiting), the
client-token sequence and the armed timers. It composes two flows, ``agent_jobs.JobsFlow``
(the Jobs MQTT API conversation) and ``agent_download.DownloadFlow`` (getting the image and
checking it). Each flow reaches the agent only through a small ``Protocol`` naming what it
needs: ``AgentServices`` here (identity, settings, publish, timers) plus, per flow, the few
calls into the other flow that the agent forwards (``JobsHost``, ``DownloadHost``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ota_deploy.core.clock import Clock
from ota_deploy.core.status import ExecutionStatus
from ota_deploy.fleet import protocol as proto
from ota_deploy.fleet.behaviour import Behaviour
from ota_deploy.fleet.block_messages import StreamWire
from ota_deploy.fleet.blocks import BlockAssembler
from ota_deploy.fleet.events import Action, JobResult
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.phase import Phase, check_move
from ota_deploy.fleet.protocol import FirmwareSpec

RECONNECT_AFTER_DROP = 0.2  # seconds a simulated disconnect keeps the link down
JOBS_TIMER, STREAM_TIMER, PACE_TIMER = "jobs", "stream", "pace"
# Each outstanding Jobs request (start-next, {jobId}/get, {jobId}/update) owns a timeout timer
# named after its clientToken, so a reply cancels only its own request's timer. JOBS_TIMER is
# left for the backoff after a rejection, when no request is outstanding.
JOBS_REQUEST_PREFIX = "jobs:"
MAX_DETAIL = 1000  # statusDetails values are at most 1024 characters


@dataclass(slots=True)
class Update:
    """One UpdateJobExecution request: sent (``token`` set) or waiting its turn."""

    status: ExecutionStatus
    details: dict[str, str]
    terminal: bool
    token: str = ""
    attempts: int = 0


@dataclass(slots=True)
class JobRun:
    """One job execution being worked on (slots: its fields are read once per block)."""

    job_id: str
    execution_number: int | None
    version: int | None
    behaviour: Behaviour
    started_at: float
    _phase: Phase = Phase.STARTING
    spec: FirmwareSpec | None = None
    transport: str | None = None
    assembler: BlockAssembler | None = None
    wire: StreamWire | None = None  # set with the assembler of an MQTT download
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
    in_flight: Update | None = None
    pending: Update | None = None
    result: tuple[str, str | None] | None = None  # (terminal status, reason) once decided
    resync_token: str | None = None
    resync_due: bool = False  # a DescribeJobExecution must be (re)sent when the timer fires
    resync_attempts: int = 0
    details: dict[str, str] = field(default_factory=dict)

    @property
    def phase(self) -> Phase:
        return self._phase

    def outcome(self, thing: str, status: str, reason: str | None, now: float) -> JobResult:
        """How the execution ended on ``thing`` (``status``: its end, or ABANDONED)."""
        return JobResult(
            thing=thing,
            job_id=self.job_id,
            execution_number=self.execution_number,
            status=status,
            reason=reason,
            transport=self.transport,
            bytes_received=self.bytes_received,
            md5_hex=self.md5_hex,
            started_at=self.started_at,
            finished_at=now,
            fault=self.behaviour.fault.value,
            reconnects=self.reconnects,
            requests=self.requests,
        )

    def enter(self, phase: Phase) -> None:
        """Move to ``phase``: the one place the phase changes, checked against ``MOVES``."""
        check_move(self._phase, phase)
        self._phase = phase


class AgentServices(Protocol):
    """What both flows need from the agent that owns them."""

    thing: str
    options: FleetOptions
    clock: Clock
    protocol: proto.Protocol
    connected: bool
    job: JobRun | None

    def token(self) -> str:
        """A fresh client token (also the sequence that tells timers apart)."""
        ...

    def publish(self, topic: str, payload: bytes) -> None: ...

    def emit(self, action: Action) -> None:
        """Any other action for the driver, in order with the publishes."""
        ...

    def arm(self, name: str, delay: float) -> None:
        """(Re)arm timer ``name`` to fire in ``delay`` seconds exactly."""
        ...

    def extend(self, name: str, delay: float) -> None:
        """Make timer ``name`` fire ``delay`` seconds from now (cheaply, see the agent)."""
        ...

    def disarm(self, name: str) -> None: ...

    def armed(self, name: str) -> bool:
        """Whether timer ``name`` is armed (so ``extend`` moves only its deadline)."""
        ...

    def backoff(self, attempts: int) -> float:
        """Seconds to wait before attempt ``attempts + 1`` of a rejected request."""
        ...
