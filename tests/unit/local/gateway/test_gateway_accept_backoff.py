"""The accept loop under descriptor exhaustion: one line per condition, growing pauses,
recovery when descriptors free up (sans-I/O policy on a FakeClock; then a real listening socket
whose accept() is made to fail with EMFILE)."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket

import pytest

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.gateway.accept_backoff import AcceptBackoff
from ota_deploy.local.gateway.listener import Listener, bind_socket


def test_one_line_per_condition_and_a_growing_pause() -> None:
    clock = FakeClock()
    backoff = AcceptBackoff(first_delay=0.05, max_delay=0.4)
    delays, lines = [], []
    for _ in range(6):
        delay, line = backoff.failed(errno.EMFILE, clock.now())
        delays.append(delay)
        lines.append(line)
        clock.advance(delay)
    assert delays == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4]
    assert lines[0] is not None and "EMFILE" in lines[0] and "ulimit -n" in lines[0]
    assert lines[1:] == [None] * 5
    recovered = backoff.succeeded(clock.now())
    assert recovered is not None and "6 attempt(s)" in recovered and "1.6 s" in recovered
    assert backoff.succeeded(clock.now()) is None  # nothing more to say
    # a new condition (or the same one again later) is reported again, from the first delay
    delay, line = backoff.failed(errno.ENFILE, clock.now())
    assert delay == 0.05 and line is not None and "ENFILE" in line
    delay, line = backoff.failed(errno.EMFILE, clock.now())
    assert delay == 0.05 and line is not None and "EMFILE" in line


async def test_a_listener_out_of_descriptors_backs_off_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    accepted = asyncio.Event()

    class Proto(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.set()
            transport.close()

    listener = Listener(bind_socket("127.0.0.1", 0), Proto, name="mqtt")
    listener.backoff = AcceptBackoff(first_delay=0.005, max_delay=0.02)
    real_accept, failures = listener.accept, [0]

    def accept() -> tuple[socket.socket, object]:
        if failures[0] < 20:
            failures[0] += 1
            raise OSError(errno.EMFILE, "Too many open files")
        return real_accept()

    listener.accept = accept
    listener.start()
    caplog.set_level(logging.WARNING, logger="ota_deploy.local.gateway.listener")
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        await asyncio.wait_for(accepted.wait(), 10)
        writer.close()
    finally:
        await listener.close()
    assert failures[0] == 20 and listener.accepted == 1
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines  # one when the condition starts, one when it ends
    assert "EMFILE" in lines[0] and "accepting connections again" in lines[1]
    assert all(r.exc_info is None for r in caplog.records)  # never a traceback
