"""LoopThread runs work on its loop and shuts down cleanly."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ota_deploy.runtime.loop_thread import LoopThread


def test_runs_plain_and_async_work_on_its_own_thread() -> None:
    lt = LoopThread("t")
    lt.start()
    try:
        assert lt.run(lambda: threading.current_thread().name) == "t"

        async def twice() -> int:
            await asyncio.sleep(0)
            return 2

        assert lt.run(twice) == 2
    finally:
        lt.stop()
    assert not lt.running
    with pytest.raises(RuntimeError):
        lt.run(lambda: 1)
