"""The gateway's TLS server certificate, signed by the local CA and kept in step with the
names the gateway answers on.

Data flow::

    server_identity(ca, hosts=["myhost"], now=..., directory=...) -> ServerIdentity
        (certificate + key PEMs, and their files when persisted) -> tls.server_context(...)

The certificate names ``localhost``, ``127.0.0.1`` and every extra host the caller gives
(``local serve --host``): DNS names as dNSName entries, IPv4/IPv6 literals as iPAddress entries
of the subjectAltName, which is what TLS clients match the host they dialled against
(RFC 6125; OpenSSL, mbedTLS and s2n ignore the CN when a SAN is present). It carries the
serverAuth extended key usage and is valid for a year. A persisted certificate is reused
until the requested names change, it was not signed by the current CA, or it is within 30 days
of expiry; then a new key and certificate replace it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ota_deploy.local.auth.ca import LocalCa, new_rsa_key
from ota_deploy.local.auth.certificates import CertificateInfo, info_of, is_issued_by
from ota_deploy.local.auth.pemfiles import (
    cert_pem,
    key_pem,
    read_certificate,
    read_private_key,
    same_public_key,
    write_pem,
)

SERVER_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"
DEFAULT_NAMES = ("localhost", "127.0.0.1")
VALIDITY = timedelta(days=365)
RENEW_BEFORE = timedelta(days=30)
BACKDATE = timedelta(hours=1)  # tolerate a little clock skew between peers

SanEntry = x509.DNSName | x509.IPAddress


def _entry(host: str) -> SanEntry | None:
    name = host.strip().strip("[]").rstrip(".")
    if not name:
        return None
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name.lower())


def san_entries(hosts: Iterable[str] = ()) -> tuple[SanEntry, ...]:
    """The subjectAltName entries for ``localhost``, ``127.0.0.1`` and ``hosts``, in order,
    without duplicates."""
    seen: dict[SanEntry, None] = {}
    for host in (*DEFAULT_NAMES, *hosts):
        entry = _entry(host)
        if entry is not None:
            seen.setdefault(entry, None)
    return tuple(seen)


def certificate_names(cert: x509.Certificate) -> frozenset[SanEntry]:
    """The dNSName and iPAddress entries of ``cert``'s subjectAltName."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset(e for e in san if isinstance(e, x509.DNSName | x509.IPAddress))


@dataclass(frozen=True)
class ServerIdentity:
    """What the TLS listener presents: its certificate and key, and the CA that signed it."""

    certificate: CertificateInfo
    key_pem: str
    ca_pem: str
    cert_path: Path | None = None  # set when persisted
    key_path: Path | None = None

    @property
    def names(self) -> frozenset[SanEntry]:
        return certificate_names(self.certificate.certificate)


def _issue(
    ca: LocalCa, entries: tuple[SanEntry, ...], now: datetime
) -> tuple[x509.Certificate, str]:
    key = new_rsa_key()
    first_dns = next((e.value for e in entries if isinstance(e, x509.DNSName)), "localhost")
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ota-deploy"),
                    x509.NameAttribute(NameOID.COMMON_NAME, first_dns),
                ]
            )
        )
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(list(entries)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return ca.sign(builder), key_pem(key)


def _reusable(
    ca: LocalCa, cert: x509.Certificate, entries: tuple[SanEntry, ...], now: datetime
) -> bool:
    return (
        certificate_names(cert) == frozenset(entries)
        and is_issued_by(info_of(cert), ca.certificate)
        and cert.not_valid_before_utc <= now
        and now + RENEW_BEFORE < cert.not_valid_after_utc
    )


def server_identity(
    ca: LocalCa, *, now: float, hosts: Iterable[str] = (), directory: Path | str | None = None
) -> ServerIdentity:
    """The gateway's certificate for ``hosts`` (plus localhost and 127.0.0.1): reused from
    ``directory`` when still right, else issued (and written there when a directory is given)."""
    when = datetime.fromtimestamp(int(now), UTC)
    entries = san_entries(hosts)
    if directory is None:
        cert, key_text = _issue(ca, entries, when)
        return ServerIdentity(info_of(cert), key_text, ca.ca_pem)
    root = Path(directory)
    cert_path, key_path = root / SERVER_FILE, root / SERVER_KEY_FILE
    if cert_path.exists() and key_path.exists():
        cert, key = read_certificate(cert_path), read_private_key(key_path, ours=True)
        if same_public_key(key, cert) and _reusable(ca, cert, entries, when):
            return ServerIdentity(info_of(cert), key_pem(key), ca.ca_pem, cert_path, key_path)
    cert, key_text = _issue(ca, entries, when)
    write_pem(key_path, key_text, private=True)
    write_pem(cert_path, cert_pem(cert))
    return ServerIdentity(info_of(cert), key_text, ca.ca_pem, cert_path, key_path)
