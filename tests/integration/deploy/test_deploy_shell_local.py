"""The manual's shell workflows: main.sh --local end to end; OtaEnvBuild.sh then OtaStressStart.sh
against a running local AWS IoT reached through the standard endpoint variables (the real-AWS
code path), with a simulated device per listed thing."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clihelp_deploy import SAMPLES, SCRIPTS, cli_env, copy_samples
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from ota_deploy.aws.session import AwsClients
from ota_deploy.cli.app import app
from ota_deploy.core.clock import ScaledClock
from ota_deploy.core.thinglist import read_thing_list
from ota_deploy.wiring.local_stack import LocalStack

ROLE = "arn:aws:iam::123456789012:role/your_role"


def sh(
    script: str, args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(SCRIPTS / script), *args],
        cwd=cwd,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=180,
    )


def workdir(tmp_path: Path) -> Path:
    shutil.copy(SAMPLES / "thingsList.txt", tmp_path / "thingsList.txt")
    shutil.copy(SAMPLES / "test.bin", tmp_path / "test.bin")
    return tmp_path


@pytest.fixture(scope="module")
def running_stack() -> Iterator[tuple[LocalStack, dict[str, str]]]:
    things = read_thing_list(SAMPLES / "thingsList.txt", account="123456789012", region="us-east-1")
    stack = LocalStack(things.thing_arns, region="us-east-1", clock=ScaledClock(20))
    with stack:
        env = {
            **stack.endpoints.env(),
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }
        yield stack, env


def test_main_sh_deploys_a_signed_image_local(tmp_path: Path) -> None:
    cwd = workdir(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    (cwd / "ota-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    proc = sh(
        "main.sh",
        [
            "thingsList.txt",
            "test.bin",
            ROLE,
            "TestJob1234",
            "2",
            "TestStream1234",
            "ota-key.pem",
            "--local",
            "--time-scale",
            "20",
            "--out",
            "out",
            "--no-live",
            "--no-html",
        ],
        cwd,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (cwd / "out" / "results.csv").read_text() == "total,2\nfail,0\nsucceed,2\n"
    stream = json.loads((cwd / "create-stream.json").read_text())
    job = json.loads((cwd / "example-job.json").read_text())
    assert stream["streamId"] == job["streamId"] == "TestStream1234"
    assert job["command"] == "fota" and job["fileSize"] == 16384
    assert job["signatureAlgorithm"] and job["signature"] and "md5sum" not in job
    assert job["fileId"] == stream["files"][0]["fileId"]
    report = json.loads((cwd / "out" / "report.json").read_text())
    assert [r["job_id"] for r in report["rounds"]] == ["TestJob1234-1", "TestJob1234-2"]


def test_env_build_then_stress_start_with_file_urls(
    tmp_path: Path, running_stack: tuple[LocalStack, dict[str, str]]
) -> None:
    stack, env = running_stack
    cwd = workdir(tmp_path)
    built = sh("OtaEnvBuild.sh", ["test.bin", ROLE, "MyStreamID123", "--bucket", "ota-b"], cwd, env)
    assert built.returncode == 0, built.stdout + built.stderr
    stream = json.loads((cwd / "create-stream.json").read_text())
    key = stream["files"][0]["s3Location"]["key"]
    assert stack.target is not None
    clients = AwsClients(stack.target)
    assert clients.s3.head_object(Bucket="ota-b", Key=key)["ContentLength"] == 16384
    # A user's own job document: extra keys pass through unchanged.
    job = json.loads((cwd / "example-job.json").read_text())
    job["Info1"] = "123"
    (cwd / "my-job.json").write_text(json.dumps(job))
    proc = sh(
        "OtaStressStart.sh",
        [
            "thingsList.txt",
            "MyJobID123",
            "2",
            "file://my-job.json",
            "file://create-stream.json",
            "MyStreamID123",
            "--delay",
            "0",
            "--out",
            "out",
            "--no-live",
            "--no-html",
        ],
        cwd,
        env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (cwd / "out" / "results.csv").read_text() == "total,2\nfail,0\nsucceed,2\n"
    assert clients.iot.list_jobs()["jobs"] == []  # the stress rounds clean up by default
    assert clients.iot.list_streams()["streams"] == []


def test_stress_rejects_bad_json_with_exit_2(tmp_path: Path) -> None:
    cwd = workdir(tmp_path)
    (cwd / "job.json").write_text('{"command": "fota",}')
    (cwd / "stream.json").write_text("{}")
    proc = sh(
        "OtaStressStart.sh",
        ["thingsList.txt", "J", "1", "file://job.json", "file://stream.json", "S", "--local"],
        cwd,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "job.json" in proc.stderr and "Traceback" not in proc.stderr


def test_run_against_endpoint_variables_and_clean_up_leftovers_first(
    tmp_path: Path,
    running_stack: tuple[LocalStack, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`run` without --local (the real-AWS code path, pointed by AWS_ENDPOINT_URL_*): a run with
    cleanUpCfg False leaves its job and stream; the next run with cleanUpCfg True removes those
    leftovers with the same ids first (else CreateJob would fail) and then succeeds. The CLI
    runs in-process (CliRunner) with the variables set: two interpreter starts saved."""
    stack, env = running_stack
    assert stack.target is not None
    iot = AwsClients(stack.target).iot
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    copy_samples(tmp_path, rounds="1", jobId="Leftover7", streamId="LeftStream7", defaultDelay="0")
    first = CliRunner().invoke(app, ["run", "--out", "o1", "--no-live", "--no-html"])
    assert first.exit_code == 0, first.output
    assert [j["jobId"] for j in iot.list_jobs()["jobs"]] == ["Leftover7-1"]
    copy_samples(tmp_path, rounds="1", jobId="Leftover7", streamId="LeftStream7", cleanUpCfg="True")
    second = CliRunner().invoke(app, ["run", "--out", "o2", "--no-live", "--no-html"])
    assert second.exit_code == 0, second.output
    assert "leftover job Leftover7-1" in second.output
    assert (tmp_path / "o2" / "results.csv").read_text() == "total,1\nfail,0\nsucceed,1\n"
    assert iot.list_jobs()["jobs"] == [] and iot.list_streams()["streams"] == []
