"""The monitor against a real local AWS IoT: JobPoller over boto3, `monitor --once --json` as a
subprocess, and the MQTT watcher seeing a real MQTT stream download and job-execution events."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from ota_deploy.core.clock import SystemClock
from ota_deploy.local.contracts import LocalEndpoints
from ota_deploy.monitor.events import MqttWatcher
from ota_deploy.monitor.poller import JobPoller


def _make_job(iot: Any, job_id: str, n: int, prefix: str = "dev") -> list[str]:
    arns = [iot.create_thing(thingName=f"{prefix}-{i}")["thingArn"] for i in range(n)]
    iot.create_job(jobId=job_id, targets=arns, document=json.dumps({"command": "fota"}))
    return [a.rsplit("/", 1)[1] for a in arns]


def test_poller_follows_real_job(boto_iot: Any, boto_jobs_data: Any) -> None:
    names = _make_job(boto_iot, "Mon-1", 3)
    poller = JobPoller(boto_iot, "Mon-1", clock=SystemClock(), details_budget=5)
    snap = poller.poll()
    assert snap.job_status == "IN_PROGRESS"
    assert snap.counts["QUEUED"] == 3
    assert {t.status for t in snap.things.values()} == {"QUEUED"}
    boto_jobs_data.update_job_execution(
        jobId="Mon-1", thingName=names[0], status="IN_PROGRESS", statusDetails={"progress": "50%"}
    )
    boto_jobs_data.update_job_execution(jobId="Mon-1", thingName=names[1], status="IN_PROGRESS")
    boto_jobs_data.update_job_execution(
        jobId="Mon-1", thingName=names[1], status="FAILED", statusDetails={"reason": "md5"}
    )
    snap = poller.poll()
    assert snap.things[names[0]].status == "IN_PROGRESS"
    assert snap.things[names[0]].status_details == {"progress": "50%"}
    assert snap.things[names[1]].status == "FAILED"
    assert snap.things[names[1]].status_details == {"reason": "md5"}
    assert snap.counts["FAILED"] == 1 and snap.counts["QUEUED"] == 1
    calls_before = poller.api_calls
    snap = poller.poll()  # nothing moved: just DescribeJob
    assert poller.api_calls - calls_before == 1


def test_monitor_once_json_subprocess(local_iot: LocalEndpoints, boto_iot: Any) -> None:
    names = _make_job(boto_iot, "Cli-1", 4)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ota_deploy.cli.app import main; main()",
            "monitor",
            "--job-id",
            "Cli-1",
            "--once",
            "--json",
            "--local-endpoints",
            json.dumps(local_iot.to_json_dict()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # exactly one JSON document
    assert doc["job"]["jobId"] == "Cli-1"
    assert doc["job"]["status"] == "IN_PROGRESS"
    assert doc["counts"]["QUEUED"] == 4
    assert sorted(doc["things"]) == sorted(names)
    assert doc["apiCalls"] >= 2


def test_monitor_unknown_job_and_bad_endpoints(local_iot: LocalEndpoints, tmp_path: Any) -> None:
    base = [sys.executable, "-c", "from ota_deploy.cli.app import main; main()", "monitor"]
    proc = subprocess.run(
        [*base, "--job-id", "Nope", "--once", "--json", "--local-endpoints",
         json.dumps(local_iot.to_json_dict())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["job"]["status"] == "NOT_FOUND"
    proc = subprocess.run(
        [*base, "--job-id", "X", "--once", "--local-endpoints", "{not json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--local-endpoints" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [*base, "-c", str(tmp_path / "missing.ini"), "--once"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "missing.ini" in proc.stderr and "Traceback" not in proc.stderr


def _wait(cond: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def _download(host: str, port: int, thing: str, stream: str, blocks: int) -> int:
    from ota_deploy.mqtt.client import MqttClient

    async with MqttClient(thing, host=host, port=port) as dev:
        base = f"$aws/things/{thing}/streams/{stream}"
        await dev.subscribe([(f"{base}/description/json", 0), (f"{base}/data/json", 0)])
        await dev.publish(f"{base}/describe/json", json.dumps({"c": "d1"}).encode())
        desc = await asyncio.wait_for(dev.messages.get(), 10)
        version = json.loads(desc.payload)["s"]
        req = {"c": "g1", "s": version, "f": 0, "l": 256, "o": 0, "n": blocks}
        await dev.publish(f"{base}/get/json", json.dumps(req).encode())
        got = 0
        while got < blocks:
            msg = await asyncio.wait_for(dev.messages.get(), 10)
            assert msg.topic.endswith("/data/json"), msg.topic
            got += 1
        return got


def test_watcher_counts_blocks_and_events(
    local_iot: LocalEndpoints, boto_iot: Any, boto_jobs_data: Any, boto_s3: Any
) -> None:
    boto_iot.update_event_configurations(
        eventConfigurations={"JOB": {"Enabled": True}, "JOB_EXECUTION": {"Enabled": True}}
    )
    boto_s3.create_bucket(Bucket="monitor-fw")
    boto_s3.put_object(
        Bucket="monitor-fw", Key="fw.bin", Body=bytes(range(256)) * 8
    )  # 8 blocks of 256
    boto_iot.create_stream(
        streamId="S1",
        files=[{"fileId": 0, "s3Location": {"bucket": "monitor-fw", "key": "fw.bin"}}],
        roleArn="arn:aws:iam::123456789012:role/ota-role",
    )
    (thing,) = _make_job(boto_iot, "Ev-1", 1, prefix="watch")
    watcher = MqttWatcher(local_iot.mqtt_host, local_iot.mqtt_port, client_id="test-monitor")
    watcher.start()
    try:
        assert watcher.connected
        got = asyncio.run(_download(local_iot.mqtt_host, local_iot.mqtt_port, thing, "S1", 8))
        assert got == 8
        _wait(lambda: watcher.tracker.devices.get(thing, None) is not None
              and watcher.tracker.devices[thing].blocks == 8, "8 blocks seen")  # fmt: skip
        boto_jobs_data.update_job_execution(jobId="Ev-1", thingName=thing, status="IN_PROGRESS")
        boto_jobs_data.update_job_execution(
            jobId="Ev-1", thingName=thing, status="FAILED", statusDetails={"reason": "test"}
        )
        _wait(lambda: watcher.tracker.devices[thing].status == "FAILED", "jobExecution event")
        snap = JobPoller(boto_iot, "Ev-1", clock=SystemClock()).poll()
        merged = watcher.merge(snap)
        assert merged.things[thing].blocks_received == 8
        assert merged.things[thing].status == "FAILED"
        assert merged.things[thing].status_details == {"reason": "test"}
        assert merged.things[thing].last_activity_at is not None
    finally:
        watcher.stop()


def test_watcher_start_fails_clearly_without_broker() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    watcher = MqttWatcher("127.0.0.1", port, connect_timeout=2)
    try:
        watcher.start()
    except ConnectionError as err:
        assert f"127.0.0.1:{port}" in str(err)
    else:
        raise AssertionError("connected to nothing")


def test_monitor_with_dev_ini_picks_latest_round(
    local_iot: LocalEndpoints, boto_iot: Any, tmp_path: Any
) -> None:
    from ota_deploy.cli.demo import demo_thing_names, write_demo_folder

    ini = write_demo_folder(tmp_path, devices=3, rounds=5, seed=1)
    names = demo_thing_names(3)
    arns = [boto_iot.create_thing(thingName=n)["thingArn"] for n in names]
    for job_id, targets in (("OtaDemoJob-1", arns), ("OtaDemoJob-2", arns[:2])):
        boto_iot.create_job(jobId=job_id, targets=targets, document="{}")
    proc = subprocess.run(
        [sys.executable, "-c", "from ota_deploy.cli.app import main; main()", "monitor",
         "-c", str(ini), "--once", "--json", "--local-endpoints",
         json.dumps(local_iot.to_json_dict())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["job"]["jobId"] == "OtaDemoJob-2"
    assert doc["things"][names[0]]["status"] == "QUEUED"
    assert doc["things"][names[2]]["status"] == "NONE"  # listed in thingsList.txt, not targeted


def test_monitor_live_plain_lines_with_local_mqtt(
    local_iot_server: Any, local_iot: LocalEndpoints, boto_iot: Any
) -> None:
    import signal

    _make_job(boto_iot, "Live-1", 2, prefix="plain")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ota_deploy.cli.app import main; main()", "monitor",
         "--job-id", "Live-1", "--interval", "0.2", "--local-endpoints",
         json.dumps(local_iot.to_json_dict())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("job Live-1 IN_PROGRESS: QUEUED=2"), line
        # The monitor's MQTT watcher (from --local-endpoints' "mqtt") is connected.
        _wait(
            lambda: (
                "ota-deploy-monitor"
                in local_iot_server.call_in_loop(local_iot_server.gateway.connected_clients)
            ),
            "the watcher's MQTT connection",
        )
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
