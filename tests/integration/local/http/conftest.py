"""A bare control plane over real sockets: ``ControlPlaneServer`` + ``LocalIotService``.

``control_plane(faults=..., limits=...)`` (or ``control_plane_module``) starts the HTTP front
end alone (no S3, no MQTT gateway) on free loopback ports, on its own ``LoopThread``, and
returns it started
(``.urls``, ``.faults``, ``.service``); it is stopped at teardown. The hostile-input tests use
it with short timeouts; the fault tests aim faults at it. Everything else here uses the whole
``LocalAwsIotThread`` (tests/integration/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ota_deploy.core.clock import SystemClock
from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT
from ota_deploy.local.http.app import ControlPlaneServer
from ota_deploy.local.iot.service import LocalIotService
from ota_deploy.runtime.loop_thread import LoopThread


class BareControlPlane:
    def __init__(self, server: ControlPlaneServer, thread: LoopThread) -> None:
        self.server = server
        self.thread = thread
        self.urls = dict(server.urls)
        self.faults = server.faults

    def port(self, service: str) -> int:
        return int(self.urls[service].rsplit(":", 1)[1])

    def client(self, service: str, *, attempts: int = 3, validate: bool = True) -> Any:
        """A boto3 client; ``validate=False`` skips botocore's client-side checks, as SDKs
        that don't validate do, so the server's own checks are what answers."""
        config = Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            read_timeout=10,
            connect_timeout=5,
            parameter_validation=validate,
        )
        return boto3.session.Session(
            region_name=DEFAULT_REGION, aws_access_key_id="local", aws_secret_access_key="local"
        ).client(service, endpoint_url=self.urls[service], config=config)

    def call(self, operation: str, **params: Any) -> Any:
        """Straight to the service, on its loop."""
        service = self.server.front_ends["iot"].service
        return self.thread.run(lambda: service.call("iot", operation, params))


def _planes() -> Iterator[Callable[..., BareControlPlane]]:
    started: list[tuple[ControlPlaneServer, LoopThread]] = []

    def start(**kwargs: Any) -> BareControlPlane:
        thread = LoopThread("bare-control-plane")
        thread.start()
        service = LocalIotService(
            clock=SystemClock(),
            region=DEFAULT_REGION,
            account=LOCAL_ACCOUNT,
            publish=lambda topic, payload: None,
            read_blob=lambda bucket, key, version: b"",
            presign=lambda bucket, key, expires: f"http://127.0.0.1:9/{bucket}/{key}",
            mqtt_endpoint="127.0.0.1:1883",
        )
        server = ControlPlaneServer(service, **kwargs)
        thread.run(server.start)
        started.append((server, thread))
        return BareControlPlane(server, thread)

    yield start
    for server, thread in reversed(started):
        thread.run(server.stop)
        thread.stop()


@pytest.fixture
def control_plane() -> Iterator[Callable[..., BareControlPlane]]:
    """Start bare control planes (``ControlPlaneServer`` kwargs); stopped after the test."""
    yield from _planes()


@pytest.fixture(scope="module")
def control_plane_module() -> Iterator[Callable[..., BareControlPlane]]:
    """The same, stopped at the end of the module."""
    yield from _planes()
