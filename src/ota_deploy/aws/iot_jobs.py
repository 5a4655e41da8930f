"""AWS IoT jobs, one call each: create (adopting our own after a lost reply), describe, cancel,
delete and wait until gone, list.

DeleteJob is asynchronous: the job shows DELETION_IN_PROGRESS until its executions are removed
and its id is reusable only after that, so ``wait_job_gone`` polls DescribeJob until
ResourceNotFoundException (https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJob.html).
At most 10 jobs may be deleting at once; that LimitExceededException is retried a few times here
(other deletions finish) and then reported. "Already gone" answers are success: cleanup must be
idempotent, because it also runs from a journal after a crash.

Why its own module: a job's lifecycle rules (asynchronous deletion, the deleting quota, what
CancelJob answers for a job that has finished) are the jobs API's alone.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ota_deploy.aws.iot_calls import (
    BAD_STATE,
    INVALID_REQUEST,
    LIMIT,
    NOT_FOUND,
    IotCalls,
)
from ota_deploy.aws.retry import error_code, to_service_error
from ota_deploy.core.errors import AwsServiceError
from ota_deploy.core.status import FINISHED_JOB, JobStatus

# A job CancelJob has nothing left to do for (see ``JobCalls.cancel_job``).
JOB_OVER: frozenset[str] = FINISHED_JOB | {JobStatus.DELETION_IN_PROGRESS}


class JobCalls(IotCalls):
    """The job calls of ``aws.iot_ops.IotOps``."""

    def create_job(self, kwargs: dict[str, Any], *, since: float | None = None) -> bool:
        """CreateJob; False when a retried create adopted our own (``aws.iot_calls``)."""
        job_id = str(kwargs.get("jobId"))
        return self._create("CreateJob", kwargs, lambda: self.describe_job(job_id), since)

    def describe_job(self, job_id: str) -> dict[str, Any] | None:
        try:
            job: dict[str, Any] = self.call("DescribeJob", passthrough=[NOT_FOUND], jobId=job_id)[
                "job"
            ]
            return job
        except ClientError:
            return None

    def cancel_job(self, job_id: str, *, force: bool = True, comment: str | None = None) -> bool:
        """Cancel (force: IN_PROGRESS executions too). False when there was nothing to cancel:
        the job is gone, has finished (COMPLETED, CANCELED) or is being deleted.

        A job that finished between our last look and this call is the usual case (a round's
        last device reports as Ctrl-C lands). CancelJob's errors
        (https://docs.aws.amazon.com/iot/latest/apireference/API_CancelJob.html) include no
        InvalidStateTransitionException, unlike CancelJobExecution's and DeleteJob's: a job
        in a state CancelJob cannot act on is refused with InvalidRequestException, the one
        client error it models ("Attempting to ... cancel a job whose status is already
        DELETION_IN_PROGRESS will result in an error", API_DeleteJob.html). That code also
        means a malformed request, so it counts as done only when DescribeJob confirms the job
        is finished, being deleted or gone; InvalidStateTransitionException is accepted too, in
        case the service answers with it."""
        params: dict[str, Any] = {"jobId": job_id, "force": force}
        if comment:
            params["comment"] = comment[:2028]
        try:
            self.call("CancelJob", passthrough=[NOT_FOUND, BAD_STATE, INVALID_REQUEST], **params)
            return True
        except ClientError as err:
            if error_code(err) != INVALID_REQUEST or self._job_is_over(job_id):
                return False
            raise to_service_error(err, "CancelJob") from None

    def _job_is_over(self, job_id: str) -> bool:
        """Gone, finished, or being deleted: nothing left for CancelJob to do."""
        job = self.describe_job(job_id)
        return job is None or job.get("status") in JOB_OVER

    def delete_job(self, job_id: str, *, force: bool = True, limit_retries: int = 6) -> bool:
        """Start deleting a job (async). False when it did not exist.

        A job already DELETION_IN_PROGRESS is being deleted: that is done, not an error, though
        AWS refuses a second DeleteJob for it ("Attempting to delete or cancel a job whose
        status is already DELETION_IN_PROGRESS will result in an error", API_DeleteJob.html;
        InvalidStateTransitionException). It happens when a Ctrl-C cut the wait after the
        round's own DeleteJob and the run's last cleanup asks again; DescribeJob confirms it."""
        attempt = 0
        while True:
            try:
                self.call(
                    "DeleteJob",
                    passthrough=[NOT_FOUND, LIMIT, BAD_STATE],
                    jobId=job_id,
                    force=force,
                )
                return True
            except ClientError as err:
                code = error_code(err)
                if code == NOT_FOUND:
                    return False
                if code == BAD_STATE:
                    job = self.describe_job(job_id)
                    if job is None:
                        return False
                    if job.get("status") == JobStatus.DELETION_IN_PROGRESS:
                        return True
                    raise to_service_error(err, "DeleteJob") from None
                if attempt >= limit_retries:
                    raise AwsServiceError(
                        f"AWS DeleteJob failed for {job_id}: {code}: too many jobs are being "
                        "deleted at once (AWS allows 10); not retried further",
                        code=code,
                        operation="DeleteJob",
                    ) from None
                self.sleep(self.retry.delay(attempt + 2, self.rng))
                attempt += 1

    def wait_job_gone(self, job_id: str, timeout_sec: float = 300.0) -> None:
        self._wait_until(
            lambda: self.describe_job(job_id) is None,
            timeout_sec,
            f"job {job_id} to be deleted",
            "DescribeJob",
        )

    def remove_job(self, job_id: str, *, wait: bool = True, timeout_sec: float = 300.0) -> bool:
        """Cancel + force-delete + (optionally) wait until the id is free. False if absent."""
        if self.describe_job(job_id) is None:
            return False
        self.delete_job(job_id, force=True)
        if wait:
            self.wait_job_gone(job_id, timeout_sec)
        return True

    def list_job_ids(self) -> list[str]:
        """Every job id in the account and region (ListJobs, 250 a page)."""
        return self._list_ids("ListJobs", "jobs", "jobId")
