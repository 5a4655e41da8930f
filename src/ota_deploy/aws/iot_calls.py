"""The paced, retried, counted AWS IoT caller every ``IotOps`` call goes through.

Flow: a call (``call``, or ``call_unpaced`` for calls paced by their own documented rate) first
pauses so that consecutive paced IoT calls are at least ``api_sleep_sec`` apart (dev.ini
``iotApiSleepTime``), then runs the boto3 method under ``aws.retry.call_aws`` (throttling
backoff, one clear error); ``passthrough`` codes come back as botocore's ``ClientError`` for the
caller to decide on. ``calls`` counts every attempt made here (the round's API calls).

Creates that may meet their own work (``_create``): when a create's reply is lost after the
service acted, botocore retries and the retry answers ResourceAlreadyExistsException. The
resource is then looked up and adopted (False) when the call was retried (by botocore or here)
and the resource was created no earlier than the run recorded its intent (minus the clock skew
AWS accepts); otherwise it is an earlier run's and the error says so.

Every wait here (``api_sleep_sec`` pacing, throttling backoff, ``_wait_until``'s polls) is the
injected ``TimeSource``'s ``sleep``, in the run's (possibly scaled) seconds; without one the
wall clock (``SystemClock``) is the time source.

Why its own module: the job, stream and thing-group calls (``iot_jobs``, ``iot_streams``,
``iot_things``) each hold one resource's AWS rules; what they share — pacing, retries,
counting, adoption after a lost reply, polling until a condition holds — is this.
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
    retry_attempts,
    to_service_error,
)
from ota_deploy.core.clock import SystemClock, TimeSource
from ota_deploy.core.errors import AwsServiceError

log = logging.getLogger(__name__)

NOT_FOUND = "ResourceNotFoundException"
ALREADY_EXISTS = "ResourceAlreadyExistsException"
BAD_STATE = "InvalidStateTransitionException"
LIMIT = "LimitExceededException"
INVALID_REQUEST = "InvalidRequestException"

# A request signed more than 15 minutes away from AWS's clock is refused ("AWS does not process
# a request if the request time stamp is more than 15 minutes" off; S3's RequestTimeTooSkewed
# says MaxAllowedSkewMilliseconds 900000), so a resource we created cannot look older than our
# intent by more than that. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/AboutTimestamp.html
CLOCK_SKEW_MAX_SEC = 900.0


class IotCalls:
    """Thin, paced, retried wrapper over a boto3 ``iot`` client (the shared part of
    ``aws.iot_ops.IotOps``)."""

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
        since: float | None,
    ) -> bool:
        """Create; True when made now, False when a retried create found our own (adopted).
        ``lookup``: the resource's description (its ``createdAt`` dates it), None if absent."""

        def ours() -> bool:
            """There now, and made no earlier than our intent: this run's."""
            try:
                found = lookup()
            except AwsServiceError:
                return False  # the original failure is the one to report
            if found is None or not made_since(found.get("createdAt"), since):
                return False
            log.info(
                "%s: the reply was lost after AWS acted; %s is this run's, adopted",
                operation,
                _ident(params),
            )
            return True

        attempts = [0]
        try:
            self._call(operation, frozenset({ALREADY_EXISTS}), params, attempts, paced=True)
            return True
        except ClientError as err:
            retried = attempts[0] > 1 or retry_attempts(err) > 0
            if retried and ours():
                return False
            raise to_service_error(err, operation) from None
        except AwsServiceError:
            # No usable answer (the connection closed or timed out on every attempt, or AWS
            # kept failing): it may have acted before a reply was lost. There now: ours.
            if ours():
                return False
            raise

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


def made_since(created: Any, since: float | None) -> bool:
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
