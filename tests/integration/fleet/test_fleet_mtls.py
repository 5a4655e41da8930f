"""``fleet provision`` then ``fleet run --aws`` over mutual TLS, end to end on loopback.

Real AWS cannot be reached from tests, so a TLS-terminating proxy stands in for the ATS
endpoint: it presents a server certificate for 127.0.0.1 (the ``--ca-file``), REQUIRES a client
certificate issued by the local control plane's CreateKeysAndCertificate, and pipes the
decrypted MQTT to the local gateway. The device uses the certificate ``fleet provision``
wrote, exactly as against AWS. (One device: the local control plane's certificates are all
self-signed with AWS's subject "CN=AWS IoT Certificate", so a trust store holding several of
them cannot tell them apart; AWS's are issued by its CA instead.)
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ota_deploy.aws.provisioning import THING_LIST, provision
from ota_deploy.aws.session import AwsClients, local_target

CLI = [sys.executable, "-c", "from ota_deploy.cli.app import main; main()"]


def _server_cert(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local ats endpoint")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "server.pem", tmp / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class TlsProxy:
    """Mutual-TLS front for the gateway, on its own loop and thread."""

    def __init__(self, ctx: ssl.SSLContext, upstream: tuple[str, int]) -> None:
        self.ctx = ctx
        self.upstream = upstream
        self.client_certs: list[dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ctx)
        )
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()
        server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.client_certs.append(writer.get_extra_info("peercert"))
        r2, w2 = await asyncio.open_connection(*self.upstream)

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                w.close()

        await asyncio.gather(pipe(reader, w2), pipe(r2, writer), return_exceptions=True)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_provisioned_devices_run_over_mutual_tls(
    local_iot: Any, boto_iot: Any, boto_s3: Any, tmp_path: Path
) -> None:
    clients = AwsClients(local_target({"iot": local_iot.iot}, local_iot.region))
    out = tmp_path / "fleet"
    manifest = provision(clients, count=1, prefix="tls", group="tls-group", out_dir=out)
    server_cert, server_key = _server_cert(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(server_cert, server_key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    # The device certificates are signed by the local CA now: trusting them as anchors
    # takes partial chains.
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.load_verify_locations(
        cadata="".join((out / str(d.cert_file)).read_text() for d in manifest.devices)
    )
    proxy = TlsProxy(ctx, (local_iot.mqtt_host, local_iot.mqtt_port))

    image = os.urandom(5000)
    boto_s3.create_bucket(Bucket="tls-fw")
    boto_s3.put_object(Bucket="tls-fw", Key="fw", Body=image)
    boto_iot.create_stream(
        streamId="tls-stream",
        files=[{"fileId": 0, "s3Location": {"bucket": "tls-fw", "key": "fw"}}],
        roleArn="arn:aws:iam::123456789012:role/r",
    )
    proc = subprocess.Popen(
        [
            *CLI,
            "fleet",
            "run",
            "--aws",
            "--things",
            str(out / THING_LIST),
            "--cert-dir",
            str(out),
            "--endpoint",
            f"127.0.0.1:{proxy.port}",
            "--ca-file",
            str(server_cert),
            "--json",
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        ready = proc.stderr.readline()
        assert "fleet ready: 1/1" in ready, ready + proc.stderr.read()
        doc = {
            "command": "fota",
            "streamId": "tls-stream",
            "fileId": 0,
            "fileSize": len(image),
            "md5sum": hashlib.md5(image).hexdigest(),
        }
        boto_iot.create_job(
            jobId="tls-job",
            targets=["arn:aws:iot:us-east-1:123456789012:thinggroup/tls-group"],
            document=json.dumps(doc),
        )
        deadline = time.monotonic() + 60
        while True:
            details = boto_iot.describe_job(jobId="tls-job")["job"]["jobProcessDetails"]
            if details["numberOfSucceededThings"] == 1:
                break
            if time.monotonic() > deadline:
                proc.terminate()
                raise AssertionError(f"{details} {proc.communicate(timeout=30)}")
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out_text, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proxy.stop()
    assert proc.returncode == 0, err
    assert json.loads(out_text.strip().splitlines()[-1])["by_status"] == {"SUCCEEDED": 1}
    assert len(proxy.client_certs) == 1 and all(proxy.client_certs)
