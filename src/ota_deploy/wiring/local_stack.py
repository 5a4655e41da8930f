"""The local stack: the embedded AWS IoT, the listed things in it, a simulated device for each.

Flow (``LocalStack.__enter__``), everything on the one injected time source (``clock``)::

    LocalAwsIotThread(clock, region, account)           the local AWS IoT on free ports
    CreateThing for every listed thing; for a listed thing group: CreateThingGroup plus
        ``members_per_group`` simulated member things (AddThingToThingGroup)
    FleetThread(all thing names, mqtt host/port, FleetOptions, clock)   one agent per thing
    -> aws.session.local_target(endpoints, region)      what the deploy code talks to
       (its ``endpoints["mqtt"]`` = ``host:port`` lets the live view watch downloads)

A signed image (signingKey / PRIVATE_KEY) makes the devices verify the signature with the
key's public half. ``tls=True``: each device gets a registered certificate
(``wiring.local_tls``) and connects to the mutual-TLS listener (``LocalEndpoints.mqtts``).
The deploy code then runs unchanged, over real HTTP and MQTT sockets on 127.0.0.1.
``__exit__`` stops the fleet first (devices disconnect), then the local AWS IoT.

``stack_for_run`` is ``deploy.entry.LocalStackFactory`` for ``run --local``, the shell
workflows' ``--local`` and ``demo``; the tests use ``LocalStack`` directly.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.session import AwsClients, AwsTarget, local_target
from ota_deploy.core.clock import TimeSource
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.core.errors import AwsServiceError, OtaDeployError
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.runtime.main_thread import MainThreadAlarm

if TYPE_CHECKING:  # imported when the stack starts: `ota-deploy run` against AWS never loads them
    from ota_deploy.deploy.entry import RunRequest
    from ota_deploy.deploy.inputs import PreparedRun
    from ota_deploy.fleet.runner import FleetThread
    from ota_deploy.local.contracts import LocalEndpoints
    from ota_deploy.local.server import LocalAwsIotThread

log = logging.getLogger(__name__)

MEMBERS_PER_GROUP = 3


class LocalStack:
    """Context manager: local AWS IoT + things + fleet; yields an ``AwsTarget`` for it."""

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
        self.thing_names = [a.rsplit("/", 1)[1] for a in thing_arns]
        self.group_names = [a.rsplit("/", 1)[1] for a in group_arns]
        self.clock = clock
        self.region = region
        self.account = account
        self.fleet_options = fleet or FleetOptions.model_validate({})
        self.members_per_group = members_per_group
        self.start_fleet = start_fleet
        self.signing_key = signing_key
        self.tls = tls  # devices connect over mutual TLS with a certificate each
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._keys: tempfile.TemporaryDirectory[str] | None = None
        self.server: LocalAwsIotThread | None = None
        self.fleet: FleetThread | None = None
        self.endpoints: LocalEndpoints | None = None
        self.target: AwsTarget | None = None
        self.device_names: list[str] = []
        self.alarm = MainThreadAlarm()

    def __enter__(self) -> AwsTarget:
        from ota_deploy.local.server import LocalAwsIotThread

        try:
            self.server = LocalAwsIotThread(
                clock=self.clock, region=self.region, account=self.account
            )
            endpoints = self.endpoints = self.server.start()
            # "mqtt" (host:port) is not a boto3 service: AwsClients only looks up the service it
            # is asked for; the run's live view subscribes there to see devices downloading.
            target = self.target = local_target(
                {
                    "iot": endpoints.iot,
                    "iot-jobs-data": endpoints.jobs_data,
                    "s3": endpoints.s3,
                    "mqtt": endpoints.mqtt,
                },
                self.region,
            )
            self.device_names = self._create_things(AwsClients(target))
            if self.start_fleet and self.device_names:
                from ota_deploy.fleet.runner import FleetThread

                self.fleet = FleetThread(
                    self.device_names,
                    mqtt_host=endpoints.mqtt_host,
                    mqtt_port=endpoints.mqtts_port if self.tls else endpoints.mqtt_port,
                    options=self._device_options(),
                    clock=self.clock,
                    ssl_for=self._device_tls(endpoints) if self.tls else None,
                    on_fatal=self._fatal,
                )
                self.fleet.__enter__()
            log.info(
                "local AWS IoT at %s (MQTT %s) with %d simulated device(s)",
                endpoints.iot,
                endpoints.mqtt,
                len(self.device_names),
            )
        except Exception as err:
            self._stop()
            if isinstance(err, OtaDeployError):
                raise
            raise AwsServiceError(
                f"the local AWS IoT could not start: {type(err).__name__}: {err}",
                code="LocalStartup",
                operation="local",
            ) from err
        except BaseException:
            self._stop()
            raise
        self.alarm.__enter__()
        return target

    def __exit__(self, *exc: object) -> None:
        self.alarm.__exit__(None, None, None)
        self._stop()
        pending = self.alarm.pending  # fired while the main thread could not be reached
        if pending is not None and exc[0] is None:
            raise pending

    def _fatal(self, message: str) -> None:
        """The devices cannot connect for want of files or memory: end the run with it."""
        log.error("%s; ending the run", message)
        self.alarm.fire(AwsServiceError(message, code="LocalFleet", operation="local"))

    def _device_tls(self, endpoints: LocalEndpoints) -> Any:
        """--tls: a registered certificate per device (``local_tls``); their TLS contexts."""
        from ota_deploy.fleet.worker import TlsFiles, ssl_for_files
        from ota_deploy.wiring.local_tls import provision_devices

        server = self.server
        assert server is not None and endpoints.ca is not None
        self._keys = tempfile.TemporaryDirectory(prefix="ota-local-devices-")
        directory = Path(self._keys.name)
        files = server.call_in_loop(
            lambda: provision_devices(
                server.service,
                self.device_names,
                region=self.region,
                account=self.account,
                directory=directory,
                now=time.time(),
            ),
            timeout=600,
        )
        return ssl_for_files(TlsFiles(Path(endpoints.ca), files))

    def _device_options(self) -> FleetOptions:
        options, self._tmp = with_public_key(self.fleet_options, self.signing_key)
        return options

    def _stop(self) -> None:
        if self.fleet is not None:
            try:
                self.fleet.__exit__(None, None, None)
            finally:
                self.fleet = None
        if self.server is not None:
            try:
                self.server.stop()
            finally:
                self.server = None
        for tmp in (self._tmp, self._keys):
            if tmp is not None:
                tmp.cleanup()
        self._tmp = self._keys = None

    def _create_things(self, clients: AwsClients) -> list[str]:
        iot = IotOps(clients.iot, clock=self.clock)
        names: list[str] = []
        for name in self.thing_names:
            iot.create_thing(name)
            names.append(name)
        for group in self.group_names:
            iot.create_thing_group(group)
            for i in range(1, self.members_per_group + 1):
                member = f"{group}-member-{i}"[:128]
                arn = iot.create_thing(member)
                iot.add_thing_to_group(group, arn)
                if member not in names:
                    names.append(member)
        return names


def with_public_key(
    options: FleetOptions, signing_key: Path | None
) -> tuple[FleetOptions, tempfile.TemporaryDirectory[str] | None]:
    """Signed images: the devices get the public half of the signing key to verify with
    (written to a temporary folder the caller removes when the fleet has stopped)."""
    if signing_key is None or options.public_key is not None:
        return options, None
    from ota_deploy.core.firmware import public_pem_of

    tmp = tempfile.TemporaryDirectory(prefix="ota-local-keys-")
    public = Path(tmp.name) / "signing-public.pem"
    public.write_bytes(public_pem_of(signing_key.read_bytes()))
    return options.model_copy(update={"public_key": public}), tmp


def stack_for_run(prepared: PreparedRun, req: RunRequest, clock: TimeSource) -> LocalStack:
    """``deploy.entry.LocalStackFactory``: a LocalStack for a validated run, on its clock."""
    things = prepared.things
    return LocalStack(
        things.thing_arns,
        things.group_arns,
        clock=clock,
        region=prepared.settings.region,
        account=prepared.account,
        fleet=req.fleet,
        signing_key=prepared.settings.signing_key,
    )
