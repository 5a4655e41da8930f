"""Byte-exact replay of what AWS's embedded C device libraries publish, through the real
reserved-topic handlers and the real local AWS IoT; the replies are checked as those libraries
read them.

The bytes below were written out by hand from the libraries' sources (read, not copied):

- aws/Jobs-for-AWS-IoT-embedded-sdk ``source/jobs.c`` (commit f092329): ``Jobs_StartNextMsg``
  writes ``{"clientToken":"`` + token + ``"}``; ``Jobs_UpdateMsg`` writes ``{"status":"`` +
  status + ``","expectedVersion":"`` + version + ``"}`` -- the version as a JSON *string* --
  and, with status details, ``","statusDetails":`` + the caller's JSON + ``}``.
- aws/aws-iot-core-mqtt-file-streams-embedded-c ``source/MQTTFileDownloader.c`` and
  ``MQTTFileDownloader_cbor.c`` (commit 73182a7): ``mqttDownloader_createGetDataBlockRequest``
  in CBOR encodes a definite map of 6 pairs in this order -- "c": "rdy", "f": file id,
  "l": block size, "o": block offset, "b": the 4 bytes of the text "MQ==" as a byte string,
  "n": blocks requested -- and in JSON writes ``{"s": 1,"f": %u,"l": %u,"o": %u,"n": %u}``.
  With ``n`` = 1 AWS sends exactly the block at ``o``: bit 0 of the bitmap's first byte
  ("M" = 0x4D) is set, and ``n`` caps the rest (``streams_protocol`` explains the rule).

Specs: https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html,
https://docs.aws.amazon.com/iot/latest/developerguide/mqtt-based-file-delivery-in-devices.html
"""

from __future__ import annotations

import json
from typing import Any

import cbor2
import pytest

from ota_deploy.core.clock import FakeClock
from ota_deploy.local.reserved.jobs_mqtt import JobsMqttHandler
from ota_deploy.local.reserved.streams_mqtt import StreamsMqttHandler

THING = "ota-demo"
STREAM = "AFR_OTA-1234"
JOBS = f"$aws/things/{THING}/jobs"
STREAMS = f"$aws/things/{THING}/streams/{STREAM}"
IMAGE = bytes((i * 7) % 251 for i in range(24 * 256 + 100))  # 25 blocks of 256, the last short
DOC = {"afr_ota": {"streamname": STREAM, "files": [{"fileid": 0, "filesize": len(IMAGE)}]}}


class Replies:
    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.items.append((topic, payload))

    def only(self) -> tuple[str, bytes]:
        assert len(self.items) == 1, self.items
        return self.items[0]


@pytest.fixture
def jobs(iot: Any, clock: FakeClock) -> JobsMqttHandler:
    iot.add_thing(THING)
    iot.add_job("ota-job-1", THING, DOC)
    return JobsMqttHandler(iot, clock)


@pytest.fixture
def streams(iot: Any) -> StreamsMqttHandler:
    iot.add_stream(STREAM, {0: ("fw-bucket", "image.bin")})
    return StreamsMqttHandler(iot, lambda bucket, key, version: IMAGE)


def publish(handler: Any, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
    assert handler.handles(topic)
    replies = Replies()
    assert handler.handle(THING, topic, payload, replies) is None
    return replies.items


async def publish_async(handler: Any, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
    assert handler.handles(topic)
    replies = Replies()
    pending = handler.handle(THING, topic, payload, replies)
    if pending is not None:
        await pending
    return replies.items


def test_start_next_with_a_client_token_then_quoted_expected_versions(jobs: Any) -> None:
    # Jobs_StartNextMsg("test", 4): the message the library's documentation shows
    [(topic, payload)] = publish(jobs, f"{JOBS}/start-next", b'{"clientToken":"test"}')
    assert topic == f"{JOBS}/start-next/accepted"
    body = json.loads(payload)
    assert body["clientToken"] == "test"
    execution = body["execution"]
    assert (execution["jobId"], execution["status"], execution["versionNumber"]) == (
        "ota-job-1",
        "IN_PROGRESS",
        2,
    )
    assert execution["jobDocument"] == DOC  # an object over MQTT, as the OTA job parser reads
    # Jobs_UpdateMsg(IN_PROGRESS, expectedVersion "2", statusDetails {"key": "value"})
    update = f"{JOBS}/ota-job-1/update"
    sent = b'{"status":"IN_PROGRESS","expectedVersion":"2","statusDetails":{"key": "value"}}'
    [(topic, payload)] = publish(jobs, update, sent)
    assert topic == f"{update}/accepted", payload
    assert set(json.loads(payload)) == {"timestamp"}  # no clientToken was sent, none echoed
    # Jobs_UpdateMsg(SUCCEEDED, expectedVersion "3"): the message the issue saw refused
    [(topic, payload)] = publish(jobs, update, b'{"status":"SUCCEEDED","expectedVersion":"3"}')
    assert topic == f"{update}/accepted", payload
    # the library's own unit tests use a version like "1.0.1": not a number, refused as AWS's
    # jobs data plane refuses a malformed member
    [(topic, payload)] = publish(jobs, update, b'{"status":"FAILED","expectedVersion":"1.0.1"}')
    assert topic == f"{update}/rejected" and json.loads(payload)["code"] == "InvalidRequest"
    # a stale quoted version is a VersionMismatch with the current state, as a number is
    [(topic, payload)] = publish(jobs, update, b'{"status":"FAILED","expectedVersion":"2"}')
    rejected = json.loads(payload)
    assert topic == f"{update}/rejected" and rejected["code"] == "VersionMismatch"
    assert rejected["executionState"]["versionNumber"] == 4
    assert rejected["executionState"]["status"] == "SUCCEEDED"


# mqttDownloader_createGetDataBlockRequest(DATA_TYPE_CBOR, fileId 0, blockSize 256,
# blockOffset 3, numberOfBlocksRequested 1), byte by byte:
CBOR_GET_BLOCK_3 = bytes.fromhex(
    "a6"  # map of 6 pairs
    "6163"
    "63726479"  # "c": "rdy"
    "6166"
    "00"  # "f": 0
    "616c"
    "190100"  # "l": 256
    "616f"
    "03"  # "o": 3
    "6162"
    "444d513d3d"  # "b": h'4D513D3D' (the text "MQ==")
    "616e"
    "01"  # "n": 1
)


async def test_cbor_get_stream_with_n_1_and_the_library_bitmap(streams: Any) -> None:
    assert cbor2.loads(CBOR_GET_BLOCK_3) == {
        "c": "rdy",
        "f": 0,
        "l": 256,
        "o": 3,
        "b": b"MQ==",
        "n": 1,
    }
    for _ in range(2):  # the first request reads S3, the second is served from the cache
        [(topic, payload)] = await publish_async(streams, f"{STREAMS}/get/cbor", CBOR_GET_BLOCK_3)
        assert topic == f"{STREAMS}/data/cbor"
        block = cbor2.loads(payload)
        assert block == {"c": "rdy", "f": 0, "l": 256, "i": 3, "p": IMAGE[768:1024]}
    # the last, short block
    last = CBOR_GET_BLOCK_3.replace(bytes.fromhex("616f03"), bytes.fromhex("616f1818"))
    [(topic, payload)] = await publish_async(streams, f"{STREAMS}/get/cbor", last)
    block = cbor2.loads(payload)
    assert (block["i"], block["l"], block["p"]) == (24, 100, IMAGE[24 * 256 :])


async def test_json_get_stream_of_the_library_and_the_pages_hex_bitmap(streams: Any) -> None:
    # the library's JSON request: stream version 1, one block, no bitmap, no client token
    sent = b'{"s": 1,"f": 0,"l": 256,"o": 2,"n": 1}'
    [(topic, payload)] = await publish_async(streams, f"{STREAMS}/get/json", sent)
    assert topic == f"{STREAMS}/data/json"
    block = json.loads(payload)
    assert (block["f"], block["i"], block["l"]) == (0, 2, 256) and "c" not in block
    # the page's example bitmap "0x130080" selects 4 blocks: bits 0, 1, 4 of 0x13 and 7 of 0x80
    sent = b'{"c":"hex","f":0,"l":256,"o":0,"b":"0x130080"}'
    replies = await publish_async(streams, f"{STREAMS}/get/json", sent)
    assert [json.loads(p)["i"] for _, p in replies] == [0, 1, 4, 23]
    sent = b'{"c":"hex","f":0,"l":256,"o":1,"n":2,"b":"0x130080"}'  # n caps the bitmap
    replies = await publish_async(streams, f"{STREAMS}/get/json", sent)
    assert [json.loads(p)["i"] for _, p in replies] == [1, 2]
    [(topic, payload)] = await publish_async(
        streams, f"{STREAMS}/get/json", b'{"c":"bad","f":0,"l":256,"b":"0xZZ"}'
    )
    assert topic == f"{STREAMS}/rejected/json"
    assert json.loads(payload) | {"m": ""} == {"o": "InvalidRequest", "m": "", "c": "bad"}
