"""Unmodified boto3 against the local AWS IoT over HTTP: AWS's names, types and exceptions.

Every test uses the shared ``local_iot`` fixture (a fresh server on free ports) and plain
boto3 clients; nothing here reaches into the service.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ota-role"


def thing_arn(name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:iot:{region}:{ACCOUNT}:thing/{name}"


def error_code(err: ClientError) -> str:
    return str(err.response["Error"]["Code"])


def make_things(iot: Any, names: list[str]) -> list[str]:
    return [iot.create_thing(thingName=n)["thingArn"] for n in names]


def test_things_and_groups(boto_iot: Any) -> None:
    created = boto_iot.create_thing(thingName="dev-1", attributePayload={"attributes": {"hw": "a"}})
    assert created["thingArn"] == thing_arn("dev-1")
    assert created["thingId"]
    described = boto_iot.describe_thing(thingName="dev-1")
    assert described["thingName"] == "dev-1"
    assert described["attributes"] == {"hw": "a"}
    assert isinstance(described["version"], int)

    group = boto_iot.create_thing_group(thingGroupName="fleet-a")
    assert group["thingGroupArn"].endswith(":thinggroup/fleet-a")
    boto_iot.add_thing_to_thing_group(thingGroupName="fleet-a", thingName="dev-1")
    things = boto_iot.list_things_in_thing_group(thingGroupName="fleet-a")["things"]
    assert things == ["dev-1"]
    groups = boto_iot.list_thing_groups_for_thing(thingName="dev-1")["thingGroups"]
    assert [g["groupName"] for g in groups] == ["fleet-a"]
    desc = boto_iot.describe_thing_group(thingGroupName="fleet-a")
    assert desc["thingGroupName"] == "fleet-a"
    assert isinstance(desc["thingGroupMetadata"]["creationDate"], datetime)
    boto_iot.remove_thing_from_thing_group(thingGroupName="fleet-a", thingName="dev-1")
    assert boto_iot.list_things_in_thing_group(thingGroupName="fleet-a")["things"] == []
    boto_iot.delete_thing_group(thingGroupName="fleet-a")
    boto_iot.delete_thing(thingName="dev-1")
    with pytest.raises(boto_iot.exceptions.ResourceNotFoundException):
        boto_iot.describe_thing(thingName="dev-1")


def test_list_things_pages(boto_iot: Any) -> None:
    names = [f"page-{i:02d}" for i in range(7)]
    make_things(boto_iot, names)
    first = boto_iot.list_things(maxResults=3)
    assert len(first["things"]) == 3
    assert first["nextToken"]
    pages = list(boto_iot.get_paginator("list_things").paginate(PaginationConfig={"PageSize": 3}))
    assert len(pages) == 3
    seen = [t["thingName"] for p in pages for t in p["things"]]
    assert sorted(seen) == names


def test_stream_lifecycle(boto_iot: Any, boto_s3: Any) -> None:
    boto_s3.create_bucket(Bucket="fw-bucket")
    boto_s3.put_object(Bucket="fw-bucket", Key="fw/app.bin", Body=b"\x01" * 3000)
    boto_s3.put_object(Bucket="fw-bucket", Key="fw/app.sig", Body=b"sig")
    files = [
        {"fileId": 0, "s3Location": {"bucket": "fw-bucket", "key": "fw/app.bin"}},
        {"fileId": 255, "s3Location": {"bucket": "fw-bucket", "key": "fw/app.sig"}},
    ]
    created = boto_iot.create_stream(
        streamId="ota-stream-1", description="fw", files=files, roleArn=ROLE
    )
    assert created["streamArn"].endswith(":stream/ota-stream-1")
    assert created["streamVersion"] == 1
    info = boto_iot.describe_stream(streamId="ota-stream-1")["streamInfo"]
    assert info["streamId"] == "ota-stream-1"
    assert [f["fileId"] for f in info["files"]] == [0, 255]
    assert info["roleArn"] == ROLE
    assert isinstance(info["createdAt"], datetime)
    updated = boto_iot.update_stream(streamId="ota-stream-1", description="fw v2")
    assert updated["streamVersion"] == 2
    listed = boto_iot.list_streams()["streams"]
    assert [s["streamId"] for s in listed] == ["ota-stream-1"]
    with pytest.raises(boto_iot.exceptions.ResourceAlreadyExistsException):
        boto_iot.create_stream(streamId="ota-stream-1", files=files, roleArn=ROLE)
    boto_iot.delete_stream(streamId="ota-stream-1")
    with pytest.raises(boto_iot.exceptions.ResourceNotFoundException):
        boto_iot.describe_stream(streamId="ota-stream-1")


def full_job_kwargs(job_id: str, targets: list[str]) -> dict[str, Any]:
    """A CreateJob request with every configuration the manual's dev.ini can produce."""
    document = {
        "afr_ota": {
            "protocols": ["MQTT"],
            "streamname": "ota-stream-1",
            "files": [{"filepath": "/fw.bin", "filesize": 3000, "fileid": 0}],
        },
        "url": "${aws:iot:s3-presigned-url:https://fw-bucket.s3.amazonaws.com/fw/app.bin}",
    }
    return {
        "jobId": job_id,
        "targets": targets,
        "document": json.dumps(document),
        "description": "OTA round 1",
        "targetSelection": "SNAPSHOT",
        "presignedUrlConfig": {"roleArn": ROLE, "expiresInSec": 3600},
        "jobExecutionsRolloutConfig": {
            "maximumPerMinute": 100,
            "exponentialRate": {
                "baseRatePerMinute": 5,
                "incrementFactor": 2.0,
                "rateIncreaseCriteria": {"numberOfSucceededThings": 2},
            },
        },
        "abortConfig": {
            "criteriaList": [
                {
                    "failureType": "FAILED",
                    "action": "CANCEL",
                    "thresholdPercentage": 50.0,
                    "minNumberOfExecutedThings": 2,
                }
            ]
        },
        "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
        "jobExecutionsRetryConfig": {
            "criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]
        },
    }


def test_create_job_with_every_configuration(boto_iot: Any, boto_s3: Any) -> None:
    boto_s3.create_bucket(Bucket="fw-bucket")
    boto_s3.put_object(Bucket="fw-bucket", Key="fw/app.bin", Body=b"\x01" * 3000)
    targets = make_things(boto_iot, ["cfg-1", "cfg-2"])
    kwargs = full_job_kwargs("job-full", targets)
    created = boto_iot.create_job(**kwargs)
    assert created["jobId"] == "job-full"
    assert created["jobArn"].endswith(":job/job-full")
    job = boto_iot.describe_job(jobId="job-full")["job"]
    assert job["status"] == "IN_PROGRESS"
    assert job["targetSelection"] == "SNAPSHOT"
    assert job["targets"] == targets
    assert job["presignedUrlConfig"] == kwargs["presignedUrlConfig"]
    assert job["jobExecutionsRolloutConfig"] == kwargs["jobExecutionsRolloutConfig"]
    assert job["abortConfig"] == kwargs["abortConfig"]
    assert job["timeoutConfig"] == kwargs["timeoutConfig"]
    assert job["jobExecutionsRetryConfig"] == kwargs["jobExecutionsRetryConfig"]
    assert isinstance(job["createdAt"], datetime)
    assert isinstance(job["jobProcessDetails"]["numberOfQueuedThings"], int)
    # The stored document keeps the placeholder; GetJobDocument returns it as a string.
    doc = boto_iot.get_job_document(jobId="job-full")["document"]
    assert json.loads(doc) == json.loads(kwargs["document"])


def test_continuous_job_on_group_and_document_source(boto_iot: Any, boto_s3: Any) -> None:
    boto_s3.create_bucket(Bucket="doc-bucket")
    boto_s3.put_object(Bucket="doc-bucket", Key="jobs/doc.json", Body=b'{"op": "update"}')
    group_arn = boto_iot.create_thing_group(thingGroupName="g-cont")["thingGroupArn"]
    boto_iot.create_job(
        jobId="job-cont",
        targets=[group_arn],
        documentSource="https://doc-bucket.s3.amazonaws.com/jobs/doc.json",
        targetSelection="CONTINUOUS",
    )
    assert boto_iot.describe_job(jobId="job-cont")["job"]["targetSelection"] == "CONTINUOUS"
    assert json.loads(boto_iot.get_job_document(jobId="job-cont")["document"]) == {"op": "update"}


def test_drive_executions_through_jobs_data(boto_iot: Any, boto_jobs_data: Any) -> None:
    targets = make_things(boto_iot, ["drv-1", "drv-2"])
    boto_iot.create_job(jobId="job-drive", targets=targets, document='{"v": 1}')
    pending = boto_jobs_data.get_pending_job_executions(thingName="drv-1")
    assert [j["jobId"] for j in pending["queuedJobs"]] == ["job-drive"]
    nxt = boto_jobs_data.describe_job_execution(
        jobId="$next", thingName="drv-1", includeJobDocument=True
    )["execution"]
    assert nxt["jobId"] == "job-drive"
    assert nxt["jobDocument"] == '{"v": 1}'
    started = boto_jobs_data.start_next_pending_job_execution(
        thingName="drv-1", statusDetails={"step": "download"}
    )["execution"]
    assert started["status"] == "IN_PROGRESS"
    assert started["statusDetails"] == {"step": "download"}
    version = started["versionNumber"]

    # A stale expectedVersion is refused with the current state. The jobs data plane's model
    # has no VersionConflictException: its 409 InvalidStateTransitionException carries the
    # current executionState, as UpdateJobExecution's reference describes for VersionMismatch.
    with pytest.raises(boto_jobs_data.exceptions.InvalidStateTransitionException) as stale:
        boto_jobs_data.update_job_execution(
            jobId="job-drive", thingName="drv-1", status="IN_PROGRESS", expectedVersion=version - 1
        )
    assert stale.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    unchanged = boto_jobs_data.describe_job_execution(jobId="job-drive", thingName="drv-1")
    assert unchanged["execution"]["versionNumber"] == version

    done = boto_jobs_data.update_job_execution(
        jobId="job-drive",
        thingName="drv-1",
        status="SUCCEEDED",
        expectedVersion=version,
        includeJobExecutionState=True,
    )
    assert done["executionState"]["status"] == "SUCCEEDED"
    # A terminal execution cannot change any more.
    with pytest.raises(boto_jobs_data.exceptions.InvalidStateTransitionException):
        boto_jobs_data.update_job_execution(
            jobId="job-drive", thingName="drv-1", status="IN_PROGRESS"
        )

    boto_jobs_data.start_next_pending_job_execution(thingName="drv-2")
    boto_jobs_data.update_job_execution(jobId="job-drive", thingName="drv-2", status="FAILED")
    job = boto_iot.describe_job(jobId="job-drive")["job"]
    assert job["status"] == "COMPLETED"
    details = job["jobProcessDetails"]
    assert (details["numberOfSucceededThings"], details["numberOfFailedThings"]) == (1, 1)
    execution = boto_iot.describe_job_execution(jobId="job-drive", thingName="drv-1")["execution"]
    assert execution["status"] == "SUCCEEDED"
    assert isinstance(execution["lastUpdatedAt"], datetime)
    for_thing = boto_iot.list_job_executions_for_thing(thingName="drv-2")["executionSummaries"]
    assert [(s["jobId"], s["jobExecutionSummary"]["status"]) for s in for_thing] == [
        ("job-drive", "FAILED")
    ]


def test_list_job_executions_pages(boto_iot: Any) -> None:
    targets = make_things(boto_iot, [f"pg-{i:02d}" for i in range(25)])
    boto_iot.create_job(jobId="job-pages", targets=targets[:100], document="{}")
    paginator = boto_iot.get_paginator("list_job_executions_for_job")
    pages = list(paginator.paginate(jobId="job-pages", PaginationConfig={"PageSize": 10}))
    assert [len(p["executionSummaries"]) for p in pages] == [10, 10, 5]
    arns = [s["thingArn"] for p in pages for s in p["executionSummaries"]]
    assert sorted(arns) == sorted(targets)
    queued = boto_iot.list_job_executions_for_job(jobId="job-pages", status="QUEUED", maxResults=5)
    assert len(queued["executionSummaries"]) == 5
    assert queued["nextToken"]


def test_aws_exceptions(boto_iot: Any) -> None:
    targets = make_things(boto_iot, ["err-1"])
    with pytest.raises(boto_iot.exceptions.ResourceNotFoundException):
        boto_iot.describe_job(jobId="no-such-job")
    boto_iot.create_job(jobId="job-dup", targets=targets, document="{}")
    with pytest.raises(boto_iot.exceptions.ResourceAlreadyExistsException) as dup:
        boto_iot.create_job(jobId="job-dup", targets=targets, document="{}")
    assert dup.value.response["resourceId"] == "job-dup"
    too_many = [thing_arn(f"t{i}") for i in range(101)]
    with pytest.raises(boto_iot.exceptions.LimitExceededException) as limit:
        boto_iot.create_job(jobId="job-101", targets=too_many, document="{}")
    assert limit.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    big = json.dumps({"pad": "x" * 33_000})
    with pytest.raises(boto_iot.exceptions.InvalidRequestException) as large:
        boto_iot.create_job(jobId="job-big", targets=targets, document=big)
    assert "document" in str(large.value)
    with pytest.raises(boto_iot.exceptions.InvalidStateTransitionException):
        boto_iot.delete_job(jobId="job-dup")
    boto_iot.delete_job(jobId="job-dup", force=True)


def test_server_side_validation_names_the_member(boto_iot: Any) -> None:
    # botocore checks min/required/types only; pattern and enum are checked by the server.
    with pytest.raises(boto_iot.exceptions.InvalidRequestException) as bad_id:
        boto_iot.describe_job(jobId="bad id!")
    assert "'jobId'" in str(bad_id.value)
    with pytest.raises(boto_iot.exceptions.InvalidRequestException) as bad_enum:
        boto_iot.list_jobs(status="NOT_A_STATUS")
    assert "'status'" in str(bad_enum.value)
    assert "enum" in str(bad_enum.value)


def test_unsupported_operation_and_unknown_route(boto_iot: Any, local_iot: Any) -> None:
    with pytest.raises(ClientError) as unsupported:
        boto_iot.list_audit_tasks(startTime=datetime(2024, 1, 1), endTime=datetime(2024, 1, 2))
    assert error_code(unsupported.value) == "NotImplementedException"
    assert unsupported.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(local_iot.iot + "/no/such/route", timeout=10)
    assert unknown.value.code == 404
    assert unknown.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_describe_endpoint_and_event_configurations(boto_iot: Any, local_iot: Any) -> None:
    endpoint = boto_iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    assert endpoint == local_iot.mqtts  # devices with certificates dial the TLS listener
    boto_iot.update_event_configurations(
        eventConfigurations={"JOB": {"Enabled": True}, "JOB_EXECUTION": {"Enabled": True}}
    )
    configs = boto_iot.describe_event_configurations()["eventConfigurations"]
    assert configs["JOB"] == {"Enabled": True}
    assert configs["JOB_EXECUTION"] == {"Enabled": True}
