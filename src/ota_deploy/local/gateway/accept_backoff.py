"""What the accept loop does when the process runs out of descriptors (sans-I/O).

Data flow: the listener (:mod:`.listener`) reports each failed ``accept()`` with
``failed(errno, now)`` and each successful one with ``succeeded(now)``; it gets back how long
to stop accepting and the one log line to write, if any. Nothing here touches a socket or a
logger, so the timing is tested on a ``FakeClock``.

Why: when ``accept()`` fails with EMFILE (the process's descriptor limit) or ENFILE (the
system's), the pending connection stays in the kernel's backlog and the listening socket stays
readable, so retrying at once spins. asyncio's own server removes the reader for a second and
reports every failure through the loop's exception handler -- one traceback per attempt, for as
long as the condition lasts. Here a condition is reported once when it starts and once when it
ends (with how many attempts failed meanwhile), and the pause grows from ``first_delay`` to
``max_delay`` while it lasts, so a gateway out of descriptors neither spins nor floods its log,
and accepts again as soon as descriptors are free.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

# accept() errors that mean "no resources for a new connection now": wait and retry.
EXHAUSTION = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def errno_name(code: int | None) -> str:
    return errno.errorcode.get(code or 0, str(code))


@dataclass
class AcceptBackoff:
    """The accept loop's state under exhaustion: the condition in force, its start, the
    attempts that failed, and the next pause."""

    first_delay: float = 0.05
    max_delay: float = 2.0
    condition: int | None = None  # errno of the condition in force, None when accepting
    since: float = 0.0
    failures: int = 0
    delay: float = 0.0

    def failed(self, code: int, now: float, listener: str = "gateway") -> tuple[float, str | None]:
        """An ``accept()`` failed with ``code`` (one of ``EXHAUSTION``): the pause before the
        next attempt, and the warning line when this condition just started (else None)."""
        line = None
        if code != self.condition:
            self.condition, self.since, self.failures = code, now, 0
            self.delay = self.first_delay
            line = (
                f"{listener}: cannot accept connections ({errno_name(code)}: "
                f"{os.strerror(code)}); pausing accept, retrying with backoff up to "
                f"{self.max_delay:g} s (raise 'ulimit -n' if this persists)"
            )
        else:
            self.delay = min(self.delay * 2, self.max_delay)
        self.failures += 1
        return self.delay, line

    def succeeded(self, now: float, listener: str = "gateway") -> str | None:
        """An ``accept()`` worked: the recovery line when a condition was in force."""
        if self.condition is None:
            return None
        line = (
            f"{listener}: accepting connections again after {errno_name(self.condition)} "
            f"({self.failures} attempt(s) refused over {now - self.since:.1f} s)"
        )
        self.condition, self.failures, self.delay = None, 0, 0.0
        return line
