"""``LocalIotService``: the transport-free local AWS IoT behind the HTTP and MQTT front ends.

Data flow: ``call(service, operation, params)`` looks the operation up in a dispatch table and
runs the matching handler (registry, streams, jobs control plane, jobs data plane,
provisioning); then pending ``notify`` / ``notify-next`` messages are flushed through
``publish``. ``tick()`` applies time rules. Params and results use botocore's shape member
names; failures raise ``contracts.AwsError`` with AWS's code and HTTP status.
Not thread-safe: the wiring calls it from one event loop.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from typing import Any

from ota_deploy.core.clock import Clock
from ota_deploy.local.contracts import BlobReader, Presigner, Publisher
from ota_deploy.local.iot.arns import Arns
from ota_deploy.local.iot.documents import substitute
from ota_deploy.local.iot.engine import JobsEngine
from ota_deploy.local.iot.errors import invalid
from ota_deploy.local.iot.jobs_api import JobsApi
from ota_deploy.local.iot.jobs_data import JobsData
from ota_deploy.local.iot.lifecycle import Membership
from ota_deploy.local.iot.notifications import Notifier
from ota_deploy.local.iot.persistence import dump, load
from ota_deploy.local.iot.provisioning import Provisioning
from ota_deploy.local.iot.records import Job
from ota_deploy.local.iot.registry import Registry, dt
from ota_deploy.local.iot.streams import Streams
from ota_deploy.local.models import service_model

Handler = Callable[[dict[str, Any]], dict[str, Any]]

EVENT_TYPES = (
    "THING",
    "THING_GROUP",
    "THING_TYPE",
    "THING_GROUP_MEMBERSHIP",
    "THING_GROUP_HIERARCHY",
    "THING_TYPE_ASSOCIATION",
    "JOB",
    "JOB_EXECUTION",
    "POLICY",
    "CERTIFICATE",
    "CA_CERTIFICATE",
)
ENDPOINT_TYPES = ("iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs")


@cache
def _required(service: str, operation: str) -> tuple[str, ...]:
    """Required input members per botocore's model (transports that skip botocore's own
    validation, such as the MQTT handler, still get InvalidRequestException, not a crash)."""
    shape = service_model(service).operation_model(operation).input_shape
    return tuple(shape.required_members) if shape is not None else ()


class LocalIotService:
    def __init__(
        self,
        *,
        clock: Clock,
        region: str,
        account: str,
        publish: Publisher,
        read_blob: BlobReader,
        presign: Presigner,
        mqtt_endpoint: str,
    ) -> None:
        self.clock = clock
        self.region = region
        self.account = account
        self.mqtt_endpoint = mqtt_endpoint
        self._presign = presign
        now = clock.now
        self.arns = Arns(region, account)
        self.events: dict[str, bool] = dict.fromkeys(EVENT_TYPES, False)
        self.events_created = now()
        self.events_modified = now()
        self.registry = Registry(self.arns, now)
        self.streams = Streams(self.arns, now)
        self.notifier = Notifier(publish, now, lambda t: self.events.get(t, False))
        self.engine = JobsEngine(
            now=now,
            registry=self.registry,
            notifier=self.notifier,
            device_document=self.device_document,
        )
        self.registry.listener = Membership(self.engine)
        self.jobs = JobsApi(self.engine, read_blob)
        self.data = JobsData(self.engine)
        self.provisioning = Provisioning(self.arns, self.registry, now)
        r, s, j, d, pv = self.registry, self.streams, self.jobs, self.data, self.provisioning
        self._iot: dict[str, Handler] = {
            "CreateThing": r.create_thing,
            "DescribeThing": r.describe_thing,
            "ListThings": r.list_things,
            "DeleteThing": r.delete_thing,
            "UpdateThing": r.update_thing,
            "CreateThingGroup": r.create_thing_group,
            "DescribeThingGroup": r.describe_thing_group,
            "DeleteThingGroup": r.delete_thing_group,
            "AddThingToThingGroup": r.add_thing_to_thing_group,
            "RemoveThingFromThingGroup": r.remove_thing_from_thing_group,
            "ListThingsInThingGroup": r.list_things_in_thing_group,
            "ListThingGroupsForThing": r.list_thing_groups_for_thing,
            "ListThingGroups": r.list_thing_groups,
            "CreateStream": s.create_stream,
            "DescribeStream": s.describe_stream,
            "UpdateStream": s.update_stream,
            "ListStreams": s.list_streams,
            "DeleteStream": s.delete_stream,
            "CreateJob": j.create_job,
            "DescribeJob": j.describe_job,
            "ListJobs": j.list_jobs,
            "CancelJob": j.cancel_job,
            "DeleteJob": j.delete_job,
            "GetJobDocument": j.get_job_document,
            "AssociateTargetsWithJob": j.associate_targets_with_job,
            "UpdateJob": j.update_job,
            "DescribeJobExecution": j.describe_job_execution,
            "ListJobExecutionsForJob": j.list_job_executions_for_job,
            "ListJobExecutionsForThing": j.list_job_executions_for_thing,
            "CancelJobExecution": j.cancel_job_execution,
            "DeleteJobExecution": j.delete_job_execution,
            "DescribeEndpoint": self._describe_endpoint,
            "UpdateEventConfigurations": self._update_event_configurations,
            "DescribeEventConfigurations": self._describe_event_configurations,
            **pv.handlers(),
        }
        self._data: dict[str, Handler] = {
            "GetPendingJobExecutions": d.get_pending_job_executions,
            "StartNextPendingJobExecution": d.start_next_pending_job_execution,
            "DescribeJobExecution": d.describe_job_execution,
            "UpdateJobExecution": d.update_job_execution,
        }

    # ---- the facade ----------
    def supports(self, service: str, operation: str) -> bool:
        return operation in self._table(service)

    def operations(self, service: str) -> list[str]:
        return sorted(self._table(service))

    def stream_revision(self, stream_id: str) -> int | None:
        """A number that changes whenever ``DescribeStream`` of this stream may answer
        differently (None: no such stream), so MQTT file delivery can cache stream data."""
        return self.streams.revision(stream_id)

    def _table(self, service: str) -> dict[str, Handler]:
        if service == "iot":
            return self._iot
        if service == "iot-jobs-data":
            return self._data
        return {}

    def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self._table(service).get(operation)
        if handler is None:
            invalid(f"The local AWS IoT does not implement {service} {operation}.")
        missing = [m for m in _required(service, operation) if params.get(m) is None]
        if missing:
            invalid(f"Missing required parameter(s) for {operation}: {', '.join(missing)}.")
        try:
            return handler(copy.deepcopy(params))  # records never alias caller data
        finally:
            self.engine.flush()

    def tick(self) -> None:
        self.engine.tick()

    def dump_state(self) -> dict[str, Any]:
        return dump(self)

    def load_state(self, state: dict[str, Any]) -> None:
        load(self, state)

    # ---- helpers ----------
    def device_document(self, job: Job) -> str:
        if not job.presigned_url_config:
            return job.document
        return substitute(job.document, self._presign, job.presigned_url_config.get("expiresInSec"))

    def _describe_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        kind = p.get("endpointType") or "iot:Data"
        if kind not in ENDPOINT_TYPES:
            invalid(f"Unknown endpointType {kind!r}; use one of {', '.join(ENDPOINT_TYPES)}.")
        return {"endpointAddress": self.mqtt_endpoint}

    def _update_event_configurations(self, p: dict[str, Any]) -> dict[str, Any]:
        for kind, cfg in (p.get("eventConfigurations") or {}).items():
            if kind not in self.events:
                invalid(f"Unknown event type {kind}.")
            self.events[kind] = bool((cfg or {}).get("Enabled"))
        self.events_modified = self.clock.now()
        return {}

    def _describe_event_configurations(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "eventConfigurations": {k: {"Enabled": v} for k, v in self.events.items()},
            "creationDate": dt(self.events_created),
            "lastModifiedDate": dt(self.events_modified),
        }
