"""The shape of a run's ``report.json``: written by ``deploy``, read by ``report`` and ``monitor``.

Times are epoch seconds (float). ``samples`` is the rollout curve: the counts of executions by
status observed at each poll, so report.html can chart executions by status over time.
Statuses are ``core.status`` / ``core.observed`` members; they are ``StrEnum``s, so the JSON
holds AWS's own spellings (and NONE for a thing the job never reached).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from ota_deploy.core.observed import ThingStatus
from ota_deploy.core.status import ExecutionStatus, RoundStatus


class ThingResult(BaseModel):
    thing_name: str
    status: ThingStatus  # final execution status, or NONE if the execution was never created
    queued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration_sec: float | None = None  # started -> finished
    status_details: dict[str, str] = Field(default_factory=dict)


class TimeStats(BaseModel):
    """Figures of per-thing times, in seconds: ``n`` values, their median, 95th percentile and
    maximum (``report.stats.time_stats``: linear interpolation between closest ranks)."""

    n: int
    p50: float
    p95: float
    max: float


class CountsSample(BaseModel):
    t: float
    counts: dict[ExecutionStatus, int]  # execution status -> number of things


class RoundReport(BaseModel):
    round: int  # 1-based
    job_id: str
    stream_id: str
    status: RoundStatus
    reason: str | None = None  # why a round failed, in words
    start: float
    end: float | None = None
    duration_sec: float | None = None
    counts: dict[ExecutionStatus, int] = Field(default_factory=dict)  # by execution status
    things: list[ThingResult] = Field(default_factory=list)
    samples: list[CountsSample] = Field(default_factory=list)
    api_calls: int = 0
    # The per-round layout (report.layout): ``things`` is written to ``things_file`` (JSON
    # Lines, one ThingResult per line, path relative to report.json) instead of report.json,
    # and the round keeps its download-time figures (started -> finished of the executions
    # that SUCCEEDED) so trends and comparisons need not read the per-thing files.
    things_file: str | None = None
    download_sec: TimeStats | None = None
    cleanup_sec: float | None = None  # removing the round's job/stream after ``end`` (cleanUpCfg)


class Summary(BaseModel):
    total: int  # rounds planned
    succeeded: int
    failed: int
    skipped: int = 0  # planned rounds that never ran (RunReport.not_run says which and why)
    interrupted: int = 0  # rounds stopped by Ctrl-C / SIGTERM: neither failed nor succeeded


class NotRun(BaseModel):
    """The planned rounds that never ran, as one entry (rounds ``first``..``last``): a run that
    stops early stays small however many rounds it planned."""

    first: int
    last: int
    reason: str


class RunReport(BaseModel):
    tool_version: str
    config_file: str | None = None
    mode: Literal["aws", "local"] = "aws"
    region: str
    started: float
    ended: float | None = None
    rounds: list[RoundReport] = Field(default_factory=list)
    summary: Summary
    interrupted: bool = False
    not_run: NotRun | None = None

    def write(self, path: Path) -> None:
        """One document with every thing inline (the layout before per-round files, still
        read by ``report.layout.read_report``); runs write ``report.layout.write_report``."""
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> RunReport:
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
