"""The service's records as a JSON-friendly dict and back (``dump_state`` / ``load_state``,
``--state-dir``).

Data flow: ``dump(records)`` writes every table of ``records.TABLES`` (one dict per record, its
dataclass fields; a job's typed configurations as the botocore-shaped dicts they came from, under
the fields ``presigned_url_config``, ``rollout_config``, ``abort_config``, ``timeout_config`` and
``retry_config``) plus the event switches; ``load(state)`` builds a fresh ``Records`` from such a
dict. Only records are saved: the engine rebuilds its indexes, deadline heap and notification
memory afterwards (``JobsEngine.rebuild_indexes``), so a restarted server resumes rollouts and
timeouts from the saved deadlines (epoch seconds of the injected clock). ``encode`` / ``decode``
work one record at a time, for a store that saves records one by one: ``row`` is a record's
compact JSON text as such a store keeps it (a job without its executions, which a store keeps
one row each, ``execution_row``); the store hands its rows back to :func:`load` in the dict
shape :func:`dump` makes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields, is_dataclass
from enum import StrEnum
from typing import Any, TypeVar

from ota_deploy.core.job_config import JobConfigs
from ota_deploy.core.status import ExecutionStatus, JobStatus, TargetSelection
from ota_deploy.local.iot.records import TABLES, Execution, Job, Records

FORMAT = 1
T = TypeVar("T")
# Where each configuration of a job is saved (the field names of format 1).
_CONFIG_FIELDS = {
    "presignedUrlConfig": "presigned_url_config",
    "jobExecutionsRolloutConfig": "rollout_config",
    "abortConfig": "abort_config",
    "timeoutConfig": "timeout_config",
    "jobExecutionsRetryConfig": "retry_config",
}


def _plain(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def encode(record: Any, *, with_executions: bool = True) -> dict[str, Any]:
    """One record as a JSON-friendly dict (a job's executions left out when asked)."""
    if not isinstance(record, Job):
        return _plain(asdict(record))  # type: ignore[no-any-return]
    out: dict[str, Any] = {}
    for f in fields(Job):
        if f.name == "configs":
            wire = record.configs.to_params()
            out.update({name: wire.get(member) for member, name in _CONFIG_FIELDS.items()})
        elif f.name == "executions":
            if not with_executions:
                continue
            out["executions"] = {
                t: [encode(e) for e in runs] for t, runs in record.executions.items()
            }
        else:
            out[f.name] = _plain(getattr(record, f.name))  # _plain copies lists and dicts
    return out


def row(record: Any) -> str:
    """One record as the compact JSON text a store keeps (a job without its executions): the
    same content as :func:`encode`, serialised straight from the record (no copy; ``json``
    writes a ``StrEnum`` as its value) since a write-through store does this per change."""
    if isinstance(record, Job):
        data = _fields_of(record)
        del data["executions"]
        wire = data.pop("configs").to_params()
        data.update({name: wire.get(member) for member, name in _CONFIG_FIELDS.items()})
    else:
        data = _fields_of(record)
    return json.dumps(data, separators=(",", ":"), default=_nested)


def execution_row(e: Execution) -> str:
    """One execution as the compact JSON text a store keeps."""
    return json.dumps(_fields_of(e), separators=(",", ":"), default=_nested)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _fields_of(record: Any) -> dict[str, Any]:
    """A dataclass record's fields by name, values as they are (not copied)."""
    cls = type(record)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return {n: getattr(record, n) for n in names}


def _nested(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _fields_of(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot save {type(value).__name__}")


def _build(cls: type[T], data: dict[str, Any]) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def decode(cls: type[T], data: dict[str, Any]) -> T:
    """One record of type ``cls`` from a dict :func:`encode` made."""
    if cls is Execution:
        return _build(cls, {**data, "status": ExecutionStatus(data["status"])})
    if cls is Job:
        wire = {m: data[name] for m, name in _CONFIG_FIELDS.items() if data.get(name) is not None}
        rest = {k: v for k, v in data.items() if k not in _CONFIG_FIELDS.values()}
        return _build(
            cls,
            {
                **rest,
                "status": JobStatus(data["status"]),
                "target_selection": TargetSelection(data["target_selection"]),
                "configs": JobConfigs.from_params(wire),
                "executions": {
                    t: [decode(Execution, r) for r in runs]
                    for t, runs in (data.get("executions") or {}).items()
                },
            },
        )
    return _build(cls, data)


def dump(records: Records) -> dict[str, Any]:
    state: dict[str, Any] = {"format": FORMAT}
    for table in TABLES:
        state[table.name] = [encode(r) for r in getattr(records, table.name).values()]
    state["events"] = dict(records.events)
    return state


def load(state: dict[str, Any]) -> Records:
    if state.get("format") != FORMAT:
        raise ValueError(f"unsupported local IoT state format {state.get('format')!r}")
    records = Records()
    for table in TABLES:
        rows = (decode(table.record, d) for d in state.get(table.name, []))
        getattr(records, table.name).update({getattr(r, table.key): r for r in rows})
    records.events.update({k: bool(v) for k, v in state.get("events", {}).items()})
    return records
