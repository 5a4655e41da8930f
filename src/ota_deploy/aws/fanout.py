"""Many independent calls at once: a few worker threads, a request rate, stop at the first error.

Flow (``fan_out``)::

    items ──► worker threads (at most ``workers``) ──► Pacer.wait_turn() ──► action(item)
                 first error: every worker stops taking items; the caller re-raises it
    caller's thread: waits for the workers in short steps (so Ctrl-C lands at once), logs
                 progress; on Ctrl-C the workers stop after their call in flight (up to
                 STOP_GRACE_SEC) and the interrupt goes on

Used to fill a thing group (one AddThingToThingGroup per thing, no batch call exists): the
boto3 client is thread-safe, the local AWS IoT and AWS serve requests concurrently, and the
``Pacer`` keeps the starts under a documented per-second rate (smoothly: one start every
``1/rate`` seconds across all workers), waiting on the run's ``TimeSource``. Throttling that
still happens is retried per call by ``aws.retry`` as everywhere else.

Workers are daemon threads: an interrupted run does not wait for a worker sleeping in a retry
backoff; a call still in flight then may finish after the interrupt, which the journal allows
for (the resource it touches is resolved by looking it up).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from ota_deploy.core.clock import TimeSource

T = TypeVar("T")
log = logging.getLogger(__name__)

JOIN_STEP_SEC = 0.1  # how often the caller's thread looks up from waiting (wall seconds)
STOP_GRACE_SEC = 2.0  # how long an interrupted caller waits for workers to put their call down


class Pacer:
    """At most ``rate`` starts per second of ``clock`` time, shared by every thread; ``None``:
    no limit."""

    def __init__(self, rate: float | None, clock: TimeSource) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.clock = clock
        self._next: float | None = None
        self._lock = threading.Lock()

    def wait_turn(self) -> None:
        if self.rate is None:
            return
        with self._lock:
            now = self.clock.now()
            slot = now if self._next is None else max(now, self._next)
            self._next = slot + 1.0 / self.rate
        if slot > now:
            self.clock.sleep(slot - now)


def fan_out(
    items: Iterable[T],
    action: Callable[[T], object],
    *,
    workers: int,
    pacer: Pacer,
    what: str = "calls",
    total: int | None = None,
    progress_every_sec: float = 5.0,
) -> int:
    """Run ``action(item)`` for every item on up to ``workers`` threads; returns how many ran.

    The first exception stops the rest and is raised here; a ``KeyboardInterrupt`` in the
    caller's thread stops the workers and propagates. A progress line is logged every
    ``progress_every_sec`` (clock time) when ``total`` is given.
    """
    source = iter(items)
    lock = threading.Lock()
    stop = threading.Event()
    finished = threading.Event()  # every worker has left its loop
    errors: list[BaseException] = []
    done = [0]
    count = max(1, workers)
    running = [count]

    def take() -> tuple[bool, T | None]:
        with lock:
            for item in source:
                return True, item
            return False, None

    def loop() -> None:
        while not stop.is_set():
            found, item = take()
            if not found:
                return
            pacer.wait_turn()
            if stop.is_set():
                return
            try:
                action(item)  # type: ignore[arg-type]  # found: item is a T
            except BaseException as err:  # handed to the caller's thread
                with lock:
                    errors.append(err)
                stop.set()
                return
            with lock:
                done[0] += 1

    def work() -> None:
        try:
            loop()
        finally:
            with lock:
                running[0] -= 1
                if running[0] == 0:
                    finished.set()

    clock = pacer.clock
    next_note = clock.now() + progress_every_sec
    try:  # from the first start on: an interrupt anywhere here stops the workers
        for i in range(count):
            threading.Thread(target=work, name=f"ota-fanout-{i}", daemon=True).start()
        while not finished.wait(JOIN_STEP_SEC):
            if total and clock.now() >= next_note:
                next_note = clock.now() + progress_every_sec
                log.info("%s: %d of %d done", what, done[0], total)
    except BaseException:
        # Our own count, not Thread.join: an interrupt inside Thread.start() leaves that
        # Thread object unable to say whether its worker still runs.
        stop.set()
        finished.wait(STOP_GRACE_SEC)
        raise
    if errors:
        raise errors[0]
    return done[0]
