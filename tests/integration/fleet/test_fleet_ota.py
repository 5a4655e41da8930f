"""The simulated fleet against the real local AWS IoT: whole OTA jobs for 100 things.

Each test starts a local AWS IoT (gateway, jobs engine, S3) on free ports, registers things,
uploads an image, creates a stream and a job with boto3, runs a ``FleetThread`` and checks
what the service recorded and what every device received (md5 of the bytes it assembled).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ota_deploy.core.clock import ScaledClock
from ota_deploy.fleet.behaviour import BehaviourChooser, Fault
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.runner import FleetThread
from ota_deploy.local.server import LocalAwsIotThread

ROLE = "arn:aws:iam::123456789012:role/ota-role"
N = 100
_buckets = iter(range(1000))


@pytest.fixture(scope="module")
def image() -> bytes:
    return os.urandom(40 * 1024 + 77)


class Env:
    def __init__(self, server: LocalAwsIotThread, clients: dict[str, Any], image: bytes) -> None:
        self.server = server
        self.ep = server.endpoints
        assert self.ep is not None
        self.iot = clients["iot"]
        self.s3 = clients["s3"]
        self.image = image
        # moto's S3 state is per process: two local AWS IoTs alive at once share it
        self.bucket = f"fleet-firmware-{next(_buckets)}"
        self.things = [f"fleet-{i:03d}" for i in range(N)]
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_object(Bucket=self.bucket, Key="fw/app.bin", Body=image)
        self.arns = [self.iot.create_thing(thingName=t)["thingArn"] for t in self.things]

    def stream(self, stream_id: str = "fw-stream", file_id: int = 9) -> None:
        """Create the stream once (the env may be shared by a module's tests)."""
        if getattr(self, "_stream_made", False):
            return
        self._stream_made = True
        self.iot.create_stream(
            streamId=stream_id,
            files=[{"fileId": file_id, "s3Location": {"bucket": self.bucket, "key": "fw/app.bin"}}],
            roleArn=ROLE,
        )

    def document(self, **extra: Any) -> str:
        doc = {
            "command": "fota",
            "streamId": "fw-stream",
            "fileId": 9,
            "fileSize": len(self.image),
            "imageVer": "3",
            "md5sum": hashlib.md5(self.image).hexdigest(),
            **extra,
        }
        return json.dumps({k: v for k, v in doc.items() if v is not None})

    def fleet(self, options: FleetOptions) -> FleetThread:
        return FleetThread(
            self.things, mqtt_host=self.ep.mqtt_host, mqtt_port=self.ep.mqtt_port, options=options
        )

    def wait_done(self, job_id: str, timeout: float = 60.0) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while True:
            details = self.iot.describe_job(jobId=job_id)["job"]["jobProcessDetails"]
            if details["numberOfQueuedThings"] == details["numberOfInProgressThings"] == 0:
                return details  # type: ignore[no-any-return]
            assert time.monotonic() < deadline, f"job not finished: {details}"
            time.sleep(0.2)

    def statuses(self, job_id: str) -> dict[str, str]:
        out: dict[str, str] = {}
        pages = self.iot.get_paginator("list_job_executions_for_job").paginate(jobId=job_id)
        for page in pages:
            for e in page["executionSummaries"]:
                out[e["thingArn"].rsplit("/", 1)[1]] = e["jobExecutionSummary"]["status"]
        return out


def _clients(ep: Any) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        region_name=ep.region, aws_access_key_id="local", aws_secret_access_key="local"
    )
    cfg = Config(retries={"mode": "standard", "max_attempts": 3})
    return {
        "iot": session.client("iot", endpoint_url=ep.iot, config=cfg),
        "s3": session.client(
            "s3", endpoint_url=ep.s3, config=Config(s3={"addressing_style": "path"})
        ),
    }


@pytest.fixture(scope="module")
def env(image: bytes) -> Iterator[Env]:
    server = LocalAwsIotThread()
    server.start()
    try:
        yield Env(server, _clients(server.endpoints), image)
    finally:
        server.stop()


def _wait_results(fleet: FleetThread, n: int, timeout: float = 60.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        results = fleet.stats().results
        if len(results) >= n:
            return results
        assert time.monotonic() < deadline, f"{len(results)} of {n} devices finished"
        time.sleep(0.1)


@pytest.mark.parametrize("protocol", ["cbor", "json"])
def test_hundred_devices_download_over_mqtt_streams(env: Env, protocol: str) -> None:
    env.stream()
    with env.fleet(FleetOptions(protocol=protocol, blocks_per_request=2)) as fleet:
        env.iot.create_job(jobId=f"ota-{protocol}", targets=env.arns, document=env.document())
        results = _wait_results(fleet, N)
        details = env.wait_done(f"ota-{protocol}")
    assert details["numberOfSucceededThings"] == N
    md5 = hashlib.md5(env.image).hexdigest()
    assert sorted(r.thing for r in results) == env.things
    assert all(r.status == "SUCCEEDED" and r.transport == "mqtt" for r in results)
    assert all(r.md5_hex == md5 and r.bytes_received == len(env.image) for r in results)
    assert set(env.statuses(f"ota-{protocol}").values()) == {"SUCCEEDED"}
    detail = env.iot.describe_job_execution(jobId=f"ota-{protocol}", thingName=env.things[0])
    assert detail["execution"]["statusDetails"]["detailsMap"]["imageVer"] == "3"


def test_hundred_devices_download_from_a_presigned_url(env: Env) -> None:
    placeholder = f"${{aws:iot:s3-presigned-url:https://{env.bucket}.s3.amazonaws.com/fw/app.bin}}"
    with env.fleet(FleetOptions()) as fleet:
        env.iot.create_job(
            jobId="ota-url",
            targets=env.arns,
            document=env.document(streamId=None, url=placeholder),
            presignedUrlConfig={"roleArn": ROLE, "expiresInSec": 600},
        )
        results = _wait_results(fleet, N)
        details = env.wait_done("ota-url")
    assert details["numberOfSucceededThings"] == N
    md5 = hashlib.md5(env.image).hexdigest()
    assert all(r.status == "SUCCEEDED" and r.transport == "http" for r in results), {
        r.reason for r in results
    }
    assert all(r.md5_hex == md5 for r in results)


def _fault_run(image: bytes, options: FleetOptions) -> tuple[dict[str, str], Any]:
    """One job over a fresh local AWS IoT (time x60: 5 virtual minutes of in-progress
    timeout last 5 s); returns thing -> final execution status, and the fleet's stats."""
    server = LocalAwsIotThread(clock=ScaledClock(60.0))
    server.start()
    try:
        env = Env(server, _clients(server.endpoints), image)
        env.stream()
        with env.fleet(options) as fleet:
            env.iot.create_job(
                jobId="ota-faults",
                targets=env.arns,
                document=env.document(),
                timeoutConfig={"inProgressTimeoutInMinutes": 5},
            )
            env.wait_done("ota-faults", timeout=90)
            return env.statuses("ota-faults"), fleet.stats()
    finally:
        server.stop()


def test_fault_profiles_give_the_configured_shares_reproducibly(image: bytes) -> None:
    options = FleetOptions(
        fail_rate=0.2,
        reject_rate=0.1,
        hang_rate=0.1,
        corrupt_rate=0.05,
        seed=7,
        disconnect_rate=0.1,
    )
    first, stats = _fault_run(image[:8192], options)
    things = [f"fleet-{i:03d}" for i in range(N)]
    chooser = BehaviourChooser(options, things)  # what Fleet uses: exact shares
    picks = {t: chooser.choose(t, "ota-faults") for t in things}
    expected = {}
    for t, b in picks.items():
        if b.fault is Fault.REJECT:
            expected[t] = "REJECTED"
        elif b.fault is Fault.HANG:
            expected[t] = "TIMED_OUT"
        elif b.fault is Fault.FAIL or b.corrupt_at is not None:
            expected[t] = "FAILED"
        else:
            expected[t] = "SUCCEEDED"
    assert first == expected
    counts = {s: list(first.values()).count(s) for s in set(first.values())}
    assert counts["REJECTED"] == 10 and counts["TIMED_OUT"] == 10  # exactly 10 % each
    assert 20 <= counts["FAILED"] <= 25  # 20 % plus the corrupted downloads among the rest
    assert counts["SUCCEEDED"] == 100 - sum(v for k, v in counts.items() if k != "SUCCEEDED")
    # devices that dropped their link mid-download resumed and still finished
    droppers = [
        t
        for t, b in picks.items()
        if b.disconnect_at is not None and b.fault in (Fault.NONE, Fault.FAIL)
    ]
    assert droppers and stats.reconnects >= len(droppers)
    assert all(expected[t] == first[t] for t in droppers)
    second, _ = _fault_run(image[:8192], options)
    assert second == first  # same seed, same devices, whatever the timing


def test_device_kicked_off_by_the_gateway_reconnects_and_resumes(env: Env) -> None:
    """A second connection with a device's client id makes the gateway drop the device
    (AWS IoT's DUPLICATE_CLIENTID); the device reconnects and resumes from its bitmap."""
    import asyncio

    from ota_deploy.mqtt.client import MqttClient

    env.stream()
    things = env.things[:3]
    options = FleetOptions(slow_link_bps=20_000)  # ~2 s per device: time to interfere
    with FleetThread(
        things, mqtt_host=env.ep.mqtt_host, mqtt_port=env.ep.mqtt_port, options=options
    ) as fleet:
        env.iot.create_job(jobId="ota-kick", targets=env.arns[:3], document=env.document())
        deadline = time.monotonic() + 20  # intrude once the device is downloading, even on a
        while time.monotonic() < deadline:  # busy machine (a kick after it ends proves nothing)
            execution = env.iot.describe_job_execution(jobId="ota-kick", thingName=things[0])
            if execution["execution"]["status"] == "IN_PROGRESS":
                break
            time.sleep(0.05)
        time.sleep(0.2)

        async def intrude() -> None:
            intruder = MqttClient(things[0], host=env.ep.mqtt_host, port=env.ep.mqtt_port)
            await intruder.connect()
            await intruder.disconnect()

        asyncio.run(intrude())
        results = _wait_results(fleet, 3)
        stats = fleet.stats()
    md5 = hashlib.md5(env.image).hexdigest()
    assert [r.status for r in results] == ["SUCCEEDED"] * 3, [r.reason for r in results]
    assert all(r.md5_hex == md5 for r in results)
    kicked = next(r for r in results if r.thing == things[0])
    assert kicked.reconnects >= 1 and stats.reconnects >= 1
