"""A real device agent and the real local AWS IoT joined in memory: no sockets, a fake clock.

h11 tests two real connection objects against each other (its ConnectionPair); this is the
same for the OTA conversation. The REAL ``DeviceAgent`` talks to the REAL reserved-topic
handlers (``JobsMqttHandler``, ``StreamsMqttHandler``: what the gateway runs) in front of a
REAL ``LocalIotService``, all on one ``FakeClock``::

    DeviceAgent --Publish--> [knobs] --> JobsMqttHandler / StreamsMqttHandler --> LocalIotService
         ^                                     | reply (to the requester)          | notify-next
         +---- inbox (MessageReceived) <-------+-----------------------------------+ (if subscribed)
    StartTimer/CancelTimer --> timers, fired in fake-time order by run() (the service ticks too)
    HttpGet --> the S3-like blob table the service reads streams from (presigned URLs resolve)

Knobs are thin interception on that message path, never a second implementation of the
service: ``lose(op, n)`` drops the next ``n`` requests of an operation before the handler
sees them, ``reject(op, code)`` answers one with AWS's rejection shape built by the real
protocol modules, ``before(op, fn)`` runs ``fn`` (a real service call) just before one
arrives, ``reply_filter`` may drop replies on the way back. Everything else is a real
operation: ``add_job`` is CreateJob, ``cancel_execution`` is CancelJobExecution, ``advance``
moves the clock and lets the service apply its timeouts. ``sent`` is what the agent published.

Usage::

    pair = DevicePair("dev-1", FleetOptions())
    pair.add_stream("s1", {7: image})
    pair.connect()
    ex = pair.add_job("job1", {"command": "fota", "streamId": "s1", "fileId": 7, ...})
    pair.run()
    assert ex.status == "SUCCEEDED"
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from ota_deploy.core.clock import FakeClock
from ota_deploy.core.defaults import LOCAL_ACCOUNT
from ota_deploy.fleet.agent import DeviceAgent
from ota_deploy.fleet.behaviour import BehaviourChooser
from ota_deploy.fleet.events import (
    CancelTimer,
    Connected,
    ConnectionLost,
    DropConnection,
    Event,
    HttpCompleted,
    HttpGet,
    JobFinished,
    JobResult,
    MessageReceived,
    Publish,
    StartTimer,
    Subscribe,
    TimerFired,
)
from ota_deploy.fleet.options import FleetOptions
from ota_deploy.local.reserved import jobs_protocol, streams_codec, streams_protocol
from ota_deploy.local.reserved.jobs_mqtt import JobsMqttHandler
from ota_deploy.local.reserved.streams_mqtt import StreamsMqttHandler
from ota_deploy.mqtt.topics import topic_matches
from tests.support.service import memory_service

BUCKET = "firmware"
S3_ENDPOINT = "https://s3.local.test"
ROLE = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/ota"
PRESIGN = {"roleArn": ROLE, "expiresInSec": 3600}  # CreateJob's presignedUrlConfig
STREAM_OPS = {
    streams_protocol.StreamsOp.DESCRIBE: "DescribeStream",
    streams_protocol.StreamsOp.GET: "GetStream",
}


def operation_of(topic: str) -> str:
    """The AWS operation a device's request topic asks for (``GetStream``,
    ``UpdateJobExecution``, ...), read with the real handlers' topic parsers."""
    if jobs_protocol.is_jobs_topic(topic):
        parsed = jobs_protocol.parse_jobs_topic(topic)
        return "InvalidTopic" if parsed.op is jobs_protocol.JobsOp.INVALID else parsed.operation
    if streams_protocol.is_streams_topic(topic):
        return STREAM_OPS.get(streams_protocol.parse_streams_topic(topic).op, "InvalidTopic")
    return "NotARequest"


@dataclass(frozen=True)
class ExecutionView:
    """One job execution of the pair's thing, as the service holds it now (read on access)."""

    pair: DevicePair
    job_id: str

    def _describe(self) -> dict[str, Any]:
        params = {"jobId": self.job_id, "thingName": self.pair.thing}
        execution: dict[str, Any] = self.pair.svc.call("iot", "DescribeJobExecution", params)[
            "execution"
        ]
        return execution

    @property
    def status(self) -> str:
        return str(self._describe()["status"])

    @property
    def details(self) -> dict[str, str]:
        return dict((self._describe().get("statusDetails") or {}).get("detailsMap") or {})

    @property
    def version(self) -> int:
        return int(self._describe()["versionNumber"])


class DevicePair:
    """One ``DeviceAgent`` and the local AWS IoT it updates from, joined in memory."""

    def __init__(
        self,
        thing: str = "dev-1",
        options: FleetOptions | None = None,
        *,
        public_key: ec.EllipticCurvePublicKey | None = None,
        chooser: BehaviourChooser | None = None,
        clock: FakeClock | None = None,
    ) -> None:
        self.thing = thing
        self.clock = clock or FakeClock()
        self.blobs: dict[tuple[str, str], bytes] = {}
        self.svc = memory_service(
            self.clock,
            publish=self._on_service_publish,
            read_blob=self._read_blob,
            presign=self.presigned_url,
        )
        self.jobs_handler = JobsMqttHandler(self.svc, self.clock)
        self.streams_handler = StreamsMqttHandler(self.svc, self._read_blob)
        self.thing_arn: str = self.svc.call("iot", "CreateThing", {"thingName": thing})["thingArn"]
        self.agent = DeviceAgent(
            thing,
            options or FleetOptions.model_validate({}),
            clock=self.clock,
            public_key=public_key,
            chooser=chooser,
        )
        self.connected = False
        self.inbox: deque[Event] = deque()
        self.timers: dict[str, tuple[float, int]] = {}  # armed: name -> (deadline, token)
        self.sent: list[tuple[str, dict[str, Any]]] = []  # every request, decoded
        self.received: list[tuple[str, bytes]] = []  # every message delivered to the agent
        self.subscriptions: list[tuple[str, ...]] = []  # every SUBSCRIBE, in order
        self.finished: list[JobResult] = []
        self.http_gets: list[str] = []
        self.drops = 0
        self.reply_filter: Callable[[str, bytes], bool] | None = None  # False: the reply is lost
        self._filters: tuple[str, ...] = ()  # the live session's subscriptions
        self._lose: dict[str, int] = {}
        self._reject: dict[str, list[str]] = {}
        self._before: dict[str, list[Callable[[], object]]] = {}

    # -- the service's side: real operations ---------------------------------------------

    def put_object(self, key: str, data: bytes) -> str:
        """Store ``data`` in the blob table; its presigned-URL placeholder for a job document."""
        self.blobs[(BUCKET, key)] = data
        return f"${{aws:iot:s3-presigned-url:https://{BUCKET}.s3.amazonaws.com/{key}}}"

    def presigned_url(self, bucket: str, key: str, expires: int) -> str:
        """What the service substitutes for a placeholder (and what ``HttpGet`` resolves)."""
        return f"{S3_ENDPOINT}/{bucket}/{key}?X-Amz-Expires={expires}"

    def add_stream(self, stream_id: str, files: dict[int, bytes]) -> None:
        """CreateStream over files stored in the blob table."""
        entries = []
        for file_id, data in files.items():
            key = f"streams/{stream_id}/{file_id}"
            self.blobs[(BUCKET, key)] = data
            entries.append({"fileId": file_id, "s3Location": {"bucket": BUCKET, "key": key}})
        self.svc.call(
            "iot", "CreateStream", {"streamId": stream_id, "files": entries, "roleArn": ROLE}
        )

    def add_job(self, job_id: str, document: dict[str, Any], **params: Any) -> ExecutionView:
        """CreateJob for the pair's thing (``params``: more CreateJob members)."""
        self.svc.call(
            "iot",
            "CreateJob",
            {"jobId": job_id, "targets": [self.thing_arn], "document": json.dumps(document)}
            | params,
        )
        return ExecutionView(self, job_id)

    def execution(self, job_id: str) -> ExecutionView:
        return ExecutionView(self, job_id)

    def cancel_execution(self, job_id: str, *, force: bool = True) -> None:
        """CancelJobExecution (``force``: also an IN_PROGRESS one)."""
        self.svc.call(
            "iot",
            "CancelJobExecution",
            {"jobId": job_id, "thingName": self.thing, "force": force},
        )

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: the service applies its timeouts (agent timers wait for run)."""
        self.clock.advance(seconds)
        self.svc.tick()

    # -- knobs on the message path ----------------------------------------------------------

    def lose(self, operation: str, count: int = 1) -> None:
        """The next ``count`` requests of ``operation`` never reach the service."""
        self._lose[operation] = self._lose.get(operation, 0) + count

    def reject(self, operation: str, code: str, count: int = 1) -> None:
        """The next ``count`` requests of ``operation`` are rejected with ``code``."""
        self._reject.setdefault(operation, []).extend([code] * count)

    def before(self, operation: str, action: Callable[[], object]) -> None:
        """Run ``action`` once, just before the next request of ``operation`` is served."""
        self._before.setdefault(operation, []).append(action)

    # -- the link ---------------------------------------------------------------------------

    def connect(self) -> None:
        self.connected = True
        self.feed(Connected())

    def disconnect(self) -> None:
        """The link drops: what was on the wire is lost, the session's subscriptions too."""
        self.connected = False
        self._filters = ()
        self.inbox.clear()
        self.feed(ConnectionLost())

    def _deliver(self, topic: str, payload: bytes) -> None:
        if self.connected:
            self.inbox.append(MessageReceived(topic, payload))

    def _on_service_publish(self, topic: str, payload: bytes) -> None:
        """notify / notify-next and events: to the device only if it subscribed."""
        if any(topic_matches(f, topic) for f in self._filters):
            self._deliver(topic, payload)

    def _reply(self, topic: str, payload: bytes) -> None:
        """A reserved-topic reply reaches the requester without a subscription."""
        if self.reply_filter is None or self.reply_filter(topic, payload):
            self._deliver(topic, payload)

    def _read_blob(self, bucket: str, key: str, version: str | None) -> bytes:
        return self.blobs[(bucket, key)]

    def _http_get(self, url: str) -> HttpCompleted:
        parts = urlsplit(url)
        bucket, _, key = parts.path.lstrip("/").partition("/")
        body = self.blobs.get((bucket, key)) if url.startswith(S3_ENDPOINT + "/") else None
        if body is None:
            return HttpCompleted(url, 403, b"denied")
        return HttpCompleted(url, 200, body)

    # -- requests ---------------------------------------------------------------------------

    def _decode(self, topic: str, payload: bytes) -> dict[str, Any]:
        if jobs_protocol.is_jobs_topic(topic):
            return jobs_protocol.decode_json_object(payload)
        fmt = streams_protocol.parse_streams_topic(topic).fmt
        return streams_codec.decode(fmt, payload)

    def _request(self, topic: str, payload: bytes) -> None:
        self.sent.append((topic, self._decode(topic, payload)))
        operation = operation_of(topic)
        hooks = self._before.get(operation)
        if hooks:
            hooks.pop(0)()
        if self._lose.get(operation, 0) > 0:
            self._lose[operation] -= 1
            return
        codes = self._reject.get(operation)
        if codes:
            self._rejected(topic, payload, codes.pop(0))
            return
        if self.jobs_handler.handles(topic):
            self.jobs_handler.handle(self.thing, topic, payload, self._reply)
            return
        pending = self.streams_handler.handle(self.thing, topic, payload, self._reply)
        if pending is not None:  # the first request of a file: the handler reads S3 first
            asyncio.run(pending)  # type: ignore[arg-type]

    def _rejected(self, topic: str, payload: bytes, code: str) -> None:
        message = f"rejected by the test ({code})"
        request = self._decode(topic, payload)
        if jobs_protocol.is_jobs_topic(topic):
            token = jobs_protocol.client_token_of(request)
            body = jobs_protocol.rejected_payload(code, message, token, self.clock.now())
            self._reply(f"{topic}/rejected", jobs_protocol.encode(body))
            return
        parsed = streams_protocol.parse_streams_topic(topic)
        reply = streams_protocol.rejected_message(code, message, request.get("c"))
        self._reply(parsed.rejected_topic, streams_codec.encode(parsed.fmt, reply))

    def requests(self, operation: str) -> list[dict[str, Any]]:
        """What the agent sent for ``operation`` (lost and rejected requests included)."""
        return [body for topic, body in self.sent if operation_of(topic) == operation]

    def stream_requests(self) -> list[dict[str, Any]]:
        return self.requests("GetStream")

    # -- driving the agent ------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        """Hand ``event`` to the agent and perform what it asks, as a device would."""
        if isinstance(event, MessageReceived):
            self.received.append((event.topic, event.payload))
        for action in self.agent.handle(event):
            if isinstance(action, Subscribe):
                self.subscriptions.append(action.topics)
                if self.connected:
                    self._filters = action.topics
            elif isinstance(action, Publish):
                if self.connected:
                    self._request(action.topic, action.payload)
            elif isinstance(action, StartTimer):
                self.timers[action.name] = (self.clock.now() + action.delay, action.token)
            elif isinstance(action, CancelTimer):
                self.timers.pop(action.name, None)
            elif isinstance(action, HttpGet):
                self.http_gets.append(action.url)
                self.inbox.append(self._http_get(action.url))
            elif isinstance(action, DropConnection):
                self.drops += 1
                self.disconnect()
                self.advance(action.reconnect_after)
                self.connect()
            elif isinstance(action, JobFinished):
                self.finished.append(action.result)

    def step(self) -> bool:
        """Deliver one queued message, else fire the earliest timer; False when quiet."""
        if self.inbox:
            self.feed(self.inbox.popleft())
            return True
        if not self.timers:
            return False
        name, (when, token) = min(self.timers.items(), key=lambda kv: kv[1][0])
        del self.timers[name]
        self.clock.set(max(when, self.clock.now()))
        self.svc.tick()
        self.feed(TimerFired(name, token))
        return True

    def deliver(self) -> None:
        """Deliver every queued message (and what they cause), firing no timer."""
        while self.inbox:
            self.feed(self.inbox.popleft())

    def run(self, *, until: float = 3600.0, max_steps: int = 100_000) -> None:
        """Deliver messages, then fire timers in time order, until quiet or ``until`` seconds."""
        end = self.clock.now() + until
        for _ in range(max_steps):
            if not self.inbox and (
                not self.timers or min(when for when, _ in self.timers.values()) > end
            ):
                return
            self.step()
        raise AssertionError("the agent did not settle")
