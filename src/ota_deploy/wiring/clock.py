"""The run's one time source, made here once and handed to everything that needs the time.

Against AWS it is the wall clock (``SystemClock``). With the local AWS IoT it is
``ScaledClock(time_scale)``: the deployment, its AWS adapters, the local AWS IoT and the fleet
all read and wait on that one object, so their timestamps agree and ``--time-scale`` is applied
in one place (``ScaledClock.sleep``), never by hand.
"""

from __future__ import annotations

from ota_deploy.core.clock import ScaledClock, SystemClock, TimeSource


def time_source(*, local: bool, time_scale: float = 1.0) -> TimeSource:
    """``SystemClock()`` for real AWS; ``ScaledClock(time_scale)`` for the local AWS IoT."""
    if not local:
        return SystemClock()
    return ScaledClock(time_scale)
