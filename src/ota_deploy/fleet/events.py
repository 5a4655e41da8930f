"""The device agent's vocabulary: events it is fed and actions it asks its driver to perform.

h11-style sans-I/O: ``DeviceAgent.handle(event) -> list[Action]``. A simulated device
(``fleet.device``) turns MQTT messages, timer expiries and HTTP results into events and
performs the actions with a real MQTT client, ``loop.call_later`` and aiohttp; unit tests pair
the agent with the real reserved-topic handlers in memory (``tests/support/device_pair.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --------------------------------------------------------------------------- events (in)


@dataclass(frozen=True, slots=True)
class Connected:
    """The MQTT session is up (first time or after a reconnect)."""


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The MQTT link dropped (by the network or by a ``DropConnection`` action)."""


@dataclass(frozen=True, slots=True)
class MessageReceived:
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class TimerFired:
    name: str
    token: int  # the token of the StartTimer that armed it; stale tokens are ignored


@dataclass(frozen=True, slots=True)
class HttpCompleted:
    url: str
    status: int | None  # None: no HTTP response (connection error)
    body: bytes = b""
    error: str | None = None


Event = Connected | ConnectionLost | MessageReceived | TimerFired | HttpCompleted


# --------------------------------------------------------------------------- actions (out)

ABANDONED = "ABANDONED"
"""``JobResult.status`` when the device gave up on an execution whose end it could not learn
(no reply after every retry); every other status is an ``ExecutionStatus``."""


@dataclass(frozen=True, slots=True)
class Subscribe:
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Arm (or re-arm, replacing any earlier one of the same name) a one-shot timer."""

    name: str
    delay: float
    token: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class HttpGet:
    url: str


@dataclass(frozen=True, slots=True)
class DropConnection:
    """Close the MQTT link now and reconnect after ``reconnect_after`` seconds."""

    reconnect_after: float


@dataclass(frozen=True, slots=True)
class JobResult:
    """How one job execution ended on this device (the runner's statistics)."""

    thing: str
    job_id: str
    execution_number: int | None
    status: str  # the ExecutionStatus it reported or the service ended it with, or ABANDONED
    reason: str | None
    transport: str | None  # "mqtt" | "http" (presigned URL) | None (no download)
    bytes_received: int
    md5_hex: str | None  # md5 of what was received (None if no complete download)
    started_at: float
    finished_at: float
    fault: str = "none"
    reconnects: int = 0
    requests: int = 0  # GetStream requests published
    details: dict[str, str] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class JobFinished:
    result: JobResult


Action = Subscribe | Publish | StartTimer | CancelTimer | HttpGet | DropConnection | JobFinished
