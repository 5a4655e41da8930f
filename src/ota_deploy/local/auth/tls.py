"""TLS contexts for mutual TLS: the gateway's listener, and clients (fleet, tests).

Data flow on the gateway::

    MutualTls(server_identity(...), trusted=[registered CA PEMs, certificates registered
              without a CA])
        .context            -> asyncio.start_server(..., ssl=context)
        .trust(pem)         <- the control plane, on RegisterCACertificate and
                               RegisterCertificateWithoutCA (takes effect for the next handshake)
    after the handshake:
        admit_peer(ssl_object.getpeercert(binary_form=True), status_of) -> Admission
            (the certificateId, and whether the registry holds it ACTIVE) -> close, or go on
            to MQTT CONNECT and policy checks.

Why two stages. AWS IoT admits a client certificate that AWS issued, one signed by a CA
registered with AWS IoT, or one registered without its CA (RegisterCertificateWithoutCA), and
only while it is registered and ACTIVE
(https://docs.aws.amazon.com/iot/latest/developerguide/x509-client-certs.html). Python's ``ssl``
module offers no verify callback: with ``CERT_REQUIRED`` or ``CERT_OPTIONAL`` OpenSSL aborts
the handshake on any presented certificate that does not chain to a trust anchor, so "accept
any certificate and decide afterwards" cannot be expressed. Instead the listener's trust store
holds the local CA, every registered CA certificate and every certificate registered without
a CA, with ``VERIFY_X509_PARTIAL_CHAIN`` so that a trusted leaf certificate is a complete
chain by itself (a device of an unregistered CA sends no chain AWS could build). OpenSSL then
checks what TLS can check (possession of the private key, signatures, validity dates) and
refuses every certificate that is not ours, as AWS does. Registration adds anchors to the live
context (``load_verify_locations`` on a context affects later handshakes); since anchors
cannot be removed, the authoritative decision (registered? ACTIVE?) is made after the
handshake by certificateId, which also covers a certificate deactivated, revoked or deleted
after it was trusted.

TLS versions: AWS IoT Core accepts TLS 1.2 and 1.3
(https://docs.aws.amazon.com/iot/latest/developerguide/transport-security.html). ALPN: a
client that offers ``x-amzn-mqtt-ca`` (MQTT with an X.509 client certificate, AWS's port 443
convention, https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html) gets it.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ota_deploy.local.auth.certificates import (
    CertificateInfo,
    certificate_id,
    parse_certificate_pem,
)
from ota_deploy.local.auth.server_cert import ServerIdentity

ALPN_PROTOCOLS = ("x-amzn-mqtt-ca", "mqtt")
ACTIVE = "ACTIVE"


def _load_chain_from_pem(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    """``load_cert_chain`` reads files only: write the PEMs to a private temporary directory,
    load them (read at once) and remove them."""
    with tempfile.TemporaryDirectory(prefix="ota-deploy-tls-") as tmp:
        cert_file, key_file = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        key_file.touch(mode=0o600)
        key_file.write_text(key_pem, encoding="ascii")
        cert_file.write_text(cert_pem, encoding="ascii")
        context.load_cert_chain(str(cert_file), str(key_file))


class MutualTls:
    """The gateway's mutual-TLS server context and the trust anchors it holds."""

    def __init__(self, identity: ServerIdentity, trusted: Iterable[str | CertificateInfo] = ()):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        ctx.set_alpn_protocols(list(ALPN_PROTOCOLS))
        if identity.cert_path is not None and identity.key_path is not None:
            ctx.load_cert_chain(str(identity.cert_path), str(identity.key_path))
        else:
            _load_chain_from_pem(ctx, identity.certificate.pem, identity.key_pem)
        self.context = ctx
        self.identity = identity
        self._anchors: set[str] = set()
        self.trust(identity.ca_pem)
        for item in trusted:
            self.trust(item)

    def trust(self, certificate: str | CertificateInfo) -> bool:
        """Add a trust anchor (a CA certificate, or a device certificate registered without
        its CA) for the handshakes that follow; False if it was already trusted."""
        info = parse_certificate_pem(certificate) if isinstance(certificate, str) else certificate
        if info.certificate_id in self._anchors:
            return False
        self.context.load_verify_locations(cadata=info.pem)
        self._anchors.add(info.certificate_id)
        return True

    def trusts(self, certificate_id: str) -> bool:
        return certificate_id in self._anchors

    @property
    def anchor_count(self) -> int:
        return len(self._anchors)


def peer_certificate_der(tls: ssl.SSLObject | ssl.SSLSocket) -> bytes | None:
    """The DER bytes of the client certificate of a completed handshake (None if none)."""
    return tls.getpeercert(binary_form=True)


@dataclass(frozen=True)
class Admission:
    """The gateway's decision on a client after the TLS handshake."""

    certificate_id: str | None
    admitted: bool
    reason: str  # why not, for the one log line; "" when admitted


def admit_peer(der: bytes | None, status_of: Callable[[str], str | None]) -> Admission:
    """Admit a client whose certificate the registry holds ACTIVE.

    ``status_of(certificate_id)`` is the registry's answer: the certificate's status (ACTIVE,
    INACTIVE, REVOKED, PENDING_TRANSFER...) with its CA's state folded in by the caller, or None
    when no such certificate is registered. AWS accepts only registered, ACTIVE certificates
    (https://docs.aws.amazon.com/iot/latest/developerguide/activate-or-deactivate-device-cert.html).
    """
    if not der:
        return Admission(None, False, "no client certificate")
    cid = certificate_id(der)
    status = status_of(cid)
    if status is None:
        return Admission(cid, False, f"certificate {cid} is not registered")
    if status != ACTIVE:
        return Admission(cid, False, f"certificate {cid} is {status}")
    return Admission(cid, True, "")


def client_context(
    *,
    cert_file: str | Path,
    key_file: str | Path,
    ca_file: str | Path | None = None,
    ca_pem: str | None = None,
    check_hostname: bool = True,
) -> ssl.SSLContext:
    """A client context for mutual TLS: trust ``ca_file``/``ca_pem`` (the PEM ``local serve``
    prints as ``"ca"``), present ``cert_file`` + ``key_file`` (e.g. CreateKeysAndCertificate's
    certificatePem and keyPair.PrivateKey saved to files)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = check_hostname
    if ca_file is None and ca_pem is None:
        raise ValueError("client_context needs ca_file or ca_pem")
    ctx.load_verify_locations(cafile=None if ca_file is None else str(ca_file), cadata=ca_pem)
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


def client_context_from_pem(
    *, ca_pem: str, cert_pem: str, key_pem: str, check_hostname: bool = True
) -> ssl.SSLContext:
    """``client_context`` for credentials held in memory (a fleet that provisioned itself)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = check_hostname
    ctx.load_verify_locations(cadata=ca_pem)
    _load_chain_from_pem(ctx, cert_pem, key_pem)
    return ctx
