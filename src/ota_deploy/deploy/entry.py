"""``execute_run``: the whole ``ota-deploy run`` — validate, connect, run the rounds, report.

Flow::

    RunRequest + the run's TimeSource + a LocalStackFactory (all from ``ota_deploy.wiring``)
       ─► inputs.prepare_run (InputError, exit 2, before any AWS call)
       dry-run ─► print round 1's exact calls, exit 0, nothing created
       else    ─► out dir + logging + journal ─► AwsTarget (real AWS, or the stack factory's
                  local AWS IoT for --local)
               ─► Deployment.execute (rounds; each round's things/round-NNN.jsonl is
                  written when the round ends, ``report.round_files``)
               ─► results.csv, report.json, report.html
               ─► RunOutcome(report, exit_code, out_dir)

Exit codes (DESIGN.md): 0 every round succeeded; 1 a round failed (with ``keep_going``: any
round); 2 bad input; 3 an AWS or infrastructure error; 130 interrupted (Ctrl-C / SIGTERM: the
job is cancelled, cleanup runs as configured and the report of what happened is still written;
the interrupted round counts as neither failed nor succeeded).

An output folder that cannot be written (``core.output_error.OutputError``, exit 3, one line,
never a traceback): ``--out`` that cannot be made (or its debug log opened) ends the run before
anything is made; a journal that cannot record an intent ends the round in ERROR and the run
(nothing more is created; what was made is still cleaned up); results.csv, report.json, the
per-round files or report.html that cannot be written at the end are named in the run's error
after the journal was flushed and cleanup ran (``report.results.write_outputs`` writes every
other file first).

The report holds the rounds that ran; the planned rounds that did not run are one
``NotRun`` entry (first..last, why) and a count in the summary, so a 1,000,000-round run
stopped after round 2 writes a report of two rounds.

Progress (deploy/progress.py): a live view on a terminal (statusDetails and, for --local,
download activity over MQTT), else one INFO line per change.

``--local`` needs the embedded AWS IoT and the simulated fleet. ``deploy`` does not know how to
assemble them: the caller passes a ``LocalStackFactory`` (``wiring.stack_for_run``; the tests
pass their own), which gets the run's time source, so the run, the local AWS IoT and the fleet
share one clock. The time source is made once per run by the caller (``wiring.time_source``):
the wall clock against AWS, ``ScaledClock(--time-scale)`` for ``--local``; every wait of the
run is its ``sleep`` in virtual seconds, so the scale is applied nowhere else.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Protocol

from ota_deploy import __version__
from ota_deploy.aws.retry import open_clients
from ota_deploy.aws.session import AwsTarget
from ota_deploy.core.clock import TimeSource
from ota_deploy.core.errors import (
    EXIT_AWS_ERROR,
    EXIT_OK,
    EXIT_ROUND_FAILED,
    AwsServiceError,
    InputError,
)
from ota_deploy.core.output_error import OutputError, reason
from ota_deploy.deploy.deployment import Deployment, Pacing
from ota_deploy.deploy.inputs import PreparedRun, prepare_run
from ota_deploy.deploy.journal import Journal
from ota_deploy.deploy.logs import LogScope
from ota_deploy.deploy.progress import run_progress
from ota_deploy.deploy.runner import RunnerResult
from ota_deploy.deploy.targets import with_user_group
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.report.model import NotRun, RunReport
from ota_deploy.report.results import summarize, write_outputs
from ota_deploy.report.round_files import RoundFiles

log = logging.getLogger(__name__)
EXIT_INTERRUPTED = 130


@dataclass
class RunRequest:
    config: Path
    local: bool = False
    dry_run: bool = False
    out_dir: Path | None = None
    fleet: FleetOptions | None = None
    profile: str | None = None
    region: str | None = None
    live: bool | None = None
    html: bool = True  # also draw report.html (charts take seconds; --no-html skips them)
    keep_going: bool = False  # run every round even after one fails; count the failures
    target_group: str | None = None  # --target-group ARN: the user's group (deploy.targets)


@dataclass
class RunOutcome:
    report: RunReport | None
    exit_code: int
    out_dir: Path
    error: str | None = None  # the message of an error that ended the run, if any


class LocalStackFactory(Protocol):
    """What a ``--local`` run needs from whoever assembles the local stack (``wiring``): given
    the validated run, its request and the run's time source, a context manager that starts
    the local AWS IoT (on that time source) with the run's things and a simulated device for
    each, yields the ``AwsTarget`` to talk to, and stops them on exit."""

    def __call__(
        self, prepared: PreparedRun, request: RunRequest, clock: TimeSource, /
    ) -> AbstractContextManager[AwsTarget]: ...


def default_out_dir() -> Path:
    return Path.cwd() / f"ota-run-{time.strftime('%Y%m%d-%H%M%S')}"


def execute_run(
    req: RunRequest,
    *,
    clock: TimeSource,
    stack_factory: LocalStackFactory,
    echo: Callable[[str], None] = print,
) -> RunOutcome:
    """Validate and run ``req`` on ``clock``. Raises ``InputError`` (exit 2) before anything is
    created. ``stack_factory`` is used only by a ``--local`` run."""
    prepared = with_user_group(prepare_run(req.config, region=req.region), req.target_group)
    out_dir = req.out_dir or default_out_dir()
    if req.dry_run:
        for warning in prepared.warnings:
            echo(f"warning: {warning}")
        calls = prepared.build(1, prepared.targets(), prepared.custom_document)
        if prepared.render_round is not None:
            echo(prepared.render_round(calls))
        return RunOutcome(report=None, exit_code=EXIT_OK, out_dir=out_dir)
    return execute_prepared(
        prepared,
        req,
        out_dir=out_dir,
        clock=clock,
        stack_factory=stack_factory,
        pointer_config=req.config,
    )


def execute_prepared(
    prepared: PreparedRun,
    req: RunRequest,
    *,
    out_dir: Path,
    clock: TimeSource,
    stack_factory: LocalStackFactory,
    pointer_config: Path | None = None,
) -> RunOutcome:
    """Run a validated ``PreparedRun`` (dev.ini or shell workflow) and write its outputs."""
    prepared = with_user_group(prepared, req.target_group)
    settings = prepared.settings
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(
            f"cannot make the output folder {out_dir} ({reason(err)}); nothing was created"
        ) from None
    started = clock.now()
    report = RunReport(
        tool_version=__version__,
        config_file=str(pointer_config.resolve()) if pointer_config else None,
        mode="local" if req.local else "aws",
        region=settings.region,
        started=started,
        summary=summarize([], settings.rounds),
    )
    result = RunnerResult()
    round_files = RoundFiles(out_dir)
    error: str | None = None
    exit_code = EXIT_OK
    with _log_scope(out_dir, settings.debug) as logs, _sigterm_as_interrupt():
        for warning in prepared.warnings:
            log.warning("%s", warning)
        if settings.debug:
            print(f"debug log: {logs.log_file}")
        try:
            with _target(prepared, req, stack_factory, clock) as target:
                journal = Journal.start(
                    out_dir,
                    clock=clock,
                    mode=report.mode,
                    region=target.region,
                    profile=target.profile,
                    endpoints=target.endpoints,
                    config=pointer_config.resolve() if pointer_config else None,
                )
                with run_progress(req.live, clock, target) as progress:
                    deployment = Deployment(
                        prepared,
                        open_clients(target),
                        journal=journal,
                        clock=clock,
                        sleep=progress.sleep,
                        on_snapshot=progress.on_snapshot,
                        pacing=_pacing(req),
                        watch_progress=progress.live,
                        keep_going=req.keep_going,
                        on_round_end=round_files.add,
                    )
                    result = deployment.execute()
        except KeyboardInterrupt:
            result.interrupted = True
            result.stop_reason = result.stop_reason or "interrupted (Ctrl-C / SIGTERM)"
            log.warning("interrupted before the rounds finished")
        except (AwsServiceError, InputError, OutputError) as err:
            error = str(err)
            exit_code = err.exit_code
            result.stop_reason = result.stop_reason or "an error ended the run (see the log)"
            log.error("%s", err)
        report.rounds = result.rounds
        report.summary = summarize(result.rounds, settings.rounds)
        report.not_run = _not_run(result, settings.rounds)
        report.interrupted = result.interrupted
        report.ended = clock.now()
        if result.error is not None and error is None:
            error = str(result.error)
        if result.interrupted:
            exit_code = EXIT_INTERRUPTED
        elif error is not None and exit_code == EXIT_OK:
            exit_code = EXIT_AWS_ERROR
        elif exit_code == EXIT_OK and not result.all_succeeded:
            exit_code = EXIT_ROUND_FAILED
        try:
            paths = write_outputs(report, out_dir, html=req.html, round_files=round_files)
            wrote = ", ".join(p.name for p in paths)
        except OutputError as err:  # every other output is written: one line names the rest
            log.error("%s", err)
            wrote = "not every output (see the error)"
            error = str(err) if error is None else f"{error}; and {err}"
            if exit_code in (EXIT_OK, EXIT_ROUND_FAILED):
                exit_code = err.exit_code
        s = report.summary
        interrupted = f", {s.interrupted} interrupted" if s.interrupted else ""
        log.info(
            "done: %d round(s) planned, %d succeeded, %d failed%s, %d not run; wrote %s",
            s.total,
            s.succeeded,
            s.failed,
            interrupted,
            s.skipped,
            wrote,
        )
    return RunOutcome(report=report, exit_code=exit_code, out_dir=out_dir, error=error)


def _not_run(result: RunnerResult, planned: int) -> NotRun | None:
    """The planned rounds after the last one that ran, as one entry (None: every round ran)."""
    ran = max((r.round for r in result.rounds), default=0)
    if ran >= planned:
        return None
    return NotRun(first=ran + 1, last=planned, reason=result.stop_reason or "not run")


@contextlib.contextmanager
def _target(
    prepared: PreparedRun,
    req: RunRequest,
    stack_factory: LocalStackFactory,
    clock: TimeSource,
) -> Iterator[AwsTarget]:
    if not req.local:
        yield AwsTarget(region=prepared.settings.region, profile=req.profile)
        return
    with stack_factory(prepared, req, clock) as target:
        yield target


def _pacing(req: RunRequest) -> Pacing:
    """Polls start 0.25 s apart and back off to 5 s against AWS (API rate limits). The local
    AWS IoT answers in milliseconds, so there polls start 0.05 s apart and stay within 1 s: a
    quick round is seen finished within ~50 ms of its last device (it was up to 250 ms, half of
    a 10-device round), the rollout curve is smooth and the live view fresh.
    The runner also rests at least 3x what each poll took (``RunnerConfig.poll_rest_ratio``),
    which bounds polling at high ``--time-scale`` and for big fleets."""
    if req.local:
        return Pacing(poll_initial_sec=0.05, poll_max_sec=1.0)
    return Pacing(poll_initial_sec=0.25, poll_max_sec=5.0)


@contextlib.contextmanager
def _log_scope(out_dir: Path, debug: bool) -> Iterator[LogScope]:
    """The run's logging; a debug log that cannot be opened is an ``OutputError`` (nothing
    was created yet)."""
    scope = LogScope(out_dir, debug=debug)
    try:
        scope.__enter__()
    except OSError as err:
        raise OutputError(
            f"cannot write the debug log {scope.log_file} ({reason(err)}); nothing was created"
        ) from None
    try:
        yield scope
    finally:
        scope.__exit__(None, None, None)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C (KeyboardInterrupt) in the main thread during a run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
