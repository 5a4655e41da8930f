"""Fault injection for the local control plane: throttling, 5xx, latency, dropped connections.

The HTTP layer asks ``FaultInjector.decide(service, operation)`` once per request, before the
operation runs, and acts on the ``FaultDecision``: sleep ``latency_s``, then either answer
``ThrottlingException`` with HTTP 429 (the jobs data plane's modeled status; the ``iot``
model says 400, but botocore retries on the code ``ThrottlingException`` whatever the status,
and on 429 whatever the code -- botocore/retries/standard.py; see also
https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html), answer
``InternalFailureException`` 500 or ``ServiceUnavailableException`` 503 (both retried as
transient), close the connection without an answer (``drop``), or run normally. Decisions come
from one seeded ``random.Random``, so a failing test replays with the same seed. The draw order
is fixed (latency, drop, throttle, error) so each rate is the share of all filtered requests.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal

FaultAction = Literal["throttle", "error500", "error503", "drop"]


@dataclass(frozen=True)
class FaultConfig:
    """Shares of requests (0..1) that fail each way; ``operations`` limits which are hit."""

    throttle_rate: float = 0.0
    error_rate: float = 0.0  # split evenly between 500 InternalFailure and 503 Unavailable
    latency_ms: float = 0.0
    latency_rate: float = 0.0  # share of requests delayed by latency_ms (1.0 when only ms given)
    drop_rate: float = 0.0
    seed: int | None = None
    operations: frozenset[str] = field(default_factory=frozenset)  # botocore names; empty=all

    def __post_init__(self) -> None:
        for name in ("throttle_rate", "error_rate", "latency_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")

    @property
    def active(self) -> bool:
        return bool(self.throttle_rate or self.error_rate or self.drop_rate or self.latency_ms > 0)


@dataclass(frozen=True)
class FaultDecision:
    latency_s: float = 0.0
    action: FaultAction | None = None


NO_FAULT = FaultDecision()


class FaultInjector:
    """Draws a FaultDecision per request from a seeded random source (thread-safe)."""

    def __init__(self, config: FaultConfig | None = None, rng: random.Random | None = None) -> None:
        self.config = config or FaultConfig()
        self._rng = rng or random.Random(self.config.seed)
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def decide(self, service: str, operation: str) -> FaultDecision:
        cfg = self.config
        if not cfg.active:
            return NO_FAULT
        if cfg.operations and operation not in cfg.operations:
            return NO_FAULT
        with self._lock:
            latency = 0.0
            if cfg.latency_ms > 0:
                rate = cfg.latency_rate if cfg.latency_rate > 0 else 1.0
                if self._rng.random() < rate:
                    latency = cfg.latency_ms / 1000.0
            action: FaultAction | None = None
            if cfg.drop_rate and self._rng.random() < cfg.drop_rate:
                action = "drop"
            elif cfg.throttle_rate and self._rng.random() < cfg.throttle_rate:
                action = "throttle"
            elif cfg.error_rate and self._rng.random() < cfg.error_rate:
                action = "error500" if self._rng.random() < 0.5 else "error503"
            if action is not None:
                self.counts[action] = self.counts.get(action, 0) + 1
            if latency:
                self.counts["latency"] = self.counts.get("latency", 0) + 1
            return FaultDecision(latency, action)
