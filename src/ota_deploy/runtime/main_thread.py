"""Raise an exception in the main thread from another thread, once: how a dead child ends a run.

The round loop runs in the main thread and waits in ``time.sleep`` and in HTTP calls; the
threads that watch child processes learn first that one died. ``MainThreadAlarm.fire(err)``
stores ``err`` and sends SIGUSR1 to the main thread itself, whose handler raises it: a sleep or
a blocking call is interrupted at once (PEP 475 retries them unless the handler raises), and
the run handles ``err`` like any other error of its kind (a round ends in ERROR, cleanup runs,
the report and journal are written). Only the first ``fire`` is delivered.

An error fired before the alarm is entered (a child that died while the stack was still
starting, a fleet that could not connect during its start-up) is raised by ``__enter__``: the
caller learns of it at once, never only when its run ends.

Outside the main thread (tests that drive a run from a worker thread) nothing is installed and
``fire`` only records the error: the caller checks ``pending`` when it ends.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

_SIGNAL = getattr(signal, "SIGUSR1", None)


class MainThreadAlarm:
    """Context manager: while entered, ``fire(err)`` raises ``err`` in the main thread."""

    def __init__(self) -> None:
        self.pending: BaseException | None = None  # fired, not yet raised
        self.fired: BaseException | None = None
        self._armed = False
        self._previous: Any = None
        self._lock = threading.Lock()

    def __enter__(self) -> MainThreadAlarm:
        """Arm the alarm; an error fired before now is raised here (and the alarm stays
        unarmed). Arming and the check share the lock ``fire`` takes, so an error fired around
        this call is either raised here or delivered by the signal, never lost."""
        main = threading.current_thread() is threading.main_thread()
        with self._lock:
            if _SIGNAL is not None and main:
                self._previous = signal.signal(_SIGNAL, self._handler)
                self._armed = True
            early, self.pending = self.pending, None
        if early is not None:
            self.__exit__(None, None, None)
            raise early
        return self

    def __exit__(self, *exc: object) -> None:
        if self._armed:
            with self._lock:
                self._armed = False
            signal.signal(_SIGNAL, self._previous)  # type: ignore[arg-type]

    def fire(self, err: BaseException) -> None:
        """Raise ``err`` in the main thread (only the first call of this alarm does)."""
        with self._lock:
            if self.fired is not None:
                return
            self.fired = self.pending = err
            if not self._armed or _SIGNAL is None:
                return
            main = threading.main_thread().ident
        if main is not None:
            signal.pthread_kill(main, _SIGNAL)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        with self._lock:
            err, self.pending = self.pending, None
        if err is not None:
            raise err
