"""Certificates, policies and principals: what fleet provisioning (``fleet provision``) calls.

CreateKeysAndCertificate makes a real RSA-2048 key and a self-signed X.509 certificate with
``cryptography``; the certificate id is the SHA-256 of its DER bytes (64 hex digits, as AWS's).
References: https://docs.aws.amazon.com/iot/latest/apireference/API_CreateKeysAndCertificate.html ,
API_UpdateCertificate.html, API_DeleteCertificate.html ("a certificate must be INACTIVE and
not attached to a thing; forceDelete detaches policies"), API_CreatePolicy.html,
API_DeletePolicy.html, API_AttachPolicy.html, API_AttachThingPrincipal.html.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ota_deploy.local.iot import pagination
from ota_deploy.local.iot.arns import Arns
from ota_deploy.local.iot.errors import already_exists, error, invalid, not_found
from ota_deploy.local.iot.records import Certificate, Policy, Records
from ota_deploy.local.iot.registry import Registry, dt

CERT_VALID_DAYS = 3650
Handler = Callable[[dict[str, Any]], dict[str, Any]]


def make_key_and_certificate(now: float) -> tuple[str, str, str, float, float]:
    """(certificate PEM, public key PEM, private key PEM, notBefore, notAfter)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AWS IoT Certificate")])
    start = dt(now) - timedelta(minutes=5)
    end = start + timedelta(days=CERT_VALID_DAYS)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM).decode(),
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode(),
        start.timestamp(),
        end.timestamp(),
    )


class Provisioning:
    def __init__(
        self, arns: Arns, registry: Registry, now: Callable[[], float], records: Records
    ) -> None:
        self.arns = arns
        self.registry = registry
        self._now = now
        self.certificates: dict[str, Certificate] = records.certificates
        self.policies: dict[str, Policy] = records.policies

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateKeysAndCertificate": self.create_keys_and_certificate,
            "DescribeCertificate": self.describe_certificate,
            "UpdateCertificate": self.update_certificate,
            "DeleteCertificate": self.delete_certificate,
            "CreatePolicy": self.create_policy,
            "GetPolicy": self.get_policy,
            "DeletePolicy": self.delete_policy,
            "AttachPolicy": self.attach_policy,
            "DetachPolicy": self.detach_policy,
            "ListAttachedPolicies": self.list_attached_policies,
            "AttachThingPrincipal": self.attach_thing_principal,
            "DetachThingPrincipal": self.detach_thing_principal,
            "ListThingPrincipals": self.list_thing_principals,
        }

    # ---- certificates ----------
    def cert(self, cert_id: str) -> Certificate:
        c = self.certificates.get(cert_id.lower().removeprefix("0x"))
        if c is None:
            not_found(f"Certificate {cert_id} cannot be found.")
        return c

    def _cert_by_principal(self, principal: str) -> Certificate | None:
        if ":cert/" in principal:
            return self.cert(principal.rsplit("/", 1)[-1])
        return None

    def create_keys_and_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        now = self._now()
        pem, public, private, nb, na = make_key_and_certificate(now)
        der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
        cid = hashlib.sha256(der).hexdigest()
        c = Certificate(
            certificate_id=cid,
            arn=self.arns.cert(cid),
            pem=pem,
            status="ACTIVE" if p.get("setAsActive") else "INACTIVE",
            created=now,
            updated=now,
            not_before=nb,
            not_after=na,
        )
        self.certificates[cid] = c
        return {
            "certificateArn": c.arn,
            "certificateId": cid,
            "certificatePem": pem,
            "keyPair": {"PublicKey": public, "PrivateKey": private},
        }

    def describe_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        c = self.cert(p["certificateId"])
        return {
            "certificateDescription": {
                "certificateArn": c.arn,
                "certificateId": c.certificate_id,
                "status": c.status,
                "certificatePem": c.pem,
                "ownedBy": self.arns.account,
                "creationDate": dt(c.created),
                "lastModifiedDate": dt(c.updated),
                "customerVersion": 1,
                "generationId": f"{int(c.updated * 1000)}",
                "validity": {"notBefore": dt(c.not_before), "notAfter": dt(c.not_after)},
                "certificateMode": "DEFAULT",
            }
        }

    def update_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        c = self.cert(p["certificateId"])
        new = p["newStatus"]
        if new not in ("ACTIVE", "INACTIVE", "REVOKED"):
            invalid(f"Status {new} cannot be set by UpdateCertificate here.")
        if c.status == "REVOKED" and new != "REVOKED":
            raise error("CertificateStateException", "A revoked certificate cannot be changed.")
        c.status = new
        c.updated = self._now()
        return {}

    def delete_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        c = self.cert(p["certificateId"])
        if c.status == "ACTIVE":
            raise error(
                "CertificateStateException",
                "The certificate must be deactivated before it is deleted.",
            )
        if c.things:
            raise error(
                "DeleteConflictException", "The certificate is attached to one or more things."
            )
        attached = [pol for pol in self.policies.values() if c.arn in pol.targets]
        if attached and not p.get("forceDelete"):
            raise error(
                "DeleteConflictException",
                "The certificate has policies attached; detach them or use forceDelete.",
            )
        for pol in attached:
            pol.targets.pop(c.arn, None)
        del self.certificates[c.certificate_id]
        return {}

    # ---- policies ----------
    def policy(self, name: str) -> Policy:
        pol = self.policies.get(name)
        if pol is None:
            not_found(f"Policy {name} cannot be found.")
        return pol

    def create_policy(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["policyName"]
        if name in self.policies:
            already_exists(f"Policy {name} already exists.", name, self.policies[name].arn)
        try:
            doc = json.loads(p["policyDocument"])
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or "Statement" not in doc:
            raise error("MalformedPolicyException", "The policy document is not a valid policy.")
        now = self._now()
        pol = Policy(
            name=name,
            arn=self.arns.policy(name),
            document=p["policyDocument"],
            created=now,
            updated=now,
        )
        self.policies[name] = pol
        return {
            "policyName": name,
            "policyArn": pol.arn,
            "policyDocument": pol.document,
            "policyVersionId": pol.version_id,
        }

    def get_policy(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policy(p["policyName"])
        return {
            "policyName": pol.name,
            "policyArn": pol.arn,
            "policyDocument": pol.document,
            "defaultVersionId": pol.version_id,
            "creationDate": dt(pol.created),
            "lastModifiedDate": dt(pol.updated),
            "generationId": f"{int(pol.updated * 1000)}",
        }

    def delete_policy(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policy(p["policyName"])
        if pol.targets:
            raise error("DeleteConflictException", f"Policy {pol.name} is still attached.")
        del self.policies[pol.name]
        return {}

    def attach_policy(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policy(p["policyName"])
        self._cert_by_principal(p["target"])
        pol.targets[p["target"]] = None
        return {}

    def detach_policy(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policies.get(p["policyName"])
        if pol is not None:
            pol.targets.pop(p["target"], None)
        return {}

    def list_attached_policies(self, p: dict[str, Any]) -> dict[str, Any]:
        target = p["target"]
        refs = [
            {"policyName": pol.name, "policyArn": pol.arn}
            for pol in self.policies.values()
            if target in pol.targets
        ]
        chunk, marker = pagination.page(
            refs, "ListAttachedPolicies:" + target, p.get("marker"), p.get("pageSize")
        )
        return {"policies": chunk, **({"nextMarker": marker} if marker else {})}

    # ---- thing principals ----------
    def attach_thing_principal(self, p: dict[str, Any]) -> dict[str, Any]:
        thing = self.registry.thing(p["thingName"])
        cert = self._cert_by_principal(p["principal"])
        thing.principals[p["principal"]] = None
        if cert is not None:
            cert.things[thing.name] = None
        return {}

    def detach_thing_principal(self, p: dict[str, Any]) -> dict[str, Any]:
        thing = self.registry.thing(p["thingName"])
        thing.principals.pop(p["principal"], None)
        cert = self.certificates.get(p["principal"].rsplit("/", 1)[-1])
        if cert is not None:
            cert.things.pop(thing.name, None)
        return {}

    def list_thing_principals(self, p: dict[str, Any]) -> dict[str, Any]:
        thing = self.registry.thing(p["thingName"])
        chunk, token = pagination.page(
            list(thing.principals),
            "ListThingPrincipals:" + thing.name,
            p.get("nextToken"),
            p.get("maxResults"),
        )
        return {"principals": chunk, **({"nextToken": token} if token else {})}
