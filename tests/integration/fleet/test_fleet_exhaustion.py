"""A fleet that cannot connect for want of open files (EMFILE on every connect): one warning
line for the whole fleet, a shared backoff, and once it lasts one fatal report, which ends a
run (``wiring`` turns it into the run's error); never a line or a traceback per device."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import threading
from typing import Any

import pytest

from ota_deploy.fleet.runner import FleetThread


def test_lasting_emfile_is_one_warning_then_one_fatal(
    local_iot: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    attempts = {"n": 0}

    async def create_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
        attempts["n"] += 1
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_connection", create_connection)
    fatal: list[str] = []
    ended = threading.Event()

    def on_fatal(message: str) -> None:
        fatal.append(message)
        ended.set()

    with caplog.at_level(logging.WARNING, logger="ota_deploy.fleet"):
        fleet = FleetThread(
            [f"starved-{i:02d}" for i in range(40)],
            mqtt_host=local_iot.mqtt_host,
            mqtt_port=local_iot.mqtt_port,
            on_fatal=on_fatal,
            fatal_after=0.5,
        )
        with fleet:
            assert ended.wait(30)
            stats = fleet.stats()
    assert len(fatal) == 1
    assert "still cannot connect" in fatal[0] and "EMFILE" in fatal[0]
    assert stats.connected == 0 and stats.connect_failures == attempts["n"] >= 40
    records = [r for r in caplog.records if r.name.startswith("ota_deploy.fleet")]
    warnings = [r for r in records if r.levelno == logging.WARNING]
    errors = [r for r in records if r.levelno == logging.ERROR]
    assert len(warnings) == 1 and "out of open files (EMFILE" in warnings[0].getMessage()
    assert len(errors) == 1 and errors[0].getMessage() == fatal[0]
    assert all(r.exc_info is None for r in records)  # no traceback
