"""An asyncio event loop on a background thread, for synchronous callers.

The local AWS IoT and the simulated fleet are asyncio programs; ``run --local``, ``demo`` and
the tests drive them from ordinary synchronous code. ``LoopThread`` is the one place that
starts such a loop, runs work on it and shuts it down cleanly (default executor joined, loop
stopped, thread joined, loop closed), so the two wrappers that need it hold no copy of this.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

log = logging.getLogger(__name__)

T = TypeVar("T")


class LoopThread:
    """A private event loop running forever on a daemon thread until ``stop()``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.loop is not None

    def start(self) -> None:
        if self.loop is not None:
            return
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=self.name, daemon=True)
        self._thread.start()

    @overload
    def run(self, work: Callable[[], Awaitable[T]], timeout: float | None = 30.0) -> T: ...

    @overload
    def run(self, work: Callable[[], T], timeout: float | None = 30.0) -> T: ...

    def run(self, work: Callable[[], Any], timeout: float | None = 30.0) -> Any:
        """Run ``work()`` on the loop (awaiting what it returns, if awaitable); its result."""
        if self.loop is None:
            raise RuntimeError(f"{self.name}: the loop is not running")

        async def runner() -> Any:
            result = work()
            if inspect.isawaitable(result):
                return await result
            return result

        future = asyncio.run_coroutine_threadsafe(runner(), self.loop)
        return future.result(timeout=timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Join the loop's executor threads, stop the loop, join the thread, close the loop."""
        loop, thread = self.loop, self._thread
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(loop.shutdown_default_executor(), loop).result(
                timeout
            )
        except Exception:
            log.exception("%s: could not shut the loop's executor down", self.name)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=timeout)
        if not loop.is_running():
            loop.close()
        self.loop = None
        self._thread = None
