"""The process's open-file limit (``RLIMIT_NOFILE``): raise the soft limit, say what is left.

Every simulated device holds a socket, and so does the local AWS IoT for each of them, so a
fleet's size is bounded by how many files one process may open. Flow: a command that starts a
fleet or a local AWS IoT first calls ``raise_to_hard()`` (the soft limit is the usual 1024 on
Linux, 256 on macOS; the hard limit is what an unprivileged process may raise it to), works out
how many it needs (``wiring.open_files``, which knows the process layout), and compares:
what this module cannot do, the caller reports, before it creates anything.

Child processes inherit the raised limit (limits survive fork and exec).
"""

from __future__ import annotations

import contextlib
import errno
import sys
from dataclasses import dataclass

try:
    import resource
except ImportError:  # pragma: no cover - Windows has no rlimits
    resource = None  # type: ignore[assignment]

# macOS refuses a soft limit above OPEN_MAX (10240) even when the hard limit is "unlimited".
_DARWIN_OPEN_MAX = 10240

EXHAUSTION_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
"""OSError errnos that mean "out of a process or system resource", not "that peer failed"."""


@dataclass(frozen=True)
class OpenFilesLimit:
    soft: int  # what this process may open now (after ``raise_to_hard``: the most it may)
    hard: int  # the ceiling an unprivileged process may raise the soft limit to

    @property
    def unlimited(self) -> bool:
        return self.soft < 0


def current() -> OpenFilesLimit:
    """The limits now (-1 = unlimited)."""
    if resource is None:  # pragma: no cover
        return OpenFilesLimit(-1, -1)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    inf = resource.RLIM_INFINITY
    return OpenFilesLimit(-1 if soft == inf else soft, -1 if hard == inf else hard)


def raise_to_hard() -> OpenFilesLimit:
    """Raise the soft limit as far as the hard limit (and the OS) allow; the limits after."""
    if resource is None:  # pragma: no cover
        return OpenFilesLimit(-1, -1)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if sys.platform == "darwin" and (hard == resource.RLIM_INFINITY or hard > _DARWIN_OPEN_MAX):
        target = _DARWIN_OPEN_MAX
    if soft != resource.RLIM_INFINITY and (target == resource.RLIM_INFINITY or target > soft):
        # if refused, keep what we have; the caller compares it with what it needs
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return current()


def is_exhaustion(err: BaseException) -> bool:
    """Whether ``err`` says this process (or the system) ran out of files or memory."""
    if isinstance(err, MemoryError):
        return True
    return isinstance(err, OSError) and err.errno in EXHAUSTION_ERRNOS


def exhaustion_name(err: BaseException) -> str:
    """A short stable name for an exhaustion condition: EMFILE, ENFILE, ENOBUFS, ENOMEM,
    MemoryError (what a warning is keyed on, so each condition is reported once)."""
    if isinstance(err, OSError) and err.errno is not None:
        return errno.errorcode.get(err.errno, str(err.errno))
    return type(err).__name__
