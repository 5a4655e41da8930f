"""For each section and flag of the manual: the CreateStream/CreateJob requests carry exactly
what the config says, and botocore's model (plus max/pattern/enum) accepts them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ota_deploy.config.loader import load_settings
from ota_deploy.core.firmware import Firmware, public_pem_of, verify_signature
from ota_deploy.core.plan import RoundPlan, build_round_plan, default_s3_key
from ota_deploy.core.thinglist import read_thing_list
from ota_deploy.local.http.validate import check_request

D = "DEFAULT"
ACC = "123456789012"
ROLE = "arn:aws:iam::123456789012:role/ota-service-role"
SIGNING_ROLE = "arn:aws:iam::123456789012:role/ota-signing-role"


def plan_for(path: Path, round_number: int = 1, custom: dict[str, Any] | None = None) -> RoundPlan:
    s = load_settings(path).settings
    things = read_thing_list(s.thing_list, account=ACC, region=s.region)
    fw = Firmware.load(s.bin_path, chunk_size=s.file_chunk_size, signing_key=s.signing_key)
    if custom is None and s.custom_job_document and s.custom_job_document.path:
        custom = json.loads(s.custom_job_document.path.read_text())
    plan = build_round_plan(
        s,
        fw,
        round_number=round_number,
        targets=things.target_arns,
        s3_key=default_s3_key(s, fw),
        custom_document=custom,
    )
    assert check_request("iot", "CreateStream", plan.create_stream) == []
    assert check_request("iot", "CreateJob", plan.create_job) == []
    return plan


def doc(plan: RoundPlan) -> dict[str, Any]:
    document = json.loads(plan.create_job["document"])
    assert document == plan.job_document
    return document


def test_requests_default_section_only(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config()
    plan = plan_for(path, round_number=2)
    key = plan.create_stream["files"][0]["s3Location"]["key"]
    assert key.endswith("/test.bin")
    assert plan.firmware_upload == ("iot-ota-deployment-tool", key, 16384)
    assert plan.create_stream == {
        "streamId": "StreamPython5566-2",
        "description": "This stream is used for sending 1 ota stream file to devices.",
        "files": [{"fileId": 0, "s3Location": {"bucket": "iot-ota-deployment-tool", "key": key}}],
        "roleArn": ROLE,
    }
    assert set(plan.create_job) == {
        "jobId",
        "targets",
        "targetSelection",
        "document",
        "description",
    }
    assert plan.create_job["jobId"] == "JobPython5566-2"
    assert plan.create_job["targetSelection"] == "SNAPSHOT"
    assert plan.create_job["targets"] == [
        f"arn:aws:iot:us-east-1:{ACC}:thing/ota-sample-device-{i:02d}" for i in range(1, 11)
    ]
    firmware = (path.parent / "test.bin").read_bytes()
    import hashlib

    assert doc(plan) == {
        "command": "fota",
        "streamId": "StreamPython5566-2",
        "fileId": 0,
        "fileSize": len(firmware),
        "imageVer": "1",
        "md5sum": hashlib.md5(firmware).hexdigest(),
    }
    assert plan.document_upload is None


def test_requests_target_selection_continuous(make_config) -> None:  # type: ignore[no-untyped-def]
    plan = plan_for(make_config({(D, "targetSelection"): "CONTINUOUS"}))
    assert plan.create_job["targetSelection"] == "CONTINUOUS"


def test_requests_file_id_image_ver_description(make_config) -> None:  # type: ignore[no-untyped-def]
    plan = plan_for(
        make_config({(D, "fileId"): "69", (D, "imageVer"): "7", (D, "description"): "v7 rollout"})
    )
    assert plan.create_stream["files"][0]["fileId"] == 69
    assert plan.create_stream["description"] == "v7 rollout"
    assert plan.create_job["description"] == "v7 rollout"
    assert doc(plan)["fileId"] == 69 and doc(plan)["imageVer"] == "7"


def test_requests_job_id_reuse(make_config) -> None:  # type: ignore[no-untyped-def]
    plan = plan_for(make_config({(D, "jobIdPerRound"): "reuse"}), round_number=3)
    assert plan.create_job["jobId"] == "JobPython5566"
    assert plan.create_stream["streamId"] == "StreamPython5566"
    assert doc(plan)["streamId"] == "StreamPython5566"


def test_requests_custom_job_document_local_file(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config(
        {(D, "useCustomJobDocument"): "True"},
        files={"job_temp.json": '{"Info1": "123", "Info2": "456", "command": "mine"}'},
    )
    document = doc(plan_for(path))
    assert list(document)[:2] == ["Info1", "Info2"]
    assert document["Info1"] == "123" and document["Info2"] == "456"
    assert document["command"] == "fota"  # runtime fields overwrite
    assert set(document) == {
        "Info1",
        "Info2",
        "command",
        "streamId",
        "fileId",
        "fileSize",
        "imageVer",
        "md5sum",
    }


def test_requests_custom_job_document_url(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config(
        {
            (D, "useCustomJobDocument"): "True",
            ("CUSTOM_JOB_DOCUMENT", "jobDocSrcCfg"): "url",
            ("CUSTOM_JOB_DOCUMENT", "jobDocSrcUrl"): "s3://docs-bucket/jobs/job_temp.json",
        }
    )
    s = load_settings(path).settings
    assert s.custom_job_document is not None
    assert s.custom_job_document.source == "url"
    assert s.custom_job_document.url == "s3://docs-bucket/jobs/job_temp.json"
    document = doc(plan_for(path, custom={"fetched": True}))
    assert document["fetched"] is True and document["command"] == "fota"


def test_requests_presigned_url_config(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config(
        {(D, "usePresignedUrlConfig"): "True", ("PRESIGNED_URL_CONFIG", "expiresInSec"): "600"}
    )
    plan = plan_for(path)
    assert plan.create_job["presignedUrlConfig"] == {"roleArn": SIGNING_ROLE, "expiresInSec": 600}
    key = plan.firmware_upload[1]
    assert doc(plan)["url"] == (
        "${aws:iot:s3-presigned-url:https://iot-ota-deployment-tool.s3.amazonaws.com/" + key + "}"
    )


def test_requests_rollout_maximum_only(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config(
        {
            (D, "useJobExecutionsRolloutConfig"): "True",
            ("JOB_EXECUTE_ROLLOUT_CONFIG", "useExponentialRateCfg"): "False",
            ("JOB_EXECUTE_ROLLOUT_CONFIG", "maximumPerMinute"): "250",
        }
    )
    assert plan_for(path).create_job["jobExecutionsRolloutConfig"] == {"maximumPerMinute": 250}


def test_requests_rollout_exponential_notified(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config({(D, "useJobExecutionsRolloutConfig"): "True"})
    assert plan_for(path).create_job["jobExecutionsRolloutConfig"] == {
        "maximumPerMinute": 100,
        "exponentialRate": {
            "baseRatePerMinute": 100,
            "incrementFactor": 2.0,
            "rateIncreaseCriteria": {"numberOfNotifiedThings": 15},
        },
    }


def test_requests_rollout_exponential_succeeded(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config(
        {
            (D, "useJobExecutionsRolloutConfig"): "True",
            ("JOB_EXECUTE_ROLLOUT_CONFIG", "maximumPerMinute"): None,
            ("EXP_RATE_CONFIG", "incrementFactor"): "1.5",
            ("EXP_RATE_CONFIG", "baseRatePerMinute"): "7",
            ("INCREASE_CRITERIA", "numberOfNotifiedThings"): None,
        }
    )
    assert plan_for(path).create_job["jobExecutionsRolloutConfig"] == {
        "exponentialRate": {
            "baseRatePerMinute": 7,
            "incrementFactor": 1.5,
            "rateIncreaseCriteria": {"numberOfSucceededThings": 123},
        },
    }


def test_requests_abort_all(make_config) -> None:  # type: ignore[no-untyped-def]
    plan = plan_for(make_config({(D, "useAbortConfig"): "True"}))
    assert plan.create_job["abortConfig"] == {
        "criteriaList": [
            {
                "failureType": "ALL",
                "action": "CANCEL",
                "thresholdPercentage": 11.0,
                "minNumberOfExecutedThings": 1,
            }
        ]
    }


@pytest.mark.parametrize(
    ("flag", "failure_type", "threshold"),
    [
        ("useFailedSubsection", "FAILED", 13.0),
        ("useRejectedSubsection", "REJECTED", 12.0),
        ("useTimedOutSubsection", "TIMED_OUT", 14.0),
    ],
)
def test_requests_abort_each_subsection(  # type: ignore[no-untyped-def]
    make_config, flag: str, failure_type: str, threshold: float
) -> None:
    path = make_config(
        {
            (D, "useAbortConfig"): "True",
            ("ABORT_CONFIG", "useAllSubsection"): "False",
            ("ABORT_CONFIG", flag): "True",
            (f"ABORT_CONFIG_TYPE_{failure_type}", "minNumberOfExecutedThings"): "4",
        }
    )
    assert plan_for(path).create_job["abortConfig"]["criteriaList"] == [
        {
            "failureType": failure_type,
            "action": "CANCEL",
            "thresholdPercentage": threshold,
            "minNumberOfExecutedThings": 4,
        }
    ]


def test_requests_abort_threshold_two_decimals(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config(
        {(D, "useAbortConfig"): "True", ("ABORT_CONFIG_TYPE_ALL", "thresholdPercentage"): "10.99"}
    )
    criteria = plan_for(path).create_job["abortConfig"]["criteriaList"]
    assert criteria[0]["thresholdPercentage"] == 10.99


def test_requests_timeout(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config(
        {(D, "useTimeoutConfig"): "True", ("TIMEOUT_CONFIG", "inProgressTimeoutInMinutes"): "10080"}
    )
    assert plan_for(path).create_job["timeoutConfig"] == {"inProgressTimeoutInMinutes": 10080}


def test_requests_signing_key(make_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = make_config({(D, "signingKey"): "keys/ecdsa.pem"})
    (path.parent / "keys").mkdir()
    (path.parent / "keys" / "ecdsa.pem").write_bytes(key)
    document = doc(plan_for(path))
    assert "md5sum" not in document
    assert document["signatureAlgorithm"] == "SHA256withECDSA"
    data = (path.parent / "test.bin").read_bytes()
    assert verify_signature(data, document["signature"], public_pem_of(key))


def test_requests_all_flags_on(make_config) -> None:  # type: ignore[no-untyped-def]
    path = make_config(
        {
            (D, "useCustomJobDocument"): "True",
            (D, "usePresignedUrlConfig"): "True",
            (D, "useJobExecutionsRolloutConfig"): "True",
            (D, "useAbortConfig"): "True",
            (D, "useTimeoutConfig"): "True",
            (D, "targetSelection"): "CONTINUOUS",
        }
    )
    job = plan_for(path).create_job
    assert set(job) == {
        "jobId",
        "targets",
        "targetSelection",
        "document",
        "description",
        "presignedUrlConfig",
        "jobExecutionsRolloutConfig",
        "abortConfig",
        "timeoutConfig",
    }
    document = json.loads(job["document"])
    assert document["Info1"] == "123" and document["url"].startswith("${aws:iot:s3-presigned-url:")
