"""How a run shows its rounds: a live view on a terminal, one log line per change otherwise.

Flow (``run_progress``)::

    terminal (or --live) ─► LiveView(enricher=MqttWatcher)   monitor/live.py, monitor/events.py
        every poll's JobSnapshot ─► view.update (the watcher adds blocks received per device)
        between polls, ``Progress.sleep`` redraws it (ages, MQTT activity) at most 4 times a
        second of wall time
        ``Progress.live`` tells the Deployment to make pollers that fetch statusDetails
    else ─► one INFO line when a job's status or counts change; no watcher, no extra API calls

The watcher subscribes to the target's ``endpoints["mqtt"]`` (``host:port``), which only the
local AWS IoT offers (``wiring.local_stack``); against AWS the view shows polling data only.

``Progress.sleep`` is the runner's wait: the run's ``TimeSource.sleep`` (virtual seconds), cut
into slices so a live view can redraw in between.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ota_deploy.aws.session import AwsTarget
from ota_deploy.core.clock import Clock, TimeSource
from ota_deploy.monitor.snapshot import JobSnapshot

log = logging.getLogger("ota_deploy.deploy.entry")  # the run's log lines keep their logger
LIVE_REFRESH_SEC = 0.25  # the live view redraws at most this often (wall seconds) between polls


@dataclass
class Progress:
    """How the rounds are shown: ``on_snapshot`` gets every poll; ``live`` says a live view
    (which wants statusDetails progress, so the pollers fetch some) is on."""

    clock: TimeSource
    on_snapshot: Callable[[JobSnapshot], None]
    live: bool
    refresh: Callable[[], None] | None = None  # redraw between polls (MQTT activity, ages)
    view: Any = None  # the monitor.live.LiveView when live (its .last: what it showed last)

    def sleep(self, seconds: float) -> None:
        """The runner's waits, in the time source's seconds; a live view keeps redrawing."""
        if self.refresh is None:
            self.clock.sleep(seconds)
            return
        end = self.clock.now() + seconds
        drawn = time.monotonic()
        while (left := end - self.clock.now()) > 0:
            self.clock.sleep(min(left, LIVE_REFRESH_SEC))
            if time.monotonic() - drawn >= LIVE_REFRESH_SEC:  # a redraw is wall-clock work
                self.refresh()
                drawn = time.monotonic()


def _plain_progress(clock: TimeSource) -> Progress:
    """Not a terminal: one INFO line when a job's status or counts change; nothing else."""
    last: dict[str, Any] = {}

    def log_line(snap: JobSnapshot) -> None:
        key = (snap.job_id, snap.job_status, tuple(sorted(snap.counts.items())))
        if last.get("key") == key:
            return
        last["key"] = key
        counts = ", ".join(f"{k} {v}" for k, v in sorted(snap.counts.items()) if v)
        log.info(
            "round %s of %s: job %s %s: %s",
            snap.round_number,
            snap.rounds,
            snap.job_id,
            snap.job_status,
            counts or "no executions yet",
        )

    return Progress(clock=clock, on_snapshot=log_line, live=False)


def _mqtt_watcher(target: AwsTarget, clock: Clock) -> Any:
    """An MQTT watcher of downloads when the target has an MQTT broker we may subscribe to
    (``endpoints["mqtt"]`` = ``host:port``: the local AWS IoT); else None. A watcher that
    cannot connect only costs the live view its block counts."""
    address = target.endpoints.get("mqtt")
    if not address or ":" not in address:
        return None
    from ota_deploy.monitor.events import MqttWatcher

    host, _, port = address.rpartition(":")
    watcher = MqttWatcher(host, int(port), clock=clock, client_id="ota-deploy-run-watcher")
    try:
        watcher.start()
    except (ConnectionError, OSError) as err:
        log.warning("live view without download activity: %s", err)
        return None
    return watcher


@contextlib.contextmanager
def run_progress(live: bool | None, clock: TimeSource, target: AwsTarget) -> Iterator[Progress]:
    """``live``: None = when stdout is a terminal."""
    live = sys.stdout.isatty() if live is None else live
    if live:
        try:
            from ota_deploy.monitor.live import LiveView
        except ImportError:
            live = False
    if not live:
        yield _plain_progress(clock)
        return
    watcher = _mqtt_watcher(target, clock)
    # Entered at the first snapshot, so the upload's progress bar (also a rich live display,
    # and only one may be active) has finished by then.
    view = LiveView(get_time=clock.now, enricher=watcher)
    entered = False
    last: list[JobSnapshot] = []

    def update(snap: JobSnapshot) -> None:
        nonlocal entered
        if not entered:
            view.__enter__()
            entered = True
        last[:] = [snap]
        view.update(snap)

    def refresh() -> None:
        if entered and last:
            view.update(last[0])

    try:
        yield Progress(clock=clock, on_snapshot=update, live=True, refresh=refresh, view=view)
    finally:
        try:
            if entered:
                view.__exit__(None, None, None)
        finally:
            if watcher is not None:
                watcher.stop()
