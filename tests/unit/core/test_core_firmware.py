"""Firmware digests and the SHA256withECDSA signature."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ota_deploy.core.errors import InputError
from ota_deploy.core.firmware import (
    SIGNATURE_ALGORITHM,
    Firmware,
    load_signing_key,
    public_pem_of,
    verify_signature,
)


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture()
def p256_key(tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    path.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
    return path


@pytest.mark.parametrize("chunk", [1, 7, 8192, 10**6])
def test_firmware_digests_equal_whole_file(tmp_path: Path, chunk: int) -> None:
    data = bytes(range(256)) * 41 + b"tail"
    path = tmp_path / "fw.bin"
    path.write_bytes(data)
    fw = Firmware.load(path, chunk_size=chunk)
    assert fw.size == len(data)
    assert fw.md5_hex == hashlib.md5(data).hexdigest()
    assert fw.sha256_hex == hashlib.sha256(data).hexdigest()
    assert fw.signature_b64 is None and fw.signature_algorithm is None


def test_firmware_signature_verifies(tmp_path: Path, p256_key: Path) -> None:
    data = b"firmware image" * 1000
    path = tmp_path / "fw.bin"
    path.write_bytes(data)
    fw = Firmware.load(path, chunk_size=100, signing_key=p256_key)
    assert fw.signature_algorithm == SIGNATURE_ALGORITHM == "SHA256withECDSA"
    assert fw.signature_b64 is not None
    public = public_pem_of(p256_key.read_bytes())
    assert verify_signature(data, fw.signature_b64, public)
    assert verify_signature(data, fw.signature_b64, public.decode())
    assert not verify_signature(data + b"x", fw.signature_b64, public)
    assert not verify_signature(data, "not base64!!", public)
    other = public_pem_of(_pem(ec.generate_private_key(ec.SECP256R1())))
    assert not verify_signature(data, fw.signature_b64, other)
    # DER-encoded ECDSA signature: a SEQUENCE
    assert base64.b64decode(fw.signature_b64)[0] == 0x30


def test_firmware_signature_matches_openssl(tmp_path: Path, p256_key: Path) -> None:
    """openssl (as OtaEnvBuild.sh uses it) accepts our signature for the same file."""
    openssl = subprocess.run(["which", "openssl"], capture_output=True, text=True).stdout.strip()
    if not openssl:
        pytest.skip("openssl not installed")
    path = tmp_path / "fw.bin"
    path.write_bytes(b"\x00\x01" * 5000)
    fw = Firmware.load(path, chunk_size=4096, signing_key=p256_key)
    assert fw.signature_b64 is not None
    sig = tmp_path / "sig.der"
    sig.write_bytes(base64.b64decode(fw.signature_b64))
    pub = tmp_path / "pub.pem"
    pub.write_bytes(public_pem_of(p256_key.read_bytes()))
    done = subprocess.run(
        [openssl, "dgst", "-sha256", "-verify", str(pub), "-signature", str(sig), str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_firmware_errors_name_bin(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    for path in (empty, tmp_path / "missing.bin", tmp_path):
        with pytest.raises(InputError) as info:
            Firmware.load(path, chunk_size=10)
        assert info.value.key == "binName"
        assert str(path) in str(info.value)


def test_firmware_bad_signing_keys(tmp_path: Path) -> None:
    fw = tmp_path / "fw.bin"
    fw.write_bytes(b"x")
    rsa_key = tmp_path / "rsa.pem"
    rsa_key.write_bytes(_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)))
    p384 = tmp_path / "p384.pem"
    p384.write_bytes(_pem(ec.generate_private_key(ec.SECP384R1())))
    text = tmp_path / "notakey.pem"
    text.write_text("hello")
    encrypted = tmp_path / "enc.pem"
    encrypted.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    for key, reason in [
        (rsa_key, "P-256"),
        (p384, "P-256"),
        (text, "not a PEM"),
        (encrypted, "encrypted"),
        (tmp_path / "nokey.pem", "not found"),
    ]:
        with pytest.raises(InputError) as info:
            Firmware.load(fw, chunk_size=1, signing_key=key)
        assert info.value.key == "signingKey"
        assert reason in str(info.value)
        with pytest.raises(ValueError):
            load_signing_key(key)
