"""End to end against the real registry: ``local serve``'s mutual-TLS listener with a
certificate made by CreateKeysAndCertificate through boto3, policies and things attached
through the control plane, and a job run to SUCCEEDED by the AWS IoT Device SDK v2.

The policy uses AWS's thing variables: a client may connect only under the name of a thing
attached to its certificate and touch only that thing's reserved topics
(https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-examples.html). One
certificate is attached to three things, one per client (SDK, paho, mosquitto).
"""

from __future__ import annotations

import asyncio
import json
import queue
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from awscrt import mqtt
from awsiot import iotjobs, mqtt_connection_builder
from paho.mqtt.enums import CallbackAPIVersion
from tests.integration.conftest import client_for
from tests.integration.local.tls.pki import Pki

from ota_deploy.local.auth import client_context
from ota_deploy.local.contracts import LocalEndpoints
from ota_deploy.local.server import LocalAwsIotThread
from ota_deploy.mqtt.client import MqttClient
from ota_deploy.mqtt.errors import MqttError

WAIT = 10.0
THINGS = ("e2e-sdk", "e2e-paho", "e2e-mosq")


def thing_policy(ep: LocalEndpoints) -> str:
    arn = f"arn:aws:iot:{ep.region}:{ep.account}"
    thing = "${iot:Connection.Thing.ThingName}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/{thing}"},
                {
                    "Effect": "Allow",
                    "Action": ["iot:Publish", "iot:Receive"],
                    "Resource": f"{arn}:topic/$aws/things/{thing}/*",
                },
                {
                    "Effect": "Allow",
                    "Action": "iot:Subscribe",
                    "Resource": f"{arn}:topicfilter/$aws/things/{thing}/*",
                },
            ],
        }
    )


@dataclass(frozen=True)
class Device:
    endpoints: LocalEndpoints
    iot: Any
    certificate_id: str
    cert: Path
    key: Path

    @property
    def host_port(self) -> tuple[str, int]:
        assert self.endpoints.mqtts is not None
        host, port = self.endpoints.mqtts.rsplit(":", 1)
        return host, int(port)


@pytest.fixture(scope="module")
def device(
    local_iot_module_server: LocalAwsIotThread, tmp_path_factory: pytest.TempPathFactory
) -> Device:
    ep = local_iot_module_server.endpoints
    assert ep is not None and ep.mqtts is not None and ep.ca is not None
    iot = client_for(ep, "iot")
    keys = iot.create_keys_and_certificate(setAsActive=True)
    iot.create_policy(policyName="e2e-things", policyDocument=thing_policy(ep))
    iot.attach_policy(policyName="e2e-things", target=keys["certificateArn"])
    for thing in THINGS:
        iot.create_thing(thingName=thing)
        iot.attach_thing_principal(thingName=thing, principal=keys["certificateArn"])
    root = tmp_path_factory.mktemp("e2e")
    cert, key = root / "device.pem.crt", root / "device-private.pem.key"
    cert.write_text(keys["certificatePem"])
    key.write_text(keys["keyPair"]["PrivateKey"])
    key.chmod(0o600)
    return Device(ep, iot, keys["certificateId"], cert, key)


def sdk_connection(device: Device, client_id: str) -> mqtt.Connection:
    host, port = device.host_port
    return mqtt_connection_builder.mtls_from_path(
        endpoint="localhost" if host == "127.0.0.1" else host,
        port=port,
        cert_filepath=str(device.cert),
        pri_key_filepath=str(device.key),
        ca_filepath=str(device.endpoints.ca),
        client_id=client_id,
        clean_session=True,
        keep_alive_secs=30,
    )


def test_describe_endpoint_and_the_json_line_name_the_tls_listener(device: Device) -> None:
    answer = device.iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    line = device.endpoints.to_json_dict()
    assert answer == line["mqtts"] == device.endpoints.mqtts
    assert Path(line["ca"]).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_the_device_sdk_v2_runs_a_job_to_succeeded(device: Device) -> None:
    thing = "e2e-sdk"
    job = device.iot.create_job(
        jobId="e2e-tls-job",
        targets=[f"arn:aws:iot:{device.endpoints.region}:{device.endpoints.account}:thing/{thing}"],
        document=json.dumps({"operation": "test"}),
    )
    assert job["jobId"] == "e2e-tls-job"
    connection = sdk_connection(device, thing)
    connection.connect().result(WAIT)
    try:
        jobs = iotjobs.IotJobsClient(connection)
        started: queue.Queue[Any] = queue.Queue()
        updated: queue.Queue[Any] = queue.Queue()
        sub, _ = jobs.subscribe_to_start_next_pending_job_execution_accepted(
            iotjobs.StartNextPendingJobExecutionSubscriptionRequest(thing_name=thing),
            mqtt.QoS.AT_LEAST_ONCE,
            started.put,
        )
        sub.result(WAIT)
        sub, _ = jobs.subscribe_to_update_job_execution_accepted(
            iotjobs.UpdateJobExecutionSubscriptionRequest(thing_name=thing, job_id="+"),
            mqtt.QoS.AT_LEAST_ONCE,
            updated.put,
        )
        sub.result(WAIT)
        jobs.publish_start_next_pending_job_execution(
            iotjobs.StartNextPendingJobExecutionRequest(thing_name=thing, client_token="t1"),
            mqtt.QoS.AT_LEAST_ONCE,
        ).result(WAIT)
        execution = started.get(timeout=WAIT).execution
        assert execution.job_id == "e2e-tls-job" and execution.status == "IN_PROGRESS"
        jobs.publish_update_job_execution(
            iotjobs.UpdateJobExecutionRequest(
                thing_name=thing,
                job_id=execution.job_id,
                status="SUCCEEDED",
                expected_version=execution.version_number,
                client_token="t2",
            ),
            mqtt.QoS.AT_LEAST_ONCE,
        ).result(WAIT)
        assert updated.get(timeout=WAIT).client_token == "t2"
    finally:
        connection.disconnect().result(WAIT)
    described = client_for(device.endpoints, "iot-jobs-data").describe_job_execution(
        jobId="e2e-tls-job", thingName=thing
    )
    assert described["execution"]["status"] == "SUCCEEDED"


def test_paho_with_the_certificate_within_its_policy(device: Device) -> None:
    _, port = device.host_port
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    client = paho.Client(CallbackAPIVersion.VERSION2, "e2e-paho", protocol=paho.MQTTv311)
    client.tls_set(
        ca_certs=str(device.endpoints.ca), certfile=str(device.cert), keyfile=str(device.key)
    )
    client.on_connect = lambda c, u, f, rc, p: events.put(("connect", rc))
    client.on_subscribe = lambda c, u, mid, rcs, p: events.put(("suback", [r.value for r in rcs]))
    client.on_message = lambda c, u, m: events.put(("message", m.topic))
    client.connect("localhost", port, keepalive=30)
    client.loop_start()
    try:
        kind, rc = events.get(timeout=WAIT)
        assert kind == "connect" and not rc.is_failure
        client.subscribe(
            [("$aws/things/e2e-paho/jobs/notify-next", 1), ("$aws/things/e2e-sdk/#", 1)]
        )
        assert events.get(timeout=WAIT) == ("suback", [1, 0x80])
        client.publish("$aws/things/e2e-paho/jobs/get", b"{}", 1).wait_for_publish(WAIT)
        assert events.get(timeout=WAIT) == ("message", "$aws/things/e2e-paho/jobs/get/accepted")
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.skipif(shutil.which("mosquitto_pub") is None, reason="mosquitto-clients missing")
def test_mosquitto_with_the_certificate_within_its_policy(device: Device) -> None:
    _, port = device.host_port
    common = [
        "-h", "localhost", "-p", str(port), "--cafile", str(device.endpoints.ca),
        "--cert", str(device.cert), "--key", str(device.key), "-i", "e2e-mosq", "-q", "1",
    ]  # fmt: skip
    done = subprocess.run(
        ["mosquitto_pub", *common, "-t", "$aws/things/e2e-mosq/telemetry", "-m", "ok"],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 0, done.stderr
    refused = subprocess.run(  # a client id that is no thing attached to the certificate
        ["mosquitto_pub", *common[:-4], "-i", "intruder", "-t", "x", "-m", "no"],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert refused.returncode != 0


def client(device: Device, client_id: str, protocol: int = 4) -> MqttClient:
    host, port = device.host_port
    ctx = client_context(cert_file=device.cert, key_file=device.key, ca_file=device.endpoints.ca)
    return MqttClient(client_id, host=host, port=port, ssl=ctx, protocol=protocol)


def test_refusals_through_the_registry(device: Device, pki: Pki) -> None:
    async def scenario() -> None:
        # a client id its policy does not allow (no such thing attached)
        with pytest.raises(MqttError):
            await client(device, "not-a-thing").connect()
        # a certificate the registry never saw (another CA: the handshake fails)
        foreign = pki.devices["foreign"]
        ctx = client_context(
            cert_file=foreign.cert, key_file=foreign.key, ca_file=device.endpoints.ca
        )
        host, port = device.host_port
        with pytest.raises((MqttError, OSError)):
            await MqttClient("e2e-sdk", host=host, port=port, ssl=ctx).connect()
        # a subscription and then a publish outside the policy (MQTT 3.1.1: closed)
        async with client(device, "e2e-sdk") as c:
            assert await c.subscribe([("$aws/things/e2e-paho/#", 1)]) == [0x80]
            with pytest.raises(MqttError):
                await c.publish("$aws/things/e2e-paho/jobs/get", b"{}", qos=1)

    asyncio.run(asyncio.wait_for(scenario(), 2 * WAIT))


def test_deactivating_the_certificate_closes_its_connection_and_refuses_the_next(
    device: Device,
) -> None:
    async def scenario() -> None:
        live = client(device, "e2e-paho", protocol=5)
        await live.connect()
        await asyncio.to_thread(
            device.iot.update_certificate,
            certificateId=device.certificate_id,
            newStatus="INACTIVE",
        )
        await asyncio.wait_for(live.closed.wait(), WAIT)
        with pytest.raises((MqttError, OSError)):
            await client(device, "e2e-paho").connect()
        await asyncio.to_thread(
            device.iot.update_certificate, certificateId=device.certificate_id, newStatus="ACTIVE"
        )
        async with client(device, "e2e-paho") as again:
            assert await again.subscribe([("$aws/things/e2e-paho/jobs/notify", 0)]) == [0]

    asyncio.run(asyncio.wait_for(scenario(), 3 * WAIT))
