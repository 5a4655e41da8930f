"""Certificates as AWS IoT manages them, through real boto3 clients (``AwsPair``): every request
and reply goes through botocore's serialiser, the control plane's front end and botocore's
parser, so shapes, error codes and HTTP statuses are AWS's.

Spec: API_CreateKeysAndCertificate.html, API_RegisterCACertificate.html,
API_RegisterCertificate.html, API_RegisterCertificateWithoutCA.html, API_UpdateCertificate.html,
API_DeleteCertificate.html, API_ListCertificates.html (apireference), and
https://docs.aws.amazon.com/iot/latest/developerguide/activate-or-deactivate-device-cert.html
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from tests.support.aws_pair import AwsPair
from tests.support.certs import customer_ca, self_signed, signed_by, verification_pem

from ota_deploy.local.auth import certificate_id, parse_certificate_pem
from ota_deploy.local.auth.certificates import is_issued_by

POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    }
)


class Heard:
    """A DeviceAuthorityListener that writes down what it is told."""

    def __init__(self) -> None:
        self.statuses: list[tuple[str, str]] = []
        self.permissions: list[frozenset[str] | None] = []
        self.anchors: list[str] = []

    def certificate_status_changed(self, certificate_id: str, status: str) -> None:
        self.statuses.append((certificate_id, status))

    def permissions_changed(self, certificate_ids: frozenset[str] | None) -> None:
        self.permissions.append(certificate_ids)

    def trust_anchor_added(self, pem: str) -> None:
        self.anchors.append(pem)


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def pair() -> AwsPair:
    return AwsPair()


@pytest.fixture
def iot(pair: AwsPair) -> Any:
    return pair.client("iot", max_attempts=1)


def test_create_keys_and_certificate_is_signed_by_the_local_ca(pair: AwsPair, iot: Any) -> None:
    heard = Heard()
    pair.svc.device_authority.add_listener(heard)
    out = iot.create_keys_and_certificate(setAsActive=True)
    info = parse_certificate_pem(out["certificatePem"])
    # certificateId: SHA-256 of the DER; the ARN names it
    assert out["certificateId"] == certificate_id(info.der) == info.certificate_id
    assert out["certificateArn"] == f"arn:aws:iot:us-east-1:123456789012:cert/{info.certificate_id}"
    # a 2048-bit RSA key pair whose public half is the certificate's, PKCS#1 private key
    key = serialization.load_pem_private_key(out["keyPair"]["PrivateKey"].encode(), None)
    assert out["keyPair"]["PrivateKey"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert key.public_key().public_numbers() == info.certificate.public_key().public_numbers()  # type: ignore[union-attr]
    assert info.certificate.public_key().key_size == 2048  # type: ignore[union-attr]
    # signed by the root the gateway trusts (not self-signed any more)
    anchors = pair.svc.device_authority.trust_anchor_pems()
    root = parse_certificate_pem(anchors[0])
    assert is_issued_by(info, root) and not info.self_signed
    assert info.subject == "CN=AWS IoT Certificate"
    desc = iot.describe_certificate(certificateId=out["certificateId"])["certificateDescription"]
    assert (desc["status"], desc["certificateMode"]) == ("ACTIVE", "DEFAULT")
    assert desc["validity"]["notAfter"].year == 2049
    assert pair.svc.device_authority.certificate_status(out["certificateId"]) == "ACTIVE"
    assert heard.statuses == [] and heard.anchors == []  # the local root is trusted already
    inactive = iot.create_keys_and_certificate()
    assert pair.svc.device_authority.certificate_status(inactive["certificateId"]) == "INACTIVE"


def test_update_certificate_moves_and_announces(pair: AwsPair, iot: Any) -> None:
    heard = Heard()
    pair.svc.device_authority.add_listener(heard)
    cid = iot.create_keys_and_certificate(setAsActive=True)["certificateId"]
    iot.update_certificate(certificateId=cid, newStatus="ACTIVE")  # idempotent: nothing said
    iot.update_certificate(certificateId=cid, newStatus="INACTIVE")
    iot.update_certificate(certificateId=cid, newStatus="ACTIVE")
    for internal in ("PENDING_TRANSFER", "PENDING_ACTIVATION", "REGISTER_INACTIVE"):
        with pytest.raises(ClientError) as exc:
            iot.update_certificate(certificateId=cid, newStatus=internal)
        assert code_of(exc) == ("InvalidRequestException", 400)
    iot.update_certificate(certificateId=cid, newStatus="REVOKED")
    with pytest.raises(ClientError) as exc:  # revoked: "prevent them from any future use"
        iot.update_certificate(certificateId=cid, newStatus="ACTIVE")
    assert code_of(exc) == ("CertificateStateException", 406)
    assert heard.statuses == [(cid, "INACTIVE"), (cid, "ACTIVE"), (cid, "REVOKED")]
    desc = iot.describe_certificate(certificateId=cid)["certificateDescription"]
    assert desc["customerVersion"] == 4 and desc["status"] == "REVOKED"
    with pytest.raises(ClientError) as exc:
        iot.update_certificate(certificateId="0" * 64, newStatus="INACTIVE")
    assert code_of(exc) == ("ResourceNotFoundException", 404)


def test_delete_certificate_follows_aws_rules(pair: AwsPair, iot: Any) -> None:
    heard = Heard()
    pair.svc.device_authority.add_listener(heard)
    iot.create_thing(thingName="dev")
    iot.create_policy(policyName="p", policyDocument=POLICY)
    cert = iot.create_keys_and_certificate(setAsActive=True)
    cid, arn = cert["certificateId"], cert["certificateArn"]
    iot.attach_policy(policyName="p", target=arn)
    iot.attach_thing_principal(thingName="dev", principal=arn)
    with pytest.raises(ClientError) as exc:  # ACTIVE
        iot.delete_certificate(certificateId=cid, forceDelete=True)
    assert code_of(exc) == ("CertificateStateException", 406)
    iot.update_certificate(certificateId=cid, newStatus="INACTIVE")
    with pytest.raises(ClientError) as exc:  # a thing is attached: even forceDelete refuses
        iot.delete_certificate(certificateId=cid, forceDelete=True)
    assert code_of(exc) == ("DeleteConflictException", 409)
    iot.detach_thing_principal(thingName="dev", principal=arn)
    with pytest.raises(ClientError) as exc:  # a policy is attached
        iot.delete_certificate(certificateId=cid)
    assert code_of(exc) == ("DeleteConflictException", 409)
    iot.delete_certificate(certificateId=cid, forceDelete=True)  # detaches the policy
    assert iot.list_targets_for_policy(policyName="p")["targets"] == []
    assert pair.svc.device_authority.certificate_status(cid) is None
    assert heard.statuses[-1] == (cid, "DELETED")
    iot.delete_policy(policyName="p")
    with pytest.raises(ClientError) as exc:
        iot.describe_certificate(certificateId=cid)
    assert code_of(exc) == ("ResourceNotFoundException", 404)


def test_ca_registration_and_certificates_signed_by_it(pair: AwsPair, iot: Any) -> None:
    heard = Heard()
    pair.svc.device_authority.add_listener(heard)
    now = pair.clock.now()
    ca = customer_ca(now)
    code = iot.get_registration_code()["registrationCode"]
    assert code == iot.get_registration_code()["registrationCode"] and len(code) == 64
    with pytest.raises(ClientError) as exc:  # DEFAULT mode needs the verification certificate
        iot.register_ca_certificate(caCertificate=ca.ca_pem)
    assert code_of(exc) == ("InvalidRequestException", 400)
    with pytest.raises(ClientError) as exc:  # its CN must be the registration code
        iot.register_ca_certificate(
            caCertificate=ca.ca_pem, verificationCertificate=verification_pem(ca, "nope", now)
        )
    assert code_of(exc) == ("RegistrationCodeValidationException", 400)
    other = customer_ca(now)
    with pytest.raises(ClientError) as exc:  # signed by another key
        iot.register_ca_certificate(
            caCertificate=ca.ca_pem, verificationCertificate=verification_pem(other, code, now)
        )
    assert code_of(exc) == ("CertificateValidationException", 400)
    device = self_signed(now)
    with pytest.raises(ClientError) as exc:  # not a CA
        iot.register_ca_certificate(caCertificate=device.pem, certificateMode="SNI_ONLY")
    assert code_of(exc) == ("CertificateValidationException", 400)
    reg = iot.register_ca_certificate(
        caCertificate=ca.ca_pem, verificationCertificate=verification_pem(ca, code, now)
    )
    assert (
        heard.anchors == [ca.ca_pem] and ca.ca_pem in pair.svc.device_authority.trust_anchor_pems()
    )
    with pytest.raises(ClientError) as exc:
        iot.register_ca_certificate(caCertificate=ca.ca_pem, certificateMode="SNI_ONLY")
    assert code_of(exc) == ("ResourceAlreadyExistsException", 409)
    leaf = signed_by(ca, now)
    with pytest.raises(ClientError) as exc:  # the CA is INACTIVE (setAsActive not given)
        iot.register_certificate(certificatePem=leaf.pem)
    assert code_of(exc) == ("CertificateStateException", 406)
    iot.update_ca_certificate(certificateId=reg["certificateId"], newStatus="ACTIVE")
    out = iot.register_certificate(
        certificatePem=leaf.pem, caCertificatePem=ca.ca_pem, status="ACTIVE"
    )
    desc = iot.describe_certificate(certificateId=out["certificateId"])["certificateDescription"]
    assert desc["caCertificateId"] == reg["certificateId"] and desc["status"] == "ACTIVE"
    assert desc["certificateMode"] == "DEFAULT"
    listed = iot.list_certificates_by_ca(caCertificateId=reg["certificateId"])["certificates"]
    assert [c["certificateId"] for c in listed] == [out["certificateId"]]
    with pytest.raises(ClientError) as exc:  # signed by a CA nobody registered
        iot.register_certificate(certificatePem=signed_by(other, now).pem)
    assert code_of(exc) == ("CertificateValidationException", 400)
    with pytest.raises(ClientError) as exc:
        iot.register_certificate(certificatePem=leaf.pem)
    assert code_of(exc) == ("ResourceAlreadyExistsException", 409)
    with pytest.raises(ClientError) as exc:
        iot.register_certificate(certificatePem="-----BEGIN CERTIFICATE-----\nAAAA\n")
    assert code_of(exc) == ("CertificateValidationException", 400)
    with pytest.raises(ClientError) as exc:  # deactivate before deleting
        iot.delete_ca_certificate(certificateId=reg["certificateId"])
    assert code_of(exc) == ("CertificateStateException", 406)
    cas = iot.list_ca_certificates()["certificates"]
    assert [(c["certificateId"], c["status"]) for c in cas] == [(reg["certificateId"], "ACTIVE")]


def test_register_certificate_without_ca_is_sni_only_and_trusted(pair: AwsPair, iot: Any) -> None:
    heard = Heard()
    pair.svc.device_authority.add_listener(heard)
    device = self_signed(pair.clock.now(), "sensor")
    out = iot.register_certificate_without_ca(certificatePem=device.pem, status="ACTIVE")
    desc = iot.describe_certificate(certificateId=out["certificateId"])["certificateDescription"]
    assert (desc["status"], desc["certificateMode"]) == ("ACTIVE", "SNI_ONLY")
    assert "caCertificateId" not in desc
    assert heard.anchors == [parse_certificate_pem(device.pem).pem]
    assert heard.anchors[0] in pair.svc.device_authority.trust_anchor_pems()
    with pytest.raises(ClientError) as exc:
        iot.register_certificate_without_ca(certificatePem=device.pem)
    assert code_of(exc) == ("ResourceAlreadyExistsException", 409)
    with pytest.raises(ClientError) as exc:
        iot.register_certificate_without_ca(certificatePem=device.pem, status="PENDING_TRANSFER")
    assert code_of(exc) == ("InvalidRequestException", 400)


def test_list_certificates_pages_newest_first_unless_ascending(pair: AwsPair, iot: Any) -> None:
    made = []
    for _ in range(5):
        made.append(iot.create_keys_and_certificate()["certificateId"])
        pair.clock.advance(1)
    seen, marker = [], None
    while True:
        page = iot.list_certificates(pageSize=2, **({"marker": marker} if marker else {}))
        assert len(page["certificates"]) <= 2
        seen += [c["certificateId"] for c in page["certificates"]]
        marker = page.get("nextMarker")
        if not marker:
            break
    assert seen == made[::-1]
    ascending = iot.list_certificates(ascendingOrder=True)["certificates"]
    assert [c["certificateId"] for c in ascending] == made
    assert {c["status"] for c in ascending} == {"INACTIVE"}
    everything = iot.get_paginator("list_certificates").paginate(PaginationConfig={"PageSize": 3})
    assert sum(len(p["certificates"]) for p in everything) == 5
    with pytest.raises(ClientError) as exc:  # a marker of another listing
        iot.list_certificates(marker=iot.list_policies(pageSize=1).get("nextMarker") or "QUJD")
    assert code_of(exc) == ("InvalidRequestException", 400)
