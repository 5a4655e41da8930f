"""Rollout rate: how many QUEUED executions may be released (notified) per minute.

Pure functions of (the job's typed ``RolloutConfig``, its counters, now). Model (DESIGN.md, after
https://docs.aws.amazon.com/iot/latest/developerguide/jobs-configurations-details.html#job-rollout-abort-scheduling
and https://docs.aws.amazon.com/iot/latest/apireference/API_JobExecutionsRolloutConfig.html):

- Time is cut into one-minute windows starting at job creation; each window releases at most
  ``int(rate)`` executions (at least 1).
- ``maximumPerMinute`` alone: rate = maximumPerMinute.
- ``exponentialRate``: rate starts at ``baseRatePerMinute``; each time the notified (or the
  succeeded) count reaches the next multiple of ``rateIncreaseCriteria``'s number, the rate is
  multiplied by ``incrementFactor``; ``maximumPerMinute`` caps it. A raised rate applies from the
  next window (a window's allowance is fixed when it opens).
- No rollout config: everything is released at once.
"""

from __future__ import annotations

from ota_deploy.core.job_config import RolloutConfig
from ota_deploy.local.iot.records import Job

WINDOW_SECONDS = 60.0


def current_rate(cfg: RolloutConfig | None, job: Job) -> float | None:
    """The per-minute rate a window opening now gets (None = unlimited)."""
    if cfg is None:
        return None
    cap = cfg.maximum_per_minute
    exp = cfg.exponential
    if exp is not None:
        crit = exp.increase
        increases = 0
        if crit.notified_things:
            increases = job.notified_count // crit.notified_things
        elif crit.succeeded_things:
            increases = job.succeeded_count // crit.succeeded_things
        rate = float(exp.base_per_minute) * float(exp.factor) ** increases
        return min(rate, float(cap)) if cap else rate
    return float(cap) if cap else None


def open_window(job: Job, now: float) -> None:
    """Start the first window at job creation."""
    job.window_start = now
    job.window_rate = current_rate(job.configs.rollout, job)
    job.released_in_window = 0


def advance(job: Job, now: float) -> None:
    """Roll the window forward if ``now`` is past its end (rate fixed as each window opens)."""
    if job.window_rate is None or now < job.window_start + WINDOW_SECONDS:
        return
    elapsed = int((now - job.window_start) // WINDOW_SECONDS)
    job.window_start += elapsed * WINDOW_SECONDS
    job.released_in_window = 0
    job.window_rate = current_rate(job.configs.rollout, job)


def allowance(job: Job) -> int:
    """How many more executions the current window may release."""
    if job.window_rate is None:
        return len(job.unreleased)
    return max(0, max(1, int(job.window_rate)) - job.released_in_window)


def next_window(job: Job) -> float:
    return job.window_start + WINDOW_SECONDS
