"""The one time source: what time it is, how to wait, and how fast virtual time runs.

Every component that needs the time takes a ``TimeSource`` (or only its ``now`` half, a
``Clock``); nothing calls ``time.time()`` or ``time.sleep()`` on its own. A run makes exactly one
time source (``wiring``) and hands the same object to the deployment, the AWS adapters, the
local AWS IoT and the fleet, so their timestamps agree and a time scale is applied in one
place: ``sleep(s)`` takes *virtual* seconds and waits ``s / scale`` wall-clock seconds.

- ``SystemClock``: the wall clock (scale 1).
- ``MonotonicClock``: seconds that never step (protocol timers such as MQTT keep-alive, which
  peers count in real seconds: never scaled, never moved by an NTP correction).
- ``ScaledClock``: virtual time ``scale`` times faster than the wall clock, starting at
  ``start`` (default: now). The local AWS IoT's ``--time-scale F`` uses it, so minute-based
  AWS settings elapse in seconds; a restart resumes at a saved virtual time with ``start``.
- ``FakeClock``: moved by hand; ``sleep`` advances it (tests never wait).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Seconds since the epoch (float), as ``time.time()`` gives them."""

    def now(self) -> float: ...


class TimeSource(Clock, Protocol):
    """A clock that can also wait, in its own (possibly scaled) seconds."""

    @property
    def scale(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The wall clock."""

    scale = 1.0

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class MonotonicClock:
    """``time.monotonic()``: for intervals only (its zero is arbitrary, not the epoch)."""

    scale = 1.0

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ScaledClock:
    """Virtual time that runs ``scale`` times faster than the wall clock."""

    def __init__(self, scale: float = 1.0, *, start: float | None = None) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self._wall_origin = time.time()
        self._start = self._wall_origin if start is None else start
        self._scale = scale

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> float:
        return self._start + (time.time() - self._wall_origin) * self._scale

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self._scale)


class FakeClock:
    """A clock tests move by hand; ``sleep`` moves it too."""

    def __init__(self, start: float = 1_700_000_000.0, *, scale: float = 1.0) -> None:
        self._now = start
        self._scale = scale
        self.slept: list[float] = []

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds > 0:
            self._now += seconds

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._now += seconds

    def set(self, when: float) -> None:
        self._now = when
