"""A device's named one-shot timers (``StartTimer`` / ``CancelTimer``) on one loop timer.

How data flows: ``start(name, delay, token)`` notes the deadline; ``cancel(name)`` forgets
it. One ``loop.call_at`` handle waits for the earliest deadline; when it runs, every timer
then due is handed to ``fire`` as ``TimerFired(name, token)`` in deadline order, as the
loop would have run one ``call_later`` per timer, and the handle is set for the next one.

Why: a device arms a timeout for every Jobs request and cancels it at the reply, about
eight times a job. A loop timer per request is a heap insertion and a cancelled handle
each time; here a later deadline than the one waited for (every request timeout: they all
have the same length) only notes it, and a cancel only forgets it. The handle left waiting
for a forgotten deadline runs once, finds nothing due and waits for the next one (or for
none). Due means what the loop means: ``when`` within its clock resolution of now.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ota_deploy.fleet.events import TimerFired

# How close to its time the loop runs a timer (BaseEventLoop's own _clock_resolution).
_RESOLUTION = time.get_clock_info("monotonic").resolution


class DeviceTimers:
    """Named one-shot timers of one device, ``fire``d as ``TimerFired`` when due."""

    __slots__ = ("_due", "_fire", "_handle", "_loop", "_waits_for")

    def __init__(self, fire: Callable[[TimerFired], object]) -> None:
        self._fire = fire
        self._due: dict[str, tuple[float, int]] = {}  # name -> (loop time due, token)
        self._handle: asyncio.TimerHandle | None = None
        self._waits_for = 0.0  # the loop time the handle runs at
        self._loop: asyncio.AbstractEventLoop | None = None

    def __contains__(self, name: str) -> bool:
        return name in self._due

    def __len__(self) -> int:
        return len(self._due)

    def start(self, name: str, delay: float, token: int) -> None:
        """(Re)arm ``name`` to fire ``TimerFired(name, token)`` in ``delay`` seconds."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        when = loop.time() + delay
        self._due[name] = (when, token)
        handle = self._handle
        if handle is None:
            self._wait(loop, when)
        elif when < self._waits_for:
            handle.cancel()
            self._wait(loop, when)

    def cancel(self, name: str) -> None:
        self._due.pop(name, None)

    def close(self) -> None:
        """Forget every timer (the device is closing)."""
        self._due.clear()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _wait(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self._waits_for = when
        self._handle = loop.call_at(when, self._run)

    def _run(self) -> None:
        self._handle = None
        loop = self._loop
        assert loop is not None
        end = loop.time() + _RESOLUTION
        due = sorted(
            ((when, name, token) for name, (when, token) in self._due.items() if when < end),
            key=lambda entry: entry[0],
        )
        for _, name, _ in due:
            del self._due[name]
        if self._due:
            self._wait(loop, min(when for when, _ in self._due.values()))
        for _, name, token in due:
            self._fire(TimerFired(name, token))
