"""Hostile payloads over a real MQTT connection (paho, loopback): a 60,000-level JSON request
on the Jobs topics and on the file-delivery topics, and a 60,000-level CBOR one, are each
answered ``rejected`` with AWS's code, and the same connection then runs a normal request."""

from __future__ import annotations

import json
from typing import Any

import cbor2

LEVELS = 60_000


def test_deep_requests_are_rejected_and_the_connection_stays(ota: Any, device: Any) -> None:
    jobs = f"$aws/things/{ota.thing}/jobs"
    deep = b'{"clientToken": "t", "x": ' + b"[" * LEVELS + b"]" * LEVELS + b"}"
    device.publish(f"{jobs}/get", deep)
    topic, payload = device.next()
    assert topic == f"{jobs}/get/rejected"
    assert json.loads(payload)["code"] == "InvalidJson"

    streams = f"$aws/things/{ota.thing}/streams/{ota.stream_id}"
    device.subscribe(f"{streams}/rejected/#")
    device.publish(f"{streams}/get/json", deep)
    topic, payload = device.next()
    assert topic == f"{streams}/rejected/json"
    assert json.loads(payload)["o"] == "InvalidJson"
    device.publish(f"{streams}/get/cbor", b"\xa1\x61x" + b"\x81" * (LEVELS - 1) + b"\x80")
    topic, payload = device.next()
    assert topic == f"{streams}/rejected/cbor"
    assert cbor2.loads(payload)["o"] == "InvalidCbor"

    outcome, body = device.request(f"{jobs}/get", {"clientToken": "after"})
    assert outcome == "accepted" and body["clientToken"] == "after"
    assert [j["jobId"] for j in body["queuedJobs"]] == [ota.job_id]
