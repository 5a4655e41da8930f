"""The local control plane's HTTP servers: ``iot`` and ``iot-jobs-data`` over AWS REST-JSON.

One aiohttp low-level server per botocore service, each on its own port, because the two
services share paths (``GET /things/{thingName}/jobs/{jobId}`` is DescribeJobExecution in
both). Per request::

    aiohttp request --Router.match--> OperationModel + path labels (once per request)
        --FaultInjector.decide--> (latency, throttle / 5xx / drop)?
        --service.supports?--> 501 NotImplementedException when not
        --parse_request--> params --validate_input--> InvalidRequestException?
        --IotService.call(service, operation, params)--> result | AwsError
        --serialize_result / serialize_error--> aiohttp response
          (or, for an injected ``lose_reply``, the connection aborted unanswered)

Everything runs on the event loop that owns the service (the service is not thread-safe and
publishes MQTT through the gateway on the same loop). A route that no operation has answers
404 ``UnknownOperationException``, as AWS's front end does; an operation the local service does
not implement answers 501 ``NotImplementedException`` (botocore does not retry 501), never a
silent 200. An operation that fails unexpectedly answers 500 and is logged once per condition
(``runtime.failure_log``), not with a traceback per request.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ota_deploy.core.aws_model import SERVICES, service_model
from ota_deploy.core.errors import excerpt
from ota_deploy.local.contracts import AwsError
from ota_deploy.local.faults import FaultConfig, FaultInjector, injector_for
from ota_deploy.local.http.limits import HttpLimits
from ota_deploy.local.http.parse import parse_request
from ota_deploy.local.http.routes import RouteMatch, Router
from ota_deploy.local.http.serialize import new_request_id, serialize_error, serialize_result
from ota_deploy.local.http.validate import validate_input
from ota_deploy.runtime.failure_log import FailureLog

log = logging.getLogger(__name__)


class _WireLog(logging.Logger):
    """aiohttp's per-connection log. A client's malformed request (bad request line, headers
    too long or too many, a bad Content-Length) or its hang-up is the client's doing: one
    DEBUG line, not an ERROR with a traceback per event. Anything else is ours: logged once
    per condition (``failures``), then counted."""

    def __init__(self, failures: FailureLog) -> None:
        super().__init__(f"{__name__}.wire")
        self.parent = log
        self.failures = failures

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kw: Any) -> None:
        err = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if isinstance(err, HttpProcessingError | ConnectionError):
            first = str(err).strip().splitlines() or [type(err).__name__]
            self.debug("client error: %s", first[0])
            return
        if err is None:
            super().exception(msg, *args, exc_info=exc_info, **kw)
            return
        self.failures.failed("the control plane's HTTP server", err, detail=str(msg))


_ROUTERS: dict[str, Router] = {}


def router_for(name: str) -> Router:
    if name not in _ROUTERS:
        _ROUTERS[name] = Router(service_model(name))
    return _ROUTERS[name]


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes


class RestJsonFrontEnd:
    """Request bytes in, response bytes out, for one service; no sockets (testable alone)."""

    def __init__(self, service_name: str, service: Any, failures: FailureLog | None = None) -> None:
        self.name = service_name
        self.model = service_model(service_name)
        self.router = router_for(service_name)
        self.service = service
        self.failures = failures if failures is not None else FailureLog(log)

    def match(self, method: str, raw_path: str, query: dict[str, str]) -> RouteMatch | None:
        """The operation a request addresses (None: no route), to ``answer`` it with."""
        return self.router.match(method, raw_path, query)

    def route(self, method: str, raw_path: str, query: dict[str, str]) -> str | None:
        """The name of the operation a request addresses (None: no route)."""
        match = self.router.match(method, raw_path, query)
        return match.operation.name if match else None

    def handle(
        self,
        method: str,
        raw_path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
    ) -> HttpReply:
        match = self.router.match(method, raw_path, dict(query))
        return self.answer(match, method, raw_path, query, headers, body)

    def answer(
        self,
        match: RouteMatch | None,
        method: str,
        raw_path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
    ) -> HttpReply:
        """The reply to a request already routed to ``match`` (``match``'s result)."""
        if match is None:
            return self.error_reply(
                AwsError(
                    "UnknownOperationException",
                    f"No operation of {self.name} matches "
                    f"{excerpt(method, 16)} {excerpt(raw_path.split('?')[0])}",
                    404,
                )
            )
        op = match.operation
        try:
            supports: Callable[[str, str], bool] | None = getattr(self.service, "supports", None)
            if supports is not None and not supports(self.name, op.name):
                raise AwsError(
                    "NotImplementedException",
                    f"{op.name} is not implemented by the local AWS IoT ({self.name})",
                    501,
                )
            params = parse_request(op, match.labels, query, headers, body, match.literal_query)
            validate_input(op.input_shape, params)
            result = self.service.call(self.name, op.name, params)
            status, out_headers, out_body = serialize_result(op, result or {})
            return HttpReply(status, out_headers, out_body)
        except AwsError as err:
            return self.error_reply(err)
        except Exception as err:
            self.failures.failed(f"the local {self.name} {op.name}", err)
            return self.error_reply(
                AwsError("InternalFailureException", "An unexpected error occurred", 500)
            )

    def error_reply(self, err: AwsError) -> HttpReply:
        status, headers, body = serialize_error(self.model, err)
        return HttpReply(status, headers, body)


class ControlPlaneServer:
    """Serves ``iot`` and ``iot-jobs-data`` for ``service`` on two ports of ``host``, each
    connection held to ``limits`` (timeouts and sizes: ``local/http/limits.py``)."""

    def __init__(
        self,
        service: Any,
        *,
        host: str = "127.0.0.1",
        iot_port: int = 0,
        jobs_data_port: int = 0,
        faults: FaultConfig | FaultInjector | None = None,
        limits: HttpLimits | None = None,
        failures: FailureLog | None = None,
    ) -> None:
        self.host = host
        self._ports = {"iot": iot_port, "iot-jobs-data": jobs_data_port}
        # repeated failures: one line per condition (shared with the rest of LocalAwsIot)
        self.failures = failures if failures is not None else FailureLog(log)
        self.front_ends = {
            name: RestJsonFrontEnd(name, service, self.failures) for name in SERVICES
        }
        self.faults = injector_for(faults)  # shared with S3 and MQTT when given
        self.limits = limits or HttpLimits()
        self._runners: list[web.ServerRunner] = []
        self.urls: dict[str, str] = {}

    def set_service(self, service: Any) -> None:
        for fe in self.front_ends.values():
            fe.service = service

    async def start(self) -> dict[str, str]:
        """Bind both ports; returns {"iot": url, "iot-jobs-data": url}."""
        for name in SERVICES:
            server = web.Server(
                self._handler_for(self.front_ends[name]),
                access_log=None,
                logger=_WireLog(self.failures),
                **self.limits.aiohttp_options(),
            )
            runner = web.ServerRunner(
                server, access_log=None, shutdown_timeout=self.limits.shutdown_s
            )
            await runner.setup()
            site = web.TCPSite(runner, self.host, self._ports[name])
            await site.start()
            self._runners.append(runner)
            port = runner.addresses[0][1]
            self.urls[name] = f"http://{self.host}:{port}"
        return dict(self.urls)

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        self.failures.flush()

    def _handler_for(self, fe: RestJsonFrontEnd) -> Callable[[web.BaseRequest], Any]:
        faults = self.faults
        limits = self.limits

        async def handler(request: web.BaseRequest) -> web.StreamResponse:
            request_id = new_request_id()
            try:
                body = await _read_body(request, limits)
            except ConnectionError:  # the client hung up mid-body: nobody to answer
                return web.Response(status=400)
            except AwsError as err:  # too large or too slow: answer, then close
                refused = fe.error_reply(err)
                refused.headers["x-amzn-RequestId"] = request_id
                response = web.Response(
                    status=refused.status, headers=refused.headers, body=refused.body
                )
                response.force_close()
                return response
            query = list(request.rel_url.query.items())
            lose_reply = False
            match = fe.match(request.method, request.raw_path, dict(query))
            if match is not None and faults.config.active:  # aimed at operations; no route: 404
                decision = faults.decide(fe.name, match.operation.name)
                if decision.latency_s:
                    await asyncio.sleep(decision.latency_s)
                lose_reply = decision.action == "lose_reply"
                if decision.action not in (None, "lose_reply"):
                    fault = _fault_reply(str(decision.action), fe, request)
                    if fault is None:  # dropped: the transport is closed, nothing is sent
                        return web.Response(status=500)
                    fault.headers["x-amzn-RequestId"] = request_id
                    return web.Response(status=fault.status, headers=fault.headers, body=fault.body)
            reply = fe.answer(
                match, request.method, request.raw_path, query, dict(request.headers), body
            )
            if lose_reply:  # the operation ran and its effect stays; the answer never leaves
                _abort(request)
                return web.Response(status=500)
            reply.headers["x-amzn-RequestId"] = request_id
            return web.Response(status=reply.status, headers=reply.headers, body=reply.body)

        return handler


async def _read_body(request: web.BaseRequest, limits: HttpLimits) -> bytes:
    """The whole body, or ``AwsError`` 413 (announced or sent beyond ``max_body_bytes``, which
    is never buffered) / 408 (not all there within ``body_timeout_s``)."""
    if not request.can_read_body:
        return b""
    too_large = AwsError(
        "RequestEntityTooLargeException",
        f"Request body too large: the limit is {limits.max_body_bytes} bytes",
        413,
    )
    announced = request.content_length
    if announced is not None and announced > limits.max_body_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.body_timeout_s):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > limits.max_body_bytes:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        raise AwsError(
            "RequestTimeoutException",
            f"The request body did not arrive within {limits.body_timeout_s:g} s",
            408,
        ) from None
    return b"".join(chunks)


def _fault_reply(action: str, fe: RestJsonFrontEnd, request: web.BaseRequest) -> HttpReply | None:
    if action == "drop":
        _abort(request)
        return None
    if action == "throttle":
        err = AwsError("ThrottlingException", "Rate exceeded", 429)
        status, headers, body = serialize_error(None, err)
    elif action == "error500":
        status, headers, body = serialize_error(
            None,
            AwsError("InternalFailureException", "An internal failure occurred (injected)", 500),
        )
    else:
        status, headers, body = serialize_error(
            None, AwsError("ServiceUnavailableException", "Service unavailable (injected)", 503)
        )
    return HttpReply(status, headers, body)


def _abort(request: web.BaseRequest) -> None:
    """Close the connection at once, unanswered (the client sees it closed mid-request)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
