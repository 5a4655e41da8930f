"""Image verification: size, md5 and the ECDSA P-256 / SHA-256 signature.

The agent hands over what it computed while receiving (size, md5 hex, sha256 digest) and the
``FirmwareSpec`` from the job document; ``verify_image`` answers ``None`` (verified) or the
reason the image must not be installed. A device with nothing it can check (no md5, and a
signature but no public key) fails: it never reports SUCCEEDED for bytes it did not verify.

Signatures are base64 in the document, DER-encoded (what OpenSSL and ``cryptography`` produce;
AWS code signing's ``SHA256withECDSA``); a raw 64-byte ``r||s`` form is accepted too.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils


class PublicKeyError(ValueError):
    """The configured public key cannot be used."""


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """Read a PEM public key (or a certificate) holding an EC P-256 key."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise PublicKeyError(f"{path}: cannot read public key: {err.strerror}") from err
    key: object
    try:
        if b"BEGIN CERTIFICATE" in data:
            from cryptography import x509

            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError as err:
        raise PublicKeyError(f"{path}: not a PEM public key or certificate") from err
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise PublicKeyError(f"{path}: not an ECDSA P-256 public key")
    return key


def verify_signature(
    key: ec.EllipticCurvePublicKey, sha256_digest: bytes, signature: bytes
) -> bool:
    """ECDSA P-256 over a precomputed SHA-256 digest; DER or raw r||s signature."""
    if len(signature) == 64 and signature[0] != 0x30:
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        signature = utils.encode_dss_signature(r, s)
    try:
        key.verify(signature, sha256_digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_image(
    *,
    size: int,
    md5_hex: str,
    sha256_digest: bytes | None,
    expected_size: int | None,
    expected_md5: str | None,
    signature: bytes | None,
    public_key: ec.EllipticCurvePublicKey | None,
) -> str | None:
    """None when the image is verified, else the reason for FAILED."""
    if expected_size is not None and size != expected_size:
        return f"size mismatch: received {size} bytes, job document says {expected_size}"
    checked = False
    if expected_md5 is not None:
        if md5_hex != expected_md5:
            return f"md5 mismatch: expected {expected_md5}, computed {md5_hex}"
        checked = True
    if signature is not None and public_key is not None:
        if sha256_digest is None or not verify_signature(public_key, sha256_digest, signature):
            return "signature verification failed (ECDSA P-256 SHA-256)"
        checked = True
    if not checked:
        if signature is not None:
            return "image is signed but this device has no public key to verify it"
        return "job document carries no md5sum or signature: image cannot be verified"
    return None
