"""The local AWS IoT in a child process of its own: its own core and its own open-file table.

Parent (``LocalAwsIotProcess``) and child (``server_main``) talk through one pipe
(``runtime.children``)::

    ServerSpec (pickled: ClockSpec, region, account, the things and groups to create)
    child: raise the open-file limit -> LocalAwsIot(clock=spec.clock.make(), ...).start()
           -> the listed things, each group with ``members_per_group`` member things
              (``local_things.create_things``, through the service's own ``call``)
           -> --tls: a certificate per device (``local_tls.provision_devices``)
           -> ("ready", LocalEndpoints, device names, resident memory KiB, certificate files)
    parent: start() returns them; the run talks to the endpoints over HTTP and MQTT as ever
    ("stop",) or the parent gone -> LocalAwsIot.stop() -> ("final", peak RSS KiB) -> exit

The child's clock is made from the parent's ``ClockSpec``: the run, this server and the fleet
workers read the same virtual time under ``--time-scale``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ota_deploy.core.clock import SystemClock
from ota_deploy.core.errors import AwsServiceError
from ota_deploy.runtime.children import Child, ChildGroup, Message, ParentLink
from ota_deploy.runtime.memory import current_rss_kib, peak_rss_kib
from ota_deploy.runtime.open_files import raise_to_hard
from ota_deploy.runtime.shared_clock import ClockSpec
from ota_deploy.wiring.local_things import MEMBERS_PER_GROUP, create_things

log = logging.getLogger(__name__)

NAME = "the local AWS IoT process"


@dataclass(frozen=True)
class ServerSpec:
    clock: ClockSpec
    region: str
    account: str
    things: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    members_per_group: int = MEMBERS_PER_GROUP
    server_kwargs: dict[str, Any] = field(default_factory=dict)  # more LocalAwsIot options
    tls_dir: str | None = None  # --tls: each device's certificate and key are written here


def server_main(link: ParentLink, spec: ServerSpec) -> None:
    """The child's entry (``runtime.children.ChildGroup.start``)."""
    raise_to_hard()
    asyncio.run(_serve(link, spec))


async def _serve(link: ParentLink, spec: ServerSpec) -> None:
    from ota_deploy.local.server import LocalAwsIot

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    link.listen(lambda: loop.call_soon_threadsafe(stop.set))
    local = LocalAwsIot(
        clock=spec.clock.make(), region=spec.region, account=spec.account, **spec.server_kwargs
    )
    endpoints = await local.start()
    try:
        devices = create_things(local.service, spec.things, spec.groups, spec.members_per_group)
        credentials = None
        if spec.tls_dir is not None:
            from ota_deploy.wiring.local_tls import provision_devices

            credentials = provision_devices(
                local.service,
                devices,
                region=spec.region,
                account=spec.account,
                directory=Path(spec.tls_dir),
                now=SystemClock().now(),  # TLS checks validity on the wall clock, never scaled
            )
        link.send("ready", endpoints, devices, current_rss_kib(), credentials)
        await stop.wait()
    finally:
        await local.stop()
    link.send("final", peak_rss_kib())


class LocalAwsIotProcess:
    """The parent's handle on the server child: ``start()`` -> (endpoints, device names)."""

    def __init__(self, spec: ServerSpec, *, on_failure: Callable[[str], None]) -> None:
        self.spec = spec
        self.on_failure = on_failure
        self.endpoints: Any = None
        self.devices: list[str] = []
        self.ready_rss_kib = 0  # resident memory with the things created, before any device
        self.credentials: dict[str, tuple[Path, Path]] | None = None  # --tls: per device
        self.peak_rss_kib = 0
        self.failure: str | None = None
        self.pid: int | None = None
        self._ready = threading.Event()
        self._group: ChildGroup | None = None

    def start(self, timeout: float = 300.0) -> tuple[Any, list[str]]:
        self._group = ChildGroup(on_message=self._on_message, on_exit=self._on_exit)
        try:
            child = self._group.start(NAME, server_main, self.spec)
            self.pid = child.pid
            deadline = time.monotonic() + timeout
            while not self._ready.wait(0.2):
                if self.failure is not None:
                    raise AwsServiceError(
                        f"the local AWS IoT could not start: {self.failure}",
                        code="LocalStartup",
                        operation="local",
                    )
                if time.monotonic() > deadline:
                    raise AwsServiceError(
                        f"the local AWS IoT did not start within {timeout:.0f} s",
                        code="LocalStartup",
                        operation="local",
                    )
        except BaseException:
            self.stop()
            raise
        return self.endpoints, self.devices

    def stop(self, timeout: float = 60.0) -> None:
        group, self._group = self._group, None
        if group is not None:
            group.stop(timeout)

    def _on_message(self, child: Child, message: Message) -> None:
        if message[0] == "ready":
            _, self.endpoints, self.devices, self.ready_rss_kib, self.credentials = message
            self._ready.set()
        elif message[0] == "final":
            self.peak_rss_kib = int(message[1])

    def _on_exit(self, child: Child, expected: bool) -> None:
        if expected:
            return
        self.failure = f"{NAME} {child.describe_exit()}"
        if self._ready.is_set():
            self.on_failure(self.failure)
