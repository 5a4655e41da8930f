"""A whole OTA job driven by a paho-mqtt device against the real local AWS IoT: start-next,
IN_PROGRESS, the firmware downloaded over MQTT file delivery (CBOR and JSON, offset/count and
bitmap requests), md5 verified, SUCCEEDED, and the control plane agreeing (boto3)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import cbor2

from ota_deploy.local.reserved.streams_codec import make_bitmap

BLOCK = 4096


def _download_cbor(device: Any, stream: str, size: int) -> bytes:
    """Bitmap-driven, like AWS's OTA agent: the whole missing-block bitmap, o = 0, n = 4."""
    base = f"$aws/things/{device.thing}/streams/{stream}"
    total = -(-size // BLOCK)
    blocks: dict[int, bytes] = {}
    rounds = 0
    while len(blocks) < total:
        rounds += 1
        missing = [i for i in range(total) if i not in blocks]
        request = {
            "c": f"r{rounds}",
            "s": 1,
            "f": 0,
            "l": BLOCK,
            "o": 0,
            "n": 4,
            "b": make_bitmap(missing),
        }
        device.publish(f"{base}/get/cbor", cbor2.dumps(request))
        for _ in range(min(4, len(missing))):
            topic, payload = device.next()
            assert topic == f"{base}/data/cbor"
            msg = cbor2.loads(payload)
            assert msg["c"] == f"r{rounds}" and msg["f"] == 0
            assert msg["l"] == len(msg["p"])
            assert msg["i"] in missing[:4]
            blocks[msg["i"]] = msg["p"]
    assert rounds == -(-total // 4)
    return b"".join(blocks[i] for i in range(total))


def _download_json(device: Any, stream: str, size: int) -> bytes:
    """Offset + count requests of 16 KiB (4 blocks of 4 KiB)."""
    base = f"$aws/things/{device.thing}/streams/{stream}"
    total = -(-size // BLOCK)
    out = bytearray()
    for offset in range(0, total, 4):
        body = {"c": f"o{offset}", "f": 0, "l": BLOCK, "o": offset, "n": 4}
        device.publish(f"{base}/get/json", json.dumps(body).encode())
        for expected in range(offset, min(total, offset + 4)):
            topic, payload = device.next()
            assert topic == f"{base}/data/json"
            msg = json.loads(payload)
            assert msg["i"] == expected
            data = base64.b64decode(msg["p"])
            assert msg["l"] == len(data)
            out += data
    return bytes(out)


def test_paho_device_runs_a_whole_ota_job(ota: Any, device: Any) -> None:
    jobs = f"$aws/things/{ota.thing}/jobs"
    streams = f"$aws/things/{ota.thing}/streams/{ota.stream_id}"

    kind, body = device.request(f"{jobs}/get", {"clientToken": "list"})
    assert kind == "accepted", body
    assert [j["jobId"] for j in body["queuedJobs"]] == [ota.job_id]
    assert body["inProgressJobs"] == []

    kind, body = device.request(
        f"{jobs}/start-next", {"clientToken": "start", "statusDetails": {"step": "start"}}
    )
    assert kind == "accepted", body
    execution = body["execution"]
    assert execution["jobId"] == ota.job_id and execution["status"] == "IN_PROGRESS"
    document = execution["jobDocument"]
    assert isinstance(document, dict)  # an object over MQTT
    assert document["afr_ota"]["streamname"] == ota.stream_id
    version = execution["versionNumber"]

    kind, body = device.request(
        f"{jobs}/{ota.job_id}/update",
        {
            "status": "IN_PROGRESS",
            "statusDetails": {"progress": "0%"},
            "expectedVersion": version,
            "includeJobExecutionState": True,
        },
    )
    assert kind == "accepted", body
    version = body["executionState"]["versionNumber"]
    assert body["executionState"]["statusDetails"] == {"progress": "0%"}

    # A stale expectedVersion is refused with the current state.
    kind, body = device.request(
        f"{jobs}/{ota.job_id}/update",
        {"status": "IN_PROGRESS", "expectedVersion": version - 1, "clientToken": "stale"},
    )
    assert kind == "rejected"
    assert body["code"] == "VersionMismatch" and body["clientToken"] == "stale"
    assert body["executionState"]["versionNumber"] == version

    # DescribeStream in both formats.
    device.publish(f"{streams}/describe/cbor", cbor2.dumps({"c": "d1"}))
    topic, payload = device.next()
    assert topic == f"{streams}/description/cbor"
    desc = cbor2.loads(payload)
    assert desc == {
        "c": "d1",
        "s": 1,
        "d": "test firmware",
        "r": [{"f": 0, "z": len(ota.firmware)}],
    }
    device.publish(f"{streams}/describe/json", b'{"c": "d2"}')
    topic, payload = device.next()
    assert topic == f"{streams}/description/json"
    assert json.loads(payload)["r"] == [{"f": 0, "z": len(ota.firmware)}]

    cbor_bytes = _download_cbor(device, ota.stream_id, len(ota.firmware))
    assert hashlib.md5(cbor_bytes).hexdigest() == ota.md5
    json_bytes = _download_json(device, ota.stream_id, len(ota.firmware))
    assert json_bytes == ota.firmware
    # A JSON bitmap re-request (base64 "b"), relative to o: blocks 9 and 12 (the short one).
    bitmap = base64.b64encode(make_bitmap([9, 12], 8)).decode()
    device.publish(
        f"{streams}/get/json",
        json.dumps({"c": "re", "f": 0, "l": BLOCK, "o": 8, "n": 5, "b": bitmap}).encode(),
    )
    for index in (9, 12):
        topic, payload = device.next()
        msg = json.loads(payload)
        assert (topic, msg["i"], msg["c"]) == (f"{streams}/data/json", index, "re")
        assert base64.b64decode(msg["p"]) == ota.firmware[index * BLOCK : (index + 1) * BLOCK]

    # Rejections come back on rejected/<format>.
    device.publish(f"{streams}/get/cbor", cbor2.dumps({"c": "bad", "s": 9, "f": 0, "l": BLOCK}))
    topic, payload = device.next()
    assert topic == f"{streams}/rejected/cbor"
    assert cbor2.loads(payload)["o"] == "VersionMismatch"
    device.publish(f"{streams}/get/json", b'{"c": "small", "f": 0, "l": 100}')
    topic, payload = device.next()
    assert topic == f"{streams}/rejected/json"
    assert json.loads(payload) == {
        "o": "BlockSizeOutOfBounds",
        "m": json.loads(payload)["m"],
        "c": "small",
    }

    kind, body = device.request(
        f"{jobs}/{ota.job_id}/update",
        {
            "status": "SUCCEEDED",
            "statusDetails": {"md5": ota.md5},
            "expectedVersion": version,
            "includeJobExecutionState": True,
            "clientToken": "done",
        },
    )
    assert kind == "accepted", body
    assert body["executionState"]["status"] == "SUCCEEDED"
    assert body["clientToken"] == "done"

    # Terminal now: another update is an invalid state transition, carrying the state.
    kind, body = device.request(f"{jobs}/{ota.job_id}/update", {"status": "IN_PROGRESS"})
    assert kind == "rejected"
    assert body["code"] == "InvalidStateTransition"
    assert body["executionState"]["status"] == "SUCCEEDED"

    described = ota.clients["iot"].describe_job_execution(jobId=ota.job_id, thingName=ota.thing)
    assert described["execution"]["status"] == "SUCCEEDED"
    assert described["execution"]["statusDetails"]["detailsMap"] == {"md5": ota.md5}

    kind, body = device.request(f"{jobs}/start-next", {})
    assert kind == "accepted" and "execution" not in body


def test_update_stream_is_visible_over_mqtt(ota: Any, device: Any) -> None:
    streams = f"$aws/things/{ota.thing}/streams/{ota.stream_id}"
    ota.clients["iot"].update_stream(streamId=ota.stream_id, description="v2")
    device.publish(f"{streams}/describe/json", b"{}")
    topic, payload = device.next()
    assert topic == f"{streams}/description/json"
    assert json.loads(payload)["s"] == 2 and json.loads(payload)["d"] == "v2"
    device.publish(f"{streams}/get/json", b'{"s": 1, "f": 0, "l": 1024, "n": 1}')
    topic, payload = device.next()
    assert json.loads(payload)["o"] == "VersionMismatch"
    device.publish(f"{streams}/get/json", b'{"s": 2, "f": 0, "l": 1024, "n": 1}')
    topic, payload = device.next()
    assert topic == f"{streams}/data/json"
    assert base64.b64decode(json.loads(payload)["p"]) == ota.firmware[:1024]


def test_unknown_thing_and_stream(ota: Any, device: Any) -> None:
    kind, body = device.request("$aws/things/nobody/jobs/get", {"clientToken": "x"})
    assert kind == "rejected" and body["code"] == "ResourceNotFound"
    base = f"$aws/things/{ota.thing}/streams/missing"
    device.publish(f"{base}/describe/cbor", cbor2.dumps({"c": "m"}))
    topic, payload = device.next()
    assert topic == f"{base}/rejected/cbor"
    assert cbor2.loads(payload) == {
        "o": "ResourceNotFound",
        "m": cbor2.loads(payload)["m"],
        "c": "m",
    }


def test_subscribed_requester_gets_each_reply_once(ota: Any, device: Any) -> None:
    """Devices (like AWS's OTA agent) often subscribe to the accepted topics they also get
    unsolicited: each reply must still arrive once."""
    jobs = f"$aws/things/{ota.thing}/jobs"
    device.subscribe(f"{jobs}/get/accepted")
    device.subscribe(f"$aws/things/{ota.thing}/streams/{ota.stream_id}/data/#")
    for token in ("one", "two"):
        kind, body = device.request(f"{jobs}/get", {"clientToken": token})
        assert (kind, body["clientToken"]) == ("accepted", token)
    base = f"$aws/things/{ota.thing}/streams/{ota.stream_id}"
    for block in (0, 1):
        device.publish(f"{base}/get/cbor", cbor2.dumps({"f": 0, "l": BLOCK, "o": block, "n": 1}))
        topic, payload = device.next()
        assert topic == f"{base}/data/cbor" and cbor2.loads(payload)["i"] == block
