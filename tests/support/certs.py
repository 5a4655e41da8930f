"""Certificates a customer brings to AWS IoT, made for tests with the project's own CA code.

- ``customer_ca(now)``: a CA of the customer's own (an RSA root, ``local.auth.LocalCa``), to
  register with RegisterCACertificate;
- ``verification_pem(ca, code, now)``: the "private key verification certificate" whose Common
  Name is the account's registration code, signed by that CA's key;
- ``signed_by(ca, now)``: a device certificate the CA signed (RegisterCertificate);
- ``self_signed(now, cn)``: a device certificate without a CA (RegisterCertificateWithoutCA).

RSA keys take tens of milliseconds each: make them once per module where a test can.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from ota_deploy.local.auth import LocalCa
from ota_deploy.local.auth.ca import new_rsa_key
from ota_deploy.local.auth.pemfiles import cert_pem, key_pem


@dataclass(frozen=True)
class DeviceCert:
    pem: str
    key_pem: str


def _when(now: float) -> datetime:
    return datetime.fromtimestamp(int(now), UTC)


def customer_ca(now: float) -> LocalCa:
    return LocalCa.create(now=now - 3600)


def verification_pem(ca: LocalCa, code: str, now: float) -> str:
    key = new_rsa_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, code)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_when(now) - timedelta(hours=1))
        .not_valid_after(_when(now) + timedelta(days=30))
    )
    return cert_pem(ca.sign(builder))


def signed_by(ca: LocalCa, now: float) -> DeviceCert:
    issued = ca.issue_keys_and_certificate(now=now - 60)
    return DeviceCert(issued.certificate_pem, issued.private_key_pem)


def self_signed(now: float, cn: str = "device") -> DeviceCert:
    key = new_rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_when(now) - timedelta(hours=1))
        .not_valid_after(_when(now) + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return DeviceCert(cert_pem(cert), key_pem(key))
