"""Fixtures for the device-identity tests: one local CA per session (RSA keys are slow to
make), a factory for certificates AWS would or would not accept, and an in-memory TLS
handshake between two real ``ssl`` objects (OpenSSL on both ends, no sockets)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ota_deploy.local.auth.ca import IssuedCertificate, LocalCa
from ota_deploy.local.auth.pemfiles import cert_pem, key_pem
from ota_deploy.local.auth.server_cert import ServerIdentity, server_identity

NOW = 1_700_000_000.0  # FakeClock's default start (2023-11-14)


@pytest.fixture(scope="session")
def ca() -> LocalCa:
    return LocalCa.create(now=NOW)


@pytest.fixture(scope="session")
def issued(ca: LocalCa) -> IssuedCertificate:
    return ca.issue_keys_and_certificate(now=NOW)


@pytest.fixture(scope="session")
def identity(ca: LocalCa) -> ServerIdentity:
    """The gateway's certificate; OpenSSL checks it against the wall clock, so it is issued
    at the wall clock's time."""
    return server_identity(ca, now=time.time(), hosts=["gateway.test"])


@dataclass(frozen=True)
class Made:
    """A certificate made by the tests' own ``cryptography`` code, with its key."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return cert_pem(self.cert)

    @property
    def key_pem(self) -> str:
        return key_pem(self.key)

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        cert_file, key_file = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
        cert_file.write_text(self.pem)
        key_file.write_text(self.key_pem)
        return cert_file, key_file


MakeCert = Callable[..., Made]


@pytest.fixture(scope="session")
def make_cert() -> MakeCert:
    """``make_cert(cn, issuer=None, ca=False, bits=2048, curve=None, digest=SHA256,
    not_before=NOW-3600, not_after=NOW+10y)``: self-signed unless ``issuer`` (a ``Made``)."""

    def make(
        cn: str,
        *,
        issuer: Made | None = None,
        ca: bool = False,
        bits: int = 2048,
        curve: ec.EllipticCurve | None = None,
        digest: hashes.HashAlgorithm | None = None,
        not_before: float = NOW - 3600,
        not_after: float = NOW + 10 * 365 * 86400,
    ) -> Made:
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
            ec.generate_private_key(curve)
            if curve is not None
            else rsa.generate_private_key(public_exponent=65537, key_size=bits)
        )
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer.cert.subject if issuer else name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime.fromtimestamp(not_before, UTC))
            .not_valid_after(datetime.fromtimestamp(not_after, UTC))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        signer = issuer.key if issuer else key
        return Made(builder.sign(signer, digest or hashes.SHA256()), key)

    return make


def handshake(
    server: ssl.SSLContext, client: ssl.SSLContext, *, server_hostname: str = "localhost"
) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """Run a TLS handshake between two memory-BIO ends; return (server, client) objects, or
    raise the ``ssl.SSLError`` either end raised. A TLS 1.3 client finishes before the server
    has checked its certificate, so the server's verdict decides."""
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    cli = client.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    pending = {"client": cli, "server": srv}
    for _ in range(20):
        for side in ("client", "server"):
            obj = pending.get(side)
            if obj is not None:
                try:
                    obj.do_handshake()
                    del pending[side]
                except ssl.SSLWantReadError:
                    pass
            s_in.write(c_out.read())
            c_in.write(s_out.read())
        if not pending:
            return srv, cli
    raise AssertionError("handshake did not finish")


@pytest.fixture(scope="session")
def tls_handshake() -> Callable[..., tuple[ssl.SSLObject, ssl.SSLObject]]:
    return handshake
