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
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return peak_rss_kib()
    return pages * resource.getpagesize() // 1024
