"""Plain records the local IoT stores: things, groups, streams, jobs, executions, certificates,
CA certificates, policies, and the one :class:`Records` holder of them all.

Data flow: the service makes one ``Records``; each store (registry, streams, jobs engine,
provisioning) works on its own tables of it; persistence reads and restores the holder as a
whole (``TABLES`` names each table, its record type and its key), never the stores' members.
Records hold only JSON-friendly values (str, int, float, bool, lists, dicts, the status
``StrEnum``s; times are epoch seconds as floats from the injected clock), except a job's
configurations, typed records (``job_config``) that serialise back to the dicts they came from.
Derived state (executions by status, pending executions per thing, deadlines, what devices were
told) lives in the engine and is rebuilt from the records after loading.

Change tracking (for a write-through store, ``local.store``): inside :func:`tracking` every
table of ``TABLES`` notes the keys an operation read or wrote (a record read may be changed in
place; a store compares it with what it saved), each job's ``executions`` notes the things whose
list of runs was touched, and an :class:`Execution` notes each assignment to its fields (the
engine reaches executions through its indexes too, not only through the tables). Execution
fields are therefore replaced, never changed in place (``e.status_details = dict(...)``).
Outside :func:`tracking` nothing is noted and nothing grows -- so a change made outside
``LocalIotService.call`` / ``tick`` (which track) is not written through: make changes there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Any

from ota_deploy.core.aws_model import shape
from ota_deploy.core.job_config import JobConfigs
from ota_deploy.core.status import ExecutionStatus, JobStatus, TargetSelection


@dataclass
class Thing:
    name: str
    thing_id: str
    arn: str
    created: float
    attributes: dict[str, str] = field(default_factory=dict)
    thing_type: str | None = None
    version: int = 1
    groups: dict[str, None] = field(default_factory=dict)  # ordered set of group names
    principals: dict[str, None] = field(default_factory=dict)


@dataclass
class ThingGroup:
    name: str
    group_id: str
    arn: str
    created: float
    parent: str | None = None
    description: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    version: int = 1
    members: dict[str, None] = field(default_factory=dict)  # thing names
    children: dict[str, None] = field(default_factory=dict)  # group names


@dataclass
class Stream:
    stream_id: str
    arn: str
    files: list[dict[str, Any]]
    created: float
    updated: float
    description: str | None = None
    role_arn: str | None = None
    version: int = 1


@dataclass
class Execution:
    job_id: str
    thing_name: str
    execution_number: int
    queued_at: float
    last_updated_at: float
    status: ExecutionStatus = ExecutionStatus.QUEUED
    status_details: dict[str, str] = field(default_factory=dict)
    started_at: float | None = None
    version_number: int = 1
    retry_attempt: int = 0
    retries_used: dict[str, int] = field(default_factory=dict)  # per retry failureType key
    notified: bool = False  # released by the rollout: visible to the device
    force_canceled: bool = False
    in_progress_deadline: float | None = None
    step_deadline: float | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        changes = _CURRENT.get()
        if changes is not None:
            changes.executions[id(self)] = self

    @property
    def deadline(self) -> float | None:
        whole, step = self.in_progress_deadline, self.step_deadline
        if whole is None or step is None:
            return step if whole is None else whole
        return min(whole, step)


@dataclass
class Job:
    job_id: str
    arn: str
    targets: list[str]
    document: str
    created_at: float
    last_updated_at: float
    target_selection: TargetSelection = TargetSelection.SNAPSHOT
    document_source: str | None = None
    description: str | None = None
    configs: JobConfigs = field(default_factory=JobConfigs)  # rollout, abort, timeout, ...
    document_parameters: dict[str, str] | None = None
    status: JobStatus = JobStatus.IN_PROGRESS
    force_canceled: bool = False
    reason_code: str | None = None
    comment: str | None = None
    completed_at: float | None = None
    # executions per thing, oldest first; the last one is the current one
    executions: dict[str, list[Execution]] = field(default_factory=dict)
    # rollout state: things whose execution is not yet released (notified), FIFO
    unreleased: list[str] = field(default_factory=list)
    window_start: float = 0.0
    window_rate: float | None = None  # releases allowed in the current window; None = unlimited
    released_in_window: int = 0
    notified_count: int = 0
    succeeded_count: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.executions, Runs):
            self.executions = Runs(self.executions, job_id=self.job_id)

    def current(self, thing: str) -> Execution | None:
        runs = self.executions.get(thing)
        return runs[-1] if runs else None


@dataclass
class Certificate:
    certificate_id: str
    arn: str
    pem: str
    status: str
    created: float
    updated: float
    not_before: float
    not_after: float
    things: dict[str, None] = field(default_factory=dict)
    ca_certificate_id: str | None = None  # the registered CA that signed it (RegisterCertificate)
    mode: str = "DEFAULT"  # certificateMode: DEFAULT, or SNI_ONLY (registered without a CA)
    exclusive_thing: str | None = None  # attached with thingPrincipalType EXCLUSIVE_THING
    customer_version: int = 1  # bumped by every UpdateCertificate


@dataclass
class CaCertificate:
    """A CA certificate registered with RegisterCACertificate."""

    certificate_id: str
    arn: str
    pem: str
    status: str  # CACertificateStatus: ACTIVE or INACTIVE
    created: float
    updated: float
    not_before: float
    not_after: float
    auto_registration: str = "DISABLE"  # AutoRegistrationStatus
    mode: str = "DEFAULT"  # certificateMode
    registration_config: dict[str, str] = field(default_factory=dict)
    customer_version: int = 1


@dataclass
class Policy:
    name: str
    arn: str
    document: str  # the default version's document
    created: float
    updated: float
    version_id: str = "1"  # the default version
    targets: dict[str, None] = field(default_factory=dict)
    # every version, the default included: id -> {"document": str, "created": float}
    # (empty in states saved before policy versions existed: then only version_id, document)
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_version: int = 1  # version ids are never reused: the next one is last_version + 1


def _event_switches() -> dict[str, bool]:
    """UpdateEventConfigurations' switches, all off: one per ``EventType`` of botocore's model."""
    return dict.fromkeys(shape("EventType").enum, False)


@dataclass
class Records:
    """Every record the local AWS IoT keeps, one table (a dict by key) per kind.

    The stores keep references to these dicts, so :meth:`restore` replaces their contents in
    place; nothing ever rebinds a table. A store that must outlive the process (a write-through
    database) has one place to look: each table's records by key, plus the event switches.
    """

    things: dict[str, Thing] = field(default_factory=dict)
    groups: dict[str, ThingGroup] = field(default_factory=dict)
    streams: dict[str, Stream] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    certificates: dict[str, Certificate] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    ca_certificates: dict[str, CaCertificate] = field(default_factory=dict)
    # UpdateEventConfigurations' switches (all off until enabled)
    events: dict[str, bool] = field(default_factory=_event_switches)

    def __post_init__(self) -> None:
        for table in TABLES:  # every table tracks what an operation touches (module docstring)
            current = getattr(self, table.name)
            if not isinstance(current, TrackedTable):
                setattr(self, table.name, TrackedTable(current, name=table.name))

    def restore(self, other: Records) -> None:
        """Make every table hold ``other``'s records, in place (the stores keep their dicts)."""
        for f in fields(self):
            table: dict[str, Any] = getattr(self, f.name)
            table.clear()
            table.update(getattr(other, f.name))


@dataclass(frozen=True)
class Table:
    """One table of :class:`Records`: its attribute, record type and the record's key field."""

    name: str
    record: type[Any]
    key: str


TABLES = (
    Table("things", Thing, "name"),
    Table("groups", ThingGroup, "name"),
    Table("streams", Stream, "stream_id"),
    Table("jobs", Job, "job_id"),
    Table("certificates", Certificate, "certificate_id"),
    Table("policies", Policy, "name"),
    Table("ca_certificates", CaCertificate, "certificate_id"),
)


# ---- change tracking ---------------------------------------------------------------------
@dataclass
class Changes:
    """What one operation (or tick) touched, for a write-through store to save.

    ``tables``: per table of ``TABLES``, the keys read or written (the record may have changed
    in place, or be gone); ``runs``: the (job id, thing) pairs whose list of executions was
    touched (an execution may have been added or removed); ``executions``: the executions whose
    fields were assigned (by id, so each object is kept once).
    """

    tables: dict[str, set[str]] = field(default_factory=dict)
    runs: set[tuple[str, str]] = field(default_factory=set)
    executions: dict[int, Execution] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.tables or self.runs or self.executions)

    def merge(self, other: Changes) -> None:
        """Add ``other``'s notes to these (a failed save is retried with the next one)."""
        for name, keys in other.tables.items():
            self.tables.setdefault(name, set()).update(keys)
        self.runs |= other.runs
        self.executions.update(other.executions)


_CURRENT: ContextVar[Changes | None] = ContextVar("local_iot_changes", default=None)


@contextmanager
def tracking() -> Iterator[Changes]:
    """Note what the records see of one operation in the yielded :class:`Changes`."""
    changes = Changes()
    token = _CURRENT.set(changes)
    try:
        yield changes
    finally:
        _CURRENT.reset(token)


class TrackedTable(dict[str, Any]):
    """A table of :class:`Records`: a dict that notes, while :func:`tracking`, every key read,
    written or removed (``values()`` / ``items()`` note every key: their records may be changed
    in place; plain iteration, ``in`` and ``len`` note nothing)."""

    __slots__ = ("name",)

    def __init__(self, data: Iterable[Any] = (), *, name: str = "") -> None:
        super().__init__(data)
        self.name = name

    def _note(self, keys: Iterable[str]) -> None:
        changes = _CURRENT.get()
        if changes is not None:
            changes.tables.setdefault(self.name, set()).update(keys)

    # The two lookups every request makes: nothing noted (and nothing built) outside tracking.
    def __getitem__(self, key: str) -> Any:
        if _CURRENT.get() is not None:
            self._note((key,))
        return dict.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        if _CURRENT.get() is not None:
            self._note((key,))
        return dict.get(self, key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self._note((key,))
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._note((key,))
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self._note((key,))
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        key, value = super().popitem()
        self._note((key,))
        return key, value

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._note((key,))
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        other = dict(*args, **kwargs)
        self._note(other)
        super().update(other)

    def clear(self) -> None:
        self._note(list(super().keys()))
        super().clear()

    def values(self) -> Any:
        self._note(list(super().keys()))
        return super().values()

    def items(self) -> Any:
        self._note(list(super().keys()))
        return super().items()


class Runs(TrackedTable):
    """A job's executions per thing: notes the (job id, thing) pairs touched while tracking."""

    __slots__ = ("job_id",)

    def __init__(self, data: Iterable[Any] = (), *, job_id: str = "") -> None:
        super().__init__(data)
        self.job_id = job_id

    def _note(self, keys: Iterable[str]) -> None:
        changes = _CURRENT.get()
        if changes is not None:
            changes.runs.update((self.job_id, k) for k in keys)
