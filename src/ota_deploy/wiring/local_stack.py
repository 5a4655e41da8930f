"""The local stack in this process: the embedded AWS IoT, the listed things in it, a simulated
device for each (the tests, and ``--fleet-workers 0``).

Flow (``LocalStack._start``), everything on the one injected time source (``clock``)::

    LocalAwsIotThread(clock, region, account)           the local AWS IoT on free ports
    local_things.create_things on the server's loop     the listed things; each listed group
        with ``members_per_group`` simulated member things
    --tls: a registered certificate per device (``local_tls``), on the server's loop
    FleetThread(device names, mqtt host/port, FleetOptions, clock)   one agent per thing
    -> the AwsTarget (``stack_base.target_of``) the deploy code talks to

A signed image (signingKey / PRIVATE_KEY) makes the devices verify the signature with the
key's public half. ``tls=True``: the devices connect to the mutual-TLS listener
(``LocalEndpoints.mqtts``). The deploy code then runs unchanged, over real HTTP and MQTT
sockets on 127.0.0.1. What both stacks share (start-up errors, the alarm that ends a run whose
devices cannot connect, stopping, temporary folders) is ``stack_base.LocalStackBase``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ota_deploy.core.clock import TimeSource
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.wiring.local_things import MEMBERS_PER_GROUP, create_things
from ota_deploy.wiring.stack_base import LocalStackBase

if TYPE_CHECKING:  # imported when the stack starts: `ota-deploy run` against AWS never loads them
    from ota_deploy.fleet.runner import FleetThread
    from ota_deploy.local.contracts import LocalEndpoints
    from ota_deploy.local.server import LocalAwsIotThread

log = logging.getLogger(__name__)

SETUP_TIMEOUT_SEC = 600.0  # creating the things, and --tls certificates, on the server's loop


class LocalStack(LocalStackBase):
    """Context manager: local AWS IoT + things + fleet in this process; yields the target."""

    def __init__(
        self,
        thing_arns: Sequence[str] = (),
        group_arns: Sequence[str] = (),
        *,
        clock: TimeSource,
        region: str = DEFAULT_REGION,
        account: str = LOCAL_ACCOUNT,
        fleet: FleetOptions | None = None,
        members_per_group: int = MEMBERS_PER_GROUP,
        start_fleet: bool = True,
        signing_key: Path | None = None,
        tls: bool = False,
    ) -> None:
        super().__init__(
            [a.rsplit("/", 1)[1] for a in thing_arns],
            [a.rsplit("/", 1)[1] for a in group_arns],
            clock=clock,
            region=region,
            account=account,
            fleet=fleet,
            members_per_group=members_per_group,
            signing_key=signing_key,
            tls=tls,
        )
        self.start_fleet = start_fleet
        self.server: LocalAwsIotThread | None = None
        self.fleet: FleetThread | None = None

    def _start(self) -> None:
        from ota_deploy.local.server import LocalAwsIotThread

        server = self.server = LocalAwsIotThread(
            clock=self.clock, region=self.region, account=self.account
        )
        endpoints = self.endpoints = server.start()
        self.device_names = server.call_in_loop(
            lambda: create_things(
                server.service, self.thing_names, self.group_names, self.members_per_group
            ),
            timeout=SETUP_TIMEOUT_SEC,
        )
        if self.start_fleet and self.device_names:
            from ota_deploy.fleet.runner import FleetThread

            self.fleet = FleetThread(
                self.device_names,
                mqtt_host=endpoints.mqtt_host,
                mqtt_port=endpoints.mqtts_port if self.tls else endpoints.mqtt_port,
                options=self._device_options(),
                clock=self.clock,
                ssl_for=self._device_tls(endpoints) if self.tls else None,
                on_fatal=self._failed,
            )
            self.fleet.start()
        log.info(
            "local AWS IoT at %s (MQTT %s) with %d simulated device(s)",
            endpoints.iot,
            endpoints.mqtt,
            len(self.device_names),
        )

    def _device_tls(self, endpoints: LocalEndpoints) -> Any:
        """--tls: a registered certificate per device (``local_tls``); their TLS contexts."""
        from ota_deploy.core.clock import SystemClock
        from ota_deploy.fleet.worker import TlsFiles, ssl_for_files
        from ota_deploy.wiring.local_tls import provision_devices

        server = self.server
        assert server is not None and endpoints.ca is not None
        directory = self._private_dir("ota-local-devices-")
        files = server.call_in_loop(
            lambda: provision_devices(
                server.service,
                self.device_names,
                region=self.region,
                account=self.account,
                directory=directory,
                now=SystemClock().now(),  # TLS checks validity on the wall clock, never scaled
            ),
            timeout=SETUP_TIMEOUT_SEC,
        )
        return ssl_for_files(TlsFiles(Path(endpoints.ca), files))

    def _stop_parts(self) -> None:
        fleet, server = self.fleet, self.server
        self.fleet = self.server = None
        try:
            if fleet is not None:
                fleet.stop()
        finally:
            if server is not None:
                server.stop()
