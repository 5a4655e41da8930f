"""Bounded gateway work per event-loop iteration, so the rest of the loop keeps its turn.

Why: the MQTT gateway, the HTTP control plane (aiohttp), the service's tick and every timer of
the local AWS IoT share one asyncio loop, and asyncio runs every callback that is ready in one
iteration before it polls again. Under a fleet's download, nearly every device connection holds
a request in each iteration, so one iteration ran 10,000 ``data_received`` calls back to back
(~0.5 s), and each step of an HTTP request (read, handler task, reply) waited a whole
iteration: one DescribeJob took seconds and a monitor poll of many pages a minute (issue 9).

Data flow::

    GatewayConnection.data_received(bytes)
        -> admit()  True:  handle the bytes now (the usual case: nobody waits, and this
                           iteration's slice of gateway work is not used up yet)
                    False: the connection keeps the bytes (its backlog) and ``wait(it)``
                           queues it, once, behind the connections already waiting
    next iteration: ``_turn`` (scheduled with ``call_soon``) opens a new slice and gives the
        waiting connections their turn, oldest first, until the slice is used up; the rest
        wait for the iteration after.

So one iteration does at most one slice (``SLICE_S``) of gateway work, plus the one
connection that crosses the slice's end, and whatever else is ready on the loop runs between
slices. A connection's bytes are always handled in the order they arrived (a connection with
a backlog queues its new bytes behind it); connections are served first come, first served.
Throughput is unchanged: the work is the same, only cut into slices (one ``perf_counter`` per
read is the cost).

Unbound (``bind`` not called: a gateway that was never started, as in tests that drive a
connection directly) everything is admitted at once, as before.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

SLICE_S = 0.002  # gateway work per loop iteration before the rest of the loop runs


class Waiter(Protocol):
    def take_turn(self) -> None:
        """Handle what was kept back (called once per ``wait``)."""


class FairShare:
    """The gateway's slices of loop time (see the module docstring)."""

    def __init__(self, slice_s: float = SLICE_S, now: Callable[[], float] = time.perf_counter):
        self.slice_s = slice_s
        self._now = now
        self._call_soon: Callable[[Callable[[], None]], object] | None = None
        self._scheduled = False  # a _turn is on the loop's ready queue
        self._ends = 0.0
        self._waiting: deque[Waiter] = deque()
        self.deferred = 0  # times a connection was queued for a later turn (stats, tests)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """From now on, slice the work on ``loop`` (the gateway's)."""
        self._call_soon = loop.call_soon

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def admit(self) -> bool:
        """May a connection handle what it just received now?"""
        if self._waiting:
            return False  # first come, first served
        if not self._scheduled:
            if self._call_soon is None:
                return True
            # The first gateway work of this iteration: a new slice; the next iteration's
            # _turn closes it.
            self._scheduled = True
            self._call_soon(self._turn)
            self._ends = self._now() + self.slice_s
            return True
        return self._now() < self._ends

    def wait(self, waiter: Waiter) -> None:
        """``waiter`` kept what it received for a later turn (not admitted)."""
        self.deferred += 1
        self._waiting.append(waiter)
        if not self._scheduled and self._call_soon is not None:
            self._scheduled = True
            self._call_soon(self._turn)

    def _turn(self) -> None:
        """A new iteration: a new slice for the waiting connections, oldest first."""
        self._scheduled = False
        waiting = self._waiting
        if not waiting:
            return
        assert self._call_soon is not None
        self._scheduled = True
        self._call_soon(self._turn)  # the iteration after this one opens the next slice
        ends = self._ends = self._now() + self.slice_s
        now = self._now
        while waiting:
            waiting.popleft().take_turn()
            if now() >= ends:
                return
