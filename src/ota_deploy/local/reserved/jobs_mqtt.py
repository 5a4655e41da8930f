"""The Jobs MQTT API of the local AWS IoT, as a gateway ``ReservedTopicHandler``.

A device publishes to ``$aws/things/{thing}/jobs/{get|start-next|<jobId>/get|<jobId>/update}``;
this handler parses the topic and JSON request (``jobs_protocol``), checks that the thing named
in the topic exists (DescribeThing's ResourceNotFound, without DescribeThing's answer where the
service offers ``require_thing``), calls the transport-free service
(``IotService.call("iot-jobs-data", ...)``) and answers on ``<request topic>/accepted`` or
``<request topic>/rejected`` through ``reply`` (which reaches the requester without a
subscription, as AWS IoT's reserved topics do).

Everything runs synchronously on the gateway's event loop: the service is in-memory, so there
is nothing to await. Spec: https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ota_deploy.core.clock import Clock
from ota_deploy.local.contracts import AwsError, IotService, Reply
from ota_deploy.local.iot.compact_json import compact_bytes
from ota_deploy.local.reserved import jobs_protocol as proto
from ota_deploy.local.reserved.jobs_protocol import JobsOp, MqttJobsError

log = logging.getLogger(__name__)

JOBS_DATA = "iot-jobs-data"
# Parsed request topics kept (each device asks on the same two or three topics again and
# again); when full the cache starts over, so it stays bounded under any topic churn.
TOPIC_CACHE_MAX = 8192


class JobsMqttHandler:
    """Answers the Jobs MQTT API requests by calling ``service``; timestamps from ``clock``."""

    def __init__(self, service: IotService, clock: Clock) -> None:
        self._service = service
        self._clock = clock
        # The ``IotService`` contract has only ``call``; ``LocalIotService`` also offers
        # ``require_thing``, DescribeThing's not-found check without building, copying and
        # flushing around its answer. A service without it gets a DescribeThing per request.
        self._require_thing: Callable[[str], None] = getattr(
            service, "require_thing", self._describe_thing
        )
        self._topics: dict[str, proto.JobsTopic] = {}  # parse_jobs_topic's answers
        # ``LocalIotService.call_handed_over``: ``call`` without copying the params, which
        # this handler builds per request and keeps nothing of; any other service: ``call``.
        self._hand_over = callable(getattr(service, "call_handed_over", None))

    def handles(self, topic: str) -> bool:
        return proto.is_jobs_topic(topic)

    def handle(self, client_id: str, topic: str, payload: bytes, reply: Reply) -> None:
        accepted, body = self.respond(topic, payload)
        # compact_bytes(body) == proto.encode(body), without a new encoder per reply.
        reply(f"{topic}/{'accepted' if accepted else 'rejected'}", compact_bytes(body))

    # The whole request -> response mapping, without the reply callback (unit tests use it).
    def respond(self, topic: str, payload: bytes) -> tuple[bool, dict[str, Any]]:
        now = self._clock.now()
        token: str | None = None
        try:
            doc = proto.decode_json_object(payload)
            token = proto.client_token_of(doc)
            parsed = self._parse_topic(topic)
            params = proto.build_params(parsed, doc)
            result = self._call(parsed, params)
            return True, proto.accepted_payload(parsed.op, result, token, now)
        except MqttJobsError as err:
            return False, proto.rejected_payload(
                err.code, err.message, token, now, err.execution_state
            )
        except Exception:  # a bug or a service failure must not kill the connection
            log.exception("jobs request on %s failed", topic)
            return False, proto.rejected_payload(
                "InternalError", "An internal error occurred", token, now
            )

    def _parse_topic(self, topic: str) -> proto.JobsTopic:
        """``proto.parse_jobs_topic(topic)`` (a pure function of the topic), remembered."""
        parsed = self._topics.get(topic)
        if parsed is None:
            if len(self._topics) >= TOPIC_CACHE_MAX:
                self._topics.clear()
            parsed = self._topics[topic] = proto.parse_jobs_topic(topic)
        return parsed

    def _call(self, parsed: proto.JobsTopic, params: dict[str, Any]) -> dict[str, Any]:
        self._check_thing(parsed.thing_name)
        try:
            if self._hand_over:
                return self._service.call_handed_over(  # type: ignore[attr-defined,no-any-return]
                    JOBS_DATA, parsed.operation, params
                )
            return self._service.call(JOBS_DATA, parsed.operation, params)
        except AwsError as err:
            if (
                parsed.op is JobsOp.DESCRIBE
                and parsed.job_id == "$next"
                and err.code == "ResourceNotFoundException"
            ):
                # Nothing pending: AWS answers accepted, without an "execution".
                return {}
            raise proto.map_aws_error(err) from err

    def _check_thing(self, thing_name: str) -> None:
        try:
            self._require_thing(thing_name)
        except AwsError as err:
            raise proto.map_aws_error(err) from err

    def _describe_thing(self, thing_name: str) -> None:
        self._service.call("iot", "DescribeThing", {"thingName": thing_name})
