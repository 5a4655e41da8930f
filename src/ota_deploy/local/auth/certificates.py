"""X.509 certificates as AWS IoT reads them: certificateId, PEM parsing, registration checks.

Data flow: RegisterCertificate / RegisterCertificateWithoutCA / RegisterCACertificate hand a
PEM string to ``parse_certificate_pem``, which returns a ``CertificateInfo`` (the parsed
certificate, its DER bytes, its certificateId, subject, issuer, validity) or raises
``AuthError(CertificateValidationException)``. ``check_registrable`` applies the checks AWS
makes when a certificate is registered; ``verify_issued_by`` checks that a device certificate
was signed by a given CA certificate. After a TLS handshake the gateway computes
``certificate_id(peer_der)`` and looks the id up in the registry.

The certificateId is the SHA-256 digest of the certificate's DER encoding, as 64 lowercase
hexadecimal digits: the same value ``openssl x509 -noout -fingerprint -sha256`` prints, without
colons and in lower case. Sources: botocore's ``iot`` model (shape ``CertificateId``: fixed
length 64, pattern ``(0x)?[a-fA-F0-9]+``); AWS support's answer quoted in
https://github.com/getmoto/moto/issues/3321 ("AWS actually generates this certificate ID by
getting the SHA256 of the certificate in DER format"); checked against a certificate AWS IoT
issued (CN "AWS IoT Certificate", published in a public repository under its id as file name):
its DER SHA-256 equals the id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from ota_deploy.local.auth.errors import CERTIFICATE_VALIDATION, AuthError

# AWS IoT supports these certificate-signing algorithms (and no others):
# SHA256WITHRSA, SHA384WITHRSA, SHA512WITHRSA, DSA_WITH_SHA256, ECDSA-WITH-SHA256,
# ECDSA-WITH-SHA384, ECDSA-WITH-SHA512.
# https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html
SUPPORTED_SIGNATURE_ALGORITHMS = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
        SignatureAlgorithmOID.DSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
    }
)

# "Their cryptographic key sizes must meet a minimum required size (for RSA keys, they must
# be 2048 bits or larger)" -- one of the checks AWS IoT makes when a certificate is registered.
# https://docs.aws.amazon.com/iot/latest/developerguide/audit-chk-device-cert-key-quality.html
RSA_MIN_BITS = 2048


def _invalid(message: str) -> AuthError:
    return AuthError(CERTIFICATE_VALIDATION, message)


def certificate_id(certificate: str | bytes | x509.Certificate) -> str:
    """AWS's certificateId of a certificate given as PEM text, PEM bytes, DER bytes or a
    parsed certificate: the SHA-256 of its DER encoding in lowercase hex (64 digits)."""
    if isinstance(certificate, x509.Certificate):
        der = certificate.public_bytes(serialization.Encoding.DER)
    elif isinstance(certificate, str):
        der = parse_certificate_pem(certificate).der
    elif certificate.lstrip().startswith(b"-----"):
        der = parse_certificate_pem(certificate.decode("ascii", "replace")).der
    else:
        der = certificate
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class CertificateInfo:
    """One parsed certificate and the facts DescribeCertificate and the gateway need."""

    certificate: x509.Certificate
    der: bytes
    certificate_id: str
    pem: str  # the certificate alone, re-encoded as PEM

    @property
    def subject(self) -> str:
        """The subject distinguished name, RFC 4514 string form."""
        return self.certificate.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        return self.certificate.issuer.rfc4514_string()

    @property
    def common_name(self) -> str | None:
        """The subject's CN (RegisterCACertificate's verification certificate carries the
        registration code there), or None."""
        attrs = self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        value = attrs[0].value if attrs else None
        return value if isinstance(value, str) else None

    @property
    def not_before(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @property
    def is_ca(self) -> bool:
        """Whether basicConstraints says CA:TRUE."""
        try:
            ext = self.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound:
            return False
        return bool(ext.value.ca)

    @property
    def self_signed(self) -> bool:
        """Issuer equals subject and the signature verifies with the certificate's own key."""
        return self.certificate.issuer == self.certificate.subject and is_issued_by(self, self)

    def validity(self) -> dict[str, datetime]:
        """DescribeCertificate's ``validity`` member (``CertificateValidity``)."""
        return {"notBefore": self.not_before, "notAfter": self.not_after}


def _info(cert: x509.Certificate) -> CertificateInfo:
    der = cert.public_bytes(serialization.Encoding.DER)
    return CertificateInfo(
        certificate=cert,
        der=der,
        certificate_id=hashlib.sha256(der).hexdigest(),
        pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )


def info_of(cert: x509.Certificate) -> CertificateInfo:
    """``CertificateInfo`` of a certificate already parsed (e.g. one this CA issued)."""
    return _info(cert)


def parse_certificate_pem(text: str, *, member: str = "certificatePem") -> CertificateInfo:
    """Parse exactly one PEM certificate; anything else is ``CertificateValidationException``.

    ``member`` names the request member in the message (``certificatePem``,
    ``caCertificate``, ``verificationCertificate``...). Several certificates in one member are
    refused: the registration APIs take one certificate per member
    (https://docs.aws.amazon.com/iot/latest/apireference/API_RegisterCertificate.html).
    """
    if not isinstance(text, str) or "-----BEGIN CERTIFICATE-----" not in text:
        raise _invalid(f"{member} is not a PEM-encoded X.509 certificate.")
    try:
        certs = x509.load_pem_x509_certificates(text.encode("utf-8", "replace"))
    except ValueError as exc:
        raise _invalid(f"{member} could not be parsed as an X.509 certificate: {exc}") from None
    if len(certs) != 1:
        raise _invalid(f"{member} holds {len(certs)} certificates; exactly one is expected.")
    cert = certs[0]
    try:
        # Touch the fields every caller reads so a malformed one fails here, once.
        _ = (cert.subject, cert.issuer, cert.not_valid_before_utc, cert.not_valid_after_utc)
        cert.public_key()
    except ValueError as exc:
        raise _invalid(f"{member} has a malformed field: {exc}") from None
    return _info(cert)


def check_registrable(info: CertificateInfo, now: float, *, member: str = "certificatePem") -> None:
    """The checks AWS IoT makes when a certificate is registered: a supported signing
    algorithm, an RSA key of at least 2048 bits, and ``now`` within the validity period.

    Sources: https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html
    (signing algorithms) and
    https://docs.aws.amazon.com/iot/latest/developerguide/audit-chk-device-cert-key-quality.html
    ("AWS IoT performs basic sanity checks on these certificates when they are registered":
    valid format, within the validity period, RSA keys 2048 bits or larger). AWS's answer to a
    1024-bit RSA certificate is "The key in the certificate is not valid" (re:Post question
    QUUURY39RoSqCEUmoN7UbtZQ).
    """
    cert = info.certificate
    if cert.signature_algorithm_oid not in SUPPORTED_SIGNATURE_ALGORITHMS:
        oid = cert.signature_algorithm_oid.dotted_string
        raise _invalid(f"{member} is signed with an algorithm AWS IoT does not support ({oid}).")
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < RSA_MIN_BITS:
        raise _invalid("The key in the certificate is not valid")
    when = datetime.fromtimestamp(now, UTC)
    if when < info.not_before:
        raise _invalid(f"{member} is not valid before {info.not_before.isoformat()}.")
    if when > info.not_after:
        raise _invalid(f"{member} expired at {info.not_after.isoformat()}.")


def is_issued_by(cert: CertificateInfo, ca: CertificateInfo) -> bool:
    """Whether ``ca``'s subject is ``cert``'s issuer and ``ca``'s key verifies its signature."""
    try:
        cert.certificate.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def verify_issued_by(cert: CertificateInfo, ca: CertificateInfo) -> None:
    """RegisterCertificate's check that ``caCertificatePem`` signed ``certificatePem``."""
    if not is_issued_by(cert, ca):
        raise _invalid("The certificate is not signed by the CA certificate given.")
