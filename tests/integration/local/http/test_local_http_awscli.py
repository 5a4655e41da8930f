"""The AWS CLI against the local AWS IoT, pointed only by the standard endpoint variables.

One test runs ``aws`` as subprocesses (the real thing, env wiring included). The full flow
runs the same AWS CLI code in-process through ``awscli.clidriver`` (one driver reused: a
subprocess costs ~3 s of start-up per command on a 2-core machine), with the same variables.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ota_deploy.local.contracts import LocalEndpoints

ROLE = "arn:aws:iam::123456789012:role/ota-role"


def cli_env(endpoints: LocalEndpoints) -> dict[str, str]:
    return {
        **endpoints.env(),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_PAGER": "",
    }


class AwsCli:
    """Runs AWS CLI commands in-process; returns (exit code, parsed stdout, stderr)."""

    def __init__(self) -> None:
        from awscli.clidriver import create_clidriver

        self.driver = create_clidriver()

    def __call__(self, *args: str) -> tuple[int, Any, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = self.driver.main(["--output", "json", *args])
        text = out.getvalue().strip()
        return rc, (json.loads(text) if text else None), err.getvalue()


@pytest.fixture(scope="module")
def aws(local_iot_module: LocalEndpoints) -> Iterator[AwsCli]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in cli_env(local_iot_module).items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        yield AwsCli()


def ok(result: tuple[int, Any, str]) -> Any:
    rc, out, err = result
    assert rc == 0, err
    return out


def test_aws_cli_subprocess_uses_endpoint_variables(local_iot_module: LocalEndpoints) -> None:
    exe = shutil.which("aws")
    exe_args = [sys.executable, "-m", "awscli"] if exe is None else [exe]
    env = {**os.environ, **cli_env(local_iot_module)}
    env.pop("AWS_PROFILE", None)
    procs = [
        subprocess.Popen(
            [*exe_args, "iot", "describe-endpoint", "--endpoint-type", "iot:Data-ATS"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ),
        subprocess.Popen(
            [*exe_args, "iot", "describe-job", "--job-id", "no-such-job"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ),
    ]  # fmt: skip
    (out1, err1), (_out2, err2) = (p.communicate(timeout=60) for p in procs)
    assert procs[0].returncode == 0, err1
    assert json.loads(out1)["endpointAddress"] == local_iot_module.mqtts  # the TLS listener
    assert procs[1].returncode != 0
    assert "ResourceNotFoundException" in err2


def test_aws_cli_full_flow(aws: AwsCli, tmp_path: Path) -> None:
    arns = [
        ok(aws("iot", "create-thing", "--thing-name", f"cli-{i}"))["thingArn"] for i in range(3)
    ]
    ok(aws("iot", "create-thing-group", "--thing-group-name", "cli-group"))
    ok(aws("iot", "add-thing-to-thing-group", "--thing-group-name", "cli-group",
           "--thing-name", "cli-2"))  # fmt: skip

    # Paging: --max-items gives a NextToken the next call resumes from.
    first = ok(aws("iot", "list-things", "--max-items", "2"))
    assert len(first["things"]) == 2
    rest = ok(aws("iot", "list-things", "--starting-token", first["NextToken"]))
    names = [t["thingName"] for t in first["things"] + rest["things"]]
    assert sorted(names) == ["cli-0", "cli-1", "cli-2"]

    firmware = tmp_path / "fw.bin"
    firmware.write_bytes(b"\xaa" * 2048)
    ok(aws("s3api", "create-bucket", "--bucket", "cli-bucket"))
    ok(aws("s3api", "put-object", "--bucket", "cli-bucket", "--key", "fw.bin",
           "--body", str(firmware)))  # fmt: skip
    stream = tmp_path / "create-stream.json"
    stream.write_text(json.dumps({
        "streamId": "cli-stream",
        "description": "firmware",
        "files": [{"fileId": 0, "s3Location": {"bucket": "cli-bucket", "key": "fw.bin"}}],
        "roleArn": ROLE,
    }))  # fmt: skip
    ok(aws("iot", "create-stream", "--cli-input-json", f"file://{stream}"))
    described_stream = ok(aws("iot", "describe-stream", "--stream-id", "cli-stream"))
    assert described_stream["streamInfo"]["files"][0]["s3Location"]["key"] == "fw.bin"
    dup = aws("iot", "create-stream", "--cli-input-json", f"file://{stream}")
    assert dup[0] != 0 and "ResourceAlreadyExistsException" in dup[2]

    job = {
        "jobId": "cli-job",
        "targets": arns[:2],
        "document": json.dumps({"afr_ota": {"streamname": "cli-stream", "files": []}}),
        "targetSelection": "SNAPSHOT",
        "presignedUrlConfig": {"roleArn": ROLE, "expiresInSec": 600},
        "jobExecutionsRolloutConfig": {
            "maximumPerMinute": 50,
            "exponentialRate": {
                "baseRatePerMinute": 2,
                "incrementFactor": 1.5,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 2},
            },
        },
        "abortConfig": {"criteriaList": [{
            "failureType": "ALL", "action": "CANCEL",
            "thresholdPercentage": 80.0, "minNumberOfExecutedThings": 1,
        }]},
        "timeoutConfig": {"inProgressTimeoutInMinutes": 10},
    }  # fmt: skip
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(job))
    created = ok(aws("iot", "create-job", "--cli-input-json", f"file://{job_file}"))
    assert created["jobId"] == "cli-job"
    described = ok(aws("iot", "describe-job", "--job-id", "cli-job"))["job"]
    for key in ("presignedUrlConfig", "jobExecutionsRolloutConfig", "abortConfig", "timeoutConfig"):
        assert described[key] == job[key], key
    assert described["status"] == "IN_PROGRESS"
    dup_job = aws("iot", "create-job", "--cli-input-json", f"file://{job_file}")
    assert dup_job[0] != 0 and "ResourceAlreadyExistsException" in dup_job[2]

    started = ok(aws("iot-jobs-data", "start-next-pending-job-execution", "--thing-name", "cli-0"))
    version = started["execution"]["versionNumber"]
    ok(aws("iot-jobs-data", "update-job-execution", "--job-id", "cli-job", "--thing-name",
           "cli-0", "--status", "SUCCEEDED", "--expected-version", str(version)))  # fmt: skip
    again = aws("iot-jobs-data", "update-job-execution", "--job-id", "cli-job",
                "--thing-name", "cli-0", "--status", "IN_PROGRESS")  # fmt: skip
    assert again[0] != 0 and "InvalidStateTransitionException" in again[2]
    busy = aws("iot", "delete-job", "--job-id", "cli-job")
    assert busy[0] != 0 and "InvalidStateTransitionException" in busy[2]
    executions = ok(aws("iot", "list-job-executions-for-job", "--job-id", "cli-job"))
    statuses = sorted(s["jobExecutionSummary"]["status"] for s in executions["executionSummaries"])
    assert statuses == ["QUEUED", "SUCCEEDED"]
