"""The local stack as processes: the local AWS IoT in one child, the fleet in worker children.

What ``run --local``, the shell workflows' ``--local`` and ``demo`` use (``LocalStack`` keeps
everything in this process, for tests that want it so). Flow (``ProcessStack.__enter__``)::

    LocalAwsIotProcess(ServerSpec: the run's ClockSpec, things, groups)   wiring/server_process
        -> endpoints + device names (things, and each group's member things)
    FleetPool(device names, workers, endpoints' MQTT, FleetOptions, the run's clock)  fleet/pool
        -> every device connected and subscribed
    MainThreadAlarm armed -> AwsTarget (local_target of the endpoints) for the run

While the run goes on, the children's log lines arrive on this process's loggers and each
device's results on ``fleet_stats()``; the run itself sees the devices through the local AWS
IoT (polling, statusDetails, the MQTT watcher) as it does against AWS. A child that dies or a
fleet that cannot connect (out of files) fires the alarm: ``AwsServiceError`` is raised in the
main thread, so the round ends in ERROR, cleanup runs while the server still can, and the run
writes its report and journal. ``__exit__`` stops the fleet (devices disconnect), then the
server, and logs one line of fleet figures.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ota_deploy.aws.session import AwsTarget, local_target
from ota_deploy.core.clock import TimeSource
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.core.errors import AwsServiceError, OtaDeployError
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.pool import FleetFailure, FleetPool
from ota_deploy.fleet.stats import FleetStats
from ota_deploy.fleet.worker import TlsFiles
from ota_deploy.runtime.main_thread import MainThreadAlarm
from ota_deploy.runtime.memory import rss_kib_of
from ota_deploy.runtime.shared_clock import ClockSpec
from ota_deploy.wiring.local_stack import with_public_key
from ota_deploy.wiring.server_process import LocalAwsIotProcess, ServerSpec

log = logging.getLogger("ota_deploy.wiring.local_stack")


class ProcessStack:
    """Context manager: local AWS IoT + things + fleet in child processes; yields the target."""

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
        members_per_group: int = 3,
        signing_key: Path | None = None,
        tls: bool = False,
    ) -> None:
        self.thing_names = list(thing_names)
        self.group_names = list(group_names)
        self.clock = clock
        self.workers = max(1, workers)
        self.region = region
        self.account = account
        self.fleet_options = fleet or FleetOptions.model_validate({})
        self.members_per_group = members_per_group
        self.signing_key = signing_key
        self.tls = tls
        self.server: LocalAwsIotProcess | None = None
        self.fleet: FleetPool | None = None
        self.endpoints: Any = None
        self.target: AwsTarget | None = None
        self.device_names: list[str] = []
        self.alarm = MainThreadAlarm()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._keys: tempfile.TemporaryDirectory[str] | None = None
        self._stopping = False
        self._connected_rss_kib: int | None = None  # the server's, every device connected

    def __enter__(self) -> AwsTarget:
        try:
            spec = ServerSpec(
                clock=ClockSpec.of(self.clock),
                region=self.region,
                account=self.account,
                things=self.thing_names,
                groups=self.group_names,
                members_per_group=self.members_per_group,
                tls_dir=self._tls_dir(),
            )
            self.server = LocalAwsIotProcess(spec, on_failure=self._failed)
            endpoints, self.device_names = self.server.start()
            self.endpoints = endpoints
            self.target = local_target(
                {
                    "iot": endpoints.iot,
                    "iot-jobs-data": endpoints.jobs_data,
                    "s3": endpoints.s3,
                    "mqtt": endpoints.mqtt,
                },
                self.region,
            )
            if self.device_names:
                tls = None
                if self.tls:
                    tls = TlsFiles(Path(endpoints.ca), self.server.credentials or {})
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
                self.fleet.start()
                self._connected_rss_kib = rss_kib_of(self.server.pid) if self.server.pid else None
            log.info(
                "local AWS IoT at %s (MQTT %s) with %d simulated device(s) in %d worker "
                "process(es)",
                endpoints.iot,
                f"{endpoints.mqtts}, mutual TLS" if self.tls else endpoints.mqtt,
                len(self.device_names),
                self.fleet.workers if self.fleet is not None else 0,
            )
        except BaseException as err:
            self._stop()
            if isinstance(err, OtaDeployError) or not isinstance(err, Exception):
                raise
            if isinstance(err, FleetFailure):
                raise AwsServiceError(
                    f"the simulated fleet could not start: {err}",
                    code="LocalFleet",
                    operation="local",
                ) from None
            raise AwsServiceError(
                f"the local AWS IoT could not start: {type(err).__name__}: {err}",
                code="LocalStartup",
                operation="local",
            ) from err
        self.alarm.__enter__()
        if self.alarm.pending is not None:  # a child died while the stack was starting
            died, self.alarm.pending = self.alarm.pending, None
            self.__exit__(None, None, None)
            raise died
        assert self.target is not None
        return self.target

    def __exit__(self, *exc: object) -> None:
        self.alarm.__exit__(None, None, None)
        self._stop()
        pending = self.alarm.pending  # fired while the main thread could not be reached
        if pending is not None and exc[0] is None:
            raise pending

    def fleet_stats(self) -> FleetStats:
        """Every device's results so far, and the fleet's counters."""
        if self.fleet is None:
            return FleetStats(devices=len(self.device_names))
        return self.fleet.stats()

    def _failed(self, message: str) -> None:
        """A child died or the fleet cannot connect: end the run with that error."""
        if self._stopping:
            return
        log.error("%s; ending the run", message)
        self.alarm.fire(AwsServiceError(message, code="LocalProcess", operation="local"))

    def _tls_dir(self) -> str | None:
        """--tls: a private folder for the devices' keys, removed when the stack stops."""
        if not self.tls:
            return None
        self._keys = tempfile.TemporaryDirectory(prefix="ota-local-devices-")
        return self._keys.name

    def _device_options(self) -> FleetOptions:
        options, self._tmp = with_public_key(self.fleet_options, self.signing_key)
        return options

    def _stop(self) -> None:
        self._stopping = True
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
            for tmp in (self._tmp, self._keys):
                if tmp is not None:
                    tmp.cleanup()
            self._tmp = self._keys = None

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
