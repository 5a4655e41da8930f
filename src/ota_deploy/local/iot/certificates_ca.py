"""CA certificates registered with the account: the CAs whose device certificates
RegisterCertificate accepts and the gateway's TLS listener trusts.

Data flow::

    GetRegistrationCode -> the account's code (a verification certificate's CN proves the
                           caller holds the CA's key)
    RegisterCACertificate(caCertificate, verificationCertificate?) -> parse + checks
        -> records.ca_certificates -> IdentityEvents.trust_anchor_added(pem)  (the listener
           trusts it from the next handshake on)
    RegisterCertificate (certificates.py) -> signer_of(device cert) -> the registered CA
    DescribeCACertificate / UpdateCACertificate / ListCACertificates / DeleteCACertificate

Rules, each from AWS's pages:

- RegisterCACertificate (https://docs.aws.amazon.com/iot/latest/apireference/
  API_RegisterCACertificate.html): "If certificateMode is SNI_ONLY, the verificationCertificate
  field must be empty. If certificateMode is DEFAULT or not provided, the
  verificationCertificate field must not be empty"; "You can register up to 10 CA certificates
  with the same CA subject field per Amazon Web Services account" (LimitExceededException); a
  certificate already registered is ResourceAlreadyExistsException.
- The verification certificate is signed by the CA's private key and its Common Name is the
  registration code (https://docs.aws.amazon.com/iot/latest/developerguide/
  register-CA-cert.html, DEFAULT mode): a wrong CN is
  RegistrationCodeValidationException, a wrong signer CertificateValidationException.
- GetRegistrationCode: "If you already have a registration code, this API call will return the
  same registration code" (API_GetRegistrationCode.html). Here it is derived from the account
  and region, so it survives restarts without being stored.
- Registration checks (signature algorithm, key size, validity) are ``local.auth``'s
  ``check_registrable``; a CA certificate must also say CA:TRUE in basicConstraints (RFC 5280
  4.2.1.9: only such a certificate may sign others, so OpenSSL would never build a chain
  through it).
- DeleteCACertificate answers CertificateStateException (the error its page lists) while the
  CA is ACTIVE, as DeleteCertificate does for device certificates: deactivate first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ota_deploy.local.auth import (
    AuthError,
    CertificateInfo,
    check_registrable,
    parse_certificate_pem,
    verify_issued_by,
)
from ota_deploy.local.auth.certificates import is_issued_by
from ota_deploy.local.iot import pagination
from ota_deploy.local.iot.arns import Arns
from ota_deploy.local.iot.errors import already_exists, error, not_found
from ota_deploy.local.iot.identity_common import by_creation, from_auth, generation_id
from ota_deploy.local.iot.identity_events import IdentityEvents
from ota_deploy.local.iot.records import CaCertificate, Records
from ota_deploy.local.iot.registry import dt

ACTIVE, INACTIVE = "ACTIVE", "INACTIVE"
DEFAULT_MODE, SNI_ONLY = "DEFAULT", "SNI_ONLY"
SAME_SUBJECT_MAX = 10  # API_RegisterCACertificate.html (see the module docstring)
LIST_PAGE = 25

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@lru_cache(maxsize=256)
def parsed(pem: str) -> CertificateInfo:
    """A stored certificate, parsed once (it was valid when it was stored)."""
    return parse_certificate_pem(pem)


def normal_id(raw: str) -> str:
    """A certificateId as stored: lower case, without the ``0x`` its pattern allows."""
    return raw.lower().removeprefix("0x")


class CaCertificates:
    def __init__(
        self, arns: Arns, now: Callable[[], float], records: Records, events: IdentityEvents
    ) -> None:
        self.arns = arns
        self._now = now
        self.table: dict[str, CaCertificate] = records.ca_certificates
        self._events = events

    def handlers(self) -> dict[str, Handler]:
        return {
            "GetRegistrationCode": self.get_registration_code,
            "RegisterCACertificate": self.register_ca_certificate,
            "DescribeCACertificate": self.describe_ca_certificate,
            "UpdateCACertificate": self.update_ca_certificate,
            "ListCACertificates": self.list_ca_certificates,
            "DeleteCACertificate": self.delete_ca_certificate,
        }

    # ---- lookups ----------
    def get(self, cert_id: str) -> CaCertificate:
        ca = self.table.get(normal_id(cert_id))
        if ca is None:
            not_found(f"CA certificate {cert_id} cannot be found.")
        return ca

    @property
    def registration_code(self) -> str:
        seed = f"ota-deploy registration code {self.arns.account} {self.arns.region}"
        return hashlib.sha256(seed.encode()).hexdigest()

    def signer_of(self, device: CertificateInfo, ca_pem: str | None) -> CaCertificate:
        """The registered CA that signed ``device`` (RegisterCertificate). ``ca_pem`` names it
        when several registered CAs share the issuer's subject (API_RegisterCertificate.html:
        "you must specify the CA certificate that was used to sign the device certificate")."""
        try:
            if ca_pem is not None:
                given = parse_certificate_pem(ca_pem, member="caCertificatePem")
                ca = self.table.get(given.certificate_id)
                if ca is None:
                    raise error(
                        "CertificateValidationException",
                        "caCertificatePem is not a CA certificate registered with this account.",
                    )
                verify_issued_by(device, given)
                return ca
        except AuthError as exc:
            raise from_auth(exc) from None
        for ca in self.table.values():
            if is_issued_by(device, parsed(ca.pem)):
                return ca
        raise error(
            "CertificateValidationException",
            f"The certificate's issuer ({device.issuer}) is not a CA certificate registered "
            "with this account; register it with RegisterCACertificate first.",
        )

    # ---- operations ----------
    def get_registration_code(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"registrationCode": self.registration_code}

    def register_ca_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        mode = p.get("certificateMode") or DEFAULT_MODE
        verification = p.get("verificationCertificate")
        if mode == SNI_ONLY and verification:
            raise error(
                "InvalidRequestException",
                "verificationCertificate must be empty when certificateMode is SNI_ONLY.",
            )
        if mode == DEFAULT_MODE and not verification:
            raise error(
                "InvalidRequestException",
                "verificationCertificate is required when certificateMode is DEFAULT.",
            )
        now = self._now()
        try:
            info = parse_certificate_pem(p["caCertificate"], member="caCertificate")
            check_registrable(info, now, member="caCertificate")
            if not info.is_ca:
                raise AuthError(
                    "CertificateValidationException",
                    "caCertificate is not a CA certificate (basicConstraints CA:TRUE).",
                )
            if verification:
                proof = parse_certificate_pem(verification, member="verificationCertificate")
                check_registrable(proof, now, member="verificationCertificate")
                if not is_issued_by(proof, info):
                    raise AuthError(
                        "CertificateValidationException",
                        "verificationCertificate is not signed by the CA certificate's key.",
                    )
                if proof.common_name != self.registration_code:
                    raise AuthError(
                        "RegistrationCodeValidationException",
                        "The verification certificate's Common Name is not the registration "
                        "code (GetRegistrationCode).",
                    )
        except AuthError as exc:
            raise from_auth(exc) from None
        cid = info.certificate_id
        if cid in self.table:
            already_exists(f"CA certificate {cid} is already registered.", cid, self.table[cid].arn)
        same = sum(1 for ca in self.table.values() if parsed(ca.pem).subject == info.subject)
        if same >= SAME_SUBJECT_MAX:
            raise error(
                "LimitExceededException",
                f"At most {SAME_SUBJECT_MAX} CA certificates with the subject {info.subject} "
                "may be registered.",
            )
        config = p.get("registrationConfig") or {}
        ca = CaCertificate(
            certificate_id=cid,
            arn=self.arns.cacert(cid),
            pem=info.pem,
            status=ACTIVE if p.get("setAsActive") else INACTIVE,
            created=now,
            updated=now,
            not_before=info.not_before.timestamp(),
            not_after=info.not_after.timestamp(),
            auto_registration="ENABLE" if p.get("allowAutoRegistration") else "DISABLE",
            mode=mode,
            registration_config={k: str(v) for k, v in config.items() if v is not None},
        )
        self.table[cid] = ca
        self._events.trust_anchor_added(ca.pem)
        return {"certificateArn": ca.arn, "certificateId": cid}

    def describe_ca_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        ca = self.get(p["certificateId"])
        out: dict[str, Any] = {
            "certificateDescription": {
                "certificateArn": ca.arn,
                "certificateId": ca.certificate_id,
                "status": ca.status,
                "certificatePem": ca.pem,
                "ownedBy": self.arns.account,
                "creationDate": dt(ca.created),
                "lastModifiedDate": dt(ca.updated),
                "autoRegistrationStatus": ca.auto_registration,
                "customerVersion": ca.customer_version,
                "generationId": generation_id(ca.updated, ca.customer_version),
                "validity": {"notBefore": dt(ca.not_before), "notAfter": dt(ca.not_after)},
                "certificateMode": ca.mode,
            }
        }
        if ca.registration_config:
            out["registrationConfig"] = dict(ca.registration_config)
        return out

    def update_ca_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        ca = self.get(p["certificateId"])
        changed = False
        if p.get("newStatus") and p["newStatus"] != ca.status:
            ca.status, changed = p["newStatus"], True
        if p.get("newAutoRegistrationStatus"):
            ca.auto_registration, changed = p["newAutoRegistrationStatus"], True
        if p.get("removeAutoRegistration"):
            ca.registration_config, changed = {}, True
        elif p.get("registrationConfig") is not None:
            config = p["registrationConfig"]
            ca.registration_config = {k: str(v) for k, v in config.items() if v is not None}
            changed = True
        if changed:
            ca.updated = self._now()
            ca.customer_version += 1
        return {}

    def list_ca_certificates(self, p: dict[str, Any]) -> dict[str, Any]:
        ascending = bool(p.get("ascendingOrder"))
        items = by_creation(self.table.values(), lambda c: c.created, ascending)
        template = p.get("templateName")
        if template:
            items = [c for c in items if c.registration_config.get("templateName") == template]
        chunk, marker = pagination.page(
            items,
            f"ListCACertificates:{ascending}:{template or ''}",
            p.get("marker"),
            p.get("pageSize"),
            LIST_PAGE,
        )
        out: dict[str, Any] = {
            "certificates": [
                {
                    "certificateArn": c.arn,
                    "certificateId": c.certificate_id,
                    "status": c.status,
                    "creationDate": dt(c.created),
                }
                for c in chunk
            ]
        }
        if marker:
            out["nextMarker"] = marker
        return out

    def delete_ca_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        ca = self.get(p["certificateId"])
        if ca.status == ACTIVE:
            raise error(
                "CertificateStateException",
                "The CA certificate must be deactivated (UpdateCACertificate) before it is "
                "deleted.",
            )
        del self.table[ca.certificate_id]
        return {}
