"""How many open files a layout needs, checked before anything is created.

Each process has its own open-file table, so what matters is the busiest process, not the sum::

    local AWS IoT process   one socket per device (MQTT), the fleet's HTTP downloads
                            (HTTP_PER_WORKER per worker), the run's own HTTP and MQTT clients,
                            its listeners, log and state files                (BASE each)
    each fleet worker       one socket per device of its share, its HTTP downloads
    this process            the run's clients, the report and journal files
    in one process (--fleet-workers 0): the sum of all of them

``check(devices, workers)`` raises the soft limit to the hard one (``runtime.open_files``) and
raises ``InputError`` (exit 2) naming the number needed and ``ulimit -n`` when even the hard
limit cannot hold the busiest process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ota_deploy.core.errors import InputError
from ota_deploy.runtime.open_files import OpenFilesLimit, raise_to_hard

BASE = 256  # interpreter, pipes, event loop, listeners, boto3 pools, log/report/journal files
HTTP_PER_WORKER = 64  # aiohttp's connection limit per fleet (presigned-URL downloads)


@dataclass(frozen=True)
class OpenFilesNeed:
    server: int  # the local AWS IoT's process
    worker: int  # the busiest fleet worker (0: no workers, the fleet is in this process)
    parent: int  # this process

    @property
    def busiest(self) -> int:
        return max(self.server, self.worker, self.parent)


def need(devices: int, workers: int) -> OpenFilesNeed:
    """Open files per process for ``devices`` simulated devices in ``workers`` processes
    (0: the local AWS IoT and the fleet both in this process)."""
    downloads = HTTP_PER_WORKER * max(1, workers)
    server = devices + downloads + BASE
    if workers <= 0:  # everything in one process: both ends of every connection
        return OpenFilesNeed(server=0, worker=0, parent=server + devices + HTTP_PER_WORKER + BASE)
    per_worker = math.ceil(devices / workers) + HTTP_PER_WORKER + BASE
    return OpenFilesNeed(server=server, worker=per_worker, parent=BASE)


def need_fleet(devices: int, workers: int) -> OpenFilesNeed:
    """``fleet run``: the devices (in ``workers`` processes; 1: this one), no local server."""
    per_process = math.ceil(devices / max(1, workers)) + HTTP_PER_WORKER + BASE
    if workers <= 1:
        return OpenFilesNeed(server=0, worker=0, parent=per_process)
    return OpenFilesNeed(server=0, worker=per_process, parent=BASE)


def check(devices: int, workers: int) -> OpenFilesLimit:
    """``run --local``: raise the soft limit; ``InputError`` (exit 2) if the layout cannot fit
    under the hard limit. Returns the limits in force."""
    wanted = need(devices, workers)
    where = (
        "this process (the local AWS IoT and the fleet share it)"
        if workers <= 0
        else "the local AWS IoT's process (a connection per device)"
        if wanted.server >= wanted.worker
        else "each fleet worker process"
    )
    return _check(devices, wanted, where)


def check_fleet(devices: int, workers: int) -> OpenFilesLimit:
    """``fleet run``: as ``check``, for devices alone."""
    wanted = need_fleet(devices, workers)
    where = "this process" if workers <= 1 else "each fleet worker process"
    return _check(devices, wanted, where)


def _check(devices: int, wanted: OpenFilesNeed, where: str) -> OpenFilesLimit:
    limit = raise_to_hard()
    if limit.unlimited or wanted.busiest <= limit.soft:
        return limit
    raise InputError(
        f"{devices} simulated devices need about {wanted.busiest} open files in {where}, "
        f"but the open-file limit is {limit.soft} (hard limit "
        f"{'unlimited' if limit.hard < 0 else limit.hard}): raise it with "
        f"ulimit -n {wanted.busiest} (above the hard limit: as root, or in "
        "/etc/security/limits.conf), or list fewer things"
    )
