"""boto3 and the local AWS IoT joined in memory: a real pair, no sockets, a fake clock.

A boto3 client's ``before-send`` event hands the fully serialised HTTP request (botocore's own
REST-JSON serialiser, signing included) to the local control plane's sans-I/O front end
(``RestJsonFrontEnd``: routing, parsing, validation from botocore's models) in front of a real
``LocalIotService``; the reply bytes go back through botocore's own parser, retry handler and
exception factory. So a unit test drives the same code paths as a test over HTTP, in
microseconds and on a ``FakeClock``. ``faults`` (the local AWS IoT's seeded ``FaultInjector``)
answers throttling / 5xx before the operation runs and ``lose_reply`` after it ran (the same
contract as the HTTP control plane's, ``local/faults.py``); ``lose_reply_after_commit`` (per
operation, a count) is a shorthand for the latter.

Usage::

    pair = AwsPair()                     # FakeClock, region us-east-1, account 123456789012
    iot = pair.client("iot")             # a real boto3 client
    pair.svc.call("iot", "CreateThing", {"thingName": "t1"})   # or straight to the service
    pair.clock.advance(60); pair.svc.tick()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.contracts import AwsError
from ota_deploy.local.faults import FaultConfig, FaultInjector
from ota_deploy.local.http.app import HttpReply, RestJsonFrontEnd
from tests.support.service import memory_service

REGION, ACCOUNT = "us-east-1", "123456789012"
ENDPOINTS = {
    "iot": "https://iot.local.test",
    "iot-jobs-data": "https://jobs-data.local.test",
}


_SESSIONS: dict[str, Any] = {}


def _session_for(region: str) -> Any:
    """One boto3 session per region for the whole test run: its loader caches botocore's
    models, so a new pair costs milliseconds instead of re-reading the JSON (~0.3 s)."""
    if region not in _SESSIONS:
        _SESSIONS[region] = boto3.session.Session(
            region_name=region, aws_access_key_id="local", aws_secret_access_key="local"
        )
    return _SESSIONS[region]


class _Headers(dict[str, str]):
    """What botocore's AWSResponse expects of raw headers."""


@dataclass
class AwsPair:
    """A ``LocalIotService`` and boto3 clients that reach it through botocore's events."""

    clock: FakeClock = field(default_factory=FakeClock)
    region: str = REGION
    account: str = ACCOUNT
    faults: FaultConfig | None = None
    published: list[tuple[str, bytes]] = field(default_factory=list)
    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)
    lose_reply_after_commit: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (service, operation)

    def __post_init__(self) -> None:
        self.svc = memory_service(
            self.clock,
            region=self.region,
            account=self.account,
            publish=lambda topic, payload: self.published.append((topic, payload)),
            read_blob=self._read_blob,
        )
        self.front_ends = {name: RestJsonFrontEnd(name, self.svc) for name in ENDPOINTS}
        self.injector = FaultInjector(self.faults)
        self._session = _session_for(self.region)

    def _read_blob(self, bucket: str, key: str, version: str | None) -> bytes:
        return self.blobs[(bucket, key)]

    def client(self, service: str, *, max_attempts: int = 3) -> Any:
        """A real boto3 client of ``service`` ("iot" or "iot-jobs-data") wired to the pair;
        ``max_attempts`` counts every attempt, the first included."""
        config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts})
        client = self._session.client(service, endpoint_url=ENDPOINTS[service], config=config)
        front_end = self.front_ends[service]
        client.meta.events.register("before-send", self._sender(front_end))
        _retry_without_sleeping(client, max_attempts)
        return client

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Straight to the service (no HTTP codec): setting up a scene quickly."""
        return self.svc.call(service, operation, params)

    def _sender(self, fe: RestJsonFrontEnd) -> Callable[..., AWSResponse]:
        def send(request: Any, **_: Any) -> AWSResponse:
            parts = urlsplit(request.url)
            raw_path = parts.path + (f"?{parts.query}" if parts.query else "")
            query = parse_qsl(parts.query, keep_blank_values=True)
            operation = fe.route(request.method, raw_path, dict(query)) or ""
            self.requests.append((fe.name, operation))
            decision = self.injector.decide(fe.name, operation)
            if decision.action == "drop":
                raise ConnectionClosedError(endpoint_url=request.url)
            if decision.action is not None and decision.action != "lose_reply":
                reply = _fault(fe, decision.action)
            else:
                body = request.body or b""
                if hasattr(body, "read"):
                    body = body.read()
                if isinstance(body, str):
                    body = body.encode()
                headers = {
                    k: (v.decode() if isinstance(v, bytes) else v)
                    for k, v in request.headers.items()
                }
                reply = fe.handle(request.method, raw_path, query, headers, body)
                if decision.action == "lose_reply":  # the operation ran; its answer is lost
                    raise ConnectionClosedError(endpoint_url=request.url)
                if self.lose_reply_after_commit.get(operation, 0) > 0:
                    self.lose_reply_after_commit[operation] -= 1
                    raise ConnectionClosedError(endpoint_url=request.url)
            return AWSResponse(request.url, reply.status, _Headers(reply.headers), _Raw(reply.body))

        return send


class _Raw:
    """The raw body botocore's AWSResponse streams from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _fault(fe: RestJsonFrontEnd, action: str) -> HttpReply:
    if action == "throttle":
        return fe.error_reply(AwsError("ThrottlingException", "Rate exceeded", 429))
    if action == "error500":
        return fe.error_reply(AwsError("InternalFailureException", "injected", 500))
    return fe.error_reply(AwsError("ServiceUnavailableException", "injected", 503))


class _NoBackoff:
    def delay_amount(self, context: Any) -> float:
        return 0.0


def _retry_without_sleeping(client: Any, max_attempts: int) -> None:
    """botocore's standard retry rules (what is retried, how often), minus the sleeps: a unit
    test on a fake clock must not wait out exponential backoff."""
    from botocore.retries import quota, standard

    name = client.meta.service_model.service_id.hyphenize()
    client.meta.events.unregister(f"needs-retry.{name}", unique_id=f"retry-config-{name}")
    adapter = standard.RetryEventAdapter()
    handler = standard.RetryHandler(
        retry_policy=standard.RetryPolicy(
            retry_checker=standard.StandardRetryConditions(max_attempts=max_attempts),
            retry_backoff=_NoBackoff(),
        ),
        retry_event_adapter=adapter,
        retry_quota=standard.RetryQuotaChecker(
            quota.RetryQuota(), standard.ThrottlingErrorDetector(adapter)
        ),
        service_name=name,
    )
    client.meta.events.register(
        f"needs-retry.{name}", handler.needs_retry, unique_id=f"retry-config-{name}"
    )
