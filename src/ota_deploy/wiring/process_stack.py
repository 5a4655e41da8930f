"""The local stack as processes: the local AWS IoT in one child, the fleet in worker children.

What ``run --local``, the shell workflows' ``--local`` and ``demo`` use (``LocalStack`` keeps
everything in this process, for tests that want it so). Flow (``ProcessStack._start``)::

    LocalAwsIotProcess(ServerSpec: the run's ClockSpec, things, groups)   wiring/server_process
        -> endpoints + device names (things, and each group's member things)
    FleetPool(device names, workers, endpoints' MQTT, FleetOptions, the run's clock)  fleet/pool
        -> every device connected and subscribed

While the run goes on, the children's log lines arrive on this process's loggers and each
device's results on ``fleet_stats()``; the run itself sees the devices through the local AWS
IoT (polling, statusDetails, the MQTT watcher) as it does against AWS. A child that dies or a
fleet that cannot connect (out of files) ends the run with one ``AwsServiceError``, raised in
the main thread (``stack_base.LocalStackBase``: also when it happens while the stack is still
starting). ``_stop_parts`` stops the fleet (devices disconnect), then the server, and logs one
line of fleet figures and one of memory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ota_deploy.core.clock import TimeSource
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.core.errors import AwsServiceError
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.pool import FleetFailure, FleetPool
from ota_deploy.fleet.stats import FleetStats
from ota_deploy.fleet.worker import TlsFiles
from ota_deploy.runtime.memory import rss_kib_of
from ota_deploy.runtime.shared_clock import ClockSpec
from ota_deploy.wiring.local_things import MEMBERS_PER_GROUP
from ota_deploy.wiring.server_process import LocalAwsIotProcess, ServerSpec
from ota_deploy.wiring.stack_base import LocalStackBase

log = logging.getLogger("ota_deploy.wiring.local_stack")


class ProcessStack(LocalStackBase):
    """Context manager: local AWS IoT + things + fleet in child processes; yields the target."""

    FAILURE_CODE = "LocalProcess"

    def __init__(
        self,
        thing_names: Sequence[str],
        group_names: Sequence[str] = (),
        *,
        clock: TimeSource,
        workers: int,
        region: str = DEFAULT_REGION,
        account: str = LOCAL_ACCOUNT,
        fleet: FleetOptions | None = None,
        members_per_group: int = MEMBERS_PER_GROUP,
        signing_key: Path | None = None,
        tls: bool = False,
    ) -> None:
        super().__init__(
            thing_names,
            group_names,
            clock=clock,
            region=region,
            account=account,
            fleet=fleet,
            members_per_group=members_per_group,
            signing_key=signing_key,
            tls=tls,
        )
        self.workers = max(1, workers)
        self.server: LocalAwsIotProcess | None = None
        self.fleet: FleetPool | None = None
        self._connected_rss_kib: int | None = None  # the server's, every device connected

    def _start(self) -> None:
        spec = ServerSpec(
            clock=ClockSpec.of(self.clock),
            region=self.region,
            account=self.account,
            things=self.thing_names,
            groups=self.group_names,
            members_per_group=self.members_per_group,
            tls_dir=str(self._private_dir("ota-local-devices-")) if self.tls else None,
        )
        server = self.server = LocalAwsIotProcess(spec, on_failure=self._failed)
        endpoints, self.device_names = server.start()
        self.endpoints = endpoints
        if self.device_names:
            tls = TlsFiles(Path(endpoints.ca), server.credentials or {}) if self.tls else None
            self.fleet = FleetPool(
                self.device_names,
                workers=self.workers,
                mqtt_host=endpoints.mqtt_host,
                mqtt_port=endpoints.mqtts_port if self.tls else endpoints.mqtt_port,
                options=self._device_options(),
                clock=self.clock,
                tls=tls,
                on_failure=self._failed,
            )
            try:
                self.fleet.start()
            except FleetFailure as err:
                raise AwsServiceError(
                    f"the simulated fleet could not start: {err}",
                    code="LocalFleet",
                    operation="local",
                ) from None
            self._connected_rss_kib = rss_kib_of(server.pid) if server.pid else None
        log.info(
            "local AWS IoT at %s (MQTT %s) with %d simulated device(s) in %d worker "
            "process(es)",
            endpoints.iot,
            f"{endpoints.mqtts}, mutual TLS" if self.tls else endpoints.mqtt,
            len(self.device_names),
            self.fleet.workers if self.fleet is not None else 0,
        )

    def fleet_stats(self) -> FleetStats:
        """Every device's results so far, and the fleet's counters."""
        if self.fleet is None:
            return FleetStats(devices=len(self.device_names))
        return self.fleet.stats()

    def _stop_parts(self) -> None:
        fleet, server = self.fleet, self.server
        self.fleet = self.server = None
        try:
            if fleet is not None:
                fleet.stop()
                self._log_fleet(fleet)
        finally:
            if server is not None:
                server.stop()
                if fleet is not None:
                    self._log_memory(fleet, server)

    def _log_fleet(self, fleet: FleetPool) -> None:
        stats = fleet.stats()
        by = ", ".join(f"{k} {v}" for k, v in sorted(stats.by_status().items())) or "none"
        log.info(
            "fleet: %d devices in %d worker(s): %d executions finished (%s), %d bytes received, "
            "%d reconnects, %d failed connects",
            stats.devices,
            fleet.workers,
            len(stats.results),
            by,
            stats.bytes_received,
            stats.reconnects,
            stats.connect_failures,
        )

    def _log_memory(self, fleet: FleetPool, server: LocalAwsIotProcess) -> None:
        """Peak memory per simulated device (fleet workers) and per connection (server)."""
        rows = fleet.memory()["workers"]
        devices = sum(r["devices"] for r in rows) or 1
        grown = sum(r["peak_rss_kib"] - r["base_rss_kib"] for r in rows)
        line = (
            f"memory: fleet workers peak {sum(r['peak_rss_kib'] for r in rows) / 1024:.0f} MiB, "
            f"{grown / devices:.1f} KiB per device above their start"
        )
        if self._connected_rss_kib is not None and server.ready_rss_kib:
            per_conn = (self._connected_rss_kib - server.ready_rss_kib) / devices
            line += (
                f"; local AWS IoT peak {server.peak_rss_kib / 1024:.0f} MiB, "
                f"{per_conn:.1f} KiB per idle device connection"
            )
        log.info("%s", line)
