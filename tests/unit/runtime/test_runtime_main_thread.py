"""``MainThreadAlarm``: an error fired before the alarm is entered is raised by ``__enter__``,
which leaves nothing armed (the signal's previous handler is back); fired while entered, it is
raised in the main thread at once; outside the main thread nothing is installed."""

from __future__ import annotations

import signal
import threading

import pytest

from ota_deploy.runtime import main_thread
from ota_deploy.runtime.main_thread import MainThreadAlarm

SIGNAL = main_thread._SIGNAL  # the signal the alarm uses (SIGUSR1 where there is one)
needs_signal = pytest.mark.skipif(SIGNAL is None, reason="no SIGUSR1 on this platform")


class ChildDied(Exception):
    pass


def in_worker(work: object) -> list[BaseException | None]:
    """Run ``work()`` in a worker thread; what it raised (None: nothing)."""
    outcome: list[BaseException | None] = [None]

    def target() -> None:
        try:
            work()  # type: ignore[operator]
        except BaseException as err:  # handed back to the test
            outcome[0] = err

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    return outcome


@needs_signal
def test_an_error_fired_before_enter_is_raised_by_enter_and_nothing_stays_armed() -> None:
    assert threading.current_thread() is threading.main_thread()
    assert SIGNAL is not None
    before = signal.getsignal(SIGNAL)
    alarm = MainThreadAlarm()
    early = ChildDied("the local AWS IoT exited while starting")
    alarm.fire(early)  # not armed yet: recorded, no signal sent
    with pytest.raises(ChildDied) as caught, alarm:
        pytest.fail("the body must not run")
    assert caught.value is early
    assert signal.getsignal(SIGNAL) is before  # the previous handler is back
    assert alarm.pending is None  # raised once, not again by a later signal
    alarm.fire(ChildDied("a second one"))  # only the first fire is delivered
    assert alarm.pending is None


@needs_signal
def test_an_error_fired_while_entered_interrupts_the_main_threads_wait() -> None:
    assert SIGNAL is not None
    before = signal.getsignal(SIGNAL)
    alarm = MainThreadAlarm()
    waiting = threading.Event()
    with pytest.raises(ChildDied), alarm:
        assert signal.getsignal(SIGNAL) is not before  # armed: the alarm's handler
        in_worker(lambda: alarm.fire(ChildDied("died mid-run")))
        waiting.wait(60)  # interrupted at once by the handler (never waits 60 s)
        pytest.fail("the wait was not interrupted")
    assert signal.getsignal(SIGNAL) is before


def test_in_a_worker_thread_an_early_error_is_raised_by_enter_too() -> None:
    before = signal.getsignal(SIGNAL) if SIGNAL is not None else None
    alarm = MainThreadAlarm()
    alarm.fire(ChildDied("early"))
    entered: list[bool] = []

    def enter() -> None:
        with alarm:
            entered.append(True)

    (raised,) = in_worker(enter)
    assert isinstance(raised, ChildDied) and entered == []
    assert alarm.pending is None
    if SIGNAL is not None:
        assert signal.getsignal(SIGNAL) is before  # a worker thread installs nothing


def test_in_a_worker_thread_a_fire_while_entered_is_only_recorded() -> None:
    alarm = MainThreadAlarm()
    late = ChildDied("late")

    def enter_and_fire() -> None:
        with alarm:
            alarm.fire(late)

    assert in_worker(enter_and_fire) == [None]
    assert alarm.pending is late and alarm.fired is late  # the caller checks it at its end
