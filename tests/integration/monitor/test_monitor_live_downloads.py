"""The live view shows devices downloading while they download: a real local AWS IoT, a real
simulated fleet on a slow link, the monitor session + MQTT watcher, frames rendered to text."""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from typing import Any

import pytest
from rich.console import Console

from ota_deploy.core.clock import SystemClock
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.fleet.runner import FleetThread
from ota_deploy.local.contracts import LocalEndpoints
from ota_deploy.monitor.events import MqttWatcher
from ota_deploy.monitor.live import LiveView
from ota_deploy.monitor.session import MonitorSession

FIRMWARE = bytes(range(256)) * 256  # 64 KiB = 16 blocks of 4 KiB


@pytest.mark.timeout(120)
def test_live_view_shows_downloads(local_iot: LocalEndpoints, boto_iot: Any, boto_s3: Any) -> None:
    things = [f"live-dev-{i}" for i in range(3)]
    arns = [boto_iot.create_thing(thingName=t)["thingArn"] for t in things]
    boto_s3.create_bucket(Bucket="live-fw")
    boto_s3.put_object(Bucket="live-fw", Key="fw.bin", Body=FIRMWARE)
    boto_iot.create_stream(
        streamId="LiveStream",
        files=[{"fileId": 3, "s3Location": {"bucket": "live-fw", "key": "fw.bin"}}],
        roleArn="arn:aws:iam::123456789012:role/ota-role",
    )
    document = {
        "command": "fota",
        "streamId": "LiveStream",
        "fileId": 3,
        "fileSize": len(FIRMWARE),
        "imageVer": "1",
        "md5sum": hashlib.md5(FIRMWARE).hexdigest(),
    }
    watcher = MqttWatcher(local_iot.mqtt_host, local_iot.mqtt_port, client_id="live-monitor")
    watcher.start()
    console = Console(file=io.StringIO(), width=120, record=True, force_terminal=False)
    view = LiveView(console, plain=True, enricher=watcher)
    session = MonitorSession(boto_iot, clock=SystemClock(), job_id="LiveJob", details_budget=10)
    frames: list[str] = []
    options = FleetOptions.model_validate({"slow_link_bps": 16 * 1024, "progress_every_pct": 25})
    try:
        with FleetThread(
            things, mqtt_host=local_iot.mqtt_host, mqtt_port=local_iot.mqtt_port, options=options
        ):
            boto_iot.create_job(jobId="LiveJob", targets=arns, document=json.dumps(document))
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                view.update(session.tick())
                assert view.last is not None
                probe = Console(file=io.StringIO(), width=120, record=True)
                probe.print(view.renderable(view.last))
                frames.append(probe.export_text())
                if view.last.job_status == "COMPLETED":
                    break
                time.sleep(0.3)
    finally:
        watcher.stop()
    assert view.last is not None and view.last.job_status == "COMPLETED", frames[-1]
    downloading = [f for f in frames if re.search(r"downloading [1-9]", f)]
    assert downloading, frames[-1]
    # While downloading, a device row shows IN_PROGRESS with a block count above zero.
    assert any(re.search(r"IN_PROGRESS\s+│[^│]*│\s+[1-9]\d*\s+│", f) for f in downloading)
    final = view.last
    assert all(t.blocks_received == 16 for t in final.things.values())
    assert {t.status for t in final.things.values()} == {"SUCCEEDED"}
