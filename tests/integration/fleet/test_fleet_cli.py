"""``ota-deploy fleet ...`` as a user runs it: real subprocesses against the local AWS IoT."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ota_deploy.aws.provisioning import MANIFEST, THING_LIST, Manifest, destroy, provision
from ota_deploy.aws.session import AwsClients, local_target
from ota_deploy.core.clock import FakeClock

CLI = [sys.executable, "-c", "from ota_deploy.cli.app import main; main()"]


def _cli(
    *args: str, env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=env, **kw)


def test_fleet_run_completes_a_job_and_exits_cleanly_on_sigterm(
    local_iot: Any, boto_iot: Any, boto_s3: Any, tmp_path: Path
) -> None:
    image = os.urandom(9000)
    boto_s3.create_bucket(Bucket="cli-fleet-fw")
    boto_s3.put_object(Bucket="cli-fleet-fw", Key="a.bin", Body=image)
    boto_iot.create_stream(
        streamId="cli-stream",
        files=[{"fileId": 2, "s3Location": {"bucket": "cli-fleet-fw", "key": "a.bin"}}],
        roleArn="arn:aws:iam::123456789012:role/r",
    )
    arns = [boto_iot.create_thing(thingName=f"cli-{i}")["thingArn"] for i in range(5)]
    things = tmp_path / "things.txt"
    things.write_text("# the fleet\n" + "\n".join(arns[:3]) + "\ncli-3  # bare name\ncli-4\n")
    proc = subprocess.Popen(
        [
            *CLI,
            "fleet",
            "run",
            "--things",
            str(things),
            "--mqtt",
            f"{local_iot.mqtt_host}:{local_iot.mqtt_port}",
            "--protocol",
            "json",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        ready = proc.stderr.readline()
        assert "fleet ready: 5/5" in ready, ready
        doc = {
            "command": "fota",
            "streamId": "cli-stream",
            "fileId": 2,
            "fileSize": len(image),
            "md5sum": hashlib.md5(image).hexdigest(),
        }
        boto_iot.create_job(jobId="cli-job", targets=arns, document=json.dumps(doc))
        deadline = time.monotonic() + 60
        while True:
            d = boto_iot.describe_job(jobId="cli-job")["job"]["jobProcessDetails"]
            if d["numberOfSucceededThings"] == 5:
                break
            assert time.monotonic() < deadline, d
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["by_status"] == {"SUCCEEDED": 5}
    assert summary["bytes_received"] == 5 * len(image)
    assert sum(" cli-job SUCCEEDED " in ln for ln in lines) == 5
    assert "Traceback" not in err


def test_provision_and_destroy_against_the_local_control_plane(
    local_iot: Any, boto_iot: Any, tmp_path: Path
) -> None:
    clients = AwsClients(local_target({"iot": local_iot.iot}, local_iot.region))
    out = tmp_path / "fleet"
    manifest = provision(clients, count=3, prefix="sim", group="sim-group", out_dir=out)
    names = [d.name for d in manifest.devices]
    assert names == ["sim-0000", "sim-0001", "sim-0002"]
    listed = boto_iot.list_things_in_thing_group(thingGroupName="sim-group")["things"]
    assert sorted(listed) == names
    policy = json.loads(boto_iot.get_policy(policyName="sim-fleet-policy")["policyDocument"])
    connect = policy["Statement"][0]
    assert connect["Action"] == "iot:Connect"
    assert connect["Resource"].endswith(":client/${iot:Connection.Thing.ThingName}")
    resources = [r for s in policy["Statement"][1:] for r in s["Resource"]]
    assert all("/$aws/things/${iot:Connection.Thing.ThingName}/" in r for r in resources)
    for d in manifest.devices:
        principals = boto_iot.list_thing_principals(thingName=d.name)["principals"]
        assert principals == [d.certificate_arn]
        attached = boto_iot.list_attached_policies(target=d.certificate_arn)["policies"]
        assert [p["policyName"] for p in attached] == ["sim-fleet-policy"]
        key = out / str(d.key_file)
        assert (key.stat().st_mode & 0o777) == 0o600
        assert b"BEGIN CERTIFICATE" in (out / str(d.cert_file)).read_bytes()
    assert (out / THING_LIST).read_text().splitlines() == [d.arn for d in manifest.devices]
    assert Manifest.load(out).devices == manifest.devices

    destroy(clients, out_dir=out, clock=FakeClock())
    assert boto_iot.list_things()["things"] == []
    assert boto_iot.list_thing_groups()["thingGroups"] == []
    with pytest.raises(boto_iot.exceptions.ResourceNotFoundException):
        boto_iot.get_policy(policyName="sim-fleet-policy")
    for d in manifest.devices:
        with pytest.raises(boto_iot.exceptions.ResourceNotFoundException):
            boto_iot.describe_certificate(certificateId=d.certificate_id)
    assert not (out / MANIFEST).exists() and not any(out.rglob("*.key"))


def test_provision_cli_uses_the_standard_endpoint_variable(local_iot: Any, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_IOT": local_iot.iot,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": local_iot.region,
    }
    out = tmp_path / "f"
    res = _cli(
        "fleet",
        "provision",
        "--count",
        "2",
        "--prefix",
        "c",
        "--group",
        "g",
        "--out",
        str(out),
        env=env,
    )
    assert res.returncode == 0, res.stderr
    assert "provisioned 2 things" in res.stdout
    again = _cli("fleet", "provision", "--count", "2", "--out", str(out), env=env)
    assert again.returncode == 2 and "already exists" in again.stderr
    res = _cli("fleet", "destroy", "--out", str(out), env=env)
    assert res.returncode == 0 and "destroyed 2 things" in res.stdout, res.stderr
