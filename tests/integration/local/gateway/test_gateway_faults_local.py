"""A fault aimed at the MQTT gateway of a whole local AWS IoT: "commit, then lose the reply" on a
Jobs update -- the execution is updated, the device never hears ``.../update/accepted`` and its
connection is closed (local/faults.py's contract for service "mqtt")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from tests.integration.conftest import client_for

from ota_deploy.local.faults import FaultConfig, OperationFaults
from ota_deploy.local.server import LocalAwsIotThread
from ota_deploy.mqtt.client import MqttClient

WAIT = 10.0


def test_a_jobs_update_whose_reply_is_lost_is_applied(
    make_local_iot: Callable[..., LocalAwsIotThread],
) -> None:
    lose_once = OperationFaults(lose_reply_rate=1.0, times=1)
    server = make_local_iot(
        faults=FaultConfig(seed=7, per_operation={"mqtt:UpdateJobExecution": lose_once})
    )
    ep = server.endpoints
    assert ep is not None
    iot = client_for(ep, "iot")
    iot.create_thing(thingName="lossy")
    arn = iot.describe_thing(thingName="lossy")["thingArn"]
    iot.create_job(jobId="lossy-job", targets=[arn], document=json.dumps({"op": "x"}))
    host, port = ep.mqtt.rsplit(":", 1)
    base = "$aws/things/lossy/jobs"

    async def device() -> list[Any]:
        async with MqttClient("lossy", host=host, port=int(port)) as c:
            await c.publish(f"{base}/start-next", b'{"clientToken":"s"}', qos=1)
            started = json.loads((await asyncio.wait_for(c.messages.get(), WAIT)).payload)
            version = started["execution"]["versionNumber"]
            update = {"status": "SUCCEEDED", "expectedVersion": version, "clientToken": "u"}
            await c.publish(f"{base}/lossy-job/update", json.dumps(update).encode(), qos=0)
            await asyncio.wait_for(c.closed.wait(), WAIT)  # closed, reply lost
            return [m.topic for m in [c.messages.get_nowait() for _ in range(c.messages.qsize())]]

    assert asyncio.run(device()) == []  # nothing after start-next/accepted: no update/accepted
    execution = client_for(ep, "iot-jobs-data").describe_job_execution(
        jobId="lossy-job", thingName="lossy"
    )["execution"]
    assert execution["status"] == "SUCCEEDED"  # ...yet the update was applied
    assert (
        server.local is not None
        and server.local.faults.count("lose_reply", service="mqtt", operation="UpdateJobExecution")
        == 1
    )
