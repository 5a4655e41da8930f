"""Certificates, policies and thing principals (fleet provisioning).

Spec: https://docs.aws.amazon.com/iot/latest/apireference/API_CreateKeysAndCertificate.html ,
API_DeleteCertificate.html, API_DeletePolicy.html, API_AttachThingPrincipal.html.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ota_deploy.local.contracts import AwsError

POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    }
)


def test_certificate_policy_and_principal_lifecycle(h) -> None:
    h.things("dev")
    created = h.iot("CreateKeysAndCertificate", setAsActive=True)
    cert = x509.load_pem_x509_certificate(created["certificatePem"].encode())
    der = cert.public_bytes(serialization.Encoding.DER)
    assert created["certificateId"] == hashlib.sha256(der).hexdigest()
    key = serialization.load_pem_private_key(created["keyPair"]["PrivateKey"].encode(), None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    cid, arn = created["certificateId"], created["certificateArn"]
    assert (
        h.iot("DescribeCertificate", certificateId=cid)["certificateDescription"]["status"]
        == "ACTIVE"
    )
    h.iot("CreatePolicy", policyName="ota-dev", policyDocument=POLICY)
    with pytest.raises(AwsError) as exc:
        h.iot("CreatePolicy", policyName="ota-dev", policyDocument=POLICY)
    assert exc.value.code == "ResourceAlreadyExistsException"
    with pytest.raises(AwsError) as exc:
        h.iot("CreatePolicy", policyName="bad", policyDocument="{")
    assert exc.value.code == "MalformedPolicyException"
    h.iot("AttachPolicy", policyName="ota-dev", target=arn)
    assert h.iot("ListAttachedPolicies", target=arn)["policies"][0]["policyName"] == "ota-dev"
    h.iot("AttachThingPrincipal", thingName="dev", principal=arn)
    assert h.iot("ListThingPrincipals", thingName="dev")["principals"] == [arn]
    with pytest.raises(AwsError) as exc:
        h.iot("DeleteThing", thingName="dev")
    assert exc.value.code == "InvalidRequestException"
    with pytest.raises(AwsError) as exc:
        h.iot("DeleteCertificate", certificateId=cid)
    assert (exc.value.code, exc.value.status) == ("CertificateStateException", 406)
    h.iot("UpdateCertificate", certificateId=cid, newStatus="INACTIVE")
    with pytest.raises(AwsError) as exc:
        h.iot("DeleteCertificate", certificateId=cid)
    assert exc.value.code == "DeleteConflictException"  # still attached to the thing
    h.iot("DetachThingPrincipal", thingName="dev", principal=arn)
    with pytest.raises(AwsError) as exc:
        h.iot("DeletePolicy", policyName="ota-dev")
    assert exc.value.code == "DeleteConflictException"
    h.iot("DetachPolicy", policyName="ota-dev", target=arn)
    h.iot("DeletePolicy", policyName="ota-dev")
    h.iot("DeleteCertificate", certificateId=cid)
    h.iot("DeleteThing", thingName="dev")
    with pytest.raises(AwsError) as exc:
        h.iot("GetPolicy", policyName="ota-dev")
    assert exc.value.code == "ResourceNotFoundException"
