"""CancelJob on a job that has nothing left to cancel is done, not an error (``IotOps.cancel_job``).

Against the real pair (boto3 joined in memory to the local AWS IoT on a FakeClock): the local
AWS IoT answers CancelJob on a finished job with InvalidRequestException, as CancelJob's model
allows (it has no InvalidStateTransitionException); a malformed CancelJob answers the same
code and must still fail."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from tests.support.aws_pair import AwsPair

from ota_deploy.aws.iot_ops import IotOps
from ota_deploy.core.errors import AwsServiceError

THING_ARN = "arn:aws:iot:us-east-1:123456789012:thing/d1"


def _job(pair: AwsPair, job_id: str = "J") -> None:
    pair.call("iot", "CreateThing", thingName="d1")
    pair.call("iot", "CreateJob", jobId=job_id, targets=[THING_ARN], document='{"x":1}')


def _finish(pair: AwsPair, job_id: str = "J") -> None:
    pair.call("iot-jobs-data", "StartNextPendingJobExecution", thingName="d1")
    pair.call(
        "iot-jobs-data", "UpdateJobExecution", jobId=job_id, thingName="d1", status="SUCCEEDED"
    )
    pair.svc.tick()


def _status(pair: AwsPair, job_id: str = "J") -> str:
    return str(pair.call("iot", "DescribeJob", jobId=job_id)["job"]["status"])


def test_cancel_of_a_completed_job_is_done_and_leaves_it_completed() -> None:
    pair = AwsPair()
    _job(pair)
    _finish(pair)
    assert _status(pair) == "COMPLETED"
    iot = IotOps(pair.client("iot", max_attempts=1), clock=pair.clock)
    assert iot.cancel_job("J", comment="ota-deploy: interrupted") is False
    assert ("iot", "CancelJob") in pair.requests  # asked, refused, then confirmed by a look
    assert pair.requests[-1] == ("iot", "DescribeJob")
    assert _status(pair) == "COMPLETED"


def test_cancel_of_a_running_job_cancels_it_and_a_second_cancel_does_not_fail() -> None:
    pair = AwsPair()
    _job(pair)
    iot = IotOps(pair.client("iot", max_attempts=1), clock=pair.clock)
    assert iot.cancel_job("J") is True
    pair.svc.tick()
    assert _status(pair) == "CANCELED"
    iot.cancel_job("J")  # the local AWS IoT accepts it again; refused, it would be done too
    assert _status(pair) == "CANCELED"


def test_cancel_of_a_job_being_deleted_or_gone_is_done() -> None:
    pair = AwsPair()
    _job(pair)
    pair.call("iot", "DeleteJob", jobId="J", force=True)
    assert _status(pair) == "DELETION_IN_PROGRESS"  # DeleteJob is asynchronous
    iot = IotOps(pair.client("iot", max_attempts=1), clock=pair.clock)
    assert iot.cancel_job("J") is False
    assert iot.cancel_job("no-such-job") is False


def test_an_invalid_request_for_a_running_job_is_still_an_error() -> None:
    pair = AwsPair()
    _job(pair)
    iot = IotOps(pair.client("iot", max_attempts=1), clock=pair.clock)
    with pytest.raises(AwsServiceError) as info:
        iot.cancel_job("J", comment="bad\x01comment")  # CancelJob's comment: [^\p{C}]+
    assert info.value.code == "InvalidRequestException"
    assert info.value.operation == "CancelJob"
    assert _status(pair) == "IN_PROGRESS"


def test_delete_of_a_job_already_being_deleted_is_done() -> None:
    """AWS refuses a second DeleteJob while the first runs (API_DeleteJob.html): the job is on
    its way out all the same, so cleanup counts it as started, and waits for it as usual."""
    pair = AwsPair()
    _job(pair)
    iot = IotOps(pair.client("iot", max_attempts=1), clock=pair.clock)
    assert iot.delete_job("J", force=True) is True
    assert _status(pair) == "DELETION_IN_PROGRESS"
    with pytest.raises(ClientError):  # what the service itself answers
        pair.client("iot", max_attempts=1).delete_job(jobId="J", force=True)
    assert iot.delete_job("J", force=True) is True  # refused, then confirmed by a look
    assert pair.requests[-1] == ("iot", "DescribeJob")
    pair.svc.tick()
    iot.wait_job_gone("J", timeout_sec=60)
    assert iot.delete_job("J", force=True) is False  # gone


def test_delete_refused_for_another_reason_is_still_an_error() -> None:
    pair = AwsPair()
    _job(pair)
    iot = IotOps(pair.client("iot", max_attempts=1), clock=pair.clock)
    with pytest.raises(AwsServiceError) as info:
        iot.delete_job("J", force=False)  # IN_PROGRESS without force
    assert info.value.code == "InvalidStateTransitionException"
    assert _status(pair) == "IN_PROGRESS"
