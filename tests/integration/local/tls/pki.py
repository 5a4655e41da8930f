"""The PKI and the TLS gateway thread the mutual-TLS tests share (fixtures: conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.unit.local.gateway.seam_authority import SeamAuthority

from ota_deploy.local.auth import LocalCa, MutualTls, server_identity
from ota_deploy.local.gateway import MqttGateway
from ota_deploy.runtime.loop_thread import LoopThread


@dataclass(frozen=True)
class Credentials:
    cert: Path
    key: Path
    pem: str


@dataclass(frozen=True)
class Pki:
    ca: LocalCa
    ca_file: Path
    devices: dict[str, Credentials]  # "thing-1", "thing-2", "unregistered", "foreign"


def _write(directory: Path, name: str, cert_pem: str, key_pem: str) -> Credentials:
    cert, key = directory / f"{name}.pem.crt", directory / f"{name}-private.pem.key"
    cert.write_text(cert_pem)
    key.write_text(key_pem)
    key.chmod(0o600)
    return Credentials(cert, key, cert_pem)


def make_pki(root: Path) -> Pki:
    now = time.time()
    ca = LocalCa.create(now=now, directory=root / "ca")
    foreign = LocalCa.create(now=now)
    devices: dict[str, Credentials] = {}
    for name, issuer in (
        ("thing-1", ca),
        ("thing-2", ca),
        ("unregistered", ca),
        ("foreign", foreign),
    ):
        issued = issuer.issue_keys_and_certificate(now=now)
        devices[name] = _write(root, name, issued.certificate_pem, issued.private_key_pem)
    assert ca.ca_path is not None
    return Pki(ca, ca.ca_path, devices)


class TlsGatewayThread:
    """A gateway with a plain and a mutual-TLS listener on a background loop thread, for
    blocking peers (paho, awscrt, subprocesses)."""

    def __init__(self, pki: Pki, authority: SeamAuthority) -> None:
        self.gateway = MqttGateway()
        self.authority = authority
        self.tls = MutualTls(server_identity(pki.ca, now=time.time()))
        self.port = self.tls_port = 0
        self._loop = LoopThread("test-tls-gateway")

    def start(self) -> TlsGatewayThread:
        self._loop.start()
        self.port = self._loop.run(self.gateway.start)
        self.tls_port = self._loop.run(
            lambda: self.gateway.start_tls(self.tls, self.authority, port=0)
        )
        return self

    def stop(self) -> None:
        self._loop.run(self.gateway.stop)
        self._loop.stop()

    def call(self, fn: Callable[[], Any]) -> Any:
        return self._loop.run(fn)
