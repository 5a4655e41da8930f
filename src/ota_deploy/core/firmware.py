"""The firmware image: size, digests and an optional code-signing signature.

``Firmware.load`` reads the file once, in ``fileChunkSize`` chunks (the manual's md5 "over
chunks": an incremental md5 over consecutive chunks equals the whole file's md5), feeding md5
and sha256 together. With a signing key it signs the sha256 digest with ECDSA P-256
(``SHA256withECDSA``: the DER signature, base64-encoded, exactly what
``openssl dgst -sha256 -sign key.pem`` produces in the manual's ``OtaEnvBuild.sh``); the job
document then carries ``signature`` + ``signatureAlgorithm`` instead of ``md5sum``.
``verify_signature`` is the device side of the same check (the simulated fleet uses it).
Errors a user can cause are ``InputError`` naming ``binName`` / ``signingKey``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from ota_deploy.core.errors import InputError

SIGNATURE_ALGORITHM = "SHA256withECDSA"


def load_signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """An unencrypted PEM ECDSA P-256 private key; ``ValueError`` with a reason otherwise."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"signing key file not found: {path}") from None
    except OSError as err:
        raise ValueError(f"cannot read signing key {path}: {err.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ValueError(f"signing key {path} is encrypted; give an unencrypted PEM key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError(f"{path} is not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"signing key {path} is not an ECDSA P-256 (prime256v1) key")
    return key


@dataclass(frozen=True)
class Firmware:
    """A firmware file's facts for the stream, the job document and the report."""

    path: Path
    size: int
    md5_hex: str
    sha256_hex: str
    signature_b64: str | None = None
    signature_algorithm: str | None = None

    @classmethod
    def load(cls, path: Path, *, chunk_size: int, signing_key: Path | None = None) -> Firmware:
        """Digest (and optionally sign) ``path``; ``InputError`` naming binName when bad."""
        if chunk_size < 1:
            raise InputError(f"chunk size must be >= 1, got {chunk_size}", key="fileChunkSize")
        md5 = hashlib.md5(usedforsecurity=False)
        sha256 = hashlib.sha256()
        size = 0
        try:
            with path.open("rb") as stream:
                while chunk := stream.read(chunk_size):
                    md5.update(chunk)
                    sha256.update(chunk)
                    size += len(chunk)
        except FileNotFoundError:
            raise InputError("firmware file not found", file=str(path), key="binName") from None
        except IsADirectoryError:
            raise InputError(
                "firmware path is a directory, not a file", file=str(path), key="binName"
            ) from None
        except OSError as err:
            raise InputError(
                f"cannot read firmware: {err.strerror}", file=str(path), key="binName"
            ) from None
        if size == 0:
            raise InputError("firmware file is empty", file=str(path), key="binName")
        signature: str | None = None
        if signing_key is not None:
            try:
                key = load_signing_key(signing_key)
            except ValueError as err:
                raise InputError(str(err), file=str(signing_key), key="signingKey") from None
            der = key.sign(sha256.digest(), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
            signature = base64.b64encode(der).decode("ascii")
        return cls(
            path=path,
            size=size,
            md5_hex=md5.hexdigest(),
            sha256_hex=sha256.hexdigest(),
            signature_b64=signature,
            signature_algorithm=SIGNATURE_ALGORITHM if signature else None,
        )


def public_pem_of(private_key_pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo PEM of a PEM private key (for devices that verify)."""
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verify_signature(data: bytes, signature_b64: str, public_key_pem: bytes | str) -> bool:
    """True when ``signature_b64`` is a valid SHA256withECDSA signature of ``data``."""
    pem = public_key_pem.encode("ascii") if isinstance(public_key_pem, str) else public_key_pem
    try:
        key = serialization.load_pem_public_key(pem)
        der = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
