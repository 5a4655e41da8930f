"""Typed settings of a dev.ini (the manual's keys plus this tool's documented additions).

This module holds only the shapes; ``config.loader`` reads an ini file into them and checks
every value against AWS's limits, raising ``core.errors.InputError`` naming file/section/key.
A section is represented only when its ``use*`` flag is true (otherwise the field is None).
Paths are already resolved relative to the dev.ini's folder. The job configuration sections
are ``core.job_config``'s records, so the plan (``core.plan``) reads a ``Settings`` without
importing ``config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ota_deploy.core.job_config import (
    AbortCriterion,
    PresignedUrlConfig,
    RolloutConfig,
    TimeoutConfig,
)
from ota_deploy.core.status import TargetSelection


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CustomJobDocument(_Frozen):
    """[CUSTOM_JOB_DOCUMENT]: the user's document, merged under the runtime fields."""

    source: Literal["local_file", "url"]  # jobDocSrcCfg
    url: str | None = None  # jobDocSrcUrl (s3:// or https://BUCKET.s3.amazonaws.com/KEY)
    path: Path | None = None  # jobDocPath


class Settings(_Frozen):
    """A whole dev.ini. Field comments give the ini key (section [DEFAULT] unless noted)."""

    source: Path  # the dev.ini file itself
    thing_list: Path  # thingList
    bin_path: Path  # binName
    role_arn: str  # roleArn
    job_id: str  # jobId
    rounds: int  # rounds, >= 1
    bucket: str  # bucket
    clean_up: bool  # cleanUpCfg
    debug: bool  # debug
    default_delay_sec: float  # defaultDelay, seconds between rounds
    region: str  # region
    stream_id: str  # streamId
    api_sleep_ms: float  # iotApiSleepTime: milliseconds (or explicit "50ms", "2s")
    file_chunk_size: int  # fileChunkSize
    target_selection: TargetSelection  # targetSelection
    # Optional keys beyond the manual (documented in the README):
    file_id: int = 0  # fileId 0-255
    image_version: str = "1"  # imageVer
    description: str | None = None  # description of job and stream
    round_timeout_sec: float | None = None  # roundTimeout; None: from timeout config, else 3600
    job_id_per_round: Literal["suffix", "reuse"] = "suffix"  # jobIdPerRound
    signing_key: Path | None = None  # signingKey: ECDSA P-256 PEM private key
    # Sections, present only when their use* flag is true:
    custom_job_document: CustomJobDocument | None = None
    presigned_url: PresignedUrlConfig | None = None
    rollout: RolloutConfig | None = None
    abort_criteria: tuple[AbortCriterion, ...] = ()  # empty: no abort config
    timeout: TimeoutConfig | None = None

    def job_id_for_round(self, round_number: int) -> str:
        """The job id of round ``round_number`` (1-based): ``<jobId>-<round>`` unless reuse."""
        if self.job_id_per_round == "reuse":
            return self.job_id
        return f"{self.job_id}-{round_number}"

    def effective_round_timeout_sec(self) -> float:
        if self.round_timeout_sec is not None:
            return self.round_timeout_sec
        if self.timeout is not None and self.timeout.in_progress_minutes is not None:
            return self.timeout.in_progress_minutes * 60.0
        return 3600.0
