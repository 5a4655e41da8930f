"""``fleet provision`` then ``fleet run --aws`` against ``local serve``, over mutual TLS, as a
user runs them against AWS (issue 11 §3): every step is a real subprocess of the CLI.

``local serve`` prints its endpoints and the CA of its mutual-TLS listener; the standard
``AWS_ENDPOINT_URL_*`` variables point ``fleet provision`` (CreateThing, CreateKeysAndCertificate,
CreatePolicy, AttachPolicy, AttachThingPrincipal) and ``fleet run --aws`` (DescribeEndpoint
iot:Data-ATS) at it: the same code path as against AWS, with ``--ca-file`` naming the trust
anchor AWS's Amazon Root CA would be. Twenty devices download the image and verify its md5.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ota_deploy.aws.provisioning import MANIFEST, THING_LIST

CLI = [sys.executable, "-c", "from ota_deploy.cli.app import main; main()"]
DEVICES = 20


@pytest.fixture
def local_serve(tmp_path: Path) -> Iterator[dict[str, Any]]:
    proc = subprocess.Popen(
        [*CLI, "local", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        yield json.loads(line)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _env(ep: dict[str, Any]) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL_IOT": ep["iot"],
        "AWS_ENDPOINT_URL_IOT_JOBS_DATA_PLANE": ep["jobs_data"],
        "AWS_ENDPOINT_URL_S3": ep["s3"],
        "AWS_DEFAULT_REGION": ep["region"],
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "NO_COLOR": "1",
    }


@pytest.mark.timeout(180)
def test_provisioned_fleet_downloads_over_mutual_tls(
    local_serve: dict[str, Any], tmp_path: Path
) -> None:
    ep = local_serve
    assert ep["mqtts"] and Path(ep["ca"]).is_file()
    env = _env(ep)
    out = tmp_path / "fleet"
    proc = subprocess.run(
        [*CLI, "fleet", "provision", "--count", str(DEVICES), "--prefix", "tls-sim",
         "--group", "tls-fleet", "--out", str(out)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / MANIFEST).read_text())
    assert len(manifest["devices"]) == DEVICES

    config = Config(s3={"addressing_style": "path"})
    session = boto3.session.Session(
        region_name=ep["region"], aws_access_key_id="local", aws_secret_access_key="local"
    )
    iot = session.client("iot", endpoint_url=ep["iot"])
    s3 = session.client("s3", endpoint_url=ep["s3"], config=config)
    image = os.urandom(48 * 1024 + 5)
    s3.create_bucket(Bucket="tls-fleet-fw")
    s3.put_object(Bucket="tls-fleet-fw", Key="fw.bin", Body=image)
    iot.create_stream(
        streamId="tls-stream",
        files=[{"fileId": 1, "s3Location": {"bucket": "tls-fleet-fw", "key": "fw.bin"}}],
        roleArn=f"arn:aws:iam::{ep['account']}:role/ota",
    )

    run = subprocess.Popen(
        [*CLI, "fleet", "run", "--aws", "--cert-dir", str(out), "--ca-file", ep["ca"],
         "--things", str(out / THING_LIST), "--workers", "2", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert run.stderr is not None
        ready = run.stderr.readline()
        host, port = ep["mqtts"].rsplit(":", 1)
        assert f"fleet ready: {DEVICES}/{DEVICES} devices connected to {host}:{port}" in ready
        doc = {
            "command": "fota",
            "streamId": "tls-stream",
            "fileId": 1,
            "fileSize": len(image),
            "md5sum": hashlib.md5(image).hexdigest(),
        }
        iot.create_job(jobId="tls-job", targets=[manifest["group_arn"]], document=json.dumps(doc))
        deadline = time.monotonic() + 90
        while True:
            details = iot.describe_job(jobId="tls-job")["job"]["jobProcessDetails"]
            if details["numberOfSucceededThings"] == DEVICES:
                break
            assert time.monotonic() < deadline, details
            time.sleep(0.2)
        run.send_signal(signal.SIGTERM)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, stderr
    assert "Traceback" not in stderr
    lines = stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["by_status"] == {"SUCCEEDED": DEVICES}
    assert summary["bytes_received"] == DEVICES * len(image)  # each verified by md5 to succeed
    assert sum(" tls-job SUCCEEDED " in ln for ln in lines) == DEVICES
