"""FailureLog: a failure repeated on every event is one line per condition, then counts at most
once per interval; never a traceback above DEBUG (on a FakeClock)."""

from __future__ import annotations

import logging

import pytest

from ota_deploy.core.clock import FakeClock
from ota_deploy.runtime.failure_log import FailureLog

LOGGER = "test.failure_log"


def _log(clock: FakeClock) -> FailureLog:
    return FailureLog(logging.getLogger(LOGGER), every=30.0, clock=clock.now)


def test_a_failure_on_every_event_is_one_line_then_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    failures = _log(clock)
    caplog.set_level(logging.INFO, logger=LOGGER)
    for i in range(20 * 29):  # a 50 ms tick failing for 29 s
        failures.failed("the tick", KeyError(f"job-{i}"))
        clock.advance(0.05)
    assert failures.failures == 580
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    first = caplog.records[0].getMessage()
    assert "the tick failed" in first and "KeyError" in first and "job-0" in first
    assert all(r.exc_info is None for r in caplog.records)  # no traceback above DEBUG
    clock.advance(1.5)
    failures.failed("the tick", KeyError("job-x"))  # 30 s after the first line: the count
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]
    assert "580 more time(s) (KeyError)" in caplog.records[1].getMessage()


def test_the_traceback_is_kept_at_debug_once(caplog: pytest.LogCaptureFixture) -> None:
    failures = _log(FakeClock())
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    for _ in range(5):
        try:
            raise RuntimeError("boom")
        except RuntimeError as err:
            failures.failed("a handler", err, detail="on $aws/things/t/jobs/get")
    with_traceback = [r for r in caplog.records if r.exc_info is not None]
    assert len(with_traceback) == 1 and with_traceback[0].levelname == "DEBUG"
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [
        "a handler failed (on $aws/things/t/jobs/get): RuntimeError: boom "
        "(repeats are counted, not logged each time)"
    ]


def test_each_condition_and_each_kind_is_its_own_line(caplog: pytest.LogCaptureFixture) -> None:
    failures = _log(FakeClock())
    caplog.set_level(logging.INFO, logger=LOGGER)
    for _ in range(3):
        failures.failed("the tick", KeyError("a"))
        failures.failed("the tick", ValueError("b"))
        failures.failed("saving the state", OSError(28, "No space left on device"))
    assert len(caplog.records) == 3
    assert {r.getMessage().split(":")[0] for r in caplog.records} == {
        "the tick failed",
        "saving the state failed",
    }


def test_counts_are_reported_when_the_failures_stop_and_a_later_one_is_new(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    failures = _log(clock)
    caplog.set_level(logging.INFO, logger=LOGGER)
    for _ in range(10):
        failures.failed("the tick", KeyError("a"))
    failures.report_due()  # not due yet: nothing more
    assert len(caplog.records) == 1
    clock.advance(30.0)
    failures.report_due()  # due: the 9 repeats, once
    failures.report_due()
    assert len(caplog.records) == 2 and "9 more time(s)" in caplog.records[1].getMessage()
    clock.advance(30.0)
    failures.report_due()  # quiet for an interval: forgotten, silently
    assert len(caplog.records) == 2
    failures.failed("the tick", KeyError("a"))  # a recurrence is a first failure again
    assert len(caplog.records) == 3 and caplog.records[2].levelname == "ERROR"


def test_flush_reports_what_is_left(caplog: pytest.LogCaptureFixture) -> None:
    failures = _log(FakeClock())
    caplog.set_level(logging.INFO, logger=LOGGER)
    failures.failed("a handler", ValueError("x"))
    failures.flush()  # nothing counted beyond the first line: nothing to add
    assert len(caplog.records) == 1
    for _ in range(4):
        failures.failed("a handler", ValueError("x"))
    assert len(caplog.records) == 2  # forgotten by the flush: a first failure again
    failures.flush()
    assert len(caplog.records) == 3 and "3 more time(s)" in caplog.records[2].getMessage()


def test_a_huge_message_is_excerpted(caplog: pytest.LogCaptureFixture) -> None:
    failures = _log(FakeClock())
    caplog.set_level(logging.INFO, logger=LOGGER)
    failures.failed("a handler", ValueError("x" * 10**6), detail="t" * 10**5)
    assert len(caplog.records[0].getMessage()) < 1000
