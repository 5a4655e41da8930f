"""Fleet statistics: per-device job outcomes, bytes, durations and connection counts.

The runner appends a ``JobResult`` each time an agent finishes (or abandons) an execution and
counts connections; ``FleetStats`` is a plain snapshot the CLI prints, tests assert on and the
benchmark turns into throughput figures.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ota_deploy.core.status import ExecutionStatus
from ota_deploy.fleet.events import JobResult


@dataclass
class FleetStats:
    devices: int = 0
    connected: int = 0  # devices whose link is up now
    connects: int = 0  # successful CONNECTs, first ones and reconnects
    reconnects: int = 0
    connect_failures: int = 0
    messages_in: int = 0
    messages_out: int = 0
    results: list[JobResult] = field(default_factory=list)

    def by_status(self, job_id: str | None = None) -> dict[str, int]:
        """How many results ended in each status (plain strings: they are printed as JSON)."""
        return dict(Counter(str(r.status) for r in self.results if job_id in (None, r.job_id)))

    @property
    def bytes_received(self) -> int:
        return sum(r.bytes_received for r in self.results)

    def summary(self) -> dict[str, Any]:
        done = [r for r in self.results if r.status == ExecutionStatus.SUCCEEDED]
        durations = sorted(r.duration for r in done)

        def pct(p: float) -> float | None:
            if not durations:
                return None
            return round(durations[min(len(durations) - 1, int(p * len(durations)))], 3)

        return {
            "devices": self.devices,
            "connected": self.connected,
            "connects": self.connects,
            "reconnects": self.reconnects,
            "connect_failures": self.connect_failures,
            "executions": len(self.results),
            "by_status": self.by_status(),
            "bytes_received": self.bytes_received,
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "succeeded_duration_p50_s": pct(0.5),
            "succeeded_duration_p95_s": pct(0.95),
        }
