"""Device identities for a ``--tls`` local run: a certificate per thing that the local AWS IoT's
mutual-TLS listener accepts, made the way a device maker registers its own fleet with AWS.

Flow (``provision_devices``, inside the process that holds the ``LocalIotService``)::

    a fleet CA (EC P-256, this run only) -> GetRegistrationCode + a verification certificate
        (CN = the code, signed by the CA's key) -> RegisterCACertificate (ACTIVE)
    CreatePolicy: the least-privilege OTA device policy of ``fleet provision``
        (``core.device_policy``: connect as the thing, its jobs and streams only)
    per thing: an EC P-256 key and a certificate signed by the fleet CA -> RegisterCertificate
        (ACTIVE) -> AttachPolicy -> AttachThingPrincipal; PEM files under ``directory`` (0600)
    -> {thing: (certificate file, key file)}; the devices trust the listener through the
       local CA that ``LocalEndpoints.ca`` names

Why not CreateKeysAndCertificate per thing: AWS makes a 2048-bit RSA key for each (about 90 ms
of CPU here), so ten thousand devices would wait a quarter of an hour; registering certificates
of one's own CA is AWS's documented way for fleets
(https://docs.aws.amazon.com/iot/latest/developerguide/register-CA-cert.html,
https://docs.aws.amazon.com/iot/latest/developerguide/manual-cert-registration.html).
``fleet provision`` against the local AWS IoT still uses CreateKeysAndCertificate, as against AWS.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ota_deploy.core.device_policy import policy_document

POLICY = "ota-deploy-local-fleet-policy"
VALID = datetime.timedelta(days=7)


def provision_devices(
    service: Any,
    things: list[str],
    *,
    region: str,
    account: str,
    directory: Path,
    now: float,
) -> dict[str, tuple[Path, Path]]:
    """Certificates for ``things`` registered with ``service``; see the module docstring."""
    directory.mkdir(parents=True, exist_ok=True)
    start = datetime.datetime.fromtimestamp(now, datetime.UTC) - datetime.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ota-deploy local fleet CA")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), start)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    code = service.call("iot", "GetRegistrationCode", {})["registrationCode"]
    proof_key = ec.generate_private_key(ec.SECP256R1())
    proof = _builder(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, code)]),
        ca_name,
        proof_key.public_key(),
        start,
    ).sign(ca_key, hashes.SHA256())
    service.call(
        "iot",
        "RegisterCACertificate",
        {
            "caCertificate": ca_pem,
            "verificationCertificate": proof.public_bytes(serialization.Encoding.PEM).decode(),
            "setAsActive": True,
        },
    )
    service.call(
        "iot",
        "CreatePolicy",
        {"policyName": POLICY, "policyDocument": json.dumps(policy_document(region, account))},
    )
    files: dict[str, tuple[Path, Path]] = {}
    for thing in things:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, thing)]),
            ca_name,
            key.public_key(),
            start,
        ).sign(ca_key, hashes.SHA256())
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        arn = service.call(
            "iot",
            "RegisterCertificate",
            {"certificatePem": cert_pem.decode(), "caCertificatePem": ca_pem, "status": "ACTIVE"},
        )["certificateArn"]
        service.call("iot", "AttachPolicy", {"policyName": POLICY, "target": arn})
        service.call("iot", "AttachThingPrincipal", {"thingName": thing, "principal": arn})
        cert_file, key_file = directory / f"{thing}.cert.pem", directory / f"{thing}.private.key"
        _write_private(cert_file, cert_pem)
        _write_private(
            key_file,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        files[thing] = (cert_file, key_file)
    return files


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: Any, start: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALID)
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
