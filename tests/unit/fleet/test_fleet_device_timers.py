"""``DeviceTimers`` fires what one ``loop.call_later`` per timer would fire, in that order.

The reference is what ``Device`` did before: a loop handle per named timer, re-arming a name
cancels its handle, ``CancelTimer`` cancels it. Both run on the same real asyncio event loop,
fed the same hypothesis-drawn script of starts, cancels and waits, and must fire the same
``TimerFired`` events at the same loop times, in the same order (timers due at the very
same instant have no order in asyncio either: its heap breaks such ties as it pleases, so
those are compared as a set). The loop's clock is virtual (``VirtualTimeLoop``:
it stands still while callbacks run and jumps ahead to the next timer instead of sleeping),
so what is due is decided by the script alone and nothing waits in real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.fleet.device_timers import DeviceTimers
from ota_deploy.fleet.events import TimerFired

NAMES = st.sampled_from(["jobs:1", "jobs:2", "jobs:3", "stream", "pace"])
DELAYS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 10.0])
STEPS = st.one_of(
    st.tuples(st.just("start"), NAMES, DELAYS),
    st.tuples(st.just("cancel"), NAMES, st.just(0.0)),
    st.tuples(st.just("wait"), st.just(""), DELAYS),
)


T = TypeVar("T")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A real selector loop whose clock moves only when it would wait: by that wait."""

    def __init__(self) -> None:
        super().__init__()
        self._now = 1000.0
        select = self._selector.select  # type: ignore[attr-defined]

        def select_without_waiting(timeout: float | None = None) -> Any:
            if timeout:
                self._now += timeout
            return select(0)

        self._selector.select = select_without_waiting  # type: ignore[attr-defined]

    def time(self) -> float:
        return self._now


def run(coro: Coroutine[Any, Any, T]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


class CallLaterTimers:
    """The reference: one loop handle per timer (``Device``'s way before ``DeviceTimers``)."""

    def __init__(self, fire: Any) -> None:
        self.fire = fire
        self.handles: dict[str, asyncio.TimerHandle] = {}

    def start(self, name: str, delay: float, token: int) -> None:
        old = self.handles.pop(name, None)
        if old is not None:
            old.cancel()
        self.handles[name] = asyncio.get_running_loop().call_later(
            delay, self.fire, TimerFired(name, token)
        )

    def cancel(self, name: str) -> None:
        handle = self.handles.pop(name, None)
        if handle is not None:
            handle.cancel()


def _at_loop_time(into: list[tuple[float, str, int]]) -> Any:
    """A sink recording each TimerFired with the loop time it arrived at."""
    loop = asyncio.get_running_loop()
    return lambda event: into.append((loop.time(), event.name, event.token))


async def _run(
    script: list[tuple[str, str, float]],
) -> tuple[list[tuple[float, str, int]], list[tuple[float, str, int]], list[str]]:
    reference: list[tuple[float, str, int]] = []
    fired: list[tuple[float, str, int]] = []
    ref = CallLaterTimers(_at_loop_time(reference))
    timers = DeviceTimers(_at_loop_time(fired))
    for token, (op, name, delay) in enumerate(script):
        if op == "start":
            ref.start(name, delay, token)
            timers.start(name, delay, token)
        elif op == "cancel":
            ref.cancel(name)
            timers.cancel(name)
        else:
            await asyncio.sleep(delay)
    await asyncio.sleep(11.0)  # past every deadline
    left = [name for name in ("jobs:1", "jobs:2", "jobs:3", "stream", "pace") if name in timers]
    return reference, fired, left


@settings(max_examples=200, deadline=None)
@given(st.lists(STEPS, max_size=12))
def test_fires_what_a_loop_handle_per_timer_fires(script: list[tuple[str, str, float]]) -> None:
    reference, fired, left = run(_run(script))
    assert sorted(fired) == sorted(reference)  # the same timers, each at the same time
    assert [t for t, _, _ in fired] == sorted(t for t, _, _ in fired)  # in time order
    assert left == []  # a timer that fired is gone


def test_a_cancelled_timer_never_fires_and_close_forgets_all() -> None:
    async def main() -> tuple[list[TimerFired], int]:
        fired: list[TimerFired] = []
        timers = DeviceTimers(fired.append)
        timers.start("jobs:1", 0.001, 1)
        timers.start("jobs:2", 0.002, 2)
        timers.cancel("jobs:1")  # the loop handle still waits for it: it finds nothing due
        timers.start("pace", 0.003, 3)
        await asyncio.sleep(0.005)
        timers.start("stream", 0.001, 4)
        timers.close()
        await asyncio.sleep(0.003)
        return fired, len(timers)

    fired, left = run(main())
    assert fired == [TimerFired("jobs:2", 2), TimerFired("pace", 3)]
    assert left == 0


def test_an_earlier_deadline_is_not_held_up_by_a_later_one() -> None:
    async def main() -> list[TimerFired]:
        fired: list[TimerFired] = []
        timers = DeviceTimers(fired.append)
        timers.start("jobs:1", 60.0, 1)  # a request timeout
        timers.start("jobs", 0.001, 2)  # a short backoff armed after it
        await asyncio.sleep(0.004)
        timers.close()
        return fired

    assert run(main()) == [TimerFired("jobs", 2)]
