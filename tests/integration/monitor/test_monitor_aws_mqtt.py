"""AwsMqttWatcher (MQTT over WebSocket, SigV4-signed, via awscrt) against a local stand-in for
AWS IoT's wss endpoint: a TLS WebSocket server (self-signed cert) that checks the SigV4 query
parameters and bridges the MQTT bytes to the local AWS IoT's MQTT gateway."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ota_deploy.local.contracts import LocalEndpoints
from ota_deploy.monitor.aws_mqtt import AwsMqttWatcher


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class WssBridge:
    """wss://localhost:PORT/mqtt -> tcp://mqtt_host:mqtt_port, on its own loop/thread."""

    def __init__(self, cert: Path, key: Path, mqtt_host: str, mqtt_port: int) -> None:
        self.cert, self.key = cert, key
        self.mqtt = (mqtt_host, mqtt_port)
        self.queries: list[dict[str, str]] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _handler(self, request: web.Request) -> web.WebSocketResponse:
        self.queries.append(dict(request.query))
        ws = web.WebSocketResponse(protocols=("mqtt",))
        await ws.prepare(request)
        reader, writer = await asyncio.open_connection(*self.mqtt)

        async def tcp_to_ws() -> None:
            while data := await reader.read(65536):
                await ws.send_bytes(data)
            await ws.close()

        pump = asyncio.ensure_future(tcp_to_ws())
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                writer.write(msg.data)
                await writer.drain()
        pump.cancel()
        writer.close()
        return ws

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/mqtt", self._handler)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def __enter__(self) -> WssBridge:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture
def bridge(local_iot: LocalEndpoints, tmp_path: Path) -> Iterator[tuple[WssBridge, Path]]:
    cert, key = _self_signed(tmp_path)
    with WssBridge(cert, key, local_iot.mqtt_host, local_iot.mqtt_port) as b:
        yield b, cert


def test_signed_websocket_watcher_sees_job_events(
    bridge: tuple[WssBridge, Path], boto_iot: Any, boto_jobs_data: Any
) -> None:
    b, cert = bridge
    boto_iot.update_event_configurations(
        eventConfigurations={"JOB": {"Enabled": True}, "JOB_EXECUTION": {"Enabled": True}}
    )
    arn = boto_iot.create_thing(thingName="wss-dev")["thingArn"]
    boto_iot.create_job(jobId="Wss-1", targets=[arn], document=json.dumps({"x": 1}))
    watcher = AwsMqttWatcher(
        "localhost",
        region="us-east-1",
        access_key="AKIDEXAMPLE",
        secret_key="secret",
        session_token="token",
        port=b.port,
        ca_filepath=str(cert),
        client_id="wss-monitor",
    )
    watcher.start()
    try:
        assert watcher.connected
        query = b.queries[0]
        assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
        assert query["X-Amz-Credential"].startswith("AKIDEXAMPLE/")
        assert "/us-east-1/iotdevicegateway/aws4_request" in query["X-Amz-Credential"]
        assert "X-Amz-Signature" in query
        boto_jobs_data.update_job_execution(
            jobId="Wss-1", thingName="wss-dev", status="IN_PROGRESS"
        )
        boto_jobs_data.update_job_execution(
            jobId="Wss-1", thingName="wss-dev", status="SUCCEEDED", statusDetails={"v": "2"}
        )
        for _ in range(400):
            dev = watcher.tracker.devices.get("wss-dev")
            if dev is not None and dev.status == "SUCCEEDED":
                break
            threading.Event().wait(0.05)
        dev = watcher.tracker.devices.get("wss-dev")
        assert dev is not None and dev.status == "SUCCEEDED"
        assert dev.status_details == {"v": "2"}
    finally:
        watcher.stop()


def test_unreachable_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    watcher = AwsMqttWatcher(
        "localhost", region="us-east-1", access_key="a", secret_key="b", port=port, timeout_sec=5
    )
    with pytest.raises(ConnectionError, match=f"localhost:{port}"):
        watcher.start()


def test_monitor_cli_aws_mqtt_live_until_interrupted(
    bridge: tuple[WssBridge, Path], local_iot: LocalEndpoints, boto_iot: Any
) -> None:
    import signal
    import subprocess
    import sys

    b, cert = bridge
    arn = boto_iot.create_thing(thingName="cli-wss-dev")["thingArn"]
    boto_iot.create_job(jobId="Wss-2", targets=[arn], document="{}")
    endpoints = dict(local_iot.to_json_dict())
    del endpoints["mqtt"]  # only the signed WebSocket path
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ota_deploy.cli.app import main; main()", "monitor",
         "--job-id", "Wss-2", "--interval", "0.2", "--local-endpoints", json.dumps(endpoints),
         "--aws-mqtt", "--iot-endpoint", f"localhost:{b.port}", "--ca-file", str(cert)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # plain lines: stdout is not a terminal
        assert line.startswith("job Wss-2 IN_PROGRESS: QUEUED=1"), line
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "watching MQTT over WebSocket" in err and "--enable-events" in err
    assert b.queries and b.queries[0]["X-Amz-Credential"].startswith("local/")


def test_monitor_cli_rejects_mqtt_with_once() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "from ota_deploy.cli.app import main; main()", "monitor",
         "--job-id", "J", "--once", "--aws-mqtt"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "--once" in proc.stderr
