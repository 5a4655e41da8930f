"""Hostile clients against the control plane over real sockets: a 4xx or a closed connection.

Issue 10, cases 4 and 6: JSON nested 50,000 levels (both services), 300 connections that send
nothing, a request that announces a body and never sends it, endless headers, a huge
Content-Length. The server runs with short timeouts (``HttpLimits``) so the waits are short;
every wait is a bounded loop with a generous cap, never a timing assertion.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from ota_deploy.local.http.limits import HttpLimits

FAST = HttpLimits(header_timeout_s=0.3, body_timeout_s=0.3, lingering_s=0.1, shutdown_s=0.5)
CAP_S = 15.0  # generous: how long a test waits for something the server must do


def exchange(port: int, parts: Iterable[bytes]) -> bytes:
    """Send ``parts`` (stopping if the server closes first), then read until it closes."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(CAP_S)
        try:
            for part in parts:
                sock.sendall(part)
        except OSError:  # the server refused and closed while we were still sending
            pass
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError:
            pass
        return received


def status_and_body(reply: bytes) -> tuple[int, bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def nested_request(method: str, path: str, depth: int) -> bytes:
    body = b'{"statusDetails": ' + b"[" * depth + b"]" * depth + b"}"
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [("iot", "PUT", "/jobs/deep"), ("iot-jobs-data", "POST", "/things/t1/jobs/deep")],
)
def test_json_nested_50000_levels_is_a_400_not_a_500(
    control_plane: Callable[..., Any], service: str, method: str, path: str
) -> None:
    plane = control_plane()
    reply = exchange(plane.port(service), [nested_request(method, path, 50_000)])
    status, body = status_and_body(reply)
    assert status == 400
    assert b"x-amzn-ErrorType: SerializationException" in reply
    assert "nests deeper than 256 levels" in json.loads(body)["message"]


def _closed_by_peer(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1) == b""
    except OSError:
        return True


def test_300_half_open_connections_are_closed(control_plane: Callable[..., Any]) -> None:
    plane = control_plane(limits=FAST)
    port = plane.port("iot")
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
    socks[0].sendall(b"GET /things HTTP/1.1\r\nHost: lo")  # and one half a head, slowly
    try:
        open_ones = list(socks)
        deadline = time.monotonic() + CAP_S
        while open_ones and time.monotonic() < deadline:
            open_ones = [s for s in open_ones if not _closed_by_peer(s)]
            time.sleep(0.05)
        assert open_ones == []
    finally:
        for sock in socks:
            sock.close()
    # The server still answers whoever comes next.
    reply = exchange(port, [b"GET /things HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n"])
    assert status_and_body(reply) == (200, b'{"things":[]}')


def test_an_announced_body_that_never_comes_times_out(control_plane: Callable[..., Any]) -> None:
    plane = control_plane(limits=FAST)
    head = b"PUT /things/slow HTTP/1.1\r\nHost: local\r\nContent-Length: 100\r\n\r\n{"
    reply = exchange(plane.port("iot"), [head])  # returns once the server closes
    status, body = status_and_body(reply)
    assert status == 408
    assert b"x-amzn-ErrorType: RequestTimeoutException" in reply
    assert b"Connection: close" in reply
    assert "did not arrive within 0.3 s" in json.loads(body)["message"]
    assert plane.call("ListThings")["things"] == []  # nothing half-made


def _endless(head: bytes, piece: bytes, count: int) -> Iterable[bytes]:
    yield head
    for _ in range(count):
        yield piece


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("a 6 MiB header", _endless(b"GET /things HTTP/1.1\r\nX-Big: ", b"a" * 65536, 100)),
        ("a 6 MiB request line", _endless(b"GET /", b"a" * 65536, 100)),
        (
            "300 headers",
            [b"GET /things HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(300))],
        ),
        ("a Content-Length of 1e30", [b"PUT /things/a HTTP/1.1\r\nContent-Length: 1" + b"0" * 30]),
    ],
)
def test_huge_headers_get_a_400_and_a_closed_connection(
    control_plane: Callable[..., Any], name: str, parts: Iterable[bytes]
) -> None:
    plane = control_plane(limits=FAST)
    reply = exchange(plane.port("iot"), [*parts, b"\r\n\r\n"])
    assert status_and_body(reply)[0] == 400, name
    assert len(reply) < 4096  # what is echoed back is an excerpt


@pytest.mark.parametrize(
    "head",
    [
        b"PUT /things/a HTTP/1.1\r\nHost: local\r\nContent-Length: 5000000000\r\n\r\n{}",
        b"PUT /things/a HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: chunked\r\n\r\n",
    ],
    ids=["announced 5 GB", "chunked past the limit"],
)
def test_a_body_past_the_limit_is_a_413_without_buffering_it(
    control_plane: Callable[..., Any], head: bytes
) -> None:
    plane = control_plane(limits=HttpLimits(max_body_bytes=4096, lingering_s=0.1))
    chunk = b"1000\r\n" + b"a" * 4096 + b"\r\n"
    reply = exchange(plane.port("iot"), _endless(head, chunk, 64))
    status, body = status_and_body(reply)
    assert status == 413
    assert json.loads(body)["message"] == "Request body too large: the limit is 4096 bytes"
    assert plane.call("ListThings")["things"] == []
