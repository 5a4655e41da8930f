"""A fleet's connect failures, seen together: one warning per condition, not one per device.

Every device of a fleet connects through the same ``ConnectGuard`` (``DeviceContext.guard``)::

    device connect fails --err--> guard.failed(err) -> the device's retry delay
        first time this condition (EMFILE, ENFILE, MemoryError, ConnectionRefusedError, ...)
            -> ONE warning line; later ones are only counted
        exhaustion (out of files or memory) -> every device waits (guard.wait_turn) for a
            fleet-wide pause that doubles (up to MAX_PAUSE) with each failure after the last
            pause ended, so the fleet does not spin on connect; still exhausted FATAL_AFTER
            seconds later, with no connect getting through -> on_fatal(message) once (the run
            ends with that error)
    device connect succeeds -> guard.succeeded(): the pause and the exhaustion clock reset

Timing is the event loop's monotonic time (wall seconds, never the run's scaled clock: it
paces this process's own retries).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

from ota_deploy.runtime.open_files import current, exhaustion_name, is_exhaustion

log = logging.getLogger(__name__)

MAX_PAUSE = 5.0
FATAL_AFTER = 30.0


class ConnectGuard:
    """Connect failures of one fleet (see the module docstring)."""

    def __init__(
        self,
        endpoint: str,
        *,
        on_fatal: Callable[[str], object] | None = None,
        fatal_after: float = FATAL_AFTER,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._monotonic = monotonic  # None: the running event loop's clock
        self.on_fatal = on_fatal
        self.fatal_after = fatal_after
        self.counts: Counter[str] = Counter()
        self.fatal: str | None = None
        self._pause = 0.0
        self._pause_until = 0.0
        self._exhausted_since: float | None = None

    async def wait_turn(self) -> None:
        """Wait out a fleet-wide pause (while out of files or memory)."""
        while (left := self._pause_until - self._now()) > 0:
            await asyncio.sleep(left)

    def _now(self) -> float:
        if self._monotonic is not None:
            return self._monotonic()
        return asyncio.get_running_loop().time()

    def failed(self, err: BaseException, attempt: int) -> float:
        """Record one failed connect; how long (s) this device waits before its next try."""
        now = self._now()
        exhausted = is_exhaustion(err)
        name = exhaustion_name(err) if exhausted else type(err).__name__
        self.counts[name] += 1
        if self.counts[name] == 1:
            log.warning("%s", self._describe(name, err, exhausted))
        if not exhausted:
            return min(30.0, 0.5 * 2.0 ** min(attempt, 6))
        if now >= self._pause_until:  # connects in flight when a pause began do not grow it
            self._pause = min(MAX_PAUSE, max(0.1, self._pause * 2))
            self._pause_until = now + self._pause
        if self._exhausted_since is None:
            self._exhausted_since = now
        elif now - self._exhausted_since >= self.fatal_after and self.fatal is None:
            self.fatal = (
                f"devices still cannot connect to {self.endpoint} after "
                f"{self.fatal_after:.0f} s: {self._condition(name)} "
                f"({self.counts[name]} failed connects)"
            )
            log.error("%s", self.fatal)
            if self.on_fatal is not None:
                self.on_fatal(self.fatal)
        return self._pause_until - now

    def succeeded(self) -> None:
        self._pause = 0.0
        self._exhausted_since = None

    def summary(self) -> str | None:
        """``connect failures: EMFILE 523, ConnectionRefusedError 3``, or None."""
        if not self.counts:
            return None
        return "connect failures: " + ", ".join(f"{k} {v}" for k, v in self.counts.most_common())

    def _condition(self, name: str) -> str:
        if name in ("EMFILE", "ENFILE"):
            limit = current()
            where = "this process" if name == "EMFILE" else "the system"
            soft = "unlimited" if limit.unlimited else str(limit.soft)
            return f"{where} is out of open files ({name}; open-file limit {soft}, see ulimit -n)"
        return f"out of memory ({name})"

    def _describe(self, name: str, err: BaseException, exhausted: bool) -> str:
        if exhausted:
            return (
                f"fleet: {self._condition(name)} while connecting devices to {self.endpoint}; "
                "backing off and retrying (one line per condition)"
            )
        return (
            f"fleet: devices cannot connect to {self.endpoint} ({name}: {err}); retrying with "
            "backoff (one line per condition)"
        )
