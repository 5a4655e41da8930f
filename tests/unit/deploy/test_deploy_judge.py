"""The round judge: success only when every targeted thing SUCCEEDED (pure, fake times)."""

from __future__ import annotations

from ota_deploy.deploy.judge import judge
from ota_deploy.monitor.snapshot import JobSnapshot, ThingState

T0 = 1_700_000_000.0


def snap(job_status: str, **things: str) -> JobSnapshot:
    counts: dict[str, int] = {}
    for status in things.values():
        counts[status] = counts.get(status, 0) + 1
    return JobSnapshot(
        job_id="J-1",
        job_status=job_status,
        taken_at=T0,
        counts=counts,
        things={n: ThingState(thing_name=n, status=s) for n, s in things.items()},
    )


def test_all_succeeded_snapshot_completed_is_success() -> None:
    v = judge(
        snap("COMPLETED", a="SUCCEEDED", b="SUCCEEDED"),
        ["a", "b"],
        "SNAPSHOT",
        now=T0,
        deadline=T0 + 60,
    )
    assert v.done and v.succeeded and v.status == "SUCCEEDED"


def test_in_progress_is_pending() -> None:
    v = judge(
        snap("IN_PROGRESS", a="SUCCEEDED", b="IN_PROGRESS"),
        ["a", "b"],
        "SNAPSHOT",
        now=T0,
        deadline=T0 + 60,
    )
    assert not v.done


def test_one_failed_fails_the_round_and_names_the_thing() -> None:
    v = judge(
        snap("COMPLETED", a="SUCCEEDED", b="FAILED"), ["a", "b"], "SNAPSHOT", now=T0, deadline=None
    )
    assert v.done and v.status == "FAILED"
    assert "b" in (v.reason or "") and "FAILED" in (v.reason or "")


def test_rejected_and_timed_out_fail() -> None:
    for bad in ("REJECTED", "TIMED_OUT", "REMOVED", "CANCELED"):
        v = judge(snap("COMPLETED", a=bad), ["a"], "SNAPSHOT", now=T0, deadline=None)
        assert v.status == "FAILED", bad


def test_completed_job_missing_an_expected_thing_fails() -> None:
    v = judge(snap("COMPLETED", a="SUCCEEDED"), ["a", "ghost"], "SNAPSHOT", now=T0, deadline=None)
    assert v.done and v.status == "FAILED" and "ghost" in (v.reason or "")


def test_canceled_job_fails_the_round() -> None:
    v = judge(
        snap("CANCELED", a="SUCCEEDED", b="CANCELED"), ["a", "b"], "SNAPSHOT", now=T0, deadline=None
    )
    assert v.done and v.status == "CANCELED"


def test_vanished_job_is_an_error() -> None:
    v = judge(snap("NOT_FOUND"), ["a"], "SNAPSHOT", now=T0, deadline=None)
    assert v.done and v.status == "ERROR"


def test_continuous_job_ends_when_every_thing_is_terminal() -> None:
    running = snap("IN_PROGRESS", a="SUCCEEDED", b="QUEUED")
    assert not judge(running, ["a", "b"], "CONTINUOUS", now=T0, deadline=None).done
    finished = snap("IN_PROGRESS", a="SUCCEEDED", b="SUCCEEDED")
    v = judge(finished, ["a", "b"], "CONTINUOUS", now=T0, deadline=None)
    assert v.succeeded


def test_continuous_job_status_completed_does_not_end_the_round_alone() -> None:
    # CONTINUOUS jobs wait for new group members; only the things' states count.
    v = judge(
        snap("COMPLETED", a="SUCCEEDED", b="QUEUED"),
        ["a", "b"],
        "CONTINUOUS",
        now=T0,
        deadline=None,
    )
    assert not v.done


def test_deadline_times_the_round_out() -> None:
    s = snap("IN_PROGRESS", a="SUCCEEDED", b="IN_PROGRESS")
    assert not judge(s, ["a", "b"], "SNAPSHOT", now=T0 + 59.9, deadline=T0 + 60).done
    v = judge(s, ["a", "b"], "SNAPSHOT", now=T0 + 60, deadline=T0 + 60)
    assert v.done and v.status == "TIMED_OUT" and "b" in (v.reason or "")


def test_failure_decided_when_all_terminal_even_before_job_completes() -> None:
    v = judge(
        snap("IN_PROGRESS", a="FAILED", b="SUCCEEDED"),
        ["a", "b"],
        "SNAPSHOT",
        now=T0,
        deadline=None,
    )
    assert v.done and v.status == "FAILED"


def test_empty_expected_judges_what_the_job_reached() -> None:
    v = judge(
        snap("COMPLETED", m1="SUCCEEDED", m2="SUCCEEDED"), [], "SNAPSHOT", now=T0, deadline=None
    )
    assert v.succeeded
    v = judge(snap("COMPLETED"), [], "SNAPSHOT", now=T0, deadline=None)
    assert v.done and v.status == "FAILED"
