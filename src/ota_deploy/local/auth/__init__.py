"""Device identity for the local AWS IoT: certificates, mutual TLS and AWS IoT policies.

Pure groundwork (standard library, ``cryptography`` and ``ota_deploy.core`` only; no sockets,
no asyncio) for the mutual-TLS listener and the certificate and policy operations. Modules:

- ``certificates``: certificateId (SHA-256 of the DER), PEM parsing, registration checks.
- ``ca``: the local root CA (persisted) and CreateKeysAndCertificate's material.
- ``server_cert``: the gateway's server certificate for localhost, 127.0.0.1 and --host.
- ``tls``: the listener's ``MutualTls`` context, ``admit_peer`` after the handshake, client
  contexts.
- ``policy``: policy documents validated as CreatePolicy does (MalformedPolicyException).
- ``context``, ``template``, ``conditions``, ``wildcard``: the request context, policy
  variables, Condition operators and ``*``/``?`` matching.
- ``policy_eval``: ``bind(context, documents)`` -> ``ConnectionPolicy`` answering
  iot:Connect / Publish / Subscribe / Receive.

Wiring (proposed; see each module's docstring):

Gateway (TLS listener and per-packet checks)::

    ca = LocalCa.load_or_create(state_dir / "tls" or None, now=min(clock.now(), time.time()))
    identity = server_identity(ca, now=..., hosts=[host], directory=same dir)
    tls = MutualTls(identity, trusted=registry.trust_anchor_pems())
    server = await asyncio.start_server(handle, host, mqtts_port, ssl=tls.context)
    # in handle(): after the handshake
    admission = admit_peer(peer_certificate_der(ssl_object), registry.effective_status)
    # at CONNECT
    policy = bind(PrincipalContext(client_id=..., certificate_id=admission.certificate_id,
                                   things=registry.things_of(cert), ...),
                  registry.policy_documents_of(cert))
    policy.can_connect() / can_subscribe(f) / can_publish(t) / can_receive(t)

Control plane (certificate and policy operations; built in ``local.iot``: ``certificates``,
``certificates_ca``, ``policies``, ``provisioning``, and ``identity.DeviceIdentity``, the
``DeviceAuthority`` the gateway gets as ``LocalIotService.device_authority``)::

    CreateKeysAndCertificate: issued = ca.issue_keys_and_certificate(now=...);
        store issued.certificate; reply issued.create_keys_and_certificate_output(arn)
    RegisterCertificate(WithoutCA) / RegisterCACertificate: info = parse_certificate_pem(pem);
        check_registrable(info, now); verify_issued_by(info, ca_info) (RegisterCertificate);
        then the DeviceAuthority's listeners hear trust_anchor_added(pem) for every CA
        certificate and every certificate registered without a CA, and the gateway calls
        tls.trust(pem), so the listener's handshake accepts it (``tls`` explains why)
    CreatePolicy / CreatePolicyVersion: parse_policy_document(text) (raises AuthError)
    AuthError(code, message).status -> the HTTP status from botocore's model
"""

from ota_deploy.local.auth.ca import IssuedCertificate, LocalCa
from ota_deploy.local.auth.certificates import (
    CertificateInfo,
    certificate_id,
    check_registrable,
    parse_certificate_pem,
    verify_issued_by,
)
from ota_deploy.local.auth.context import PrincipalContext, ThingFacts
from ota_deploy.local.auth.errors import AuthError
from ota_deploy.local.auth.policy import PolicyDocument, parse_policy_document
from ota_deploy.local.auth.policy_eval import ConnectionPolicy, Decision, bind, evaluate
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
    "ConnectionPolicy",
    "Decision",
    "IssuedCertificate",
    "LocalCa",
    "MutualTls",
    "PolicyDocument",
    "PrincipalContext",
    "ServerIdentity",
    "ThingFacts",
    "admit_peer",
    "bind",
    "certificate_id",
    "check_registrable",
    "client_context",
    "client_context_from_pem",
    "evaluate",
    "parse_certificate_pem",
    "parse_policy_document",
    "peer_certificate_der",
    "server_identity",
    "verify_issued_by",
]
