"""Failures that repeat, logged as conditions rather than one traceback per event.

A loop that fails on every turn (the local AWS IoT's 50 ms tick) or a handler that fails on
every request of a fleet would otherwise write a traceback per event: twenty a second, or one
per device, burying the line that matters. Flow: the caller reports each failure with
``failed(what, err)``; something periodic (a tick, a sweep) calls ``report_due()``; the owner
calls ``flush()`` when it stops::

    first failure of (what, exception type) -> one ERROR line: what failed and why
                                               (its traceback at DEBUG only)
    the same failure again                  -> counted, not logged
    failed / report_due, once ``every`` s    -> one WARNING with the count since the last line,
      have passed since the last line          then quiet again; a condition with nothing new
                                               for ``every`` s is forgotten, so a recurrence
                                               later is a first failure again
    flush()                                 -> the counts not yet reported; all forgotten

So a condition costs at most one line per ``every`` seconds, however many events it has.
Used from one thread (the event loop that owns the component); no locking.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ota_deploy.core.errors import excerpt

REPORT_EVERY = 30.0  # seconds between two lines about the same condition


def describe(err: BaseException) -> str:
    """``Type: first line of the message``, bounded (a message may quote a peer's input)."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {excerpt(lines[0])}" if lines else type(err).__name__


@dataclass
class _Condition:
    kind: str  # the exception type's name
    reported_at: float  # when its last line was written
    last_failed: float
    unreported: int = 0  # failures since that line


class FailureLog:
    """The repeated failures of one component, by what failed and the exception's type."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        every: float = REPORT_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.every = every
        self.clock = clock
        self.failures = 0  # every failure reported, logged or counted
        self._open: dict[tuple[str, str], _Condition] = {}

    def failed(self, what: str, err: BaseException, detail: str = "") -> None:
        """``what`` failed with ``err``; ``detail`` (e.g. the request's topic) is shown in the
        first line only, and is not part of the condition."""
        self.failures += 1
        now = self.clock()
        kind = type(err).__name__
        cond = self._open.get((what, kind))
        if cond is None:
            self._open[(what, kind)] = _Condition(kind, now, now)
            where = f" ({excerpt(detail)})" if detail else ""
            self.logger.error(
                "%s failed%s: %s (repeats are counted, not logged each time)",
                what,
                where,
                describe(err),
            )
            self.logger.debug("%s failed: the traceback", what, exc_info=err)
            return
        cond.unreported += 1
        cond.last_failed = now
        if now - cond.reported_at >= self.every:
            self._report(what, cond, now)

    def report_due(self) -> None:
        """Write the counts whose ``every`` has passed; forget conditions quiet that long."""
        if not self._open:
            return
        now = self.clock()
        for key, cond in list(self._open.items()):
            if now - cond.reported_at < self.every:
                continue
            if cond.unreported:
                self._report(key[0], cond, now)
            elif now - cond.last_failed >= self.every:
                del self._open[key]

    def flush(self) -> None:
        """Write every count not yet reported and forget every condition (at stop)."""
        now = self.clock()
        for (what, _), cond in self._open.items():
            if cond.unreported:
                self._report(what, cond, now)
        self._open.clear()

    def _report(self, what: str, cond: _Condition, now: float) -> None:
        self.logger.warning(
            "%s failed %d more time(s) (%s) in the last %.0f s",
            what,
            cond.unreported,
            cond.kind,
            now - cond.reported_at,
        )
        cond.unreported = 0
        cond.reported_at = now
