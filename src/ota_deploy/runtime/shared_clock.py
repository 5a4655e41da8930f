"""One time source across processes: a ``ClockSpec`` is pickled to each child, which makes
a clock from it that reads the same virtual time as the parent's.

A run has one time source (``wiring.clock``). With ``--time-scale`` it is a ``ScaledClock``:
virtual = start + (wall - wall origin) x scale. Two ScaledClocks made at different moments with
the same scale drift apart by (the gap) x (scale - 1), so a child must not just make "a
ScaledClock of the same scale": ``ClockSpec.of(clock)`` reads the parent's virtual time and the
wall time together, and ``ClockSpec.make()`` in the child starts its clock at the virtual time
that corresponds to the child's own wall time. The wall clock is shared by the OS, so both then
agree to within the microseconds between two ``time.time()`` calls (times the scale).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ota_deploy.core.clock import ScaledClock, SystemClock, TimeSource


@dataclass(frozen=True)
class ClockSpec:
    """Picklable description of a time source: its scale and one (wall, virtual) pair."""

    scale: float
    wall: float
    virtual: float

    @classmethod
    def of(cls, clock: TimeSource) -> ClockSpec:
        """The spec of ``clock`` now (a ``SystemClock``, ``ScaledClock`` or the like)."""
        wall = time.time()
        return cls(scale=clock.scale, wall=wall, virtual=clock.now())

    def make(self) -> TimeSource:
        """A time source reading the same virtual time as the one this spec was taken of."""
        if self.scale == 1.0 and abs(self.virtual - self.wall) < 1e-3:
            return SystemClock()
        start = self.virtual + (time.time() - self.wall) * self.scale
        return ScaledClock(self.scale, start=start)
