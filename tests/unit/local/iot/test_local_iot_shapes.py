"""Every supported operation, once, with its result checked against botocore's output shape
(the harness validates inputs with botocore's ParamValidator and outputs member by member)."""

from __future__ import annotations

import json

from tests.support.certs import customer_ca, self_signed, signed_by, verification_pem

from ota_deploy.local.iot.service import LocalIotService

POLICY = json.dumps({"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})


def test_every_operation_answers_in_botocore_shapes(h) -> None:
    role = "arn:aws:iam::123456789012:role/ota"
    h.iot("CreateThing", thingName="a", attributePayload={"attributes": {"k": "v"}})
    h.iot("CreateThing", thingName="b")
    h.iot("UpdateThing", thingName="b", attributePayload={"attributes": {"x": "1"}})
    h.iot("DescribeThing", thingName="a")
    h.iot("ListThings")
    h.iot("CreateThingGroup", thingGroupName="g")
    h.iot("CreateThingGroup", thingGroupName="sub", parentGroupName="g")
    h.iot("DescribeThingGroup", thingGroupName="sub")
    h.iot(
        "UpdateThingGroup",
        thingGroupName="sub",
        thingGroupProperties={"thingGroupDescription": "d"},
    )
    h.iot("AddThingToThingGroup", thingGroupName="g", thingName="a")
    h.iot("ListThingsInThingGroup", thingGroupName="g")
    h.iot("ListThingGroupsForThing", thingName="a")
    h.iot("ListThingGroups")
    h.iot(
        "CreateStream",
        streamId="s",
        roleArn=role,
        files=[{"fileId": 0, "s3Location": {"bucket": "b", "key": "k", "version": "1"}}],
    )
    h.iot("DescribeStream", streamId="s")
    h.iot("UpdateStream", streamId="s", description="d")
    h.iot("ListStreams", ascendingOrder=True)
    h.iot("UpdateEventConfigurations", eventConfigurations={"JOB": {"Enabled": True}})
    h.iot("DescribeEventConfigurations")
    h.iot("DescribeEndpoint", endpointType="iot:Data-ATS")
    h.iot(
        "CreateJob",
        jobId="j",
        targets=[h.group_arn("g")],
        document='{"a": 1}',
        targetSelection="CONTINUOUS",
        description="desc",
        presignedUrlConfig={"roleArn": role, "expiresInSec": 3600},
        jobExecutionsRolloutConfig={
            "maximumPerMinute": 10,
            "exponentialRate": {
                "baseRatePerMinute": 2,
                "incrementFactor": 1.5,
                "rateIncreaseCriteria": {"numberOfSucceededThings": 2},
            },
        },
        abortConfig={
            "criteriaList": [
                {
                    "failureType": "ALL",
                    "action": "CANCEL",
                    "thresholdPercentage": 50.5,
                    "minNumberOfExecutedThings": 10,
                }
            ]
        },
        timeoutConfig={"inProgressTimeoutInMinutes": 60},
        jobExecutionsRetryConfig={
            "criteriaList": [{"failureType": "TIMED_OUT", "numberOfRetries": 2}]
        },
        tags=[{"Key": "k", "Value": "v"}],
    )
    h.iot(
        "UpdateJob",
        jobId="j",
        description="new",
        jobExecutionsRolloutConfig={"maximumPerMinute": 20},
    )
    h.iot("AssociateTargetsWithJob", jobId="j", targets=[h.thing_arn("b")], comment="more")
    h.iot("DescribeJob", jobId="j")
    h.iot("ListJobs")
    h.iot("GetJobDocument", jobId="j")
    h.data("GetPendingJobExecutions", thingName="a")
    h.data("DescribeJobExecution", jobId="$next", thingName="a")
    h.data("StartNextPendingJobExecution", thingName="a", stepTimeoutInMinutes=5)
    h.data("DescribeJobExecution", jobId="j", thingName="a", includeJobDocument=True)
    h.data(
        "UpdateJobExecution",
        jobId="j",
        thingName="a",
        status="IN_PROGRESS",
        statusDetails={"p": "1"},
        includeJobExecutionState=True,
        includeJobDocument=True,
    )
    h.iot("DescribeJobExecution", jobId="j", thingName="a")
    h.iot("ListJobExecutionsForJob", jobId="j", status="IN_PROGRESS")
    h.iot("ListJobExecutionsForThing", thingName="a")
    h.iot("CancelJobExecution", jobId="j", thingName="a", force=True, statusDetails={"why": "test"})
    h.iot("DeleteJobExecution", jobId="j", thingName="a", executionNumber=1)
    h.iot("CancelJob", jobId="j", reasonCode="DONE", comment="c")
    h.iot("DeleteJob", jobId="j")
    h.iot("RemoveThingFromThingGroup", thingGroupName="g", thingName="a")
    h.iot("DeleteThingGroup", thingGroupName="sub")
    h.iot("DeleteStream", streamId="s")
    cert = h.iot("CreateKeysAndCertificate", setAsActive=False)
    h.iot("DescribeCertificate", certificateId=cert["certificateId"])
    h.iot("UpdateCertificate", certificateId=cert["certificateId"], newStatus="ACTIVE")
    h.iot("CreatePolicy", policyName="p", policyDocument=POLICY)
    h.iot("GetPolicy", policyName="p")
    h.iot("AttachPolicy", policyName="p", target=cert["certificateArn"])
    h.iot("ListAttachedPolicies", target=cert["certificateArn"])
    h.iot("AttachThingPrincipal", thingName="b", principal=cert["certificateArn"])
    h.iot("ListThingPrincipals", thingName="b")
    h.iot("DetachThingPrincipal", thingName="b", principal=cert["certificateArn"])
    h.iot("DetachPolicy", policyName="p", target=cert["certificateArn"])
    h.iot("DeletePolicy", policyName="p")
    h.iot("UpdateCertificate", certificateId=cert["certificateId"], newStatus="INACTIVE")
    h.iot("DeleteCertificate", certificateId=cert["certificateId"])
    h.iot("DeleteThing", thingName="a")
    _identity_operations(h)

    svc: LocalIotService = h.svc
    supported = {(s, op) for s in ("iot", "iot-jobs-data") for op in svc.operations(s)}
    assert supported - h.called == set()


def _identity_operations(h) -> None:
    """Device identity: CA and device certificate registration, listings, policy versions,
    principals both ways."""
    now = h.clock.now()
    ca = customer_ca(now)
    code = h.iot("GetRegistrationCode")["registrationCode"]
    proof = verification_pem(ca, code, now)
    reg = h.iot("RegisterCACertificate", caCertificate=ca.ca_pem, verificationCertificate=proof)
    h.iot("UpdateCACertificate", certificateId=reg["certificateId"], newStatus="ACTIVE")
    h.iot("DescribeCACertificate", certificateId=reg["certificateId"])
    h.iot("ListCACertificates", ascendingOrder=True)
    dev = h.iot("RegisterCertificate", certificatePem=signed_by(ca, now).pem, status="ACTIVE")
    h.iot("RegisterCertificateWithoutCA", certificatePem=self_signed(now).pem)
    h.iot("ListCertificates", pageSize=1)
    h.iot("ListCertificatesByCA", caCertificateId=reg["certificateId"])
    h.iot("CreateThing", thingName="c")
    h.iot(
        "AttachThingPrincipal",
        thingName="c",
        principal=dev["certificateArn"],
        thingPrincipalType="EXCLUSIVE_THING",
    )
    h.iot("ListPrincipalThings", principal=dev["certificateArn"])
    h.iot("ListPrincipalThingsV2", principal=dev["certificateArn"])
    h.iot("ListThingPrincipalsV2", thingName="c")
    h.iot("CreatePolicy", policyName="q", policyDocument=POLICY)
    h.iot("CreatePolicyVersion", policyName="q", policyDocument=POLICY, setAsDefault=True)
    h.iot("GetPolicyVersion", policyName="q", policyVersionId="2")
    h.iot("ListPolicyVersions", policyName="q")
    h.iot("SetDefaultPolicyVersion", policyName="q", policyVersionId="1")
    h.iot("DeletePolicyVersion", policyName="q", policyVersionId="2")
    h.iot("ListPolicies")
    h.iot("AttachPolicy", policyName="q", target=dev["certificateArn"])
    h.iot("ListTargetsForPolicy", policyName="q")
    h.iot("UpdateCACertificate", certificateId=reg["certificateId"], newStatus="INACTIVE")
    h.iot("DeleteCACertificate", certificateId=reg["certificateId"])
