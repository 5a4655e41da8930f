"""One listening socket of the gateway: accept, hand over to a protocol, survive exhaustion.

Data flow::

    listening socket readable (loop reader callback)
        -> accept() up to ACCEPT_BATCH times
        -> loop.connect_accepted_socket(factory, sock, ssl=context)   (TLS: the handshake)
        -> the protocol's connection_made (``GatewayConnection``)
    accept() fails with EMFILE / ENFILE / ENOBUFS / ENOMEM
        -> AcceptBackoff (one warning line per condition); the reader is removed and put back
           after a growing pause; pending connections wait in the kernel's backlog meanwhile

A failed TLS handshake (an untrusted or missing client certificate, a client that speaks plain
MQTT to the TLS port, a timeout) closes that socket and is counted in ``refused``; it is logged
at debug level, one line, never a traceback.

The plain and the TLS listener of ``MqttGateway`` are each one ``Listener``; they differ only
in ``ssl`` and the protocol factory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl as ssl_module
from collections.abc import Callable

from ota_deploy.core.clock import Clock, MonotonicClock
from ota_deploy.local.gateway.accept_backoff import EXHAUSTION, AcceptBackoff

log = logging.getLogger(__name__)

ACCEPT_BATCH = 100  # accepts per readable event, as asyncio's servers do
BACKLOG = 4096
TLS_READ_BUFFER = 17 * 1024  # one full TLS record (16 KiB of data) and its overhead


def trim_tls_read_buffer(size: int = TLS_READ_BUFFER) -> None:
    """Lower asyncio's per-connection TLS read buffer in this process (only ever lower it).

    asyncio's ``SSLProtocol`` (Python 3.11+) gives every TLS connection a read buffer of
    ``SSLProtocol.max_size`` bytes, 256 KiB, zero-filled up front
    (https://github.com/python/cpython/issues/109534): the gateway held 296 KiB per
    mutual-TLS connection (bench/bench_gateway_tls.py), 2.9 GB for 10,000 devices. The buffer
    is only where ciphertext lands before OpenSSL reads it; one TLS record's worth costs a
    few more reads for a large PUBLISH and nothing else. ``max_size`` is a public class
    attribute (the fleet's TLS clients lower it the same way, ``fleet/tls.py``).
    """
    import asyncio.sslproto

    protocol = asyncio.sslproto.SSLProtocol
    if getattr(protocol, "max_size", 0) > size:
        protocol.max_size = size


def bind_socket(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """A non-blocking listening TCP socket on the first address ``host`` resolves to."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Listener:
    """Accepts connections on ``sock`` for ``factory`` (with TLS when ``ssl`` is given)."""

    def __init__(
        self,
        sock: socket.socket,
        factory: Callable[[], asyncio.Protocol],
        *,
        name: str,
        ssl: ssl_module.SSLContext | None = None,
        handshake_timeout: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.sock = sock
        self.factory = factory
        self.name = name
        self.ssl = ssl
        self.handshake_timeout = handshake_timeout
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.backoff = AcceptBackoff()
        self.accept: Callable[[], tuple[socket.socket, object]] = sock.accept  # tests inject
        self.accepted = 0
        self.refused = 0  # TLS handshakes that failed
        self.port = int(sock.getsockname()[1])
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading = False
        self._retry: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.ssl is not None:
            trim_tls_read_buffer()
        self._resume()

    def _resume(self) -> None:
        self._retry = None
        if self._closed or self._loop is None or self._reading:
            return
        self._loop.add_reader(self.sock.fileno(), self._on_readable)
        self._reading = True

    def _pause(self, delay: float) -> None:
        if self._loop is None:
            return
        if self._reading:
            self._loop.remove_reader(self.sock.fileno())
            self._reading = False
        self._retry = self._loop.call_later(delay, self._resume)

    def _on_readable(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return  # nothing more pending
            except OSError as exc:
                if exc.errno in EXHAUSTION:
                    delay, line = self.backoff.failed(exc.errno, self.clock.now(), self.name)
                    if line is not None:
                        log.warning("%s", line)
                    self._pause(delay)
                    return
                log.warning("%s: accept() failed: %s", self.name, exc)
                return
            line = self.backoff.succeeded(self.clock.now(), self.name)
            if line is not None:
                log.warning("%s", line)
            self.accepted += 1
            conn.setblocking(False)
            task = asyncio.get_running_loop().create_task(self._connect(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connect(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self.ssl is None:
                await loop.connect_accepted_socket(self.factory, conn)
            else:
                await loop.connect_accepted_socket(
                    self.factory,
                    conn,
                    ssl=self.ssl,
                    ssl_handshake_timeout=self.handshake_timeout,
                )
        except asyncio.CancelledError:
            conn.close()
            raise
        except (TimeoutError, OSError, EOFError) as exc:  # ssl.SSLError is an OSError
            self.refused += 1
            log.debug("%s: connection refused during setup: %s", self.name, exc)
            conn.close()

    async def close(self) -> None:
        """Stop accepting and close the socket; connections already made stay open."""
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._reading and self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
            self._reading = False
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(OSError):
            self.sock.close()
