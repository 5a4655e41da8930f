"""mosquitto's command-line clients against the reserved topics of the local AWS IoT:
``mosquitto_rr`` publishes a Jobs request and reads the answer on ``.../jobs/get/accepted`` on
the same connection (Jobs replies go to the requesting client only: "These response messages
don't pass through the message broker and can't be subscribed to by other clients",
https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html), and
``mosquitto_pub`` of a DescribeStream request is answered to a ``mosquitto_sub`` of
``.../description/json``."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto_sub") is None, reason="mosquitto-clients is not installed"
)


class Sub:
    """``mosquitto_sub -C 1``: exits after the first message. Its stdout is block-buffered on a
    pipe, so when it has subscribed is not observable: requests are repeated until it exits."""

    def __init__(self, host: str, port: int, topic: str, client_id: str) -> None:
        self.proc = subprocess.Popen(
            [
                "mosquitto_sub",
                "-h",
                host,
                "-p",
                str(port),
                "-i",
                client_id,
                "-q",
                "1",
                "-t",
                topic,
                "-C",
                "1",
                "-W",
                "30",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def message_after(self, publish: Callable[[], None]) -> dict[str, Any]:
        for _ in range(40):
            publish()
            try:
                out, _ = self.proc.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            raise AssertionError("mosquitto_sub received nothing")
        assert self.proc.returncode == 0, out
        doc: dict[str, Any] = json.loads(out.strip().splitlines()[0])
        return doc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def subs() -> Iterator[list[Sub]]:
    made: list[Sub] = []
    yield made
    for sub in made:
        sub.kill()


def _pub(host: str, port: int, topic: str, message: str) -> None:
    subprocess.run(
        [
            "mosquitto_pub",
            "-h",
            host,
            "-p",
            str(port),
            "-i",
            "cli-pub",
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            message,
        ],
        check=True,
        timeout=30,
        capture_output=True,
    )


def test_mosquitto_jobs_get(ota: Any) -> None:
    topic = f"$aws/things/{ota.thing}/jobs/get"
    out = subprocess.run(
        [
            "mosquitto_rr",
            "-h",
            ota.mqtt_host,
            "-p",
            str(ota.mqtt_port),
            "-i",
            "cli-rr",
            "-q",
            "1",
            "-t",
            topic,
            "-e",
            f"{topic}/accepted",
            "-m",
            '{"clientToken": "from-mosquitto"}',
            "-W",
            "30",
        ],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    body = json.loads(out.strip().splitlines()[0])
    assert body["clientToken"] == "from-mosquitto"
    assert [j["jobId"] for j in body["queuedJobs"]] == [ota.job_id]
    assert isinstance(body["timestamp"], int)


def test_mosquitto_describe_stream_and_rejection(ota: Any, subs: list[Sub]) -> None:
    base = f"$aws/things/{ota.thing}/streams/{ota.stream_id}"
    sub = Sub(ota.mqtt_host, ota.mqtt_port, f"{base}/description/json", "cli-sub-1")
    subs.append(sub)
    describe = '{"c": "m1"}'
    assert sub.message_after(
        lambda: _pub(ota.mqtt_host, ota.mqtt_port, f"{base}/describe/json", describe)
    ) == {
        "c": "m1",
        "s": 1,
        "d": "test firmware",
        "r": [{"f": 0, "z": len(ota.firmware)}],
    }
    sub = Sub(ota.mqtt_host, ota.mqtt_port, f"{base}/rejected/json", "cli-sub-2")
    subs.append(sub)
    reply = sub.message_after(
        lambda: _pub(ota.mqtt_host, ota.mqtt_port, f"{base}/get/json", "not json")
    )
    assert reply["o"] == "InvalidJson"
