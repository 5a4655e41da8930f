"""The device agent driven through whole OTA flows against the real local AWS IoT in memory.

Each test pairs the real ``DeviceAgent`` with the real reserved-topic handlers and a real
``LocalIotService`` on a fake clock (``tests/support/device_pair.py``); faults are thin
interception on the message path (lost or rejected requests) or real service operations.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.support.device_pair import BUCKET, PRESIGN, S3_ENDPOINT, DevicePair

from ota_deploy.fleet.behaviour import BehaviourChooser, Fault, choose_behaviour
from ota_deploy.fleet.events import HttpCompleted, HttpGet, MessageReceived, Publish
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.verify import load_public_key

IMAGE = os.urandom(10_000)  # 3 blocks of 4096 (last one short)


def doc(image: bytes = IMAGE, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "command": "fota",
        "streamId": "s1",
        "fileId": 7,
        "fileSize": len(image),
        "imageVer": "2",
        "md5sum": hashlib.md5(image).hexdigest(),
    }
    d.update(extra)
    return {k: v for k, v in d.items() if v is not None}


def setup(image: bytes = IMAGE, **opts: Any) -> DevicePair:
    h = DevicePair("dev-1", FleetOptions(**opts))
    h.add_stream("s1", {7: image})
    return h


def updates(h: DevicePair) -> list[dict[str, Any]]:
    return h.requests("UpdateJobExecution")


@pytest.mark.parametrize("protocol", ["cbor", "json"])
def test_downloads_verifies_and_succeeds(protocol: str) -> None:
    h = setup(protocol=protocol, progress_every_pct=25)
    h.connect()
    assert any("$aws/things/dev-1/jobs/notify-next" in t for t in h.subscriptions[0])
    ex = h.add_job("job1", doc())
    h.run()
    assert ex.status == "SUCCEEDED"
    [res] = h.finished
    assert res.status == "SUCCEEDED" and res.md5_hex == hashlib.md5(IMAGE).hexdigest()
    assert res.bytes_received == len(IMAGE) and res.transport == "mqtt"
    assert [r["o"] for r in h.stream_requests()] == [0, 1, 2]
    assert all(r["l"] == 4096 and r["f"] == 7 and r["s"] == 1 for r in h.stream_requests())
    ups = updates(h)
    # every update carries the version the service holds; progress is modest
    assert [u["expectedVersion"] for u in ups] == list(range(2, 2 + len(ups)))
    assert ups[-1]["status"] == "SUCCEEDED" and ups[-1]["statusDetails"]["imageVer"] == "2"
    assert 2 <= len(ups) <= 5
    assert ex.details["progress"] == "100%"


def test_goes_on_to_the_next_job() -> None:
    h = setup()
    h.connect()
    a = h.add_job("a", doc())
    b = h.add_job("b", doc())
    h.run()
    assert (a.status, b.status) == ("SUCCEEDED", "SUCCEEDED")
    assert [r.job_id for r in h.finished] == ["a", "b"]


def test_bitmap_rerequests_only_missing_blocks() -> None:
    image = os.urandom(4096 * 8)
    h = setup(image, blocks_per_request=4, request_timeout_sec=5)
    h.connect()
    h.add_job("j", doc(image))
    data: list[str] = []

    def lossy(topic: str, payload: bytes) -> bool:  # lose blocks 1 and 2 of the first window
        if "/data/" in topic:
            data.append(topic)
        return len(data) not in (2, 3)

    h.reply_filter = lossy
    h.run()
    assert h.finished[0].status == "SUCCEEDED"
    reqs = h.stream_requests()
    assert reqs[0]["o"] == 0 and reqs[0]["n"] == 4 and reqs[0]["b"] == b"\x0f"
    # the window re-starts at the first hole; block 3 (held) is not asked again
    assert reqs[1]["o"] == 1 and reqs[1]["n"] == 4 and reqs[1]["b"] == b"\x0b"
    assert reqs[2]["o"] == 5 and reqs[2]["b"] == b"\x07"


def test_request_timeout_retries_then_succeeds() -> None:
    h = setup(request_timeout_sec=10, max_retries=3)
    h.lose("GetStream", 3)
    h.connect()
    h.add_job("j", doc())
    start = h.clock.now()
    h.run()
    assert h.finished[0].status == "SUCCEEDED"
    assert h.clock.now() - start >= 30  # three request timeouts elapsed
    assert h.finished[0].requests == 3 + 3


def test_gives_up_after_max_retries_with_reason() -> None:
    h = setup(request_timeout_sec=1, max_retries=2)
    h.lose("GetStream", 100)
    h.connect()
    ex = h.add_job("j", doc())
    h.run()
    assert ex.status == "FAILED"
    assert "no response to GetStream after 3 attempts" in ex.details["reason"]


def test_stream_rejection_fails_with_code() -> None:
    h = setup()
    h.reject("GetStream", "BlockSizeOutOfBounds", 100)
    h.connect()
    ex = h.add_job("j", doc())
    h.run()
    assert ex.status == "FAILED" and "BlockSizeOutOfBounds" in ex.details["reason"]


def test_missing_stream_fails() -> None:
    h = setup()
    h.connect()
    ex = h.add_job("j", doc(streamId="nope"))
    h.run()
    assert ex.status == "FAILED" and "ResourceNotFound" in ex.details["reason"]


def test_reject_profile_rejects_without_downloading() -> None:
    h = setup(reject_rate=1.0)
    h.connect()
    ex = h.add_job("j", doc())
    h.run()
    assert ex.status == "REJECTED" and "reject" in ex.details["reason"]
    assert h.stream_requests() == [] and h.finished[0].bytes_received == 0


def test_fail_profile_downloads_then_fails() -> None:
    h = setup(fail_rate=1.0)
    h.connect()
    ex = h.add_job("j", doc())
    h.run()
    assert ex.status == "FAILED" and "simulated install failure" in ex.details["reason"]
    assert h.finished[0].bytes_received == len(IMAGE)


def test_hang_profile_stays_in_progress_until_the_service_times_it_out() -> None:
    h = setup(hang_rate=1.0)
    h.connect()
    ex = h.add_job("j", doc(), timeoutConfig={"inProgressTimeoutInMinutes": 1})
    h.run()
    assert ex.status == "IN_PROGRESS" and updates(h) == [] and h.finished == []
    h.advance(60)  # the service's in-progress timer ends it
    assert ex.status == "TIMED_OUT"
    h.run()
    assert [(r.status, r.fault) for r in h.finished] == [("TIMED_OUT", "hang")]
    # and it asked for more work afterwards
    assert [t for t, _ in h.sent][-2:] == [
        "$aws/things/dev-1/jobs/j/get",
        "$aws/things/dev-1/jobs/start-next",
    ]


def test_corrupt_block_is_caught_by_md5() -> None:
    h = setup(corrupt_rate=1.0)
    h.connect()
    ex = h.add_job("j", doc())
    h.run()
    assert ex.status == "FAILED" and ex.details["reason"].startswith("md5 mismatch")
    assert h.finished[0].md5_hex != hashlib.md5(IMAGE).hexdigest()


def test_disconnect_resumes_from_the_blocks_it_has() -> None:
    image = os.urandom(4096 * 20)
    h = setup(image, disconnect_rate=1.0)
    h.connect()
    ex = h.add_job("j", doc(image))
    h.run()
    assert h.drops == 1 and ex.status == "SUCCEEDED"
    offsets = [r["o"] for r in h.stream_requests()]
    assert sorted(set(offsets)) == list(range(20))
    assert len(offsets) <= 21  # at most the block in flight at the drop is asked again
    assert h.finished[0].reconnects == 1
    assert any(t.endswith("/j/get") for t, _ in h.sent)  # re-synced the execution


def test_disconnect_and_corruption_are_per_device_and_seeded() -> None:
    opts = FleetOptions(disconnect_rate=0.5, corrupt_rate=0.3, seed=9)
    picks = [choose_behaviour(opts, f"t{i}", "job") for i in range(400)]
    drops = sum(p.disconnect_at is not None for p in picks)
    corrupt = sum(p.corrupt_at is not None for p in picks)
    assert 150 < drops < 250 and 70 < corrupt < 170
    assert picks == [choose_behaviour(opts, f"t{i}", "job") for i in range(400)]


def test_job_cancelled_mid_download_is_abandoned() -> None:
    image = os.urandom(4096 * 10)
    h = setup(image)
    h.connect()
    ex = h.add_job("j", doc(image))
    for _ in range(12):  # part of the download
        h.step()
    assert ex.status == "IN_PROGRESS" and h.finished == []
    h.cancel_execution("j")
    h.run()
    assert [r.status for r in h.finished] == ["CANCELED"]
    assert ex.status == "CANCELED"


def test_lost_update_is_resent() -> None:
    h = setup(request_timeout_sec=5, progress_every_pct=100)
    h.lose("UpdateJobExecution", 1)
    h.connect()
    ex = h.add_job("j", doc())
    h.run()
    assert ex.status == "SUCCEEDED"


def test_version_mismatch_adopts_the_service_version() -> None:
    h = setup()
    h.connect()
    ex = h.add_job("j", doc())
    someone_else = {"thingName": "dev-1", "jobId": "j", "status": "IN_PROGRESS"}
    h.before(  # someone else updates the execution just before the device's first update
        "UpdateJobExecution",
        lambda: h.svc.call("iot-jobs-data", "UpdateJobExecution", someone_else),
    )
    h.run()
    assert ex.status == "SUCCEEDED"
    assert any(t.endswith("/j/update/rejected") for t, _ in h.received)  # VersionMismatch


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"command": "reboot"}, "unsupported command"),
        ({"command": "fota", "fileId": 3}, "neither streamId nor url"),
        ({"command": "fota", "streamId": "s", "fileId": 300}, "outside 0-255"),
    ],
)
def test_unusable_document_is_rejected(document: Any, reason: str) -> None:
    h = setup()
    h.connect()
    ex = h.add_job("j", document)
    h.run()
    assert ex.status == "REJECTED" and reason in ex.details["reason"]


def test_unverifiable_image_is_never_succeeded() -> None:
    h = setup()
    h.connect()
    ex = h.add_job("j", doc(md5sum=None))
    h.run()
    assert ex.status == "FAILED" and "cannot be verified" in ex.details["reason"]


def test_size_mismatch_fails() -> None:
    h = setup()
    h.connect()
    ex = h.add_job("j", doc(fileSize=len(IMAGE) + 1))
    h.run()
    assert ex.status == "FAILED" and "size mismatch" in ex.details["reason"]


def _keys(tmp_path: Path) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "pub.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, pem


@pytest.mark.parametrize("good_key", [True, False])
def test_signed_image(tmp_path: Path, good_key: bool) -> None:
    key, pem = _keys(tmp_path)
    sig = key.sign(IMAGE, ec.ECDSA(hashes.SHA256()))
    if not good_key:
        _, pem = _keys(tmp_path / ".." / tmp_path.name)  # another key pair
    h = DevicePair("dev-1", FleetOptions(public_key=pem), public_key=load_public_key(pem))
    h.add_stream("s1", {7: IMAGE})
    h.connect()
    d = doc(
        md5sum=None, signature=base64.b64encode(sig).decode(), signatureAlgorithm="SHA256withECDSA"
    )
    ex = h.add_job("j", d)
    h.run()
    if good_key:
        assert ex.status == "SUCCEEDED"
    else:
        assert ex.status == "FAILED" and "signature" in ex.details["reason"]


def test_signed_image_without_key_fails() -> None:
    h = setup()
    h.connect()
    ex = h.add_job("j", doc(md5sum=None, signature=base64.b64encode(b"x" * 70).decode()))
    h.run()
    assert ex.status == "FAILED" and "no public key" in ex.details["reason"]


def test_https_download_from_presigned_url() -> None:
    h = setup()
    url = h.put_object("fw/x.bin", IMAGE)  # a presigned-URL placeholder the service fills in
    h.connect()
    ex = h.add_job("j", doc(streamId=None, url=url), presignedUrlConfig=PRESIGN)
    h.run()
    assert ex.status == "SUCCEEDED" and h.finished[0].transport == "http"
    presigned = f"{S3_ENDPOINT}/{BUCKET}/fw/x.bin?X-Amz-Expires=3600"
    assert h.stream_requests() == [] and h.http_gets == [presigned]


def test_https_failure_falls_back_to_the_stream() -> None:
    h = setup(max_retries=1)
    h.connect()
    ex = h.add_job("j", doc(url="https://b.s3/x?expired"))
    h.run()
    assert ex.status == "SUCCEEDED" and h.finished[0].transport == "mqtt"
    assert len(h.http_gets) == 2


def test_unsubstituted_placeholder_uses_the_stream() -> None:
    h = setup()
    h.connect()
    ex = h.add_job("j", doc(url="${aws:iot:s3-presigned-url:https://b.s3.amazonaws.com/k}"))
    h.run()
    assert ex.status == "SUCCEEDED" and h.http_gets == []


def test_slow_link_paces_requests() -> None:
    h = setup(slow_link_bps=1000)
    h.connect()
    h.add_job("j", doc())
    start = h.clock.now()
    h.run()
    assert h.finished[0].status == "SUCCEEDED"
    assert h.clock.now() - start >= 0.999 * len(IMAGE) / 1000


def test_slow_link_https() -> None:
    h = setup(slow_link_bps=2000)
    url = h.put_object("fw/u.bin", IMAGE)
    h.connect()
    h.add_job("j", doc(url=url), presignedUrlConfig=PRESIGN)
    start = h.clock.now()
    h.run()
    assert (
        h.finished[0].status == "SUCCEEDED" and h.clock.now() - start >= 0.999 * len(IMAGE) / 2000
    )


def test_notify_next_wakes_an_idle_device() -> None:
    h = setup()
    h.connect()
    h.run()
    assert [t for t, _ in h.sent] == ["$aws/things/dev-1/jobs/start-next"]
    ex = h.add_job("j", doc())  # publishes notify-next
    h.run()
    assert ex.status == "SUCCEEDED"


def test_ignores_foreign_and_malformed_messages() -> None:
    h = setup()
    h.connect()
    acts = h.agent.handle(MessageReceived("$aws/things/other/jobs/notify-next", b"{}"))
    acts += h.agent.handle(MessageReceived("$aws/things/dev-1/jobs/notify-next", b"\xff"))
    acts += h.agent.handle(MessageReceived("$aws/things/dev-1/streams/s1/data/cbor", b"\xff"))
    assert acts == []


def test_stale_http_result_is_ignored() -> None:
    h = setup()
    h.connect()
    assert h.agent.handle(HttpCompleted("https://x", 200, b"abc")) == []


def test_same_seed_same_faults() -> None:
    opts = FleetOptions(fail_rate=0.2, reject_rate=0.1, hang_rate=0.1, seed=42)
    a = [choose_behaviour(opts, f"thing-{i}", "job-1").fault for i in range(1000)]
    b = [choose_behaviour(opts, f"thing-{i}", "job-1").fault for i in range(1000)]
    assert a == b
    assert 150 < a.count(Fault.FAIL) < 250
    assert 60 < a.count(Fault.REJECT) < 140 and 60 < a.count(Fault.HANG) < 140
    other = [
        choose_behaviour(opts.model_copy(update={"seed": 43}), f"thing-{i}", "job-1").fault
        for i in range(1000)
    ]
    assert other != a


def test_publish_payloads_are_bytes() -> None:
    h = setup()
    acts = h.agent.handle(__import__("ota_deploy.fleet.events").fleet.events.Connected())
    pubs = [a for a in acts if isinstance(a, Publish)]
    assert pubs and all(isinstance(p.payload, bytes) for p in pubs)
    assert not any(isinstance(a, HttpGet) for a in acts)


@pytest.mark.parametrize("n", [7, 100, 1000])
def test_chooser_gives_exact_shares_reproducibly(n: int) -> None:
    opts = FleetOptions(
        fail_rate=0.2,
        reject_rate=0.1,
        hang_rate=0.15,
        disconnect_rate=0.3,
        corrupt_rate=0.05,
        seed=3,
    )
    things = [f"t-{i}" for i in range(n)]
    chooser = BehaviourChooser(opts, things)
    picks = [chooser.choose(t, "job-9") for t in things]
    faults = [p.fault for p in picks]
    assert faults.count(Fault.REJECT) == round(0.1 * n)
    assert faults.count(Fault.FAIL) == round(0.3 * n) - round(0.1 * n)
    assert faults.count(Fault.HANG) == round(0.45 * n) - round(0.3 * n)
    assert sum(p.disconnect_at is not None for p in picks) == round(0.3 * n)
    assert sum(p.corrupt_at is not None for p in picks) == round(0.05 * n)
    # the same seed and thing list: the same devices, in whatever order they ask
    again = BehaviourChooser(opts, list(reversed(things)))
    assert [again.choose(t, "job-9") for t in reversed(things)] == picks[::-1]
    # another job or seed picks other devices
    assert [chooser.choose(t, "job-10") for t in things] != picks or n < 10
    assert chooser.choose("stranger", "job-9") == choose_behaviour(opts, "stranger", "job-9")


def test_agent_uses_the_fleet_chooser() -> None:
    opts = FleetOptions(reject_rate=0.5, seed=1)
    chooser = BehaviourChooser(opts, ["dev-1", "dev-2"])
    h = DevicePair("dev-1", opts, chooser=chooser)
    h.add_stream("s1", {7: IMAGE})
    h.connect()
    ex = h.add_job("j", doc())
    h.run()
    want = "REJECTED" if chooser.choose("dev-1", "j").fault is Fault.REJECT else "SUCCEEDED"
    assert ex.status == want
