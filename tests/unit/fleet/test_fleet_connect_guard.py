"""A fleet's connect failures: one warning per condition, a shared backoff while out of files
or memory, and one fatal call when exhaustion lasts (``fleet.connect_guard``)."""

from __future__ import annotations

import asyncio
import errno
import logging

import pytest

from ota_deploy.fleet.connect_guard import MAX_PAUSE, ConnectGuard


def _emfile() -> OSError:
    return OSError(errno.EMFILE, "Too many open files")


def test_one_warning_per_condition_not_per_failure(caplog: pytest.LogCaptureFixture) -> None:
    fatal: list[str] = []

    async def scenario() -> ConnectGuard:
        guard = ConnectGuard("127.0.0.1:1883", on_fatal=fatal.append, fatal_after=3600)
        for attempt in range(1, 200):
            guard.failed(_emfile(), attempt)
            guard.failed(ConnectionRefusedError(errno.ECONNREFUSED, "refused"), attempt)
            guard.failed(MemoryError(), attempt)
        return guard

    with caplog.at_level(logging.WARNING, logger="ota_deploy.fleet.connect_guard"):
        guard = asyncio.run(scenario())
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert "EMFILE" in lines[0] and "ulimit -n" in lines[0]
    assert "ConnectionRefusedError" in lines[1]
    assert "out of memory (MemoryError)" in lines[2]
    assert guard.counts == {"EMFILE": 199, "ConnectionRefusedError": 199, "MemoryError": 199}
    assert guard.summary() is not None and "EMFILE 199" in guard.summary()  # type: ignore[operator]
    assert fatal == []


def test_exhaustion_pauses_the_whole_fleet_and_a_success_resets_it() -> None:
    now = [100.0]
    guard = ConnectGuard("h:1", fatal_after=3600, monotonic=lambda: now[0])
    same_instant = [guard.failed(_emfile(), 1) for _ in range(12)]
    grown = []
    for _ in range(8):  # each failure after the pause ended doubles it
        now[0] = guard._pause_until
        grown.append(guard.failed(_emfile(), 1))
    guard.succeeded()
    now[0] = guard._pause_until
    after_reset = guard.failed(_emfile(), 1)
    # a burst of failures from connects already in flight is one pause, not twelve doublings
    assert same_instant == [pytest.approx(0.1)] * 12
    assert grown == [pytest.approx(d) for d in (0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0)]
    assert grown[-1] == MAX_PAUSE  # capped
    assert after_reset == pytest.approx(0.1)  # after a success it starts over


def test_a_device_waits_out_the_fleet_wide_pause() -> None:
    async def scenario() -> bool:
        guard = ConnectGuard("h:1", fatal_after=3600)
        guard.failed(_emfile(), 1)
        loop = asyncio.get_running_loop()
        await guard.wait_turn()
        return loop.time() >= guard._pause_until

    assert asyncio.run(scenario())


def test_lasting_exhaustion_is_fatal_once_but_refusals_never_are(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fatal: list[str] = []

    async def scenario() -> None:
        guard = ConnectGuard("127.0.0.1:8883", on_fatal=fatal.append, fatal_after=0.0)
        for attempt in range(1, 50):
            guard.failed(ConnectionRefusedError(errno.ECONNREFUSED, "refused"), attempt)
        assert fatal == []
        for attempt in range(1, 50):
            guard.failed(OSError(errno.ENFILE, "File table overflow"), attempt)

    with caplog.at_level(logging.WARNING, logger="ota_deploy.fleet.connect_guard"):
        asyncio.run(scenario())
    assert len(fatal) == 1
    assert "still cannot connect to 127.0.0.1:8883" in fatal[0] and "ENFILE" in fatal[0]
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
