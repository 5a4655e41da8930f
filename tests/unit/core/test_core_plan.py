"""Round plans: ids per round, inline vs uploaded document, targets, dry-run rendering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ota_deploy.config.settings import Settings
from ota_deploy.core.firmware import Firmware
from ota_deploy.core.job_config import AbortCriterion, PresignedUrlConfig, TimeoutConfig
from ota_deploy.core.plan import (
    build_round_plan,
    default_s3_key,
    document_s3_key,
    dry_run_calls,
    render_dry_run,
    stream_id_for_round,
)
from ota_deploy.core.status import FailureType
from ota_deploy.local.http.validate import check_request

ACC = "123456789012"
TARGETS = [f"arn:aws:iot:us-east-1:{ACC}:thing/d{i}" for i in range(3)]


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = dict(
        source=Path("/cfg/dev.ini"),
        thing_list=Path("/cfg/things.txt"),
        bin_path=Path("/cfg/fw.bin"),
        role_arn=f"arn:aws:iam::{ACC}:role/ota",
        job_id="Job1",
        rounds=3,
        bucket="bkt",
        clean_up=True,
        debug=False,
        default_delay_sec=1.0,
        region="us-east-1",
        stream_id="Stream1",
        api_sleep_ms=0.0,
        file_chunk_size=4096,
        target_selection="SNAPSHOT",
    )
    base.update(overrides)
    return Settings(**base)


FW = Firmware(path=Path("/cfg/fw.bin"), size=1234, md5_hex="ab" * 16, sha256_hex="cd" * 32)


def test_plan_ids_per_round() -> None:
    s = settings()
    plans = [
        build_round_plan(s, FW, round_number=n, targets=TARGETS, s3_key="k/fw.bin") for n in (1, 2)
    ]
    assert [p.job_id for p in plans] == ["Job1-1", "Job1-2"]
    assert [p.stream_id for p in plans] == ["Stream1-1", "Stream1-2"]
    assert plans[1].create_stream["streamId"] == "Stream1-2"
    assert json.loads(plans[1].create_job["document"])["streamId"] == "Stream1-2"
    assert stream_id_for_round(settings(job_id_per_round="reuse"), 5) == "Stream1"


def test_plan_dedups_targets_and_bounds() -> None:
    s = settings()
    plan = build_round_plan(s, FW, round_number=1, targets=TARGETS + TARGETS[:1], s3_key="k")
    assert plan.create_job["targets"] == TARGETS
    with pytest.raises(ValueError, match="100"):
        build_round_plan(s, FW, round_number=1, targets=["x"] * 101, s3_key="k")
    with pytest.raises(ValueError):
        build_round_plan(s, FW, round_number=1, targets=[], s3_key="k")
    with pytest.raises(ValueError):
        build_round_plan(s, FW, round_number=0, targets=TARGETS, s3_key="k")


def test_plan_document_inline_up_to_32k_then_uploaded() -> None:
    s = settings()
    base = build_round_plan(s, FW, round_number=1, targets=TARGETS, s3_key="a/fw.bin")
    overhead = len(base.create_job["document"].encode()) + len(',"pad":""')
    fits = {"pad": "x" * (32768 - overhead)}
    inline = build_round_plan(
        s,
        FW,
        round_number=1,
        targets=TARGETS,
        s3_key="a/fw.bin",
        custom_document=fits,
    )
    assert len(inline.create_job["document"].encode()) == 32768
    assert inline.document_upload is None and inline.document_inline
    assert check_request("iot", "CreateJob", inline.create_job) == []
    big = build_round_plan(
        s,
        FW,
        round_number=1,
        targets=TARGETS,
        s3_key="a/fw.bin",
        custom_document={"pad": "x" * (32769 - overhead)},
    )
    assert "document" not in big.create_job
    assert big.document_upload is not None
    bucket, key, body = big.document_upload
    assert (bucket, key) == ("bkt", "a/Job1-1-job-document.json")
    assert len(body) == 32769 and json.loads(body) == big.job_document
    assert (
        big.create_job["documentSource"]
        == "https://bkt.s3.amazonaws.com/a/Job1-1-job-document.json"
    )
    assert check_request("iot", "CreateJob", big.create_job) == []


def test_plan_document_key_without_folder() -> None:
    assert document_s3_key("fw.bin", "J-1") == "J-1-job-document.json"
    assert default_s3_key(settings(), FW) == f"ota-deploy/Job1/{'cd' * 8}/fw.bin"


def test_plan_dry_run_order_and_content() -> None:
    s = settings(
        presigned_url=PresignedUrlConfig(role_arn=f"arn:aws:iam::{ACC}:role/sign"),
        abort_criteria=(
            AbortCriterion(
                failure_type=FailureType.FAILED,
                action="CANCEL",
                threshold_percentage=5.5,
                min_executed_things=2,
            ),
        ),
        timeout=TimeoutConfig(in_progress_minutes=3),
    )
    plan = build_round_plan(s, FW, round_number=1, targets=TARGETS, s3_key="k/fw.bin")
    calls = dry_run_calls(plan, s)
    ops = [c["operation"] for c in calls]
    assert ops == [
        "DeleteJob",
        "DeleteStream",
        "PutObject",
        "CreateStream",
        "CreateJob",
        "DescribeJob",
        "DeleteJob",
        "DeleteStream",
    ]
    assert calls[2]["params"] == {"Bucket": "bkt", "Key": "k/fw.bin", "ContentLength": 1234}
    assert calls[4]["params"] is plan.create_job
    assert "180 s" in calls[5]["note"]  # round timeout from timeoutConfig
    rendered = json.loads(render_dry_run(plan, s))
    assert rendered["calls"][4]["params"]["abortConfig"]["criteriaList"][0]["action"] == "CANCEL"
    assert rendered["jobDocument"] == plan.job_document
    no_cleanup = [c["operation"] for c in dry_run_calls(plan, settings(clean_up=False))]
    assert no_cleanup == ["PutObject", "CreateStream", "CreateJob", "DescribeJob"]


def test_plan_json_serialisable_by_boto_types() -> None:
    """Numbers keep AWS's types: ints stay ints, doubles are floats."""
    s = settings(
        abort_criteria=(
            AbortCriterion(
                failure_type=FailureType.ALL,
                action="CANCEL",
                threshold_percentage=11.0,
                min_executed_things=1,
            ),
        )
    )
    plan = build_round_plan(s, FW, round_number=1, targets=TARGETS, s3_key="k")
    crit = plan.create_job["abortConfig"]["criteriaList"][0]
    assert isinstance(crit["thresholdPercentage"], float)
    assert isinstance(crit["minNumberOfExecutedThings"], int)
    assert isinstance(plan.create_stream["files"][0]["fileId"], int)
