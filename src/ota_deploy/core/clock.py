"""Injected clocks, so time-based logic (rollout rates, timeouts, backoff) is tested without sleeps.

Every component that needs the time takes a ``Clock``; nothing calls ``time.time()`` at import.
``ScaledClock`` is what the local AWS IoT's ``--time-scale F`` uses: virtual time advances F
times faster than the wall clock, so minute-based AWS settings elapse in seconds.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Seconds since the epoch (float), as ``time.time()`` gives them."""

    def now(self) -> float: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        return time.time()


class ScaledClock:
    """Virtual time that runs ``scale`` times faster than the wall clock from its creation."""

    def __init__(self, scale: float = 1.0, base: Clock | None = None) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self._base = base or SystemClock()
        self._origin = self._base.now()
        self.scale = scale

    def now(self) -> float:
        real = self._base.now()
        return self._origin + (real - self._origin) * self.scale

    def real_seconds(self, virtual_seconds: float) -> float:
        """How many wall-clock seconds a virtual interval lasts."""
        return virtual_seconds / self.scale


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._now += seconds

    def set(self, when: float) -> None:
        self._now = when
