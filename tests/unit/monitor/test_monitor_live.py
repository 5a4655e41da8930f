"""The live view's pure render(), rendered to a fixed-width recording console."""

from __future__ import annotations

import io

from rich.console import Console

from ota_deploy.monitor.live import (
    LiveView,
    eta_seconds,
    fmt_duration,
    is_stalled,
    plain_line,
    render,
    status_bar,
    worst_devices,
)
from ota_deploy.monitor.snapshot import JobSnapshot, ThingState

T0 = 1_700_000_000.0


def _snapshot(**kw: object) -> JobSnapshot:
    things = {
        f"dev-{i}": ThingState(f"dev-{i}", "SUCCEEDED", last_updated_at=T0 + 20) for i in range(5)
    }
    things["dev-9"] = ThingState(
        "dev-9",
        "IN_PROGRESS",
        {"progress": "50%"},
        started_at=T0 + 5,
        blocks_received=40,
        last_activity_at=T0 + 55,
    )
    things["dev-8"] = ThingState(
        "dev-8", "FAILED", {"reason": "md5 mismatch"}, started_at=T0 + 5, last_updated_at=T0 + 12
    )
    things["dev-7"] = ThingState("dev-7", "QUEUED")
    snap = JobSnapshot(
        "Job-1",
        "IN_PROGRESS",
        T0 + 60,
        counts={"QUEUED": 1, "IN_PROGRESS": 1, "SUCCEEDED": 5, "FAILED": 1},
        things=things,
        created_at=T0,
        round_number=2,
        rounds=3,
        api_calls=3,
    )
    for k, v in kw.items():
        setattr(snap, k, v)
    return snap


def _text(renderable: object) -> str:
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_render_shows_job_round_counts_and_devices() -> None:
    out = _text(render(_snapshot()))
    assert "Job-1" in out and "IN_PROGRESS" in out
    assert "round 2 of 3" in out
    assert "SUCCEEDED 5" in out and "FAILED 1" in out
    assert "6/8 done (75%)" in out
    assert "ETA 20s" in out  # 6 done in 60 s -> 2 left at 10 s each
    assert "reason=md5 mismatch" in out
    assert "progress=50%" in out
    assert "downloading 1" in out
    assert "STALLED" not in out


def test_failures_listed_first() -> None:
    out = _text(render(_snapshot()))
    assert out.index("dev-8") < out.index("dev-9") < out.index("dev-7") < out.index("dev-0")


def test_stalled_device_flagged() -> None:
    out = _text(render(_snapshot(), now=T0 + 100, stall_after_sec=30))
    assert "STALLED" in out
    assert "stalled 1" in out


def test_render_is_pure() -> None:
    snap = _snapshot()
    assert _text(render(snap, now=T0 + 70)) == _text(render(snap, now=T0 + 70))


def test_max_rows_truncates() -> None:
    out = _text(render(_snapshot(), max_rows=3))
    assert "5 more" in out
    assert "dev-4" not in out


def test_empty_snapshot_renders() -> None:
    out = _text(render(JobSnapshot("J", "NOT_FOUND", T0)))
    assert "NOT_FOUND" in out
    assert "0/0 done" in out


def test_helpers() -> None:
    assert fmt_duration(None) == "-"
    assert fmt_duration(59.4) == "59s"
    assert fmt_duration(125) == "2m05s"
    assert fmt_duration(3 * 3600 + 60) == "3h01m"
    assert len(status_bar({"SUCCEEDED": 3, "FAILED": 1}, width=40).plain) == 40
    assert len(status_bar({}, width=10).plain) == 10
    assert eta_seconds(_snapshot(), T0 + 60) == 20.0
    assert eta_seconds(_snapshot(counts={"QUEUED": 3}), T0 + 60) is None
    assert eta_seconds(_snapshot(counts={"SUCCEEDED": 3}), T0 + 60) == 0.0
    assert not is_stalled(ThingState("x", "QUEUED"), T0, 1)


def test_status_bar_segments_proportional() -> None:
    bar = status_bar({"SUCCEEDED": 3, "FAILED": 1}, width=40)
    assert bar.plain == "█" * 40
    spans = {str(s.style): s.end - s.start for s in bar.spans}
    assert spans["green"] == 30 and spans["bold red"] == 10


def test_plain_mode_prints_lines_only_on_change() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=120, force_terminal=False)
    with LiveView(console, get_time=lambda: T0 + 60) as view:
        assert view.plain
        view.update(_snapshot())
        view.update(_snapshot())
        view.update(_snapshot(counts={"SUCCEEDED": 8}))
    lines = buf.getvalue().splitlines()
    assert lines == [
        "job Job-1 round 2/3 IN_PROGRESS: QUEUED=1 IN_PROGRESS=1 SUCCEEDED=5 FAILED=1",
        "job Job-1 round 2/3 IN_PROGRESS: SUCCEEDED=8",
    ]
    assert plain_line(JobSnapshot("J", "COMPLETED", T0)) == "job J COMPLETED: no executions"


def test_live_mode_on_terminal_renders_table() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=120, force_terminal=True)
    with LiveView(console, get_time=lambda: T0 + 60) as view:
        assert not view.plain
        view.update(_snapshot())
    assert "round 2 of 3" in buf.getvalue()


def test_enricher_merges_before_render() -> None:
    from dataclasses import replace

    class Blocks:
        def merge(self, snap: JobSnapshot) -> JobSnapshot:
            things = {n: replace(t, blocks_received=7) for n, t in snap.things.items()}
            return replace(snap, things=things)

    buf = io.StringIO()
    console = Console(file=buf, width=120, force_terminal=True)
    with LiveView(console, get_time=lambda: T0 + 60, enricher=Blocks()) as view:
        view.update(_snapshot())
    assert view.last is not None
    assert {t.blocks_received for t in view.last.things.values()} == {7}


def test_no_stalled_column_when_nothing_stalled() -> None:
    out = _text(render(_snapshot(), now=T0 + 60))
    header = next(line for line in out.splitlines() if "thing" in line and "status" in line)
    assert header.rstrip(" │").endswith("last seen")


def _fleet(n: int) -> JobSnapshot:
    """``n`` devices at T0 + 600: 5 FAILED, 2 TIMED_OUT, 3 stalled (silent 200-400 s), 90 in
    progress (one started long ago), 100 QUEUED, the rest SUCCEEDED (one slow)."""
    things: dict[str, ThingState] = {}
    now = T0 + 600

    def add(name: str, status: str, **kw: object) -> None:
        things[name] = ThingState(name, status, **kw)  # type: ignore[arg-type]

    for i in range(5):
        add(
            f"fail-{i}",
            "FAILED",
            status_details={"reason": "md5"},
            started_at=T0,
            last_updated_at=T0 + 9,
        )
    for i in range(2):
        add(f"late-{i}", "TIMED_OUT", started_at=T0, last_updated_at=T0 + 300)
    for i in range(3):
        add(f"stall-{i}", "IN_PROGRESS", started_at=T0, last_activity_at=now - 200 - 100 * i)
    add("run-oldest", "IN_PROGRESS", started_at=T0 + 1, last_activity_at=now - 1)
    for i in range(89):
        add(f"run-{i:02d}", "IN_PROGRESS", started_at=now - 60, last_activity_at=now - 1)
    for i in range(100):
        add(f"wait-{i:03d}", "QUEUED")
    rest = n - len(things)
    for i in range(rest):
        add(f"ok-{i:05d}", "SUCCEEDED", started_at=T0, last_updated_at=T0 + 30 + (i == 7) * 90)
    counts: dict[str, int] = {}
    for t in things.values():
        counts[t.status] = counts.get(t.status, 0) + 1
    return JobSnapshot("Big", "IN_PROGRESS", now, counts=counts, things=things, created_at=T0)  # type: ignore[arg-type]


def test_ten_thousand_devices_show_the_worst_rows_only() -> None:
    """10,000 devices: counts for all, rows for the 25 most in need of attention, and one
    line counting the rest by status -- not 10,000 rows."""
    out = _text(render(_fleet(10_000), stall_after_sec=30, max_rows=25))
    names = [line.strip("│ ").split(" ", 1)[0] for line in out.splitlines()]
    device_rows = [n for n in names if n.startswith(("fail-", "late-", "stall-", "run-", "ok-"))]
    assert len(device_rows) == 25
    assert "SUCCEEDED 9800" in out and "FAILED 5" in out  # counts cover every device
    assert "stalled 3" in out
    order = ["fail-0", "fail-4", "late-0", "stall-2", "stall-0", "run-oldest", "run-00"]
    positions = [out.index(name) for name in order]
    assert positions == sorted(positions)  # failures, then the longest silent, then slowest
    assert "… 9975 more: SUCCEEDED 9800, QUEUED 100, IN_PROGRESS 75" in out
    assert "ok-" not in out and "wait-" not in out


def test_worst_devices_caps_and_orders() -> None:
    snap = _fleet(1_000)
    now = snap.taken_at
    picked = worst_devices(snap.things.values(), now, stall_after_sec=30, max_rows=12)
    # 7 failures, 3 stalled, 90 running: each group is sure of 4 rows; the stalled use 3, and
    # the row left goes to the failures first -- the failures do not hide the stalled devices.
    assert [t.thing_name for t in picked] == [
        *(f"fail-{i}" for i in range(5)),
        "stall-2",
        "stall-1",
        "stall-0",
        "run-oldest",
        "run-00",
        "run-01",
        "run-02",
    ]
    roomy = worst_devices(snap.things.values(), now, stall_after_sec=30, max_rows=14)
    assert [t.thing_name for t in roomy][:10] == [
        *(f"fail-{i}" for i in range(5)),
        "late-0",
        "late-1",
        "stall-2",
        "stall-1",
        "stall-0",
    ]
    assert worst_devices(snap.things.values(), now, stall_after_sec=30, max_rows=0) == []
    # With nothing failing or running, the slowest succeeded device leads.
    done = {n: t for n, t in snap.things.items() if n.startswith("ok-")}
    assert worst_devices(done.values(), now, stall_after_sec=30, max_rows=1)[0].thing_name == (
        "ok-00007"
    )
