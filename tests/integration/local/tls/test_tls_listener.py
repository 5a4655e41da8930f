"""The mutual-TLS listener over real sockets: who gets in, and what a policy refuses.

Clients: the project's MqttClient (3.1.1 and 5), paho-mqtt with ``tls_set``, the AWS IoT Device
SDK v2 (``mtls_from_path``) and mosquitto_pub / mosquitto_sub with ``--cafile --cert --key``.
thing-1's policy is AWS's basic Jobs example shape (``device_policy``): connect as client
``thing-1``; publish, subscribe and receive under ``$aws/things/thing-1/`` and ``dev/thing-1/``.
"""

from __future__ import annotations

import asyncio
import queue
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from typing import Any

import paho.mqtt.client as paho
import pytest
from awscrt import mqtt
from awsiot import mqtt_connection_builder
from paho.mqtt.enums import CallbackAPIVersion
from tests.integration.local.tls.pki import Credentials, Pki, TlsGatewayThread

from ota_deploy.local.auth import client_context
from ota_deploy.mqtt.client import MqttClient
from ota_deploy.mqtt.errors import ConnectionRefused, MqttError, PublishRefused

WAIT = 10.0


def tls_client(
    gt: TlsGatewayThread, pki: Pki, device: str, client_id: str, protocol: int = 4
) -> MqttClient:
    creds = pki.devices[device]
    context = client_context(cert_file=creds.cert, key_file=creds.key, ca_file=pki.ca_file)
    return MqttClient(client_id, host="127.0.0.1", port=gt.tls_port, ssl=context, protocol=protocol)


def run(gt: TlsGatewayThread, coro: Any) -> Any:
    """Run a client coroutine on a private loop (the gateway has its own thread)."""
    return asyncio.run(asyncio.wait_for(coro, WAIT))


@pytest.mark.parametrize("protocol", [4, 5])
def test_a_registered_certificate_works_within_its_policy(
    tls_gateway: TlsGatewayThread, pki: Pki, protocol: int
) -> None:
    async def scenario() -> None:
        async with tls_client(tls_gateway, pki, "thing-1", "thing-1", protocol) as c:
            assert await c.subscribe([("dev/thing-1/#", 1)]) == [1]
            await c.publish("dev/thing-1/hello", b"hi", qos=1)
            msg = await c.messages.get()
            assert (msg.topic, msg.payload) == ("dev/thing-1/hello", b"hi")

    run(tls_gateway, scenario())
    assert tls_gateway.call(lambda: tls_gateway.gateway.stats()["connections"]) == 1


@pytest.mark.parametrize("device", ["unregistered", "thing-2", "foreign"])
def test_unregistered_inactive_and_foreign_certificates_are_refused(
    tls_gateway: TlsGatewayThread, pki: Pki, device: str
) -> None:
    async def scenario() -> None:
        with pytest.raises((MqttError, OSError)):
            await tls_client(tls_gateway, pki, device, device).connect()

    run(tls_gateway, scenario())
    assert tls_gateway.call(tls_gateway.gateway.connected_clients) == set()


@pytest.mark.parametrize("protocol", [4, 5])
def test_the_right_certificate_under_a_client_id_its_policy_does_not_allow(
    tls_gateway: TlsGatewayThread, pki: Pki, protocol: int
) -> None:
    async def scenario() -> None:
        client = tls_client(tls_gateway, pki, "thing-1", "thing-9", protocol)
        if protocol == 5:
            with pytest.raises(ConnectionRefused) as refused:  # CONNACK 0x87
                await client.connect()
            assert refused.value.return_code == 0x87
        else:  # closed without a CONNACK
            with pytest.raises(MqttError) as lost:
                await client.connect()
            assert not isinstance(lost.value, ConnectionRefused)

    run(tls_gateway, scenario())


@pytest.mark.parametrize("protocol", [4, 5])
def test_a_subscription_and_a_publish_outside_the_policy(
    tls_gateway: TlsGatewayThread, pki: Pki, protocol: int
) -> None:
    async def scenario() -> None:
        client = tls_client(tls_gateway, pki, "thing-1", "thing-1", protocol)
        async with client as c:
            refused = 0x87 if protocol == 5 else 0x80
            assert await c.subscribe([("dev/thing-2/#", 1), ("dev/thing-1/a", 1)]) == [refused, 1]
            if protocol == 5:
                with pytest.raises(PublishRefused) as refused_pub:  # PUBACK 0x87
                    await c.publish("dev/thing-2/x", b"no", qos=1)
                assert refused_pub.value.reason_code == 0x87
                await c.publish("dev/thing-1/a", b"still connected", qos=1)
                assert (await c.messages.get()).payload == b"still connected"
            else:
                with pytest.raises(MqttError):  # the connection is closed
                    await c.publish("dev/thing-2/x", b"no", qos=1)
                assert c.closed.is_set()

    run(tls_gateway, scenario())


class PahoTls:
    """paho-mqtt over TLS: ``tls_set(ca_certs, certfile, keyfile)``."""

    def __init__(self, port: int, pki: Pki, creds: Credentials, client_id: str) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id, protocol=paho.MQTTv311)
        self.client.tls_set(
            ca_certs=str(pki.ca_file), certfile=str(creds.cert), keyfile=str(creds.key)
        )
        self.client.on_connect = lambda c, u, f, rc, p: self.events.put(("connect", rc))
        self.client.on_disconnect = lambda c, u, f, rc, p: self.events.put(("disconnect", rc))
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.events.put(
            ("suback", [int(r.value) for r in rcs])
        )
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, bytes(m.payload)))
        self.client.connect("localhost", port, keepalive=30)
        self.client.loop_start()

    def event(self) -> tuple[str, Any]:
        return self.events.get(timeout=WAIT)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_paho_with_tls_connects_subscribes_and_publishes(
    tls_gateway: TlsGatewayThread, pki: Pki
) -> None:
    peer = PahoTls(tls_gateway.tls_port, pki, pki.devices["thing-1"], "thing-1")
    try:
        kind, rc = peer.event()
        assert kind == "connect" and not rc.is_failure
        peer.client.subscribe([("dev/thing-1/+", 1), ("elsewhere/#", 1)])
        assert peer.event() == ("suback", [1, 0x80])
        peer.client.publish("dev/thing-1/paho", b"p", 1).wait_for_publish(WAIT)
        assert peer.messages.get(timeout=WAIT) == ("dev/thing-1/paho", b"p")
    finally:
        peer.close()


def test_paho_under_a_client_id_the_policy_does_not_allow_sees_the_connection_lost(
    tls_gateway: TlsGatewayThread, pki: Pki
) -> None:
    # AWS: "returns the error code 7 instead of the CONNACK error code 5" -- paho's
    # MQTT_ERR_CONN_LOST: the connection closed with no CONNACK.
    peer = PahoTls(tls_gateway.tls_port, pki, pki.devices["thing-1"], "not-thing-1")
    try:
        kind, _ = peer.event()
        assert kind == "disconnect"
    finally:
        peer.client.loop_stop()


def sdk_connection(gt: TlsGatewayThread, pki: Pki, device: str) -> mqtt.Connection:
    """The Device SDK v2's mutual-TLS connection, client id = the device's name."""
    creds = pki.devices[device]
    return mqtt_connection_builder.mtls_from_path(
        endpoint="localhost",
        port=gt.tls_port,
        cert_filepath=str(creds.cert),
        pri_key_filepath=str(creds.key),
        ca_filepath=str(pki.ca_file),
        client_id=device,
        clean_session=True,
        keep_alive_secs=30,
    )


def test_aws_iot_device_sdk_v2_mtls_from_path(tls_gateway: TlsGatewayThread, pki: Pki) -> None:
    received: queue.Queue[tuple[str, bytes]] = queue.Queue()
    connection = sdk_connection(tls_gateway, pki, "thing-1")
    connection.connect().result(WAIT)
    try:
        sub, _ = connection.subscribe(
            "dev/thing-1/sdk",
            mqtt.QoS.AT_LEAST_ONCE,
            lambda topic, payload, **kw: received.put((topic, payload)),
        )
        assert sub.result(WAIT)["qos"] == mqtt.QoS.AT_LEAST_ONCE
        pub, _ = connection.publish("dev/thing-1/sdk", b"crt", mqtt.QoS.AT_LEAST_ONCE)
        pub.result(WAIT)
        assert received.get(timeout=WAIT) == ("dev/thing-1/sdk", b"crt")
        refused, _ = connection.subscribe("dev/thing-2/sdk", mqtt.QoS.AT_LEAST_ONCE)
        with pytest.raises(mqtt.SubscribeError):  # SUBACK 0x80
            refused.result(WAIT)
    finally:
        connection.disconnect().result(WAIT)


def test_aws_iot_device_sdk_v2_with_an_inactive_certificate_cannot_connect(
    tls_gateway: TlsGatewayThread, pki: Pki
) -> None:
    connection = sdk_connection(tls_gateway, pki, "thing-2")
    with pytest.raises(Exception):  # noqa: B017 -- awscrt.exceptions.AwsCrtError
        connection.connect().result(WAIT)


MOSQUITTO = shutil.which("mosquitto_pub") is not None


def mosquitto(tool: str, gt: TlsGatewayThread, pki: Pki, device: str, *args: str) -> list[str]:
    creds = pki.devices[device]
    return [
        tool, "-h", "localhost", "-p", str(gt.tls_port), "--cafile", str(pki.ca_file),
        "--cert", str(creds.cert), "--key", str(creds.key), "-i", device, *args,
    ]  # fmt: skip


@pytest.mark.skipif(not MOSQUITTO, reason="mosquitto-clients not installed")
def test_mosquitto_clients_with_cafile_cert_key(tls_gateway: TlsGatewayThread, pki: Pki) -> None:
    topic = f"dev/thing-1/{uuid.uuid4().hex[:6]}"
    sub = subprocess.Popen(
        mosquitto("mosquitto_sub", tls_gateway, pki, "thing-1", "-t", topic, "-C", "1", "-W", "10"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + WAIT
        while not tls_gateway.call(lambda: len(tls_gateway.gateway.broker.index)):
            assert time.monotonic() < deadline, "mosquitto_sub did not subscribe"
            time.sleep(0.02)
        # The policy allows one client id (thing-1), held by the subscriber: the message comes
        # from the plain listener, open to anyone.
        subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(tls_gateway.port), "-t", topic,
             "-m", "from-plain", "-q", "1"],
            check=True, timeout=WAIT, capture_output=True,
        )  # fmt: skip
        out, err = sub.communicate(timeout=WAIT + 5)
        assert sub.returncode == 0, err
        assert out.strip() == "from-plain"
    finally:
        if sub.poll() is None:
            sub.kill()
    pub = subprocess.run(
        mosquitto("mosquitto_pub", tls_gateway, pki, "thing-1", "-t", topic, "-m", "x", "-q", "1"),
        capture_output=True,
        timeout=WAIT,
    )
    assert pub.returncode == 0, pub.stderr


@pytest.mark.skipif(not MOSQUITTO, reason="mosquitto-clients not installed")
@pytest.mark.parametrize("device", ["unregistered", "thing-2"])
def test_mosquitto_with_an_unregistered_or_inactive_certificate_is_refused(
    tls_gateway: TlsGatewayThread, pki: Pki, device: str
) -> None:
    pub = subprocess.run(
        mosquitto("mosquitto_pub", tls_gateway, pki, device, "-t", "dev/x", "-m", "x", "-q", "1"),
        capture_output=True,
        timeout=WAIT,
    )
    assert pub.returncode != 0


def test_a_plain_tcp_client_on_the_tls_port_is_refused(tls_gateway: TlsGatewayThread) -> None:
    async def scenario() -> None:
        with pytest.raises(MqttError):
            await MqttClient("plain", host="127.0.0.1", port=tls_gateway.tls_port).connect()

    run(tls_gateway, scenario())
    assert tls_gateway.call(lambda: tls_gateway.gateway.stats()["tls_refused"]) >= 1


def test_the_server_certificate_names_localhost_and_127_0_0_1(
    tls_gateway: TlsGatewayThread, pki: Pki
) -> None:
    for host in ("localhost", "127.0.0.1"):
        context = ssl.create_default_context(cafile=str(pki.ca_file))
        context.load_cert_chain(pki.devices["thing-1"].cert, pki.devices["thing-1"].key)
        with (
            socket.create_connection(("127.0.0.1", tls_gateway.tls_port), timeout=WAIT) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_alpn_x_amzn_mqtt_ca_is_accepted_and_no_alpn_too(
    tls_gateway: TlsGatewayThread, pki: Pki
) -> None:
    # AWS's port 443 convention (protocols.html: "x-amzn-mqtt-ca"); on 8883 clients send none.
    for offered, selected in ((["x-amzn-mqtt-ca"], "x-amzn-mqtt-ca"), (None, None)):
        context = ssl.create_default_context(cafile=str(pki.ca_file))
        context.load_cert_chain(pki.devices["thing-1"].cert, pki.devices["thing-1"].key)
        if offered:
            context.set_alpn_protocols(offered)
        with (
            socket.create_connection(("127.0.0.1", tls_gateway.tls_port), timeout=WAIT) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.selected_alpn_protocol() == selected
