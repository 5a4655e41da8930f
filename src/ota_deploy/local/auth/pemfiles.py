"""Key and certificate PEM files: atomic writes, private modes, clear errors on bad files.

Data flow: ``ca.LocalCa`` and ``server_cert`` persist their PEMs through ``write_pem`` (a
temporary file in the same directory, then ``os.replace``, so a crash never leaves half a key)
and read them back through ``read_certificate`` / ``read_private_key``, which turn unreadable
or inconsistent files into ``InputError`` naming the file (exit code 2, no traceback).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ota_deploy.core.errors import InputError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def key_pem(key: PrivateKey, *, pkcs1: bool = False) -> str:
    """Unencrypted PEM of ``key``: PKCS#8 (``BEGIN PRIVATE KEY``), or for RSA with
    ``pkcs1`` the traditional ``BEGIN RSA PRIVATE KEY`` form AWS hands out."""
    fmt = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if pkcs1
        else serialization.PrivateFormat.PKCS8
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode(
        "ascii"
    )


def public_key_pem(key: PrivateKey) -> str:
    """``BEGIN PUBLIC KEY`` (SubjectPublicKeyInfo) PEM of ``key``'s public half."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def write_pem(path: Path, text: str, *, private: bool = False) -> None:
    """Write ``text`` to ``path`` atomically; ``private`` files get mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600 if private else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_certificate(path: Path) -> x509.Certificate:
    """The one certificate in ``path``; ``InputError`` naming the file otherwise."""
    try:
        data = path.read_bytes()
        certs = x509.load_pem_x509_certificates(data)
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable PEM certificate ({exc})", file=str(path)) from None
    if len(certs) != 1:
        raise InputError(f"holds {len(certs)} certificates, expected 1", file=str(path))
    return certs[0]


def read_private_key(path: Path, *, ours: bool = False) -> PrivateKey:
    """The unencrypted RSA or EC private key in ``path``; ``InputError`` otherwise.

    ``ours``: a key this tool generated and stored itself (the local CA's, the gateway's);
    its RSA parameters are not re-validated (OpenSSL's check costs ~0.03-0.1 s per key at
    every start; cryptography's ``unsafe_skip_rsa_key_validation`` is meant for trusted keys)."""
    try:
        key = serialization.load_pem_private_key(
            path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=ours
        )
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(
            f"not a readable unencrypted PEM private key ({exc})", file=str(path)
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise InputError("holds a key that is neither RSA nor EC", file=str(path))
    return key


def same_public_key(key: PrivateKey, cert: x509.Certificate) -> bool:
    """Whether ``cert`` certifies ``key``'s public half."""
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.public_key().public_bytes(*fmt) == cert.public_key().public_bytes(*fmt)
