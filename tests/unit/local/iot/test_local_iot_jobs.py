"""Control-plane jobs: create, describe, list, cancel, delete, limits and errors.

Spec pages cited per test; the harness checks every result against botocore's output shapes.
"""

from __future__ import annotations

import json

import pytest

from ota_deploy.local.contracts import AwsError


def _err(exc: pytest.ExceptionInfo[AwsError]) -> tuple[str, int]:
    return exc.value.code, exc.value.status


def test_create_and_describe_job_with_groups_expanded(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html
    h.things("a", "b", group="g")
    h.things("c")
    out = h.job(
        "j1",
        [],
        targets=[h.group_arn("g"), h.thing_arn("c"), h.thing_arn("a")],
        description="first",
    )
    assert out == {
        "jobArn": "arn:aws:iot:us-east-1:123456789012:job/j1",
        "jobId": "j1",
        "description": "first",
    }
    job = h.iot("DescribeJob", jobId="j1")["job"]
    assert job["status"] == "IN_PROGRESS" and job["targetSelection"] == "SNAPSHOT"
    assert h.counts("j1") == {"Queued": 3}
    listed = h.iot("ListJobExecutionsForJob", jobId="j1")["executionSummaries"]
    assert sorted(s["thingArn"].rsplit("/", 1)[1] for s in listed) == ["a", "b", "c"]
    assert h.iot("GetJobDocument", jobId="j1") == {"document": json.dumps({"operation": "ota"})}


def test_duplicate_job_id_and_unknown_job(h) -> None:
    h.things("a")
    h.job("j1", ["a"])
    with pytest.raises(AwsError) as exc:
        h.job("j1", ["a"])
    assert _err(exc) == ("ResourceAlreadyExistsException", 409)
    assert exc.value.extra["resourceId"] == "j1"
    with pytest.raises(AwsError) as exc:
        h.iot("DescribeJob", jobId="nope")
    assert _err(exc) == ("ResourceNotFoundException", 404)


def test_target_limit_is_100(h) -> None:
    # https://docs.aws.amazon.com/general/latest/gr/iot_device_management.html (100 targets)
    names = [f"t{i}" for i in range(101)]
    h.things(*names)
    with pytest.raises(AwsError) as exc:
        h.job("big", names)
    assert _err(exc) == ("LimitExceededException", 410)
    h.job("ok", names[:100])
    assert h.counts("ok") == {"Queued": 100}


def test_document_over_32kb_and_non_json_are_refused(h) -> None:
    h.things("a")
    big = json.dumps({"pad": "x" * 32 * 1024})
    h.blobs[("b", "big.json")] = big.encode()
    with pytest.raises(AwsError) as exc:
        h.job("j", ["a"], document=None, documentSource="https://b.s3.amazonaws.com/big.json")
    assert _err(exc) == ("InvalidRequestException", 400)
    with pytest.raises(AwsError) as exc:
        h.job("j", ["a"], document="not json")
    assert exc.value.code == "InvalidRequestException"


@pytest.mark.parametrize(
    "url",
    [
        "https://bucket.s3.amazonaws.com/docs/job.json",
        "https://bucket.s3.eu-west-1.amazonaws.com/docs/job.json",
        "https://s3.eu-west-1.amazonaws.com/bucket/docs/job.json",
        "s3://bucket/docs/job.json",
    ],
)
def test_document_source_is_read_from_s3(h, url) -> None:
    # https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html (documentSource)
    h.things("a")
    h.blobs[("bucket", "docs/job.json")] = b'{"from": "s3"}'
    h.iot("CreateJob", jobId="j", targets=[h.thing_arn("a")], documentSource=url)
    assert h.iot("GetJobDocument", jobId="j")["document"] == '{"from": "s3"}'
    assert h.iot("DescribeJob", jobId="j")["documentSource"] == url


def test_unknown_target_thing_is_not_found(h) -> None:
    with pytest.raises(AwsError) as exc:
        h.job("j", ["ghost"])
    assert exc.value.code == "ResourceNotFoundException"


def test_snapshot_job_completes_when_all_executions_are_terminal(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/developerguide/jobs-concepts-snapshot.html
    h.things("a", "b")
    h.job("j", ["a", "b"])
    h.data("UpdateJobExecution", jobId="j", thingName="a", status="SUCCEEDED")
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "IN_PROGRESS"
    h.data("UpdateJobExecution", jobId="j", thingName="b", status="REJECTED")
    job = h.iot("DescribeJob", jobId="j")["job"]
    assert job["status"] == "COMPLETED" and "completedAt" in job
    assert h.counts("j") == {"Succeeded": 1, "Rejected": 1}


def test_continuous_job_reaches_things_added_later_and_never_completes(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/developerguide/jobs-concepts-continuous.html
    h.things("a", group="g")
    h.job("j", [], targets=[h.group_arn("g")], targetSelection="CONTINUOUS")
    h.data("UpdateJobExecution", jobId="j", thingName="a", status="SUCCEEDED")
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "IN_PROGRESS"
    h.iot("CreateThing", thingName="late")
    h.iot("AddThingToThingGroup", thingGroupName="g", thingName="late")
    assert h.counts("j") == {"Succeeded": 1, "Queued": 1}
    assert h.data("GetPendingJobExecutions", thingName="late")["queuedJobs"][0]["jobId"] == "j"
    # leaving the group removes a pending execution (numberOfRemovedThings)
    h.iot("RemoveThingFromThingGroup", thingGroupName="g", thingName="late")
    assert h.counts("j") == {"Succeeded": 1, "Removed": 1}


def test_nested_group_targets_include_child_groups(h) -> None:
    h.iot("CreateThingGroup", thingGroupName="parent")
    h.iot("CreateThingGroup", thingGroupName="child", parentGroupName="parent")
    h.things("x")
    h.iot("AddThingToThingGroup", thingGroupName="child", thingName="x")
    h.job("j", [], targets=[h.group_arn("parent")])
    assert h.counts("j") == {"Queued": 1}


def test_cancel_job_without_force_leaves_in_progress(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/apireference/API_CancelJob.html
    h.things("a", "b")
    h.job("j", ["a", "b"])
    h.data("StartNextPendingJobExecution", thingName="a")
    h.iot("CancelJob", jobId="j", comment="stop", reasonCode="OPERATOR_STOP")
    job = h.iot("DescribeJob", jobId="j")["job"]
    assert job["status"] == "CANCELED" and job["forceCanceled"] is False
    assert job["comment"] == "stop" and job["reasonCode"] == "OPERATOR_STOP"
    assert h.counts("j") == {"InProgress": 1, "Canceled": 1}
    # force cancels the IN_PROGRESS one too
    h.iot("CancelJob", jobId="j", force=True)
    assert h.counts("j") == {"Canceled": 2}
    execution = h.iot("DescribeJobExecution", jobId="j", thingName="a")["execution"]
    assert execution["forceCanceled"] is True


def test_cancel_completed_job_is_invalid_request(h) -> None:
    h.things("a")
    h.job("j", ["a"])
    h.data("UpdateJobExecution", jobId="j", thingName="a", status="SUCCEEDED")
    with pytest.raises(AwsError) as exc:
        h.iot("CancelJob", jobId="j")
    assert exc.value.code == "InvalidRequestException"


def test_delete_lifecycle(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJob.html
    h.things(*[f"t{i}" for i in range(250)], group="g")
    h.job("j", [], targets=[h.group_arn("g")])
    with pytest.raises(AwsError) as exc:
        h.iot("DeleteJob", jobId="j")  # IN_PROGRESS without force
    assert _err(exc) == ("InvalidStateTransitionException", 409)
    h.iot("DeleteJob", jobId="j", force=True)
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "DELETION_IN_PROGRESS"
    with pytest.raises(AwsError) as exc:
        h.iot("DeleteJob", jobId="j", force=True)
    assert exc.value.code == "InvalidStateTransitionException"
    with pytest.raises(AwsError) as exc:  # id not reusable while deleting
        h.job("j", ["t0"])
    assert exc.value.code == "ResourceAlreadyExistsException"
    # devices no longer see it
    assert h.data("GetPendingJobExecutions", thingName="t0") == {
        "inProgressJobs": [],
        "queuedJobs": [],
    }
    steps = 0
    while True:
        h.advance(0.05)
        steps += 1
        try:
            h.iot("DescribeJob", jobId="j")
        except AwsError as e:
            assert e.code == "ResourceNotFoundException"
            break
    assert steps == 3  # 250 executions, 100 per tick
    h.job("j", ["t0"])  # reusable now


def test_at_most_ten_jobs_deleting(h) -> None:
    h.things("a")
    for i in range(11):
        h.job(f"j{i}", ["a"])
        h.iot("CancelJob", jobId=f"j{i}")
    for i in range(10):
        h.iot("DeleteJob", jobId=f"j{i}")
    with pytest.raises(AwsError) as exc:
        h.iot("DeleteJob", jobId="j10")
    assert _err(exc) == ("LimitExceededException", 410)
    h.advance(1)
    h.iot("DeleteJob", jobId="j10")


def test_list_jobs_filters_and_pages(h) -> None:
    h.things("a", group="g")
    for i in range(5):
        h.job(f"j{i}", ["a"])
        h.clock.advance(1)
    h.job("jg", [], targets=[h.group_arn("g")], targetSelection="CONTINUOUS")
    h.iot("CancelJob", jobId="j0")
    assert [j["jobId"] for j in h.iot("ListJobs", status="CANCELED")["jobs"]] == ["j0"]
    assert [j["jobId"] for j in h.iot("ListJobs", thingGroupName="g")["jobs"]] == ["jg"]
    seen, token = [], None
    while True:
        page = h.iot("ListJobs", maxResults=2, **({"nextToken": token} if token else {}))
        seen += [j["jobId"] for j in page["jobs"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == ["jg", "j4", "j3", "j2", "j1", "j0"]
    with pytest.raises(AwsError) as exc:
        h.iot("ListJobs", nextToken="bogus!")
    assert exc.value.code == "InvalidRequestException"


def test_list_executions_for_job_by_status_pages_over_1000(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/apireference/API_ListJobExecutionsForJob.html
    names = [f"d{i:04d}" for i in range(1000)]
    h.things(*names, group="fleet")
    h.job("j", [], targets=[h.group_arn("fleet")])
    for n in names[:300]:
        h.data("UpdateJobExecution", jobId="j", thingName=n, status="SUCCEEDED")
    got, token, calls = [], None, 0
    while True:
        page = h.iot(
            "ListJobExecutionsForJob",
            jobId="j",
            status="SUCCEEDED",
            maxResults=250,
            **({"nextToken": token} if token else {}),
        )
        calls += 1
        got += [s["thingArn"] for s in page["executionSummaries"]]
        token = page.get("nextToken")
        if not token:
            break
    assert calls == 2 and len(got) == 300 and len(set(got)) == 300
    assert h.counts("j") == {"Succeeded": 300, "Queued": 700}


def test_associate_targets_only_for_continuous_jobs(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/apireference/API_AssociateTargetsWithJob.html
    h.things("a", "b", "c")
    h.job("snap", ["a"])
    with pytest.raises(AwsError) as exc:
        h.iot("AssociateTargetsWithJob", jobId="snap", targets=[h.thing_arn("b")])
    assert exc.value.code == "InvalidRequestException"
    h.job("cont", ["a"], targetSelection="CONTINUOUS")
    h.iot("AssociateTargetsWithJob", jobId="cont", targets=[h.thing_arn("b")])
    assert h.counts("cont") == {"Queued": 2}


def test_cancel_and_delete_job_execution(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/apireference/API_CancelJobExecution.html
    h.things("a", "b")
    h.job("j", ["a", "b"])
    h.data("StartNextPendingJobExecution", thingName="a")
    with pytest.raises(AwsError) as exc:
        h.iot("CancelJobExecution", jobId="j", thingName="a")
    assert _err(exc) == ("InvalidStateTransitionException", 409)
    with pytest.raises(AwsError) as exc:
        h.iot("CancelJobExecution", jobId="j", thingName="a", force=True, expectedVersion=1)
    assert _err(exc) == ("VersionConflictException", 409)
    h.iot("CancelJobExecution", jobId="j", thingName="a", force=True, expectedVersion=2)
    assert h.status("j", "a") == "CANCELED"
    # https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJobExecution.html
    with pytest.raises(AwsError) as exc:
        h.iot("DeleteJobExecution", jobId="j", thingName="b", executionNumber=1)
    assert exc.value.code == "InvalidStateTransitionException"
    h.iot("DeleteJobExecution", jobId="j", thingName="a", executionNumber=1)
    with pytest.raises(AwsError):
        h.iot("DescribeJobExecution", jobId="j", thingName="a")


def test_list_job_executions_for_thing(h) -> None:
    h.things("a")
    h.job("j1", ["a"])
    h.clock.advance(5)
    h.job("j2", ["a"])
    out = h.iot("ListJobExecutionsForThing", thingName="a")["executionSummaries"]
    assert [s["jobId"] for s in out] == ["j2", "j1"]
    assert [s["jobExecutionSummary"]["executionNumber"] for s in out] == [1, 1]
    out = h.iot("ListJobExecutionsForThing", thingName="a", jobId="j1")["executionSummaries"]
    assert [s["jobId"] for s in out] == ["j1"]


def test_unsupported_operation_is_refused_clearly(h) -> None:
    assert not h.svc.supports("iot", "CreateOTAUpdate")
    with pytest.raises(AwsError) as exc:
        h.svc.call("iot", "CreateOTAUpdate", {})
    assert "does not implement" in exc.value.message


def test_missing_required_parameter_is_invalid_request(h) -> None:
    with pytest.raises(AwsError) as exc:
        h.svc.call("iot-jobs-data", "UpdateJobExecution", {"jobId": "j", "thingName": "a"})
    assert exc.value.code == "InvalidRequestException" and "status" in exc.value.message


def test_update_job_changes_the_rollout_from_the_next_window(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateJob.html
    names = [f"d{i}" for i in range(10)]
    h.things(*names)
    h.job("j", names, jobExecutionsRolloutConfig={"maximumPerMinute": 1})
    h.iot(
        "UpdateJob",
        jobId="j",
        jobExecutionsRolloutConfig={"maximumPerMinute": 5},
        description="faster",
    )
    assert h.iot("DescribeJob", jobId="j")["job"]["description"] == "faster"
    released = sum(1 for e in h.svc.engine.jobs["j"].executions.values() if e[-1].notified)
    assert released == 1
    h.advance(60)
    released = sum(1 for e in h.svc.engine.jobs["j"].executions.values() if e[-1].notified)
    assert released == 6


def test_removed_and_timed_out_events(h) -> None:
    # https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html
    h.things("a", "b")
    h.iot("UpdateEventConfigurations", eventConfigurations={"JOB_EXECUTION": {"Enabled": True}})
    h.job("j", ["a", "b"], timeoutConfig={"inProgressTimeoutInMinutes": 1})
    h.data("StartNextPendingJobExecution", thingName="a")
    h.advance(60)
    h.iot("DeleteThing", thingName="b")
    assert h.topics("$aws/events") == [
        "$aws/events/jobExecution/j/timed_out",
        "$aws/events/jobExecution/j/removed",
    ]
    assert h.iot("DescribeJob", jobId="j")["job"]["status"] == "COMPLETED"
