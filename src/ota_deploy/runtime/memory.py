"""This process's resident memory (RSS), for the memory-per-device figures the fleet's workers
and the local AWS IoT's process report to their parent."""

from __future__ import annotations

import resource
import sys


def peak_rss_kib() -> int:
    """This process's peak resident memory so far, KiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS counts bytes


def current_rss_kib() -> int:
    """This process's resident memory now, KiB (Linux; elsewhere the peak so far)."""
    rss = rss_kib_of("self")
    return peak_rss_kib() if rss is None else rss


def rss_kib_of(pid: int | str) -> int | None:
    """Resident memory of process ``pid`` now, KiB; None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize() // 1024
