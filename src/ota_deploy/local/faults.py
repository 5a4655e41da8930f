"""Fault injection a test can aim: per service, per operation, seeded, counted.

Flow: a transport (the HTTP control plane, the S3 front, the MQTT gateway) asks
``FaultInjector.decide(service, operation)`` once per operation, BEFORE running it, and acts on
the returned ``FaultDecision``: first sleep ``latency_s`` (when non-zero), then do what
``action`` says (``None``: run the operation normally). Decisions come from one seeded
``random.Random`` per injector, so a failing test replays with the same seed; ``counts`` (by
action) and ``by_operation`` (by ``"service:Operation"``, then action) say what was injected.

Which rates apply to a request (``FaultConfig``):

* an entry of ``per_operation`` keyed ``"service:Operation"`` (e.g. ``"iot:CreateJob"``) or
  ``"Operation"`` (any service; ``DescribeJobExecution`` exists in both ``iot`` and
  ``iot-jobs-data``) describes that operation completely, whatever ``services`` and
  ``operations`` say; its ``times`` caps how many faults it injects, after which the operation
  runs clean. ``{"CreateJob": OperationFaults(lose_reply_rate=1.0, times=1)}`` loses exactly
  the first CreateJob reply.
* otherwise the global rates apply to the services in ``services`` (by default the HTTP
  control plane only, as before S3 and MQTT could be aimed at) and, when ``operations`` is not
  empty, only to the operations it names.

Draw order is fixed (latency, then drop, lose_reply, throttle, error; a rate of 0 draws
nothing), so a later action's rate is its share of the requests the earlier ones spared, and
configurations that leave the new rates at 0 replay exactly as before.

The contract: what each action means, per transport
-------------------------------------------------

Semantics shared by every transport:

* ``throttle``   -- refuse before running, retryable: "slow down". The operation has no effect.
* ``error500``   -- refuse before running, as a server fault. No effect.
* ``error503``   -- refuse before running, as "unavailable". No effect.
* ``drop``       -- close the connection before running; no answer. No effect.
* ``lose_reply`` -- RUN the operation (its effect stays, success or error alike), then close
  the connection instead of answering. The client cannot tell it from ``drop``; a retry may
  meet the changed state (ResourceAlreadyExists, a VersionMismatch, a second execution
  update). This is what a reply lost on the wire after the service committed looks like.
* ``latency_s``  -- delay the operation (before any action) by that many seconds.

HTTP control plane (services ``"iot"`` and ``"iot-jobs-data"``; operation = botocore's
operation name, e.g. ``"CreateJob"``; ``local/http/app.py``): throttle -> 429
``ThrottlingException``; error500 -> 500 ``InternalFailureException``; error503 -> 503
``ServiceUnavailableException``; drop -> the transport is aborted before the handler runs;
lose_reply -> the handler runs, then the transport is aborted unanswered. botocore retries all
of these (``ConnectionClosedError`` included) in every retry mode.

S3 (service ``"s3"``; operation = botocore's S3 operation name: ``"PutObject"``,
``"GetObject"``, ``"HeadObject"``, ``"CreateBucket"``, ``"DeleteObject"``, ...; a presigned
GET counts as ``"GetObject"``): throttle -> 503 ``SlowDown`` (S3's throttling code; botocore
treats it as throttling); error500 -> 500 ``InternalError``; error503 -> 503
``ServiceUnavailable``; both with S3's XML error body. drop / lose_reply -> as for HTTP above
(lose_reply: the object is stored / deleted, then the connection is aborted).

MQTT gateway (service ``"mqtt"``; operation = the control packet the client sent,
``"CONNECT"``, ``"SUBSCRIBE"``, ``"UNSUBSCRIBE"``, ``"PUBLISH"``; for a PUBLISH to a reserved
topic the gateway may ask a second time with the reserved operation's API name, e.g.
``"UpdateJobExecution"``, ``"StartNextPendingJobExecution"``, ``"GetStream"``):
throttle -> CONNECT: CONNACK refused (3.1.1 return code 3 "server unavailable", MQTT 5 reason
0x97 "quota exceeded"); a reserved-topic request: its ``.../rejected`` reply with code
``RequestThrottled`` (the Jobs MQTT error code); another PUBLISH under MQTT 5: PUBACK 0x97,
under 3.1.1: the message is discarded unacknowledged; SUBSCRIBE: SUBACK failure 0x80 (MQTT 5
0x97). error500 / error503 -> a reserved-topic request: ``.../rejected`` with ``InternalError``;
any other packet: the connection is closed. drop -> the connection is closed before the packet
is acted on. lose_reply -> the packet is acted on (the publish routed, the subscription made,
the execution updated), then the connection is closed before the CONNACK / SUBACK / PUBACK /
``.../accepted`` goes out.

A transport shares the one injector of its ``LocalAwsIot`` (``ControlPlaneServer`` takes a
``FaultInjector`` as well as a ``FaultConfig``), so one seed drives the whole stack.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Literal

FaultAction = Literal["throttle", "error500", "error503", "drop", "lose_reply"]

CONTROL_PLANE = frozenset({"iot", "iot-jobs-data"})
SERVICES = frozenset({"iot", "iot-jobs-data", "s3", "mqtt"})
_RATE_NAMES = ("throttle_rate", "error_rate", "latency_rate", "drop_rate", "lose_reply_rate")


@dataclass(frozen=True)
class FaultRates:
    """Shares of requests (0..1) that fail each way, and the latency added to a share."""

    throttle_rate: float = 0.0
    error_rate: float = 0.0  # split evenly between 500 InternalFailure and 503 Unavailable
    latency_ms: float = 0.0
    latency_rate: float = 0.0  # share of requests delayed by latency_ms (1.0 when only ms given)
    drop_rate: float = 0.0
    lose_reply_rate: float = 0.0  # run the operation, then close the connection unanswered

    def __post_init__(self) -> None:
        for name in _RATE_NAMES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")

    @cached_property
    def active(self) -> bool:
        """Whether any fault may be drawn (once: asked per MQTT packet and HTTP request)."""
        return self._rates_active()

    def _rates_active(self) -> bool:
        return bool(
            self.throttle_rate
            or self.error_rate
            or self.drop_rate
            or self.lose_reply_rate
            or self.latency_ms > 0
        )


@dataclass(frozen=True)
class OperationFaults(FaultRates):
    """The faults of one operation; ``times`` caps how many it injects (None: no cap)."""

    times: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.times is not None and self.times < 0:
            raise ValueError(f"times must not be negative, got {self.times}")


@dataclass(frozen=True)
class FaultConfig(FaultRates):
    """Global rates (for ``services``, limited to ``operations`` when given) and the
    per-operation entries that override them (see the module docstring)."""

    seed: int | None = None
    operations: frozenset[str] = field(default_factory=frozenset)  # botocore names; empty=all
    services: frozenset[str] = CONTROL_PLANE  # where the global rates apply
    per_operation: Mapping[str, OperationFaults] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = sorted(set(self.services) - SERVICES)
        if unknown:
            raise ValueError(f"unknown fault service(s) {unknown}; known: {sorted(SERVICES)}")
        for key, entry in self.per_operation.items():
            if not isinstance(entry, OperationFaults):
                raise ValueError(f"per_operation[{key!r}] must be an OperationFaults")
            service, sep, operation = key.rpartition(":")
            if not operation or (sep and service not in SERVICES):
                raise ValueError(
                    f"per_operation key {key!r}: expected 'Operation' or 'service:Operation' "
                    f"with a service of {sorted(SERVICES)}"
                )

    @cached_property
    def active(self) -> bool:
        """Whether any rate, global or per operation, is set (once, as for ``FaultRates``)."""
        return self._rates_active() or any(e.active for e in self.per_operation.values())


def per_operation_from_json(text: str) -> dict[str, OperationFaults]:
    """``{"CreateJob": {"lose_reply_rate": 1.0, "times": 1}, "s3:PutObject": {...}}`` ->
    typed entries (for ``local serve --fault-per-operation``); ValueError names what is wrong."""
    try:
        raw = json.loads(text)
    except ValueError as err:
        raise ValueError(f"not JSON: {err}") from None
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object of operation -> {rate: value}")
    known = {f.name for f in fields(OperationFaults)}
    out: dict[str, OperationFaults] = {}
    for key, entry in raw.items():
        if not isinstance(entry, dict):
            raise ValueError(f"{key}: expected an object of rates")
        extra = sorted(set(entry) - known)
        if extra:
            raise ValueError(f"{key}: unknown field(s) {extra}; known: {sorted(known)}")
        for name, value in entry.items():
            wanted = (int, type(None)) if name == "times" else (int, float)
            if isinstance(value, bool) or not isinstance(value, wanted):
                raise ValueError(f"{key}.{name}: expected a number, got {value!r}")
        try:
            out[str(key)] = OperationFaults(**entry)
        except ValueError as err:
            raise ValueError(f"{key}: {err}") from None
    FaultConfig(per_operation=out)  # checks the keys
    return out


@dataclass(frozen=True)
class FaultDecision:
    latency_s: float = 0.0
    action: FaultAction | None = None


NO_FAULT = FaultDecision()


class FaultInjector:
    """Draws a FaultDecision per operation from one seeded random source (thread-safe: the
    S3 front runs on its own thread, the gateway and HTTP on the event loop)."""

    def __init__(self, config: FaultConfig | None = None, rng: random.Random | None = None) -> None:
        self.config = config or FaultConfig()
        self._rng = rng or random.Random(self.config.seed)
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}  # action (or "latency") -> times injected
        self.by_operation: dict[str, dict[str, int]] = {}  # "service:Operation" -> counts
        self._used: dict[str, int] = {}  # per_operation key -> faults injected (for ``times``)

    def count(self, action: str, *, service: str | None = None, operation: str = "") -> int:
        """How many times ``action`` (or ``"latency"``) was injected, overall or for one
        ``service``'s ``operation``."""
        if service is None:
            return self.counts.get(action, 0)
        return self.by_operation.get(f"{service}:{operation}", {}).get(action, 0)

    def _rates_for(self, service: str, operation: str) -> tuple[str | None, FaultRates | None]:
        cfg = self.config
        for key in (f"{service}:{operation}", operation):
            entry = cfg.per_operation.get(key)
            if entry is not None:
                if entry.times is not None and self._used.get(key, 0) >= entry.times:
                    return key, None
                return key, entry
        if service not in cfg.services:
            return None, None
        if cfg.operations and operation not in cfg.operations:
            return None, None
        return None, cfg

    def decide(self, service: str, operation: str) -> FaultDecision:
        """What to do with ``service``'s ``operation`` this time (see the module docstring)."""
        if not self.config.active:
            return NO_FAULT
        with self._lock:
            key, rates = self._rates_for(service, operation)
            if rates is None or not rates.active:
                return NO_FAULT
            decision = self._draw(rates)
            self._record(service, operation, decision)
            if key is not None and decision != NO_FAULT:
                self._used[key] = self._used.get(key, 0) + 1
            return decision

    def _draw(self, rates: FaultRates) -> FaultDecision:
        rng = self._rng
        latency = 0.0
        if rates.latency_ms > 0:
            share = rates.latency_rate if rates.latency_rate > 0 else 1.0
            if rng.random() < share:
                latency = rates.latency_ms / 1000.0
        action: FaultAction | None = None
        if rates.drop_rate and rng.random() < rates.drop_rate:
            action = "drop"
        elif rates.lose_reply_rate and rng.random() < rates.lose_reply_rate:
            action = "lose_reply"
        elif rates.throttle_rate and rng.random() < rates.throttle_rate:
            action = "throttle"
        elif rates.error_rate and rng.random() < rates.error_rate:
            action = "error500" if rng.random() < 0.5 else "error503"
        return FaultDecision(latency, action)

    def _record(self, service: str, operation: str, decision: FaultDecision) -> None:
        injected: list[str] = [decision.action] if decision.action is not None else []
        if decision.latency_s:
            injected.append("latency")
        per_op = self.by_operation.setdefault(f"{service}:{operation}", {})
        for name in injected:
            self.counts[name] = self.counts.get(name, 0) + 1
            per_op[name] = per_op.get(name, 0) + 1


def injector_for(faults: FaultConfig | FaultInjector | None) -> FaultInjector:
    """The injector a transport uses: the one given (shared across the stack) or a new one."""
    return faults if isinstance(faults, FaultInjector) else FaultInjector(faults)
