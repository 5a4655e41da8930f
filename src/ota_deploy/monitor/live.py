"""The live terminal view of a job: a pure ``render(snapshot)`` plus a thin ``LiveView`` wrapper.

Data flow: ``JobPoller.poll()`` (and the MQTT watcher) -> ``JobSnapshot`` -> ``render`` -> a rich
renderable (header, counts with a stacked bar, rollout progress + ETA, the worst devices) ->
``rich.live.Live`` when the console is a terminal, or one plain log line per change otherwise
(so ``run`` piped to a file or CI log stays readable).

The device table is bounded whatever the fleet's size: ``worst_devices`` picks at most
``max_rows`` things in ``attention_key`` order (failed, timed out, rejected; then stalled, the
longest silent first; then in progress, the longest running first; then the rest), each of the
first three groups sure of a third of the rows, in one pass with heaps, and one last line
counts the others by status. 10,000 things cost a render
the same few dozen rows as 30 (bench/bench_report_live.py prints the time).

``render`` is pure: the current time comes in as ``now`` (LiveView gets it from its injected
``get_time``), so tests render to a fixed-width ``Console(record=True, width=120)``.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ota_deploy.core.observed import JobUnseen, NoExecution, SeenJobStatus, ThingStatus
from ota_deploy.core.status import TERMINAL_EXECUTION, ExecutionStatus, JobStatus
from ota_deploy.monitor.snapshot import JobSnapshot, ThingState


class SnapshotEnricher(Protocol):
    """Adds what polling cannot see (MQTT activity) to a snapshot; returns a new one."""

    def merge(self, snapshot: JobSnapshot) -> JobSnapshot: ...


STATUS_STYLES: dict[ThingStatus, str] = {
    ExecutionStatus.QUEUED: "grey62",
    ExecutionStatus.IN_PROGRESS: "cyan",
    ExecutionStatus.SUCCEEDED: "green",
    ExecutionStatus.FAILED: "bold red",
    ExecutionStatus.TIMED_OUT: "magenta",
    ExecutionStatus.REJECTED: "yellow",
    ExecutionStatus.REMOVED: "grey42",
    ExecutionStatus.CANCELED: "dark_orange",
    NoExecution.NONE: "grey42",
}
# Table order: what needs attention first. Stalled devices (IN_PROGRESS, silent) come right
# after the failures: STALLED_RANK sits between REJECTED and IN_PROGRESS.
ROW_ORDER: tuple[ThingStatus, ...] = (
    ExecutionStatus.FAILED,
    ExecutionStatus.TIMED_OUT,
    ExecutionStatus.REJECTED,
    ExecutionStatus.IN_PROGRESS,
    ExecutionStatus.QUEUED,
    NoExecution.NONE,
    ExecutionStatus.CANCELED,
    ExecutionStatus.REMOVED,
    ExecutionStatus.SUCCEEDED,
)
_RANK: dict[ThingStatus, float] = {s: float(i) for i, s in enumerate(ROW_ORDER)}
STALLED_RANK = 2.5
DEFAULT_MAX_ROWS = 25
# Counts always shown, even at zero.
ALWAYS_COUNTED = (
    ExecutionStatus.QUEUED,
    ExecutionStatus.IN_PROGRESS,
    ExecutionStatus.SUCCEEDED,
    ExecutionStatus.FAILED,
)
JOB_STYLES: dict[SeenJobStatus, str] = {
    JobStatus.COMPLETED: "green",
    JobStatus.CANCELED: "red",
    JobUnseen.NOT_FOUND: "red",
}
BAR_WIDTH = 60
DEFAULT_STALL_SEC = 30.0


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, sec = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def last_activity(thing: ThingState) -> float | None:
    """When this thing was last seen doing something (MQTT activity or the job execution)."""
    times = [t for t in (thing.last_activity_at, thing.last_updated_at, thing.started_at) if t]
    return max(times) if times else None


def is_stalled(thing: ThingState, now: float, stall_after_sec: float) -> bool:
    """IN_PROGRESS with no activity for ``stall_after_sec`` seconds."""
    if thing.status != ExecutionStatus.IN_PROGRESS:
        return False
    seen = last_activity(thing)
    return seen is not None and now - seen >= stall_after_sec


def progress_text(thing: ThingState) -> str:
    """A compact statusDetails: ``progress`` first, then the other keys."""
    details = dict(thing.status_details)
    parts = []
    for key in ("progress", "reason", "step"):
        if key in details:
            parts.append(f"{key}={details.pop(key)}")
    parts.extend(f"{k}={v}" for k, v in sorted(details.items()))
    return " ".join(parts)


def eta_seconds(snapshot: JobSnapshot, now: float) -> float | None:
    """Remaining time at the average completion rate since the job was created."""
    total = snapshot.total or len(snapshot.things)
    done = sum(n for s, n in snapshot.counts.items() if s in TERMINAL_EXECUTION)
    if not total or not done or snapshot.created_at is None or done >= total:
        return 0.0 if total and done >= total else None
    elapsed = max(0.0, now - snapshot.created_at)
    return elapsed * (total - done) / done


def status_bar(counts: dict[ExecutionStatus, int], width: int = BAR_WIDTH) -> Text:
    """A stacked bar: one segment per status, proportional to its count."""
    total = sum(counts.values())
    bar = Text()
    if not total:
        return bar.append("·" * width, style="grey35")
    used = 0
    statuses = [s for s in ExecutionStatus if counts.get(s)]
    for i, status in enumerate(statuses):
        cells = (
            width - used
            if i == len(statuses) - 1
            else max(1, round(counts[status] * width / total))
        )
        cells = max(0, min(cells, width - used))
        bar.append("█" * cells, style=STATUS_STYLES.get(status, ""))
        used += cells
    return bar


def _header(snapshot: JobSnapshot, now: float) -> Text:
    head = Text()
    head.append("job ", style="bold")
    head.append(snapshot.job_id, style="bold cyan")
    head.append("  ")
    head.append(snapshot.job_status, style=JOB_STYLES.get(snapshot.job_status, "yellow"))
    if snapshot.round_number is not None:
        of = f" of {snapshot.rounds}" if snapshot.rounds else ""
        head.append(f"  round {snapshot.round_number}{of}", style="bold")
    if snapshot.created_at is not None:
        head.append(f"  elapsed {fmt_duration(now - snapshot.created_at)}")
    head.append(f"  last poll {snapshot.api_calls} API call(s)", style="grey50")
    return head


def _counts(snapshot: JobSnapshot, now: float) -> Group:
    counts = snapshot.counts
    total = snapshot.total or len(snapshot.things)
    done = sum(n for s, n in counts.items() if s in TERMINAL_EXECUTION)
    line = Text()
    for status in ExecutionStatus:
        n = counts.get(status, 0)
        if n or status in ALWAYS_COUNTED:
            line.append(f"{status} {n}", style=STATUS_STYLES[status])
            line.append("  ")
    pct = (100.0 * done / total) if total else 0.0
    progress = Text()
    progress.append_text(status_bar(counts))
    progress.append(f"  {done}/{total} done ({pct:.0f}%)")
    eta = eta_seconds(snapshot, now)
    progress.append(f"  ETA {fmt_duration(eta)}" if eta is not None else "  ETA -")
    return Group(line, progress)


def elapsed(thing: ThingState, now: float) -> float | None:
    """How long the update has taken: running time while IN_PROGRESS, else started -> last
    update (None before it started)."""
    if thing.started_at is None:
        return None
    if thing.status == ExecutionStatus.IN_PROGRESS:
        return now - thing.started_at
    if thing.last_updated_at is None:
        return None
    return thing.last_updated_at - thing.started_at


def attention_key(
    thing: ThingState, now: float, stall_after_sec: float
) -> tuple[float, float, str]:
    """Sort key, most in need of attention first: status rank (stalled between the failures
    and the rest), then the longest silent / longest running / slowest first, then name."""
    if is_stalled(thing, now, stall_after_sec):
        seen = last_activity(thing)
        return (STALLED_RANK, -(now - seen) if seen is not None else 0.0, thing.thing_name)
    took = elapsed(thing, now)
    return (_RANK.get(thing.status, len(_RANK)), -took if took else 0.0, thing.thing_name)


def worst_devices(
    things: Iterable[ThingState], now: float, *, stall_after_sec: float, max_rows: int
) -> list[ThingState]:
    """At most ``max_rows`` things, most in need of attention first. The failed, the stalled
    and the longest running each get a third of the rows when they can use them (so 500
    failures do not hide the stalled devices), the rows one group cannot use go to the others
    in that order, then to the rest (queued, succeeded, ...); ``attention_key`` orders each."""
    max_rows = max(0, max_rows)
    groups: list[list[tuple[tuple[float, float, str], ThingState]]] = [[], [], [], []]
    in_progress = _RANK[ExecutionStatus.IN_PROGRESS]
    for thing in things:
        key = attention_key(thing, now, stall_after_sec)
        rank = key[0]
        group = 0 if rank < STALLED_RANK else 1 if rank == STALLED_RANK else 2
        groups[group if rank <= in_progress else 3].append((key, thing))
    best = [heapq.nsmallest(max_rows, g, key=lambda kt: kt[0]) for g in groups]
    quota = [min(len(g), max_rows // 3) for g in best[:3]] + [0]
    left = max_rows - sum(quota)
    for i, g in enumerate(best):
        extra = min(left, len(g) - quota[i])
        quota[i] += extra
        left -= extra
    return [t for g, n in zip(best, quota, strict=True) for _, t in g[:n]]


def _more_line(things: Iterable[ThingState], shown: set[str]) -> str:
    """``… 9975 more: SUCCEEDED 9000, QUEUED 975`` -- the things left out, by status."""
    rest = Counter(str(t.status) for t in things if t.thing_name not in shown)
    by_status = ", ".join(f"{s} {n}" for s, n in rest.most_common())
    return f"… {sum(rest.values())} more: {by_status}"


def device_table(shown: Sequence[ThingState], now: float, *, stall_after_sec: float) -> Table:
    """One row per thing in ``shown`` (``worst_devices``' pick), a STALLED column if needed."""
    table = Table(expand=False, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("thing", no_wrap=True, max_width=32)
    table.add_column("status", no_wrap=True)
    table.add_column("statusDetails", overflow="ellipsis", no_wrap=True, max_width=40)
    table.add_column("blocks", justify="right")
    table.add_column("time", justify="right")
    table.add_column("last seen", justify="right")
    any_stalled = any(is_stalled(t, now, stall_after_sec) for t in shown)
    if any_stalled:
        table.add_column("", no_wrap=True)
    for thing in shown:
        seen = last_activity(thing)
        cells: list[RenderableType] = [
            thing.thing_name,
            Text(thing.status, style=STATUS_STYLES.get(thing.status, "")),
            progress_text(thing),
            "-" if thing.blocks_received is None else str(thing.blocks_received),
            fmt_duration(elapsed(thing, now)),
            "-" if seen is None else fmt_duration(now - seen) + " ago",
        ]
        if any_stalled:
            stalled = is_stalled(thing, now, stall_after_sec)
            cells.append(Text("STALLED", style="bold red") if stalled else "")
        table.add_row(*cells)
    return table


def render(
    snapshot: JobSnapshot,
    *,
    now: float | None = None,
    stall_after_sec: float = DEFAULT_STALL_SEC,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> RenderableType:
    """The whole view of one snapshot. Pure: same snapshot and ``now`` -> same output."""
    now = snapshot.taken_at if now is None else now
    stalled = sum(1 for t in snapshot.things.values() if is_stalled(t, now, stall_after_sec))
    downloading = sum(
        1
        for t in snapshot.things.values()
        if t.status == ExecutionStatus.IN_PROGRESS and (t.blocks_received or 0) > 0
    )
    parts: list[RenderableType] = [_header(snapshot, now), _counts(snapshot, now)]
    if downloading or stalled:
        extra = Text()
        extra.append(f"downloading {downloading}", style="cyan")
        if stalled:
            extra.append(
                f"  stalled {stalled} (no activity for {fmt_duration(stall_after_sec)})",
                style="bold red",
            )
        parts.append(extra)
    if snapshot.things:
        things = snapshot.things.values()
        shown = worst_devices(things, now, stall_after_sec=stall_after_sec, max_rows=max_rows)
        parts.append(device_table(shown, now, stall_after_sec=stall_after_sec))
        if len(snapshot.things) > len(shown):
            names = {t.thing_name for t in shown}
            parts.append(Text(_more_line(things, names), style="grey50"))
    return Panel(Group(*parts), title="ota-deploy monitor", title_align="left", expand=False)


def plain_line(snapshot: JobSnapshot) -> str:
    """One log line for non-terminal output."""
    rnd = ""
    if snapshot.round_number is not None:
        rnd = f" round {snapshot.round_number}" + (f"/{snapshot.rounds}" if snapshot.rounds else "")
    counts = " ".join(f"{s}={n}" for s, n in snapshot.counts.items() if n)
    return f"job {snapshot.job_id}{rnd} {snapshot.job_status}: {counts or 'no executions'}"


class LiveView:
    """``with LiveView() as view: view.update(snapshot)`` -- a refreshing view on a terminal,
    plain log lines (only when something changed) otherwise."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        get_time: Callable[[], float] = time.time,
        stall_after_sec: float = DEFAULT_STALL_SEC,
        max_rows: int = DEFAULT_MAX_ROWS,
        plain: bool | None = None,
        refresh_per_second: float = 4.0,
        enricher: SnapshotEnricher | None = None,
    ) -> None:
        self.console = console or Console()
        self.get_time = get_time
        self.stall_after_sec = stall_after_sec
        self.max_rows = max_rows
        self.plain = (not self.console.is_terminal) if plain is None else plain
        self._live: Live | None = None
        self._last_line: str | None = None
        self._refresh = refresh_per_second
        self.enricher = enricher  # e.g. monitor.events.MqttWatcher: blocks and activity
        self.last: JobSnapshot | None = None

    def __enter__(self) -> LiveView:
        if not self.plain:
            self._live = Live(
                Text("waiting for the first poll…"),
                console=self.console,
                refresh_per_second=self._refresh,
                transient=False,
            )
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    def renderable(self, snapshot: JobSnapshot) -> RenderableType:
        return render(
            snapshot,
            now=self.get_time(),
            stall_after_sec=self.stall_after_sec,
            max_rows=self.max_rows,
        )

    def update(self, snapshot: JobSnapshot) -> None:
        if self.enricher is not None:
            snapshot = self.enricher.merge(snapshot)
        self.last = snapshot
        if self._live is not None:
            self._live.update(self.renderable(snapshot), refresh=True)
            return
        line = plain_line(snapshot)
        if line != self._last_line:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)
            self._last_line = line

    def log(self, message: str, **kwargs: Any) -> None:
        """Print a message above the live view (or as a plain line)."""
        self.console.print(message, **kwargs)
