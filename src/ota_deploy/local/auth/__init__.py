"""Device identity for the local AWS IoT: certificates, mutual TLS and AWS IoT policies.

Pure groundwork (standard library, ``cryptography`` and ``ota_deploy.core`` only; no sockets,
no asyncio). Modules:

- ``certificates``: certificateId (SHA-256 of the DER), PEM parsing, registration checks.
- ``ca``: the local root CA (persisted) and CreateKeysAndCertificate's material.
- ``server_cert``: the gateway's server certificate for localhost, 127.0.0.1 and --host.
- ``tls``: the listener's ``MutualTls`` context, ``admit_peer`` after the handshake, client
  contexts.
"""

from ota_deploy.local.auth.ca import IssuedCertificate, LocalCa
from ota_deploy.local.auth.certificates import (
    CertificateInfo,
    certificate_id,
    check_registrable,
    parse_certificate_pem,
    verify_issued_by,
)
from ota_deploy.local.auth.errors import AuthError
from ota_deploy.local.auth.server_cert import ServerIdentity, server_identity
from ota_deploy.local.auth.tls import (
    Admission,
    MutualTls,
    admit_peer,
    client_context,
    client_context_from_pem,
    peer_certificate_der,
)

__all__ = [
    "Admission",
    "AuthError",
    "CertificateInfo",
    "IssuedCertificate",
    "LocalCa",
    "MutualTls",
    "ServerIdentity",
    "admit_peer",
    "certificate_id",
    "check_registrable",
    "client_context",
    "client_context_from_pem",
    "parse_certificate_pem",
    "peer_certificate_der",
    "server_identity",
    "verify_issued_by",
]
