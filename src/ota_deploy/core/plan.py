"""The exact AWS requests of one deployment round, built from the settings and the firmware.

``build_round_plan`` is pure: settings (``PlanSettings``: what the plan reads of the loader's
``config.settings.Settings``) + firmware facts + targets + the firmware's S3 key ->
``RoundPlan`` holding the CreateStream and CreateJob kwargs exactly as boto3 gets them (botocore
member names), the job document, and, when the encoded document exceeds CreateJob's 32 KB
inline limit, the S3 upload that ``documentSource`` then points to. The deploy runner sends
these unchanged; ``--dry-run`` prints them with ``dry_run_calls``/``render_dry_run``.

Ids per round: ``jobIdPerRound = suffix`` (default) makes ``<jobId>-<round>`` and
``<streamId>-<round>`` so rounds never collide with a job or stream AWS is still deleting;
``reuse`` keeps the exact ids (the runner must wait for deletion to finish before reuse).
API reference: https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ota_deploy.core.documents import encode_document, job_document, stream_request
from ota_deploy.core.firmware import Firmware
from ota_deploy.core.job_config import (
    AbortConfig,
    AbortCriterion,
    JobConfigs,
    PresignedUrlConfig,
    RolloutConfig,
    TimeoutConfig,
)
from ota_deploy.core.limits import rules
from ota_deploy.core.s3url import s3_https_url


class PlanSettings(Protocol):
    """What the plan reads of a run's settings (``config.settings.Settings`` has all of it)."""

    @property
    def source(self) -> Path: ...  # the dev.ini, named in --dry-run output
    @property
    def job_id(self) -> str: ...
    @property
    def stream_id(self) -> str: ...
    @property
    def job_id_per_round(self) -> str: ...  # "suffix" or "reuse"
    @property
    def rounds(self) -> int: ...
    @property
    def bucket(self) -> str: ...
    @property
    def role_arn(self) -> str: ...
    @property
    def file_id(self) -> int: ...
    @property
    def image_version(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def target_selection(self) -> str: ...
    @property
    def clean_up(self) -> bool: ...
    @property
    def default_delay_sec(self) -> float: ...
    @property
    def presigned_url(self) -> PresignedUrlConfig | None: ...
    @property
    def rollout(self) -> RolloutConfig | None: ...
    @property
    def abort_criteria(self) -> tuple[AbortCriterion, ...]: ...
    @property
    def timeout(self) -> TimeoutConfig | None: ...
    def job_id_for_round(self, round_number: int) -> str: ...
    def effective_round_timeout_sec(self) -> float: ...


@dataclass(frozen=True)
class RoundPlan:
    """Everything a round sends to AWS, in order: upload(s), CreateStream, CreateJob."""

    round_number: int
    job_id: str
    stream_id: str
    firmware_upload: tuple[str, str, int]  # (bucket, key, size): S3 PutObject of the image
    create_stream: dict[str, Any]
    create_job: dict[str, Any]
    job_document: dict[str, Any]
    document_upload: tuple[str, str, bytes] | None = None  # (bucket, key, body) if > 32 KB

    @property
    def document_inline(self) -> bool:
        return self.document_upload is None


def stream_id_for_round(settings: PlanSettings, round_number: int) -> str:
    """``<streamId>-<round>`` unless ``jobIdPerRound = reuse`` (same rule as the job id)."""
    if settings.job_id_per_round == "reuse":
        return settings.stream_id
    return f"{settings.stream_id}-{round_number}"


def default_s3_key(settings: PlanSettings, firmware: Firmware) -> str:
    """A key unique to this image's content, under the job id: re-runs reuse the object."""
    return f"ota-deploy/{settings.job_id}/{firmware.sha256_hex[:16]}/{firmware.path.name}"


def document_s3_key(s3_key: str, job_id: str) -> str:
    """Where a too-large job document goes: beside the firmware object."""
    folder = posixpath.dirname(s3_key)
    name = f"{job_id}-job-document.json"
    return f"{folder}/{name}" if folder else name


def job_description(settings: PlanSettings, firmware: Firmware, round_number: int) -> str:
    if settings.description:
        return settings.description
    return (
        f"OTA update of {firmware.path.name} ({firmware.size} bytes), "
        f"round {round_number} of {settings.rounds}"
    )


def build_round_plan(
    settings: PlanSettings,
    firmware: Firmware,
    *,
    round_number: int,
    targets: Sequence[str],
    s3_key: str,
    custom_document: dict[str, Any] | None = None,
) -> RoundPlan:
    """The requests of round ``round_number`` (1-based) for ``targets`` (thing/group ARNs).

    ``custom_document`` is the [CUSTOM_JOB_DOCUMENT] JSON object when that section is in force
    (read from jobDocPath, or fetched from jobDocSrcUrl).
    """
    if round_number < 1:
        raise ValueError(f"round_number must be >= 1, got {round_number}")
    limit = rules()
    if not 1 <= len(targets) <= limit.job_targets_max:
        raise ValueError(
            f"a job takes 1 to {limit.job_targets_max} targets, got {len(targets)}; "
            "put more things into a thing group and target the group"
        )
    job_id = settings.job_id_for_round(round_number)
    stream_id = stream_id_for_round(settings, round_number)
    bucket = settings.bucket
    create_stream = stream_request(
        stream_id=stream_id,
        file_id=settings.file_id,
        bucket=bucket,
        key=s3_key,
        role_arn=settings.role_arn,
        description=settings.description,
    )
    document = job_document(
        stream_id=stream_id,
        file_id=settings.file_id,
        firmware=firmware,
        image_version=settings.image_version,
        custom=custom_document,
        presigned=(bucket, s3_key) if settings.presigned_url is not None else None,
    )
    encoded = encode_document(document).encode("utf-8")
    create_job: dict[str, Any] = {
        "jobId": job_id,
        "targets": list(dict.fromkeys(targets)),
        "targetSelection": str(settings.target_selection),
    }
    document_upload: tuple[str, str, bytes] | None = None
    if len(encoded) <= limit.job_document_bytes_max:
        create_job["document"] = encoded.decode("utf-8")
    else:
        doc_key = document_s3_key(s3_key, job_id)
        document_upload = (bucket, doc_key, encoded)
        create_job["documentSource"] = s3_https_url(bucket, doc_key)
        if len(create_job["documentSource"]) > limit.document_source_max:
            raise ValueError(
                f"the job document ({len(encoded)} bytes) is over 32 KB and its S3 URL would "
                f"be longer than AWS's {limit.document_source_max} characters; shorten the key"
            )
    create_job["description"] = job_description(settings, firmware, round_number)
    configs = JobConfigs(
        presigned_url=settings.presigned_url,
        rollout=settings.rollout,
        abort=AbortConfig(settings.abort_criteria) if settings.abort_criteria else None,
        timeout=settings.timeout,
    )
    create_job.update(configs.to_params())
    return RoundPlan(
        round_number=round_number,
        job_id=job_id,
        stream_id=stream_id,
        firmware_upload=(bucket, s3_key, firmware.size),
        create_stream=create_stream,
        create_job=create_job,
        job_document=document,
        document_upload=document_upload,
    )


def dry_run_calls(plan: RoundPlan, settings: PlanSettings) -> list[dict[str, Any]]:
    """The API calls of ``plan``'s round, in order, as printable dicts (nothing is sent)."""
    calls: list[dict[str, Any]] = []

    def call(service: str, operation: str, params: dict[str, Any], note: str = "") -> None:
        entry: dict[str, Any] = {"service": service, "operation": operation, "params": params}
        if note:
            entry["note"] = note
        calls.append(entry)

    bucket, key, size = plan.firmware_upload
    if settings.clean_up:
        call(
            "iot",
            "DeleteJob",
            {"jobId": plan.job_id, "force": True},
            "only if a leftover job with this id exists (cleanUpCfg)",
        )
        call(
            "iot",
            "DeleteStream",
            {"streamId": plan.stream_id},
            "only if a leftover stream with this id exists (cleanUpCfg)",
        )
    call(
        "s3",
        "PutObject",
        {"Bucket": bucket, "Key": key, "ContentLength": size},
        "the firmware image; once per run, skipped when the same object is already there",
    )
    if plan.document_upload is not None:
        doc_bucket, doc_key, body = plan.document_upload
        call(
            "s3",
            "PutObject",
            {"Bucket": doc_bucket, "Key": doc_key, "ContentLength": len(body)},
            "job document larger than 32 KB, passed as documentSource",
        )
    call("iot", "CreateStream", plan.create_stream)
    call("iot", "CreateJob", plan.create_job)
    call(
        "iot",
        "DescribeJob",
        {"jobId": plan.job_id},
        "polled with backoff, with ListJobExecutionsForJob, until every target is terminal "
        f"or {settings.effective_round_timeout_sec():g} s pass",
    )
    if settings.clean_up:
        call(
            "iot",
            "DeleteJob",
            {"jobId": plan.job_id, "force": True},
            "then DescribeJob until ResourceNotFoundException",
        )
        call("iot", "DeleteStream", {"streamId": plan.stream_id})
    return calls


def render_dry_run(plan: RoundPlan, settings: PlanSettings) -> str:
    """``--dry-run`` output: JSON of the round's calls plus the run's shape."""
    body = {
        "config": str(settings.source),
        "rounds": settings.rounds,
        "round": plan.round_number,
        "delayBetweenRoundsSec": settings.default_delay_sec,
        "jobDocument": plan.job_document,
        "calls": dry_run_calls(plan, settings),
    }
    return json.dumps(body, indent=2, ensure_ascii=False)
