"""Shared integration fixtures: a real local AWS IoT on free ports, and boto3 clients for it.

- ``local_iot_server``: the ``LocalAwsIotThread`` itself (function scope; ``.service``,
  ``.gateway``, ``.call_in_loop(fn)``, ``.endpoints``), a fresh server per test.
- ``local_iot``: its ``LocalEndpoints`` (function scope).
- ``local_iot_module_server`` / ``local_iot_module``: the same, one per test module.
- ``boto_iot``, ``boto_jobs_data``, ``boto_s3``: boto3 clients pointed at ``local_iot``
  (dummy credentials, standard retries).
- ``make_clients(endpoints)``: build the three clients for any endpoints (e.g. the module one).
- ``make_local_iot(**kwargs)``: start another server with any ``LocalAwsIot`` kwargs
  (``clock=ScaledClock(60.0)``, ``faults=FaultConfig(...)``, ``state_dir=...``); stopped at
  teardown.

The shared servers run on the wall clock; use ``make_local_iot(clock=ScaledClock(F))`` for
faster virtual time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ota_deploy.local.contracts import LocalEndpoints
from ota_deploy.local.server import LocalAwsIotThread

DUMMY_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


_SESSIONS: dict[str, Any] = {}


def _session(region: str) -> Any:
    """One boto3 session per region for the whole run: its loader caches the service models,
    so making a client costs milliseconds instead of re-reading botocore's JSON each test."""
    if region not in _SESSIONS:
        _SESSIONS[region] = boto3.session.Session(region_name=region, **DUMMY_CREDENTIALS)
    return _SESSIONS[region]


def client_for(endpoints: LocalEndpoints, service: str) -> Any:
    """A boto3 client of ``service`` ("iot", "iot-jobs-data" or "s3") for a local AWS IoT."""
    url = {"iot": endpoints.iot, "iot-jobs-data": endpoints.jobs_data, "s3": endpoints.s3}
    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        read_timeout=30,
        s3={"addressing_style": "path"},
    )
    return _session(endpoints.region).client(service, endpoint_url=url[service], config=config)


def clients_for(endpoints: LocalEndpoints) -> dict[str, Any]:
    """boto3 clients ("iot", "iot-jobs-data", "s3") for a running local AWS IoT."""
    return {name: client_for(endpoints, name) for name in ("iot", "iot-jobs-data", "s3")}


@pytest.fixture
def local_iot_server() -> Iterator[LocalAwsIotThread]:
    server = LocalAwsIotThread()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def local_iot(local_iot_server: LocalAwsIotThread) -> LocalEndpoints:
    assert local_iot_server.endpoints is not None
    return local_iot_server.endpoints


@pytest.fixture(scope="module")
def local_iot_module_server() -> Iterator[LocalAwsIotThread]:
    server = LocalAwsIotThread()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def local_iot_module(local_iot_module_server: LocalAwsIotThread) -> LocalEndpoints:
    assert local_iot_module_server.endpoints is not None
    return local_iot_module_server.endpoints


@pytest.fixture
def make_local_iot() -> Iterator[Callable[..., LocalAwsIotThread]]:
    """Start extra local AWS IoTs with any LocalAwsIot kwargs (clock=..., faults=...);
    each is stopped at the end of the test."""
    started: list[LocalAwsIotThread] = []

    def make(**kwargs: Any) -> LocalAwsIotThread:
        server = LocalAwsIotThread(**kwargs)
        server.start()
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture
def make_clients() -> Callable[[LocalEndpoints], dict[str, Any]]:
    return clients_for


@pytest.fixture
def boto_clients(local_iot: LocalEndpoints) -> dict[str, Any]:
    return clients_for(local_iot)


@pytest.fixture
def boto_iot(local_iot: LocalEndpoints) -> Any:
    return client_for(local_iot, "iot")


@pytest.fixture
def boto_jobs_data(local_iot: LocalEndpoints) -> Any:
    return client_for(local_iot, "iot-jobs-data")


@pytest.fixture
def boto_s3(local_iot: LocalEndpoints) -> Any:
    return client_for(local_iot, "s3")
