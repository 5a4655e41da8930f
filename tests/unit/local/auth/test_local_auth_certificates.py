"""Certificates as RegisterCertificate / RegisterCertificateWithoutCA / RegisterCACertificate
read them: one PEM certificate, AWS's registration checks, signed-by-CA, certificateId."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ota_deploy.local.auth.ca import IssuedCertificate, LocalCa
from ota_deploy.local.auth.certificates import (
    certificate_id,
    check_registrable,
    parse_certificate_pem,
    verify_issued_by,
)
from ota_deploy.local.auth.errors import AuthError

NOW = 1_700_000_000.0


def _refused(call, *args, **kwargs) -> AuthError:
    with pytest.raises(AuthError) as err:
        call(*args, **kwargs)
    assert err.value.code == "CertificateValidationException"
    assert err.value.status == 400  # botocore's iot model: httpStatusCode 400
    return err.value


def test_parse_reads_subject_issuer_validity_and_id(issued: IssuedCertificate, ca: LocalCa):
    info = parse_certificate_pem(issued.certificate_pem)
    assert info.subject == "CN=AWS IoT Certificate"
    assert info.issuer == ca.certificate.subject
    assert info.common_name == "AWS IoT Certificate"
    assert info.validity() == {
        "notBefore": datetime.fromtimestamp(NOW, UTC),
        "notAfter": datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC),
    }
    assert info.certificate_id == issued.certificate_id
    assert not info.is_ca and not info.self_signed
    assert ca.certificate.is_ca


def test_parse_accepts_surrounding_whitespace_and_text(issued: IssuedCertificate):
    text = "\n  # device 7\n" + issued.certificate_pem.replace("\n", "\r\n") + "\n\n"
    assert parse_certificate_pem(text).certificate_id == issued.certificate_id


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    ],
)
def test_anything_but_a_certificate_is_certificate_validation_exception(text: str):
    err = _refused(parse_certificate_pem, text, member="certificatePem")
    assert "certificatePem" in err.message


def test_two_certificates_in_one_member_are_refused(issued: IssuedCertificate, ca: LocalCa):
    err = _refused(
        parse_certificate_pem, issued.certificate_pem + ca.ca_pem, member="caCertificate"
    )
    assert "2 certificates" in err.message and "caCertificate" in err.message


def test_registrable_certificate_passes(make_cert):
    check_registrable(parse_certificate_pem(make_cert("dev").pem), NOW)
    ecdsa = make_cert("dev-ec", curve=ec.SECP256R1(), digest=hashes.SHA384())
    check_registrable(parse_certificate_pem(ecdsa.pem), NOW)


def test_rsa_key_under_2048_bits_is_refused_as_aws_words_it(make_cert):
    weak = parse_certificate_pem(make_cert("weak", bits=1024).pem)
    err = _refused(check_registrable, weak, NOW)
    assert err.message == "The key in the certificate is not valid"


def test_signature_algorithms_aws_does_not_list_are_refused(make_cert):
    sha224 = parse_certificate_pem(make_cert("odd", digest=hashes.SHA224()).pem)
    err = _refused(check_registrable, sha224, NOW)
    assert "does not support" in err.message


def test_certificate_outside_its_validity_period_is_refused(make_cert):
    expired = make_cert("gone", not_before=NOW - 7200, not_after=NOW - 3600)
    future = make_cert("later", not_before=NOW + 3600, not_after=NOW + 7200)
    assert "expired" in _refused(check_registrable, parse_certificate_pem(expired.pem), NOW).message
    assert (
        "not valid before"
        in _refused(check_registrable, parse_certificate_pem(future.pem), NOW).message
    )


def test_device_certificate_signed_by_the_given_ca(make_cert):
    root = make_cert("my CA", ca=True)
    device = make_cert("dev", issuer=root)
    stranger = make_cert("other CA", ca=True)
    verify_issued_by(parse_certificate_pem(device.pem), parse_certificate_pem(root.pem))
    err = _refused(
        verify_issued_by, parse_certificate_pem(device.pem), parse_certificate_pem(stranger.pem)
    )
    assert "not signed" in err.message
    same_name = make_cert("my CA", ca=True)  # same subject, different key: still refused
    _refused(
        verify_issued_by, parse_certificate_pem(device.pem), parse_certificate_pem(same_name.pem)
    )


def test_self_signed_is_detected(make_cert):
    assert parse_certificate_pem(make_cert("alone").pem).self_signed


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_certificate_id_equals_openssls_sha256_fingerprint_without_colons(
    issued: IssuedCertificate, tmp_path: Path
):
    pem = tmp_path / "cert.pem"
    pem.write_text(issued.certificate_pem)
    out = subprocess.run(
        ["openssl", "x509", "-in", str(pem), "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fingerprint = out.strip().split("=", 1)[1]  # "sha256 Fingerprint=AB:CD:..."
    assert fingerprint.replace(":", "").lower() == certificate_id(issued.certificate_pem)
