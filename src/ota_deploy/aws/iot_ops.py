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

More than 100 targets per job is beyond AWS's limit
(https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html): ``make_target_group``
puts the things in a static thing group made for the run, removed at cleanup.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError

from ota_deploy.aws.retry import RetryPolicy, call_aws, error_code
from ota_deploy.core.clock import SystemClock, TimeSource
from ota_deploy.core.errors import AwsServiceError

log = logging.getLogger(__name__)

NOT_FOUND = "ResourceNotFoundException"
ALREADY_EXISTS = "ResourceAlreadyExistsException"
BAD_STATE = "InvalidStateTransitionException"
LIMIT = "LimitExceededException"


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
        method = getattr(self.client, xform_name(operation))  # boto3's own method naming

        def once() -> dict[str, Any]:
            self._pace()
            self.calls += 1
            result: dict[str, Any] = method(**params)
            return result

        return call_aws(
            once,
            operation,
            policy=self.retry,
            sleep=self.sleep,
            rng=self.rng,
            passthrough=frozenset(passthrough),
        )

    # -- streams --------------------------------------------------------------------------
    def create_stream(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return self.call("CreateStream", **kwargs)

    def describe_stream(self, stream_id: str) -> dict[str, Any] | None:
        try:
            info: dict[str, Any] = self.call(
                "DescribeStream", passthrough=[NOT_FOUND], streamId=stream_id
            )["streamInfo"]
            return info
        except ClientError:
            return None

    def delete_stream(self, stream_id: str) -> bool:
        """Delete; False when it did not exist."""
        try:
            self.call("DeleteStream", passthrough=[NOT_FOUND], streamId=stream_id)
            return True
        except ClientError:
            return False

    def wait_stream_gone(self, stream_id: str, timeout_sec: float = 120.0) -> None:
        self._wait_until(
            lambda: self.describe_stream(stream_id) is None,
            timeout_sec,
            f"stream {stream_id} to be deleted",
            "DescribeStream",
        )

    # -- jobs -----------------------------------------------------------------------------
    def create_job(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return self.call("CreateJob", **kwargs)

    def describe_job(self, job_id: str) -> dict[str, Any] | None:
        try:
            job: dict[str, Any] = self.call("DescribeJob", passthrough=[NOT_FOUND], jobId=job_id)[
                "job"
            ]
            return job
        except ClientError:
            return None

    def cancel_job(self, job_id: str, *, force: bool = True, comment: str | None = None) -> bool:
        """Cancel (force: IN_PROGRESS executions too). False when gone or already finished."""
        params: dict[str, Any] = {"jobId": job_id, "force": force}
        if comment:
            params["comment"] = comment[:2028]
        try:
            self.call("CancelJob", passthrough=[NOT_FOUND, BAD_STATE], **params)
            return True
        except ClientError:
            return False

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

    def remove_stream(self, stream_id: str, *, wait: bool = True) -> bool:
        existed = self.delete_stream(stream_id)
        if existed and wait:
            self.wait_stream_gone(stream_id)
        return existed

    # -- things and groups (>100 targets; local mode) -------------------------------------
    def create_thing(self, name: str) -> str:
        arn: str = self.call("CreateThing", thingName=name)["thingArn"]
        return arn

    def create_thing_group(self, name: str, description: str | None = None) -> str:
        params: dict[str, Any] = {"thingGroupName": name}
        if description:
            params["thingGroupProperties"] = {"thingGroupDescription": description}
        try:
            arn: str = self.call("CreateThingGroup", passthrough=[ALREADY_EXISTS], **params)[
                "thingGroupArn"
            ]
            return arn
        except ClientError:
            existing: str = self.call("DescribeThingGroup", thingGroupName=name)["thingGroupArn"]
            return existing

    def add_thing_to_group(self, group_name: str, thing_arn: str) -> None:
        self.call("AddThingToThingGroup", thingGroupName=group_name, thingArn=thing_arn)

    def delete_thing_group(self, name: str) -> bool:
        try:
            self.call("DeleteThingGroup", passthrough=[NOT_FOUND], thingGroupName=name)
            return True
        except ClientError:
            return False

    def list_things_in_group(self, name: str) -> list[str]:
        """Thing names in a group and its children (recursive)."""
        names: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"thingGroupName": name, "recursive": True, "maxResults": 250}
            if token:
                params["nextToken"] = token
            page = self.call("ListThingsInThingGroup", **params)
            names.extend(page.get("things", []))
            token = page.get("nextToken")
            if not token:
                return names

    def make_target_group(self, group_name: str, thing_arns: Iterable[str]) -> str:
        """A static thing group holding ``thing_arns``; returns its ARN."""
        arn = self.create_thing_group(group_name, "ota-deploy: targets of one run")
        for thing_arn in thing_arns:
            self.add_thing_to_group(group_name, thing_arn)
        return arn

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
