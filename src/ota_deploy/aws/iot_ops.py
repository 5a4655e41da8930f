"""The AWS IoT control-plane calls the round runner makes, with pacing, retries and waits.

Flow: ``deploy`` calls ``IotOps`` methods; each goes through ``_call``, which first pauses so
that consecutive IoT calls are at least ``api_sleep_sec`` apart (dev.ini ``iotApiSleepTime``),
then runs the boto3 call under ``aws.retry.call_aws`` (throttling backoff, one clear error).
"Already gone" answers (ResourceNotFoundException on delete/cancel) are success: cleanup must be
idempotent, because it also runs from a journal after a crash.

DeleteJob is asynchronous: the job shows DELETION_IN_PROGRESS until its executions are removed
and its id is reusable only after that, so ``wait_job_gone`` polls DescribeJob until
ResourceNotFoundException (https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteJob.html).
At most 10 jobs may be deleting at once; that LimitExceededException is retried a few times here
(other deletions finish) and then reported.

Every wait here (``api_sleep_sec`` pacing, throttling backoff, the deletion polls) is the
injected ``TimeSource``'s ``sleep``, in the run's (possibly scaled) seconds; without one the
wall clock (``SystemClock``) is the time source.

Creates that may meet their own work: when a create's reply is lost after the service acted,
botocore retries and the retry answers ResourceAlreadyExistsException. ``create_job`` and
``create_stream`` then look the resource up and adopt it (return False) when the call was
retried (by botocore or here) and the resource was created no earlier than the run recorded its
intent (minus the clock skew AWS accepts); otherwise it is an earlier run's and the error says so.

More than 100 targets per job is beyond AWS's limit
(https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html): the run's static thing
group is filled by ``aws.group_ops`` with a few concurrent calls (``call_unpaced``), paced at
AWS's documented rate for AddThingToThingGroup, not by ``api_sleep_sec``; ``deploy.targets``
decides what to add and keeps the group for reuse.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError

from ota_deploy.aws.retry import (
    RetryPolicy,
    call_aws,
    error_code,
    retry_attempts,
    to_service_error,
)
from ota_deploy.core.clock import SystemClock, TimeSource
from ota_deploy.core.errors import AwsServiceError
from ota_deploy.core.status import FINISHED_JOB, JobStatus

log = logging.getLogger(__name__)

NOT_FOUND = "ResourceNotFoundException"
ALREADY_EXISTS = "ResourceAlreadyExistsException"
BAD_STATE = "InvalidStateTransitionException"
LIMIT = "LimitExceededException"
INVALID_REQUEST = "InvalidRequestException"
# A job CancelJob has nothing left to do for (see ``IotOps.cancel_job``).
JOB_OVER: frozenset[str] = FINISHED_JOB | {JobStatus.DELETION_IN_PROGRESS}

# A request signed more than 15 minutes away from AWS's clock is refused ("AWS does not process
# a request if the request time stamp is more than 15 minutes" off; S3's RequestTimeTooSkewed
# says MaxAllowedSkewMilliseconds 900000), so a resource we created cannot look older than our
# intent by more than that. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/AboutTimestamp.html
CLOCK_SKEW_MAX_SEC = 900.0


class IotOps:
    """Thin, paced, retried wrapper over a boto3 ``iot`` client."""

    def __init__(
        self,
        client: Any,
        *,
        api_sleep_sec: float = 0.0,
        clock: TimeSource | None = None,
        sleep: Callable[[float], None] | None = None,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """``sleep`` defaults to ``clock.sleep``: one time source for the now and the waits."""
        self.client = client
        self.api_sleep_sec = max(0.0, api_sleep_sec)
        self.clock: TimeSource = clock or SystemClock()
        self.sleep = sleep or self.clock.sleep
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random()
        self.calls = 0
        self._last_call: float | None = None
        self._count_lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------------
    def _pace(self) -> None:
        if self.api_sleep_sec and self._last_call is not None:
            wait = self._last_call + self.api_sleep_sec - self.clock.now()
            if wait > 0:
                self.sleep(wait)
        self._last_call = self.clock.now()

    def call(
        self, operation: str, passthrough: Iterable[str] = (), **params: Any
    ) -> dict[str, Any]:
        """Call botocore operation ``operation`` (e.g. "CreateJob") with ``params``."""
        return self._call(operation, frozenset(passthrough), params, [0], paced=True)

    def call_unpaced(
        self, operation: str, passthrough: Iterable[str] = (), **params: Any
    ) -> dict[str, Any]:
        """``call`` without the ``api_sleep_sec`` pause, safe from several threads at once:
        for calls paced by their own documented rate (``aws.group_ops``)."""
        return self._call(operation, frozenset(passthrough), params, [0], paced=False)

    def _call(
        self,
        operation: str,
        passthrough: frozenset[str],
        params: dict[str, Any],
        attempts: list[int],
        *,
        paced: bool,
    ) -> dict[str, Any]:
        """``attempts[0]`` counts the tries made here (not botocore's own retries)."""
        method = getattr(self.client, xform_name(operation))  # boto3's own method naming

        def once() -> dict[str, Any]:
            if paced:
                self._pace()
            with self._count_lock:
                self.calls += 1
            attempts[0] += 1
            result: dict[str, Any] = method(**params)
            return result

        return call_aws(
            once,
            operation,
            policy=self.retry,
            sleep=self.sleep,
            rng=self.rng,
            passthrough=passthrough,
        )

    def _create(
        self,
        operation: str,
        params: dict[str, Any],
        lookup: Callable[[], dict[str, Any] | None],
        created_at: Callable[[dict[str, Any]], Any],
        since: float | None,
    ) -> bool:
        """Create; True when made now, False when a retried create found our own (adopted)."""
        attempts = [0]
        try:
            self._call(operation, frozenset({ALREADY_EXISTS}), params, attempts, paced=True)
            return True
        except ClientError as err:
            retried = attempts[0] > 1 or retry_attempts(err) > 0
            if retried and self._ours(operation, params, lookup, created_at, since):
                return False
            raise to_service_error(err, operation) from None
        except AwsServiceError:
            # No usable answer (the connection closed or timed out on every attempt, or AWS
            # kept failing): it may have acted before a reply was lost. There now: ours.
            if self._ours(operation, params, lookup, created_at, since):
                return False
            raise

    def _ours(
        self,
        operation: str,
        params: dict[str, Any],
        lookup: Callable[[], dict[str, Any] | None],
        created_at: Callable[[dict[str, Any]], Any],
        since: float | None,
    ) -> bool:
        try:
            found = lookup()
        except AwsServiceError:
            return False  # the original failure is the one to report
        if found is None or not _made_since(created_at(found), since):
            return False
        log.info(
            "%s: the reply was lost after AWS acted; %s is this run's, adopted",
            operation,
            _ident(params),
        )
        return True

    # -- streams --------------------------------------------------------------------------
    def create_stream(self, kwargs: dict[str, Any], *, since: float | None = None) -> bool:
        """CreateStream; False when a retried create adopted our own (see the module doc)."""
        sid = str(kwargs.get("streamId"))
        return self._create(
            "CreateStream",
            kwargs,
            lambda: self.describe_stream(sid),
            lambda info: info.get("createdAt"),
            since,
        )

    def describe_stream(self, stream_id: str) -> dict[str, Any] | None:
        try:
            info: dict[str, Any] = self.call(
                "DescribeStream", passthrough=[NOT_FOUND], streamId=stream_id
            )["streamInfo"]
            return info
        except ClientError:
            return None

    def delete_stream(self, stream_id: str) -> bool:
        """Delete; False when it did not exist. Nothing waits afterwards: unlike DeleteJob,
        DeleteStream is not documented as asynchronous (no "in progress" state, no id that
        stays taken; https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteStream.html),
        so a DescribeStream poll after it would cost a call and a pause per round for nothing."""
        try:
            self.call("DeleteStream", passthrough=[NOT_FOUND], streamId=stream_id)
            return True
        except ClientError:
            return False

    # -- jobs -----------------------------------------------------------------------------
    def create_job(self, kwargs: dict[str, Any], *, since: float | None = None) -> bool:
        """CreateJob; False when a retried create adopted our own (see the module doc)."""
        job_id = str(kwargs.get("jobId"))
        return self._create(
            "CreateJob",
            kwargs,
            lambda: self.describe_job(job_id),
            lambda job: job.get("createdAt"),
            since,
        )

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
        """Start deleting a job (async). False when it did not exist."""
        attempt = 0
        while True:
            try:
                self.call("DeleteJob", passthrough=[NOT_FOUND, LIMIT], jobId=job_id, force=force)
                return True
            except ClientError as err:
                code = error_code(err)
                if code == NOT_FOUND:
                    return False
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

    # -- things and groups (>100 targets; local mode) -------------------------------------
    def create_thing(self, name: str) -> str:
        arn: str = self.call("CreateThing", thingName=name)["thingArn"]
        return arn

    def create_thing_group(
        self,
        name: str,
        description: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> str:
        """Create (or find) a static thing group; its ARN."""
        params: dict[str, Any] = {"thingGroupName": name}
        props: dict[str, Any] = {}
        if description:
            props["thingGroupDescription"] = description
        if attributes:
            props["attributePayload"] = {"attributes": dict(attributes)}
        if props:
            params["thingGroupProperties"] = props
        try:
            arn: str = self.call("CreateThingGroup", passthrough=[ALREADY_EXISTS], **params)[
                "thingGroupArn"
            ]
            return arn
        except ClientError:
            existing: str = self.call("DescribeThingGroup", thingGroupName=name)["thingGroupArn"]
            return existing

    def describe_thing_group(self, name: str) -> dict[str, Any] | None:
        try:
            return self.call("DescribeThingGroup", passthrough=[NOT_FOUND], thingGroupName=name)
        except ClientError:
            return None

    def add_thing_to_group(self, group_name: str, thing_arn: str) -> None:
        self.call("AddThingToThingGroup", thingGroupName=group_name, thingArn=thing_arn)

    def delete_thing_group(self, name: str) -> bool:
        """Delete. DeleteThingGroup succeeds for a group that does not exist
        (https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteThingGroup.html lists no
        ResourceNotFoundException), so True says only that the call went through."""
        try:
            self.call("DeleteThingGroup", passthrough=[NOT_FOUND], thingGroupName=name)
            return True
        except ClientError:
            return False

    def list_things_in_group(self, name: str, *, recursive: bool = True) -> list[str]:
        """Thing names in a group (and, ``recursive``, its children)."""
        names: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "thingGroupName": name,
                "recursive": recursive,
                "maxResults": 250,
            }
            if token:
                params["nextToken"] = token
            page = self.call("ListThingsInThingGroup", **params)
            names.extend(page.get("things", []))
            token = page.get("nextToken")
            if not token:
                return names

    # -- listing (leftover scans) ---------------------------------------------------------
    def list_job_ids(self) -> list[str]:
        """Every job id in the account and region (ListJobs, 250 a page)."""
        return self._list_ids("ListJobs", "jobs", "jobId")

    def list_stream_ids(self) -> list[str]:
        """Every stream id (ListStreams, 250 a page)."""
        return self._list_ids("ListStreams", "streams", "streamId")

    def _list_ids(self, operation: str, key: str, field: str) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"maxResults": 250}
            if token:
                params["nextToken"] = token
            page = self.call(operation, **params)
            ids.extend(str(item[field]) for item in page.get(key, []))
            token = page.get("nextToken")
            if not token:
                return ids

    # -- helpers --------------------------------------------------------------------------
    def _wait_until(
        self, done: Callable[[], bool], timeout_sec: float, what: str, operation: str
    ) -> None:
        start = self.clock.now()
        pause = 0.05  # a quick deletion is seen quickly (0.2 s was most of a quick round's cleanup)
        while not done():
            if self.clock.now() - start > timeout_sec:
                raise AwsServiceError(
                    f"timed out after {timeout_sec:.0f}s waiting for {what}",
                    code="WaitTimeout",
                    operation=operation,
                )
            self.sleep(pause)
            pause = min(pause * 2.0, 5.0)  # then no more calls than from 0.2 s growing 1.5x


def _made_since(created: Any, since: float | None) -> bool:
    """A resource dated ``created`` (botocore's datetime) can be the one our intent at
    ``since`` led to: not older than the intent, give or take the clock skew AWS accepts."""
    if since is None:
        return True
    if not isinstance(created, datetime):
        return False
    return created.timestamp() >= since - CLOCK_SKEW_MAX_SEC


def _ident(params: dict[str, Any]) -> str:
    for key in ("jobId", "streamId", "thingGroupName"):
        if key in params:
            return f"{key} {params[key]}"
    return "the resource"
