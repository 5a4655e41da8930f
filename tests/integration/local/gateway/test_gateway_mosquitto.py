"""Interoperability: mosquitto_pub / mosquitto_sub / mosquitto_rr subprocesses (3.1.1 and 5)."""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto_sub") is None, reason="mosquitto-clients not installed"
)
WAIT = 15


def _sub(port: int, topic: str, version: str, count: int = 1) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", version, "-t", topic,
         "-q", "1", "-C", str(count), "-v", "-W", str(WAIT)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_subscribed(gt: Any, n: int) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if gt.call(lambda: len(gt.gateway.broker.index)) >= n:
            return
        time.sleep(0.02)
    raise AssertionError("mosquitto_sub did not subscribe")


def _pub(port: int, topic: str, message: str, version: str, qos: int = 1) -> None:
    subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", version, "-t", topic,
         "-m", message, "-q", str(qos)],
        check=True, timeout=WAIT, capture_output=True,
    )  # fmt: skip


@pytest.mark.parametrize("version", ["mqttv31", "mqttv311", "mqttv5"])
def test_mosquitto_ordinary_topic(gateway_thread: Any, version: str) -> None:
    sub = _sub(gateway_thread.port, "sensors/#", version, count=2)
    _wait_subscribed(gateway_thread, 1)
    _pub(gateway_thread.port, "sensors/a/temp", "21.5", version)
    _pub(gateway_thread.port, "sensors/b", "x", version, qos=0)
    out, err = sub.communicate(timeout=WAIT)
    assert sub.returncode == 0, err
    assert out.splitlines() == ["sensors/a/temp 21.5", "sensors/b x"]


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_reserved_topic(gateway_thread: Any, handler: Any, version: str) -> None:
    # A reply on an MQTT file delivery topic reaches that topic's subscribers (a Jobs reply
    # would reach the requester alone: mosquitto_rr below covers that round trip).
    request = "$aws/things/x/streams/s1/get/json"
    sub = _sub(gateway_thread.port, request + "/accepted", version)
    _wait_subscribed(gateway_thread, 1)
    _pub(gateway_thread.port, request, '{"clientToken":"t"}', version)
    out, err = sub.communicate(timeout=WAIT)
    assert sub.returncode == 0, err
    assert out.strip() == request + '/accepted {"CLIENTTOKEN":"T"}'
    assert handler.calls[-1][1:] == (request, b'{"clientToken":"t"}')


def test_mosquitto_rr_request_response(gateway_thread: Any) -> None:
    """mosquitto_rr (MQTT 5): subscribes to the response topic, then publishes the request."""
    done = subprocess.run(
        ["mosquitto_rr", "-h", "127.0.0.1", "-p", str(gateway_thread.port),
         "-t", "$aws/things/y/jobs/get", "-e", "$aws/things/y/jobs/get/accepted",
         "-m", "hello", "-W", str(WAIT)],
        capture_output=True, text=True, timeout=WAIT + 5,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "HELLO"
