"""``LocalIotService``: the transport-free local AWS IoT behind the HTTP and MQTT front ends.

Data flow: ``call(service, operation, params)`` looks the operation up in a dispatch table and
runs the matching handler (registry, streams, jobs control plane, jobs data plane,
provisioning); then pending ``notify`` / ``notify-next`` messages are flushed through
``publish``. ``tick()`` applies time rules. Params and results use botocore's shape member
names; failures raise ``contracts.AwsError`` with AWS's code and HTTP status.
Every record lives in one ``records.Records`` holder shared by the stores; ``dump_state`` /
``load_state`` save and restore that holder (``persistence``), then the engine rebuilds what it
derives from it.

Write-through (``attach_store``, ``--state-dir``): each operation that may change something and
each ``tick`` runs inside ``records.tracking()``; the ``RecordStore`` then commits what it
touched, and only after that commit does anything leave: the reply (``call`` returns) and the
MQTT messages the operation caused (held in an outbox meanwhile). A failed commit answers
InternalFailureException (500) and keeps the change for the next commit. Operations named
``Describe*``, ``List*`` and ``Get*`` only read (AWS's naming; a test checks every one the
service implements leaves the records unchanged), so they skip tracking: a listing of 10,000
things costs no comparison.
Not thread-safe: the wiring calls it from one event loop.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable
from typing import Any, NoReturn, Protocol, TypeVar

from ota_deploy.core.aws_model import required_members
from ota_deploy.core.clock import Clock
from ota_deploy.local.auth import LocalCa
from ota_deploy.local.contracts import AwsError, BlobReader, Presigner, Publisher
from ota_deploy.local.iot import persistence
from ota_deploy.local.iot.arns import Arns
from ota_deploy.local.iot.documents import substitute
from ota_deploy.local.iot.engine import JobsEngine
from ota_deploy.local.iot.errors import error, invalid
from ota_deploy.local.iot.jobs_api import JobsApi
from ota_deploy.local.iot.jobs_data import JobsData
from ota_deploy.local.iot.lifecycle import Membership
from ota_deploy.local.iot.notifications import Notifier
from ota_deploy.local.iot.provisioning import Provisioning
from ota_deploy.local.iot.records import Changes, Job, Records, tracking
from ota_deploy.local.iot.registry import Registry, dt
from ota_deploy.local.iot.streams import Streams

Handler = Callable[[dict[str, Any]], dict[str, Any]]
T = TypeVar("T")
log = logging.getLogger(__name__)

# Operations that only read (AWS names its reads Describe*, List*, Get*): never tracked.
READ_ONLY_PREFIXES = ("Describe", "List", "Get")


class RecordStore(Protocol):
    """Where an operation's changes go before its reply (``local.store.iot_store.IotStore``)."""

    def commit(
        self, changes: Changes, records: Records, meta: dict[str, Any], now: float
    ) -> bool: ...


ENDPOINT_TYPES = ("iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs")


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
        ca: LocalCa | None = None,
    ) -> None:
        self.clock = clock
        self.region = region
        self.account = account
        self.mqtt_endpoint = mqtt_endpoint
        self._presign = presign
        self._publish = publish
        self._outbox: list[tuple[str, bytes]] | None = None  # held until the commit
        self._store: RecordStore | None = None
        self._store_failing = False
        now = clock.now
        self.arns = Arns(region, account)
        self.records = Records()
        self.events_created = now()
        self.events_modified = now()
        self.registry = Registry(self.arns, now, self.records)
        self.streams = Streams(self.arns, now, self.records)
        self.notifier = Notifier(self._send, now, lambda t: self.records.events.get(t, False))
        self.engine = JobsEngine(
            now=now,
            registry=self.registry,
            notifier=self.notifier,
            device_document=self.device_document,
            jobs=self.records.jobs,
        )
        self.registry.listener = Membership(self.engine)
        self.jobs = JobsApi(self.engine, read_blob)
        self.data = JobsData(self.engine)
        # Device identity: ``ca`` signs CreateKeysAndCertificate's certificates (None: an
        # in-memory CA made on first use); the gateway's TLS listener asks device_authority.
        self.provisioning = Provisioning(self.arns, self.registry, now, self.records, ca=ca)
        self.device_authority = self.provisioning.authority
        self.endpoint_addresses = dict.fromkeys(ENDPOINT_TYPES, mqtt_endpoint)
        r, s, j, d, pv = self.registry, self.streams, self.jobs, self.data, self.provisioning
        self._iot: dict[str, Handler] = {
            "CreateThing": r.create_thing,
            "DescribeThing": r.describe_thing,
            "ListThings": r.list_things,
            "DeleteThing": r.delete_thing,
            "UpdateThing": r.update_thing,
            "CreateThingGroup": r.create_thing_group,
            "DescribeThingGroup": r.describe_thing_group,
            "UpdateThingGroup": r.update_thing_group,
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
        return self._call(service, operation, params, copy=True)

    def call_handed_over(
        self, service: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """``call`` for a caller that hands ``params`` over: it keeps no reference to them or
        to any part of them (the Jobs MQTT handler builds them per request from the request
        it decoded), so nothing can alias a record and they need no copy."""
        return self._call(service, operation, params, copy=False)

    def _call(
        self, service: str, operation: str, params: dict[str, Any], *, copy: bool
    ) -> dict[str, Any]:
        handler = self._table(service).get(operation)
        if handler is None:
            invalid(f"The local AWS IoT does not implement {service} {operation}.")
        # Transports that skip botocore's validation (the MQTT handler) still get
        # InvalidRequestException for a missing member, not a crash.
        for member in required_members(operation, service):
            if params.get(member) is None:
                self._missing(service, operation, params)
        own = own_copy(params) if copy else params  # records never alias caller data
        if self._store is not None and not operation.startswith(READ_ONLY_PREFIXES):
            return self._saved(lambda: handler(own), operation)
        try:
            return handler(own)
        finally:
            self.engine.flush()

    @staticmethod
    def _missing(service: str, operation: str, params: dict[str, Any]) -> NoReturn:
        missing = [m for m in required_members(operation, service) if params.get(m) is None]
        invalid(f"Missing required parameter(s) for {operation}: {', '.join(missing)}.")

    def require_thing(self, thing_name: str) -> None:
        """DescribeThing's ResourceNotFoundException when ``thing_name`` is no thing, without
        building DescribeThing's answer: the Jobs MQTT API checks the thing of every request
        topic (``reserved/jobs_mqtt``). Reads only, like DescribeThing (nothing to track)."""
        self.registry.thing(thing_name)

    def tick(self) -> None:
        if self._store is None:
            self.engine.tick()
            return
        # A failed commit is logged once by _commit; its change is retried with the next one.
        with contextlib.suppress(AwsError):
            self._saved(self.engine.tick, "tick")

    # ---- write-through ----------
    def attach_store(self, store: RecordStore) -> None:
        """From now on, commit every change to ``store`` before replying (module docstring)."""
        self._store = store

    def _send(self, topic: str, payload: bytes) -> None:
        if self._outbox is not None:
            self._outbox.append((topic, payload))
        else:
            self._publish(topic, payload)

    def _saved(self, work: Callable[[], T], what: str) -> T:
        """``work()`` with its changes committed before its result or its messages leave."""
        outbox: list[tuple[str, bytes]] = []
        self._outbox = outbox
        failure: BaseException | None = None
        result: Any = None
        try:
            with tracking() as changes:
                try:
                    result = work()
                except BaseException as err:  # committed all the same: a partial change stays
                    failure = err
                finally:
                    self.engine.flush()
        finally:
            self._outbox = None
        self._commit(changes, what)
        for topic, payload in outbox:
            self._publish(topic, payload)
        if failure is not None:
            raise failure
        return result  # type: ignore[no-any-return]

    def _commit(self, changes: Changes, what: str) -> None:
        assert self._store is not None
        meta = {
            "events": {
                "switches": dict(self.records.events),
                "created": self.events_created,
                "modified": self.events_modified,
            }
        }
        try:
            self._store.commit(changes, self.records, meta, self.clock.now())
        except Exception as err:
            if not self._store_failing:
                log.error("the local AWS IoT could not save its state (%s): %s", what, err)
            self._store_failing = True
            raise error(
                "InternalFailureException", f"The change could not be saved: {err}"
            ) from err
        if self._store_failing:
            log.warning("the local AWS IoT saves its state again")
            self._store_failing = False

    def dump_state(self) -> dict[str, Any]:
        return persistence.dump(self.records)

    def load_state(self, state: dict[str, Any]) -> None:
        self.records.restore(persistence.load(state))
        self.engine.rebuild_indexes()

    # ---- helpers ----------
    def device_document(self, job: Job) -> str:
        cfg = job.configs.presigned_url
        if cfg is None or cfg.empty:
            return job.document
        return substitute(job.document, self._presign, cfg.expires_in_sec)

    def set_endpoint(self, endpoint_type: str, address: str) -> None:
        """What DescribeEndpoint answers for ``endpoint_type`` from now on: the wiring names
        the mutual-TLS listener for iot:Data-ATS / iot:Data, the jobs data plane's
        ``host:port`` for iot:Jobs (every type answers ``mqtt_endpoint`` until then)."""
        if endpoint_type not in ENDPOINT_TYPES:
            raise ValueError(f"unknown endpoint type {endpoint_type!r}")
        self.endpoint_addresses[endpoint_type] = address

    def _describe_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeEndpoint: iot:Data-ATS, iot:Data, iot:Jobs and iot:CredentialProvider all
        answer a listener of this host (API_DescribeEndpoint.html lists the four types; no
        endpointType means iot:Data). AWS answers a bare host name, and clients take the port
        separately (8883 for MQTT over TLS); the local listeners are on ports of their own,
        so the address is ``host:port`` -- what every caller in this project parses
        (``fleet run --aws``, ``monitor --endpoint``, ``aws.provisioning``). The local AWS IoT
        has no credentials provider: iot:CredentialProvider names the data endpoint."""
        kind = p.get("endpointType") or "iot:Data"
        if kind not in ENDPOINT_TYPES:
            invalid(f"Unknown endpointType {kind!r}; use one of {', '.join(ENDPOINT_TYPES)}.")
        return {"endpointAddress": self.endpoint_addresses[kind]}

    def _update_event_configurations(self, p: dict[str, Any]) -> dict[str, Any]:
        for kind, cfg in (p.get("eventConfigurations") or {}).items():
            if kind not in self.records.events:
                invalid(f"Unknown event type {kind}.")
            self.records.events[kind] = bool((cfg or {}).get("Enabled"))
        self.events_modified = self.clock.now()
        return {}

    def _describe_event_configurations(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "eventConfigurations": {k: {"Enabled": v} for k, v in self.records.events.items()},
            "creationDate": dt(self.events_created),
            "lastModifiedDate": dt(self.events_modified),
        }


_IMMUTABLE = (str, int, float, bool, bytes, type(None))


def own_copy(value: Any) -> Any:
    """A copy of a request's params that shares no mutable part with the caller's, so a handler
    may keep any piece of it in a record (and change it) without aliasing the caller's data.
    Params are JSON-like (the front ends decode JSON; botocore's shapes add bytes and
    datetimes): dicts and lists are rebuilt, immutable scalars shared, anything else
    deep-copied. A few times cheaper than ``copy.deepcopy`` on a device's request."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _IMMUTABLE else own_copy(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _IMMUTABLE else own_copy(v) for v in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)
