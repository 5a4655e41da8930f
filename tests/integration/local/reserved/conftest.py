"""Fixtures for the reserved-topic interop tests: a thing, a firmware image in S3, a stream
and a job, all created through boto3 against the real local AWS IoT (``local_iot`` fixtures)."""

from __future__ import annotations

import hashlib
import itertools
import json
import queue
import random
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

ROLE_ARN = "arn:aws:iam::123456789012:role/ota-stream-role"
BUCKET = "ota-firmware"


@dataclass
class OtaSetup:
    thing: str
    job_id: str
    stream_id: str
    firmware: bytes
    mqtt_host: str
    mqtt_port: int
    clients: dict[str, Any]

    @property
    def md5(self) -> str:
        return hashlib.md5(self.firmware).hexdigest()


def create_ota(
    clients: dict[str, Any],
    endpoints: Any,
    *,
    thing: str,
    job_id: str,
    stream_id: str,
    size: int = 50_000,
    seed: int = 7,
) -> OtaSetup:
    iot, s3 = clients["iot"], clients["s3"]
    firmware = random.Random(seed).randbytes(size)
    arn = iot.create_thing(thingName=thing)["thingArn"]
    if BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=BUCKET)
    key = f"{stream_id}/firmware.bin"
    s3.put_object(Bucket=BUCKET, Key=key, Body=firmware)
    iot.create_stream(
        streamId=stream_id,
        description="test firmware",
        files=[{"fileId": 0, "s3Location": {"bucket": BUCKET, "key": key}}],
        roleArn=ROLE_ARN,
    )
    document = {
        "afr_ota": {
            "streamname": stream_id,
            "files": [{"filepath": "/fw.bin", "filesize": size, "fileid": 0}],
        }
    }
    iot.create_job(jobId=job_id, targets=[arn], document=json.dumps(document))
    return OtaSetup(
        thing, job_id, stream_id, firmware, endpoints.mqtt_host, endpoints.mqtt_port, clients
    )


_serial = itertools.count(1)


@pytest.fixture
def ota(local_iot_module: Any, make_clients: Any) -> OtaSetup:
    """A fresh thing, stream and job (unique names) on this module's local AWS IoT."""
    n = next(_serial)
    return create_ota(
        make_clients(local_iot_module),
        local_iot_module,
        thing=f"dev-{n}",
        job_id=f"job-{n}",
        stream_id=f"fw-{n}",
    )


class PahoDevice:
    """A paho-mqtt client (client id = thing name) with a queue of received messages."""

    def __init__(self, thing: str, host: str, port: int) -> None:
        self.thing = thing
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=thing, protocol=paho.MQTTv311
        )
        self.client.on_message = lambda c, u, msg: self.messages.put((msg.topic, msg.payload))
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        deadline = time.monotonic() + 10
        while not self.client.is_connected():
            assert time.monotonic() < deadline, "paho did not connect"
            time.sleep(0.01)

    def subscribe(self, topic: str) -> None:
        done: queue.Queue[bool] = queue.Queue()
        self.client.on_subscribe = lambda *a: done.put(True)
        self.client.subscribe(topic, qos=1)
        done.get(timeout=10)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)

    def next(self, timeout: float = 10.0) -> tuple[str, bytes]:
        return self.messages.get(timeout=timeout)

    def request(self, topic: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Publish a JSON request; return the accepted/rejected reply (topic, parsed body)."""
        self.publish(topic, json.dumps(body).encode())
        reply_topic, payload = self.next()
        assert reply_topic in (f"{topic}/accepted", f"{topic}/rejected"), reply_topic
        return reply_topic.rsplit("/", 1)[1], json.loads(payload)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def device(ota: OtaSetup) -> Any:
    dev = PahoDevice(ota.thing, ota.mqtt_host, ota.mqtt_port)
    try:
        yield dev
    finally:
        dev.close()
