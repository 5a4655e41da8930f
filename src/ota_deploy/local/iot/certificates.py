"""Device certificates as AWS IoT manages them.

Data flow::

    CreateKeysAndCertificate -> IssuingCa (the LocalCa given to the service) signs a new RSA key
    RegisterCertificate      -> parse + registration checks -> the registered CA that signed it
    RegisterCertificateWithoutCA -> parse + checks -> IdentityEvents.trust_anchor_added
        -> records.certificates (certificateId = SHA-256 of the DER)
    UpdateCertificate -> status -> IdentityEvents.certificate_status_changed (the gateway
        closes the certificate's connections when it is no longer ACTIVE)
    DescribeCertificate / ListCertificates / ListCertificatesByCA read the table;
    DeleteCertificate's cross-store rules (attached things and policies) are
    ``provisioning.Provisioning``'s, which then calls ``remove``.

Rules, each from AWS's pages:

- CreateKeysAndCertificate "Creates a 2048-bit RSA key pair and issues an X.509 certificate
  using the issued public key" (API_CreateKeysAndCertificate.html); ``setAsActive`` makes it
  ACTIVE, else INACTIVE. The certificate is signed by the local root CA (``local.auth.ca``
  explains its shape), so a device trusts the gateway and the gateway the device through the
  same PEM ``local serve`` prints as ``"ca"``.
- RegisterCertificate registers "a device certificate with IoT in the same certificate mode as
  the signing CA" (API_RegisterCertificate.html), which must be registered
  (``certificates_ca``); RegisterCertificateWithoutCA's certificates are SNI_ONLY: "A
  certificate in SNI_ONLY mode is registered without an issuer CA" (``certificateMode`` of
  API_CertificateDescription.html). ``status`` may be ACTIVE, INACTIVE or REVOKED ("Valid
  values that you can use include ACTIVE, INACTIVE, and REVOKED"), default INACTIVE; the deprecated
  ``setAsActive`` flag still works. A certificate already registered is
  ResourceAlreadyExistsException.
- UpdateCertificate: "Setting the status to PENDING_TRANSFER or PENDING_ACTIVATION will result
  in an exception being thrown"; "The status value REGISTER_INACTIVE is deprecated and should
  not be used" (refused here too); "This operation is idempotent"
  (API_UpdateCertificate.html). A REVOKED certificate stays revoked: "you can revoke client
  certificates to prevent them from any future use"
  (https://docs.aws.amazon.com/iot/latest/developerguide/activate-or-deactivate-device-cert.html)
  -- CertificateStateException.
- ListCertificates: "The results are paginated with a default page size of 25"
  (API_ListCertificates.html); order by creation date (``identity_common.by_creation``).

Time: certificates are checked by TLS peers against the wall clock, so a certificate is issued
at the earlier of the service's clock and the wall clock (``local.auth.ca`` explains why); the
registration checks use the service's clock, the one time source of the control plane.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ota_deploy.local.auth import (
    AuthError,
    CertificateInfo,
    LocalCa,
    check_registrable,
    parse_certificate_pem,
)
from ota_deploy.local.iot import pagination
from ota_deploy.local.iot.arns import Arns
from ota_deploy.local.iot.certificates_ca import SNI_ONLY, CaCertificates, normal_id
from ota_deploy.local.iot.errors import already_exists, error, invalid, not_found
from ota_deploy.local.iot.identity_common import by_creation, from_auth, generation_id
from ota_deploy.local.iot.identity_events import DELETED, IdentityEvents
from ota_deploy.local.iot.records import Certificate, Records
from ota_deploy.local.iot.registry import dt

ACTIVE, INACTIVE, REVOKED = "ACTIVE", "INACTIVE", "REVOKED"
REGISTRABLE_STATUSES = (ACTIVE, INACTIVE, REVOKED)
LIST_PAGE = 25

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class IssuingCa:
    """The ``LocalCa`` that signs CreateKeysAndCertificate's certificates: the one the service
    was given (``local serve`` persists it in the state directory), or an in-memory CA made on
    first use -- an RSA root takes tens of milliseconds and most tests never issue one."""

    def __init__(self, ca: LocalCa | None, issue_time: Callable[[], float]) -> None:
        self._ca = ca
        self._issue_time = issue_time

    @property
    def ca(self) -> LocalCa:
        if self._ca is None:
            self._ca = LocalCa.create(now=self._issue_time())
        return self._ca


class Certificates:
    def __init__(
        self,
        arns: Arns,
        now: Callable[[], float],
        records: Records,
        events: IdentityEvents,
        cas: CaCertificates,
        ca: LocalCa | None = None,
    ) -> None:
        self.arns = arns
        self._now = now
        self.table: dict[str, Certificate] = records.certificates
        self._events = events
        self._cas = cas
        self.issuer = IssuingCa(ca, self.issue_time)

    def issue_time(self) -> float:
        """When a certificate issued now starts to be valid: never after the wall clock, which
        every TLS peer checks it against (a ``--time-scale`` clock runs ahead of it)."""
        return min(self._now(), time.time())

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateKeysAndCertificate": self.create_keys_and_certificate,
            "RegisterCertificate": self.register_certificate,
            "RegisterCertificateWithoutCA": self.register_certificate_without_ca,
            "UpdateCertificate": self.update_certificate,
            "DescribeCertificate": self.describe_certificate,
            "ListCertificates": self.list_certificates,
            "ListCertificatesByCA": self.list_certificates_by_ca,
        }

    # ---- lookups ----------
    def get(self, cert_id: str) -> Certificate | None:
        return self.table.get(normal_id(cert_id))

    def cert(self, cert_id: str) -> Certificate:
        c = self.get(cert_id)
        if c is None:
            not_found(f"Certificate {cert_id} cannot be found.")
        return c

    def by_principal(self, principal: str) -> Certificate:
        """The certificate a principal ARN names (``arn:aws:iot:REGION:ACCOUNT:cert/ID``).
        Other principals (Amazon Cognito identities) have no meaning for the local AWS IoT."""
        if ":cert/" not in principal:
            invalid(
                f"Principal {principal} is not a certificate ARN; the local AWS IoT knows "
                "X.509 certificate principals only."
            )
        return self.cert(principal.rsplit("/", 1)[-1])

    # ---- issuing and registering ----------
    def _add(self, c: Certificate) -> None:
        if c.certificate_id in self.table:
            already_exists(
                f"Certificate {c.certificate_id} is already registered.",
                c.certificate_id,
                self.table[c.certificate_id].arn,
            )
        self.table[c.certificate_id] = c

    def create_keys_and_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        now = self._now()
        issued = self.issuer.ca.issue_keys_and_certificate(now=self.issue_time())
        info = issued.certificate
        c = Certificate(
            certificate_id=info.certificate_id,
            arn=self.arns.cert(info.certificate_id),
            pem=info.pem,
            status=ACTIVE if p.get("setAsActive") else INACTIVE,
            created=now,
            updated=now,
            not_before=info.not_before.timestamp(),
            not_after=info.not_after.timestamp(),
        )
        self._add(c)
        return issued.create_keys_and_certificate_output(c.arn)

    @staticmethod
    def _initial_status(p: dict[str, Any]) -> str:
        status = p.get("status")
        if status is None:
            return ACTIVE if p.get("setAsActive") else INACTIVE
        if status not in REGISTRABLE_STATUSES:
            invalid(
                f"status {status} cannot be set when registering a certificate; use "
                f"{', '.join(REGISTRABLE_STATUSES)}."
            )
        return str(status)

    @staticmethod
    def _parse(p: dict[str, Any]) -> CertificateInfo:
        try:
            return parse_certificate_pem(p["certificatePem"])
        except AuthError as exc:
            raise from_auth(exc) from None

    def _register(
        self, p: dict[str, Any], info: CertificateInfo, *, ca_id: str | None, mode: str
    ) -> dict[str, Any]:
        status = self._initial_status(p)
        now = self._now()
        try:
            check_registrable(info, now)
        except AuthError as exc:
            raise from_auth(exc) from None
        c = Certificate(
            certificate_id=info.certificate_id,
            arn=self.arns.cert(info.certificate_id),
            pem=info.pem,
            status=status,
            created=now,
            updated=now,
            not_before=info.not_before.timestamp(),
            not_after=info.not_after.timestamp(),
            ca_certificate_id=ca_id,
            mode=mode,
        )
        self._add(c)
        return {"certificateArn": c.arn, "certificateId": c.certificate_id}

    def register_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        device = self._parse(p)
        ca = self._cas.signer_of(device, p.get("caCertificatePem"))
        if ca.status != ACTIVE:
            raise error(
                "CertificateStateException",
                f"The CA certificate {ca.certificate_id} that signed it is {ca.status}.",
            )
        return self._register(p, device, ca_id=ca.certificate_id, mode=ca.mode)

    def register_certificate_without_ca(self, p: dict[str, Any]) -> dict[str, Any]:
        info = self._parse(p)
        out = self._register(p, info, ca_id=None, mode=SNI_ONLY)
        self._events.trust_anchor_added(info.pem)
        return out

    # ---- status ----------
    def update_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        c = self.cert(p["certificateId"])
        new = p["newStatus"]
        if new not in REGISTRABLE_STATUSES:
            invalid(
                f"Status {new} cannot be set with UpdateCertificate; use "
                f"{', '.join(REGISTRABLE_STATUSES)}."
            )
        if c.status == REVOKED and new != REVOKED:
            raise error(
                "CertificateStateException",
                f"Certificate {c.certificate_id} is REVOKED and cannot become {new}.",
            )
        if new == c.status:
            return {}  # idempotent
        c.status = new
        c.updated = self._now()
        c.customer_version += 1
        self._events.certificate_status_changed(c.certificate_id, new)
        return {}

    def remove(self, c: Certificate) -> None:
        """Forget ``c`` (DeleteCertificate, once its rules hold) and tell the listeners."""
        del self.table[c.certificate_id]
        self._events.certificate_status_changed(c.certificate_id, DELETED)

    # ---- reading ----------
    def describe_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        c = self.cert(p["certificateId"])
        out: dict[str, Any] = {
            "certificateArn": c.arn,
            "certificateId": c.certificate_id,
            "status": c.status,
            "certificatePem": c.pem,
            "ownedBy": self.arns.account,
            "creationDate": dt(c.created),
            "lastModifiedDate": dt(c.updated),
            "customerVersion": c.customer_version,
            "generationId": generation_id(c.updated, c.customer_version),
            "validity": {"notBefore": dt(c.not_before), "notAfter": dt(c.not_after)},
            "certificateMode": c.mode,
        }
        if c.ca_certificate_id:
            out["caCertificateId"] = c.ca_certificate_id
        return {"certificateDescription": out}

    @staticmethod
    def _summary(c: Certificate) -> dict[str, Any]:
        return {
            "certificateArn": c.arn,
            "certificateId": c.certificate_id,
            "status": c.status,
            "certificateMode": c.mode,
            "creationDate": dt(c.created),
        }

    def _listing(self, p: dict[str, Any], items: list[Certificate], scope: str) -> dict[str, Any]:
        ascending = bool(p.get("ascendingOrder"))
        ordered = by_creation(items, lambda c: c.created, ascending)
        chunk, marker = pagination.page(
            ordered, f"{scope}:{ascending}", p.get("marker"), p.get("pageSize"), LIST_PAGE
        )
        out: dict[str, Any] = {"certificates": [self._summary(c) for c in chunk]}
        if marker:
            out["nextMarker"] = marker
        return out

    def list_certificates(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._listing(p, list(self.table.values()), "ListCertificates")

    def list_certificates_by_ca(self, p: dict[str, Any]) -> dict[str, Any]:
        ca_id = normal_id(p["caCertificateId"])
        signed = [c for c in self.table.values() if c.ca_certificate_id == ca_id]
        return self._listing(p, signed, f"ListCertificatesByCA:{ca_id}")
