"""The round runner: create stream + job, wait (polling with backoff), judge, clean up, repeat.

Flow for round k of N (``RoundRunner.run``)::

    plan_for(k) -> RoundCalls ──► CreateStream (once while the same stream stays)
                               ──► PutObject of an oversized job document (if any)
                               ──► CreateJob ──► poll (JobPoller) ─► judge ─► done?
                                                   ▲  backoff ◄──────────────┘ no
    cleanUpCfg: DeleteJob(force) + wait until gone (asynchronous), DeleteStream, delete document
    the round's report ─► on_round_end (the report layer writes its per-thing file now and
                          keeps only its digest: memory holds one round's things at a time)
    success: defaultDelay, next round
    failure: stop (the manual's rule), or with ``keep_going`` go on and count it
    an AWS error or a journal that cannot record an intent (ERROR), or Ctrl-C: stop

Work is proportional to the rounds that run, not to the rounds planned: round k's requests are
built when round k starts, and the rounds that never run are not materialised at all; the
result only says why the run stopped (``stop_reason``) and the caller records the rest as one
``report.model.NotRun`` entry.

What a round creates and removes (and how it is journaled) is ``deploy.resources``'s job. A
round past its deadline (roundTimeout) is cancelled (CancelJob force) and fails as TIMED_OUT.
Ctrl-C/SIGTERM (``KeyboardInterrupt``) mid-round cancels the job, cleans up as configured and
returns with ``interrupted`` set; that round is INTERRUPTED (neither failed nor succeeded), and
the caller still writes the report.

Time comes from an injected clock and ``sleep``; the poll pacing starts short, grows by
``poll_factor`` while nothing changes and snaps back when counts move, so a quick round is seen
quickly and a long one costs few API calls (no fixed long sleeps). Every pause is also at least
``poll_rest_ratio`` times what the last poll took on the run's clock, so polling takes a bounded
share of the time whatever the fleet size and the time scale: at ``--time-scale 50`` a 0.05 s
pause is 1 ms of wall time, but a poll still costs its real milliseconds, and so does a poll
that lists 10,000 executions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.aws.s3_ops import S3Ops
from ota_deploy.core.clock import Clock
from ota_deploy.core.errors import AwsServiceError, OtaDeployError
from ota_deploy.core.observed import JobUnseen, NoExecution
from ota_deploy.core.output_error import OutputError
from ota_deploy.core.status import TERMINAL_EXECUTION, ExecutionStatus, RoundStatus, TargetSelection
from ota_deploy.deploy.journal import Journal
from ota_deploy.deploy.judge import Verdict, judge
from ota_deploy.deploy.resources import RoundCalls, RoundResources
from ota_deploy.monitor.snapshot import JobSnapshot
from ota_deploy.report.model import CountsSample, RoundReport, ThingResult

log = logging.getLogger(__name__)

__all__ = ["Poller", "RoundCalls", "RoundRunner", "RunnerConfig", "RunnerResult", "add_sample"]


class Poller(Protocol):
    """What the runner needs of a poller (``monitor.poller.JobPoller`` behind ``_SafePoller``).

    A poller may also have ``poll_final() -> JobSnapshot``: called once when a round ends, a
    poll that also fetches the statusDetails of failed/rejected/timed-out things, so the
    report says why they failed; with none outstanding it returns the deciding snapshot itself
    without a call. Without ``poll_final`` the deciding snapshot is the round's last.

    And ``settled() -> counts | None``: one cheap call (DescribeJob) that gives the execution
    counts once nothing is QUEUED or IN_PROGRESS, else None; a long rest after a slow poll is
    cut short by it (``RoundRunner._rest``).
    """

    @property
    def api_calls(self) -> int: ...

    def poll(self) -> JobSnapshot: ...


@dataclass(frozen=True)
class RunnerConfig:
    rounds: int
    clean_up: bool
    default_delay_sec: float
    round_timeout_sec: float
    target_selection: TargetSelection = TargetSelection.SNAPSHOT
    reuse_job_id: bool = False
    poll_initial_sec: float = 0.25
    poll_max_sec: float = 5.0
    poll_factor: float = 1.5
    poll_rest_ratio: float = 3.0  # pause >= this x the last poll's cost (polls <= 1/4 of time)
    wait_gone_timeout_sec: float = 600.0
    keep_going: bool = False  # a failed round does not stop the run (an ERROR still does)


@dataclass
class RunnerResult:
    rounds: list[RoundReport] = field(default_factory=list)  # the rounds that ran, in order
    interrupted: bool = False
    error: OtaDeployError | None = None  # an AWS error, or a journal that cannot be written
    stop_reason: str | None = None  # why the rounds after the last one here did not run

    @property
    def all_succeeded(self) -> bool:
        return bool(self.rounds) and all(r.status == RoundStatus.SUCCEEDED for r in self.rounds)


class RoundRunner:
    def __init__(
        self,
        iot: IotOps,
        cfg: RunnerConfig,
        *,
        poller_factory: Callable[[str], Poller],
        expected_things: Sequence[str],
        clock: Clock,
        sleep: Callable[[float], None],
        journal: Journal | None = None,
        s3: S3Ops | None = None,
        on_snapshot: Callable[[JobSnapshot], None] | None = None,
        on_round_end: Callable[[RoundReport], None] | None = None,
    ) -> None:
        """``on_round_end`` gets each round's report once it is final (cleanup included),
        before the next round starts; it may move the round's things out of memory."""
        self.iot = iot
        self.cfg = cfg
        self.poller_factory = poller_factory
        self.expected = list(expected_things)
        self.clock = clock
        self.sleep = sleep
        self.on_snapshot = on_snapshot
        self.on_round_end = on_round_end
        self.resources = RoundResources(iot, s3=s3, journal=journal)
        self._last_snap: JobSnapshot | None = None

    # -- the loop -------------------------------------------------------------------------
    def run(self, plan_for: Callable[[int], RoundCalls]) -> RunnerResult:
        """Rounds 1..N, each planned as it starts; stops as the module docstring says."""
        result = RunnerResult()
        for n in range(1, self.cfg.rounds + 1):
            report = self._run_round(plan_for(n), result)
            result.rounds.append(report)
            self._round_ended(report, result)
            result.stop_reason = self._stop_reason(report, result)
            if result.stop_reason is not None:
                break
            if n < self.cfg.rounds and self.cfg.default_delay_sec > 0:
                log.info(
                    "waiting %.1fs (defaultDelay) before round %d",
                    self.cfg.default_delay_sec,
                    n + 1,
                )
                try:
                    self.sleep(self.cfg.default_delay_sec)
                except KeyboardInterrupt:
                    result.interrupted = True
                    result.stop_reason = f"interrupted (Ctrl-C / SIGTERM) after round {n}"
                    break
        return result

    def _round_ended(self, report: RoundReport, result: RunnerResult) -> None:
        """Hand the finished round to ``on_round_end``; a Ctrl-C there ends the run after
        this round like one anywhere else (the round itself is kept as it is)."""
        if self.on_round_end is None:
            return
        try:
            self.on_round_end(report)
        except KeyboardInterrupt:
            result.interrupted = True
            log.warning("interrupted while recording round %d", report.round)

    def _stop_reason(self, report: RoundReport, result: RunnerResult) -> str | None:
        """None: go on to the next round; else why the run stops after ``report``'s round."""
        n = report.round
        if result.interrupted:
            return f"interrupted (Ctrl-C / SIGTERM) in round {n}"
        if report.status == RoundStatus.SUCCEEDED:
            return None
        if report.status == RoundStatus.ERROR:
            if isinstance(result.error, OutputError):
                return f"round {n} could not write the run journal"
            return f"round {n} ended with an AWS error"
        if self.cfg.keep_going:
            return None
        return f"round {n} {report.status}: a failed round stops the run (--keep-going runs on)"

    def _run_round(self, calls: RoundCalls, result: RunnerResult) -> RoundReport:
        n = calls.round_number
        report = RoundReport(
            round=n,
            job_id=calls.job_id,
            stream_id=calls.stream_id or "",
            status=RoundStatus.ERROR,
            start=self.clock.now(),
        )
        log.info(
            "round %d of %d: job %s, stream %s", n, self.cfg.rounds, calls.job_id, calls.stream_id
        )
        calls_before = self.iot.calls
        poll_calls = 0
        try:
            try:
                if self.cfg.reuse_job_id:
                    self.resources.remove_stale_job(calls.job_id, self.cfg.wait_gone_timeout_sec)
                self.resources.create(calls)
                deadline = report.start + self.cfg.round_timeout_sec
                verdict, snap, poll_calls = self._wait(calls, deadline, report)
                if verdict.status == RoundStatus.TIMED_OUT:
                    log.warning("round %d: %s; cancelling job %s", n, verdict.reason, calls.job_id)
                    self.resources.cancel_job(calls.job_id, comment="ota-deploy: round timeout")
                report.status = verdict.status or RoundStatus.ERROR
                report.reason = verdict.reason
                self._fill_things(report, snap)
            except KeyboardInterrupt:
                if self._last_snap is not None:
                    self._fill_things(report, self._last_snap)
                result.interrupted = True
                report.status = RoundStatus.INTERRUPTED
                report.reason = "interrupted (Ctrl-C / SIGTERM)"
                log.warning("round %d interrupted; cancelling job %s", n, calls.job_id)
                # (an interrupt inside ``create`` already took over what AWS made)
                self.resources.cancel_job(calls.job_id, comment="ota-deploy: interrupted")
        except (AwsServiceError, OutputError) as err:
            report.status = RoundStatus.ERROR
            report.reason = str(err)
            result.error = err
            log.error("round %d: %s", n, err)
        report.end = self.clock.now()
        report.duration_sec = round(report.end - report.start, 3)
        if self.cfg.clean_up:
            cleaning = self.clock.now()
            try:
                self.resources.clean(calls, self.cfg.wait_gone_timeout_sec)
            except AwsServiceError as err:
                log.error("round %d cleanup: %s", n, err)
                result.error = result.error or err
            except KeyboardInterrupt:
                result.interrupted = True
                log.warning("cleanup interrupted; `ota-deploy cleanup` removes what is left")
            report.cleanup_sec = round(self.clock.now() - cleaning, 3)
        report.api_calls = (self.iot.calls - calls_before) + poll_calls
        log.info(
            "round %d of %d: %s%s (%s)",
            n,
            self.cfg.rounds,
            report.status,
            f" - {report.reason}" if report.reason else "",
            _counts_text(report.counts),
        )
        return report

    def _wait(
        self, calls: RoundCalls, deadline: float, report: RoundReport
    ) -> tuple[Verdict, JobSnapshot, int]:
        poller = self.poller_factory(calls.job_id)
        self._last_snap = None
        pause = self.cfg.poll_initial_sec
        last: dict[ExecutionStatus, int] | None = None
        while True:
            asked = self.clock.now()
            snap = self._observe(poller.poll(), calls, report)
            now = self.clock.now()
            verdict = judge(
                snap, self.expected, self.cfg.target_selection, now=now, deadline=deadline
            )
            if verdict.done:
                return verdict, self._final(poller, calls, report, snap), poller.api_calls
            if snap.counts != last:
                pause = self.cfg.poll_initial_sec
            else:
                pause = min(pause * self.cfg.poll_factor, self.cfg.poll_max_sec)
            last = dict(snap.counts)
            rest = max(pause, self.cfg.poll_rest_ratio * (now - asked))
            self._rest(poller, min(rest, deadline - now), pause, last)

    def _rest(
        self, poller: Poller, rest: float, pause: float, last: dict[ExecutionStatus, int]
    ) -> None:
        """Wait ``rest`` before the next poll. A rest much longer than ``pause`` (the last poll
        was slow: thousands of executions listed on a busy service) is taken in steps of a
        quarter of it (at least ``pause``), each followed by the poller's ``settled`` probe
        (one DescribeJob, far cheaper than the poll that made the rest long): once every
        execution has ended with counts the last poll did not see, the full poll comes now.
        So a 10,000-device round is judged soon after its last device, not up to three
        poll-durations later, and polling still costs a bounded share of the time (at most
        three probes per rest)."""
        settled = getattr(poller, "settled", None)
        if settled is None or rest <= 2 * pause:
            self.sleep(max(0.0, rest))
            return
        step = max(pause, rest / 4)
        end = self.clock.now() + rest
        while (left := end - self.clock.now()) > 0:
            self.sleep(min(step, left))
            if end - self.clock.now() <= 0:
                return
            counts = settled()
            if counts is not None and counts != last:
                return

    def _observe(self, snap: JobSnapshot, calls: RoundCalls, report: RoundReport) -> JobSnapshot:
        """Every poll: round numbers on the snapshot, a rollout-curve sample, the live view."""
        snap.round_number = calls.round_number
        snap.rounds = self.cfg.rounds
        self._last_snap = snap
        add_sample(report.samples, CountsSample(t=snap.taken_at, counts=dict(snap.counts)))
        report.counts = dict(snap.counts)
        if self.on_snapshot is not None:
            self.on_snapshot(snap)
        return snap

    def _final(
        self, poller: Poller, calls: RoundCalls, report: RoundReport, judged: JobSnapshot
    ) -> JobSnapshot:
        """The round is decided: one last poll that fetches the statusDetails of the things
        that failed (the report shows why). The verdict stays the one already judged; a
        failure of this extra look only loses the details."""
        final = getattr(poller, "poll_final", None)
        if final is None:
            return judged
        try:
            snap: JobSnapshot = final()
        except AwsServiceError as err:
            log.warning("round %d: could not fetch final statusDetails: %s", report.round, err)
            return judged
        if snap is judged:  # nothing left to fetch: the poller made no call
            return judged
        if snap.job_status == JobUnseen.NOT_FOUND or not snap.things:
            return judged
        return self._observe(snap, calls, report)

    def _fill_things(self, report: RoundReport, snap: JobSnapshot) -> None:
        report.counts = dict(snap.counts)
        things: list[ThingResult] = []
        for name in sorted(set(self.expected) - set(snap.things)):
            things.append(ThingResult(thing_name=name, status=NoExecution.NONE))
        for name, st in sorted(snap.things.items()):
            finished = st.last_updated_at if st.status in TERMINAL_EXECUTION else None
            duration = (
                round(finished - st.started_at, 3)
                if finished is not None and st.started_at is not None
                else None
            )
            things.append(
                ThingResult(
                    thing_name=name,
                    status=st.status,
                    queued_at=st.queued_at,
                    started_at=st.started_at,
                    finished_at=finished,
                    duration_sec=duration,
                    status_details={str(k): str(v) for k, v in st.status_details.items()},
                )
            )
        report.things = things


def add_sample(samples: list[CountsSample], sample: CountsSample) -> None:
    """Append one poll's counts to a rollout curve, keeping report.json small: of a run of
    identical consecutive samples only the first (when the counts changed) and the latest
    (how long they held) are kept, so the curve is exact as a step function."""
    if (
        len(samples) >= 2
        and samples[-1].counts == sample.counts
        and samples[-2].counts == sample.counts
    ):
        samples[-1] = sample
    else:
        samples.append(sample)


def _counts_text(counts: dict[ExecutionStatus, int]) -> str:
    shown = [f"{k} {v}" for k, v in sorted(counts.items()) if v]
    return ", ".join(shown) or "no executions"
