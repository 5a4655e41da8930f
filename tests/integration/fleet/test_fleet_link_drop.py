"""Every device drops its link mid-download on a slow link, against the real local AWS IoT.

Regression for a stalled round: with several blocks per GetStream request, the blocks of the
window already on the wire reach a device after it asked to drop its link and before it sees
the link go; when they complete the image, the device waits out the slow link's last bytes on
a timer, and the link loss used to cancel that timer for good: executions stayed IN_PROGRESS
at their last progress (e.g. "75%") with every block received. Each job here must end with
every device SUCCEEDED, having reconnected once.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.runner import FleetThread
from ota_deploy.local.contracts import LocalEndpoints

ROLE = "arn:aws:iam::123456789012:role/ota-role"
IMAGE = os.urandom(32 * 1024)  # 8 blocks of 4 KiB: one window of 8


def _wait_done(iot: Any, job_id: str, timeout: float = 30.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        details = iot.describe_job(jobId=job_id)["job"]["jobProcessDetails"]
        if details["numberOfQueuedThings"] == details["numberOfInProgressThings"] == 0:
            return details  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"job {job_id} stalled: {details}"
        time.sleep(0.1)


def test_link_drops_in_the_last_window_on_a_slow_link_all_succeed(
    local_iot: LocalEndpoints, boto_iot: Any, boto_s3: Any
) -> None:
    boto_s3.create_bucket(Bucket="fleet-link-drop")
    boto_s3.put_object(Bucket="fleet-link-drop", Key="fw.bin", Body=IMAGE)
    things = [f"drop-{i:02d}" for i in range(10)]
    arns = [boto_iot.create_thing(thingName=t)["thingArn"] for t in things]
    boto_iot.create_stream(
        streamId="fw",
        files=[{"fileId": 1, "s3Location": {"bucket": "fleet-link-drop", "key": "fw.bin"}}],
        roleArn=ROLE,
    )
    document = json.dumps(
        {
            "command": "fota",
            "streamId": "fw",
            "fileId": 1,
            "fileSize": len(IMAGE),
            "md5sum": hashlib.md5(IMAGE).hexdigest(),
        }
    )
    options = FleetOptions(disconnect_rate=1.0, blocks_per_request=8, slow_link_bps=64 * 1024)
    fleet = FleetThread(
        things, mqtt_host=local_iot.mqtt_host, mqtt_port=local_iot.mqtt_port, options=options
    )
    with fleet:
        for job_id in ("drop-1", "drop-2"):
            boto_iot.create_job(jobId=job_id, targets=arns, document=document)
            details = _wait_done(boto_iot, job_id)
            assert details["numberOfSucceededThings"] == len(things), details
        results = fleet.stats().results
    assert len(results) == 2 * len(things)
    assert all(r.status == "SUCCEEDED" and r.reconnects == 1 for r in results)
    assert {r.md5_hex for r in results} == {hashlib.md5(IMAGE).hexdigest()}
