"""The local S3's WSGI front: moto's S3 app behind one wrapper that pins this server's moto
account, injects the faults aimed at S3, and saves every change before the reply leaves.

Per request (werkzeug thread)::

    environ --parse_request--> S3Request(method, bucket, key, query, headers)
        --faults on? operation_name (botocore's S3 model) --FaultInjector.decide("s3", op)-->
            latency; throttle -> 503 SlowDown / error500 -> 500 InternalError /
            error503 -> 503 ServiceUnavailable (S3's XML error body); drop -> socket shut, no
            answer; lose_reply -> run, save, then socket shut, no answer
        --moto's app(environ, start_response)--> the response (not sent yet: werkzeug writes
            the status line with the first body chunk, after this wrapper returns)
        --a PUT / POST / DELETE? on_change(bucket, key) (the state folder's S3Store.sync)-->
        --> werkzeug sends the response

A request the wrapper cannot pin to one bucket (virtual-hosted style: the bucket in the Host
header) is saved with ``on_change(None, None)``, every bucket compared. If saving fails the
client gets 500 InternalError instead of moto's success, so nothing unsaved is acknowledged.

Operation names come from botocore's S3 model (``requestUri``, method, and the query/header
members an operation requires: ``UploadPart`` needs ``partNumber`` and ``uploadId``,
``CopyObject`` the ``x-amz-copy-source`` header); the most specific match wins. The model is
read only when faults are configured.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ota_deploy.local.faults import FaultInjector
from ota_deploy.runtime.failure_log import describe

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
OnChange = Callable[[str | None, str | None], None]
WRITES = frozenset({"PUT", "POST", "DELETE"})
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

# S3's error codes for the injected failures (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)
_FAULTS = {
    "throttle": ("503 Slow Down", "SlowDown", "Please reduce your request rate."),
    "error500": (
        "500 Internal Server Error",
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
    "error503": (
        "503 Service Unavailable",
        "ServiceUnavailable",
        "Service is unable to handle request.",
    ),
}


@dataclass(frozen=True)
class S3Request:
    method: str
    bucket: str | None  # None: the service (ListBuckets) or not known (virtual-hosted)
    key: str | None
    query: frozenset[str]  # query parameter names
    query_values: tuple[tuple[str, str], ...]
    headers: frozenset[str]  # lower-case header names
    pinned: bool = True  # False: the bucket is not in the path (virtual-hosted style)

    @property
    def writes(self) -> bool:
        return self.method in WRITES


def parse_request(environ: dict[str, Any], hosts: frozenset[str] = LOCAL_HOSTS) -> S3Request:
    """The bucket and key a path-style request names, its query names and header names."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw is None:  # not werkzeug: PATH_INFO is already decoded (as latin-1)
        path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
        query_text = environ.get("QUERY_STRING", "")
    else:
        parts = urlsplit(raw)
        path, query_text = unquote(parts.path), parts.query
    values = parse_qs(query_text, keep_blank_values=True)
    headers = frozenset(
        k[5:].replace("_", "-").lower() for k in environ if k.startswith("HTTP_")
    ) | {k.replace("_", "-").lower() for k in ("CONTENT_TYPE", "CONTENT_LENGTH") if k in environ}
    host = (environ.get("HTTP_HOST") or "").rsplit(":", 1)[0] if environ.get("HTTP_HOST") else ""
    pinned = not host or host in hosts or host.replace(".", "").isdigit()
    bucket, _, key = path.lstrip("/").partition("/")
    return S3Request(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        bucket=(bucket or None) if pinned else None,
        key=(key or None) if pinned else None,
        query=frozenset(values),
        query_values=tuple((k, v[0]) for k, v in values.items()),
        headers=headers,
        pinned=pinned,
    )


@dataclass(frozen=True)
class _Operation:
    name: str
    method: str
    level: str  # "service", "bucket" or "key"
    literal: tuple[tuple[str, str | None], ...]  # query items of the requestUri
    query: frozenset[str]  # required querystring members
    headers: frozenset[str]  # required header members (lower case)

    @property
    def weight(self) -> int:
        return len(self.literal) + len(self.query) + len(self.headers)

    def matches(self, r: S3Request, level: str) -> bool:
        if r.method != self.method or level != self.level:
            return False
        given = dict(r.query_values)
        for name, value in self.literal:
            if name not in r.query or (value is not None and given.get(name) != value):
                return False
        return self.query <= r.query and self.headers <= r.headers


@cache
def _operations() -> tuple[_Operation, ...]:
    from ota_deploy.core.aws_model import service_model

    model = service_model("s3")
    out = []
    for name in model.operation_names:
        op = model.operation_model(name)
        path, _, literal = op.http["requestUri"].partition("?")
        level = "service" if path == "/" else "key" if "{Key+}" in path else "bucket"
        items = tuple(
            (k, v if sep else None)
            for item in literal.split("&")
            if item
            for k, sep, v in [item.partition("=")]
        )
        query: set[str] = set()
        headers: set[str] = set()
        shape = op.input_shape
        for member in shape.required_members if shape is not None else ():
            where = shape.members[member].serialization
            if where.get("location") == "querystring":
                query.add(where["name"])
            elif where.get("location") == "header":
                headers.add(where["name"].lower())
        out.append(
            _Operation(name, op.http["method"], level, items, frozenset(query), frozenset(headers))
        )
    return tuple(out)


def operation_name(r: S3Request) -> str:
    """botocore's name of the S3 operation ``r`` is (``"S3Request"`` when none matches)."""
    level = "service" if r.bucket is None else "key" if r.key is not None else "bucket"
    if not r.pinned:
        return "S3Request"
    found = [op for op in _operations() if op.matches(r, level)]
    if not found:
        return "S3Request"
    return max(found, key=lambda op: (op.weight, op.name)).name


def _xml_error(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>local</RequestId></Error>"
    ).encode()


def _shut(environ: dict[str, Any]) -> None:
    """Close the client's connection with no answer (werkzeug then ends the request)."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("fault injected: connection closed unanswered")


class S3Front:
    """The WSGI wrapper around moto's S3 app (see the module docstring)."""

    def __init__(
        self,
        app: WsgiApp,
        *,
        account: str,
        faults: FaultInjector,
        hosts: frozenset[str] = LOCAL_HOSTS,
    ) -> None:
        self._app = app
        self._account = account
        self._hosts = hosts
        self.faults = faults
        self.on_change: OnChange | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = self._account
        request = parse_request(environ, self._hosts)
        lose_reply = False
        if self.faults.config.active:
            decision = self.faults.decide("s3", operation_name(request))
            if decision.latency_s:
                time.sleep(decision.latency_s)
            if decision.action == "drop":
                _shut(environ)
            if decision.action in _FAULTS:
                status, code, message = _FAULTS[str(decision.action)]
                return self._error(start_response, request, status, code, message)
            lose_reply = decision.action == "lose_reply"
        try:
            result = self._app(environ, start_response)
        except Exception as err:  # moto's S3 failed: one line and S3's answer, no traceback
            return self._failed(start_response, request, err)
        on_change = self.on_change
        if request.writes and on_change is not None:
            try:
                on_change(request.bucket, request.key)
            except Exception as err:
                log.error("the local S3 could not save %s %s: %s", request.method, request.key, err)
                _close(result)
                return self._error(
                    start_response,
                    request,
                    "500 Internal Server Error",
                    "InternalError",
                    "The change could not be saved.",
                    exc_info=sys.exc_info(),
                )
        if lose_reply:  # the change is made (and saved); the answer never leaves
            _close(result)
            _shut(environ)
        return result

    def _failed(
        self, start_response: Callable[..., Any], request: S3Request, err: Exception
    ) -> list[bytes]:
        """moto's app raised instead of answering. The one case a client meets in practice:
        a part still on its way after AbortMultipartUpload (a Ctrl-C'd upload being cleaned
        up) -- moto looks the upload id up and raises KeyError. S3 answers 404 NoSuchUpload
        there (https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html), and so
        does this, quietly. Anything else: one warning line and 500 InternalError, so a
        request never prints werkzeug's traceback on the terminal."""
        if isinstance(err, KeyError) and "uploadId" in request.query:
            log.debug("the local S3: %s %s to an upload that is gone", request.method, request.key)
            return self._error(
                start_response,
                request,
                "404 Not Found",
                "NoSuchUpload",
                "The specified upload does not exist. The upload ID may be invalid, or the "
                "upload may have been aborted or completed.",
            )
        log.warning(
            "the local S3 failed on %s %s: %s", request.method, request.key, describe(err)
        )
        return self._error(
            start_response,
            request,
            "500 Internal Server Error",
            "InternalError",
            "We encountered an internal error. Please try again.",
        )

    @staticmethod
    def _error(
        start_response: Callable[..., Any],
        request: S3Request,
        status: str,
        code: str,
        message: str,
        exc_info: Any = None,
    ) -> list[bytes]:
        body = b"" if request.method == "HEAD" else _xml_error(code, message)
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
        if exc_info is None:
            start_response(status, headers)
        else:
            start_response(status, headers, exc_info)
        return [body]


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()
