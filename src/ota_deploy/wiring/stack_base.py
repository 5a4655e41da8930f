"""What both local stacks share: start-up and its errors, the alarm, the target, the clean-up.

Flow (``LocalStackBase.__enter__``; a subclass supplies the parts)::

    _start()                 the local AWS IoT with the run's things (sets ``endpoints``,
                             ``device_names``) and the fleet, one device per thing
    -> a failure: everything started so far is stopped; an ``OtaDeployError`` goes on as it
       is, anything else becomes one ``AwsServiceError`` ("the local AWS IoT could not start")
    MainThreadAlarm armed    an error fired while starting (a child died, the devices could
                             not connect) is raised now, the stack stopped first
    -> AwsTarget (``target_of``: the endpoints as boto3 service URLs, plus "mqtt")

While the run goes on, ``_failed(message)`` (a dead child, a fleet out of files for good) raises
one ``AwsServiceError`` in the main thread, so the round ends in ERROR and the run still writes
its report and journal. ``__exit__`` stops the parts (``_stop_parts``: fleet first, then the
server), removes the stack's temporary folders, and raises an error that fired where the main
thread could not be reached.

``LocalStack`` (``local_stack``: everything in this process) and ``ProcessStack``
(``process_stack``: the server and the fleet in children) are the two subclasses.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ota_deploy.aws.session import AwsTarget, local_target
from ota_deploy.core.clock import TimeSource
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.core.errors import AwsServiceError, OtaDeployError
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.runtime.main_thread import MainThreadAlarm
from ota_deploy.wiring.local_things import MEMBERS_PER_GROUP

if TYPE_CHECKING:
    from ota_deploy.local.contracts import LocalEndpoints

log = logging.getLogger("ota_deploy.wiring.local_stack")  # the stacks' lines share a logger


class LocalStackBase:
    """Context manager: local AWS IoT + things + fleet; yields an ``AwsTarget`` for it."""

    FAILURE_CODE = "LocalFleet"  # the code of the error ``_failed`` raises in the main thread

    def __init__(
        self,
        thing_names: Sequence[str],
        group_names: Sequence[str] = (),
        *,
        clock: TimeSource,
        region: str = DEFAULT_REGION,
        account: str = LOCAL_ACCOUNT,
        fleet: FleetOptions | None = None,
        members_per_group: int = MEMBERS_PER_GROUP,
        signing_key: Path | None = None,
        tls: bool = False,
    ) -> None:
        self.thing_names = list(thing_names)
        self.group_names = list(group_names)
        self.clock = clock
        self.region = region
        self.account = account
        self.fleet_options = fleet or FleetOptions.model_validate({})
        self.members_per_group = members_per_group
        self.signing_key = signing_key
        self.tls = tls  # devices connect over mutual TLS with a certificate each
        self.endpoints: LocalEndpoints | None = None
        self.target: AwsTarget | None = None
        self.device_names: list[str] = []
        self.alarm = MainThreadAlarm()
        self._temp_dirs: list[tempfile.TemporaryDirectory[str]] = []
        self._stopping = False

    # -- what a subclass supplies ----------------------------------------------------------
    def _start(self) -> None:
        """Start the server with the things, then the fleet; set ``endpoints`` and
        ``device_names``."""
        raise NotImplementedError

    def _stop_parts(self) -> None:
        """Stop what ``_start`` started (the fleet first); safe to call after a partial start."""
        raise NotImplementedError

    # -- the context manager ---------------------------------------------------------------
    def __enter__(self) -> AwsTarget:
        self._stopping = False
        try:
            self._start()
            assert self.endpoints is not None
            self.target = target_of(self.endpoints, self.region)
            self.alarm.__enter__()  # raises an error fired while the stack was starting
        except BaseException as err:
            self.alarm.__exit__(None, None, None)
            self._stop()
            if isinstance(err, OtaDeployError) or not isinstance(err, Exception):
                raise
            raise AwsServiceError(
                f"the local AWS IoT could not start: {type(err).__name__}: {err}",
                code="LocalStartup",
                operation="local",
            ) from err
        return self.target

    def __exit__(self, *exc: object) -> None:
        self.alarm.__exit__(None, None, None)
        self._stop()
        pending = self.alarm.pending  # fired while the main thread could not be reached
        if pending is not None and exc[0] is None:
            raise pending

    # -- shared pieces ---------------------------------------------------------------------
    def _failed(self, message: str) -> None:
        """A child died or the devices cannot connect for want of files or memory: end the
        run with that error (nothing to do once the stack is stopping)."""
        if self._stopping:
            return
        log.error("%s; ending the run", message)
        self.alarm.fire(AwsServiceError(message, code=self.FAILURE_CODE, operation="local"))

    def _device_options(self) -> FleetOptions:
        """The fleet's options; with a signing key, the devices verify with its public half."""
        if self.signing_key is None or self.fleet_options.public_key is not None:
            return self.fleet_options
        from ota_deploy.core.firmware import public_pem_of

        public = self._private_dir("ota-local-keys-") / "signing-public.pem"
        public.write_bytes(public_pem_of(self.signing_key.read_bytes()))
        return self.fleet_options.model_copy(update={"public_key": public})

    def _private_dir(self, prefix: str) -> Path:
        """A temporary folder of this stack's, removed when the stack stops."""
        tmp = tempfile.TemporaryDirectory(prefix=prefix)
        self._temp_dirs.append(tmp)
        return Path(tmp.name)

    def _stop(self) -> None:
        self._stopping = True
        try:
            self._stop_parts()
        finally:
            for tmp in self._temp_dirs:
                tmp.cleanup()
            self._temp_dirs.clear()


def target_of(endpoints: Any, region: str) -> AwsTarget:
    """What the deploy code talks to: the local AWS IoT's endpoints as boto3 service URLs.
    "mqtt" (``host:port``) is not a boto3 service (``AwsClients`` only looks up the service it
    is asked for): the run's live view subscribes there to see devices downloading."""
    return local_target(
        {
            "iot": endpoints.iot,
            "iot-jobs-data": endpoints.jobs_data,
            "s3": endpoints.s3,
            "mqtt": endpoints.mqtt,
        },
        region,
    )
