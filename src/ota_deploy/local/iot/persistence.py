"""dump_state / load_state: the service's records as a JSON-friendly dict and back (--state-dir).

Only records are saved; indexes, the deadline heap and notification memory are rebuilt on load
(``JobsEngine.rebuild_indexes``), so a restarted server resumes rollouts and timeouts from the
saved deadlines (epoch seconds of the injected clock).
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, TypeVar

from ota_deploy.local.iot.records import (
    Certificate,
    Execution,
    Job,
    Policy,
    Stream,
    Thing,
    ThingGroup,
)
from ota_deploy.local.iot.states import ExecStatus, JobStatus

if TYPE_CHECKING:
    from ota_deploy.local.iot.service import LocalIotService

FORMAT = 1
T = TypeVar("T")


def _plain(value: Any) -> Any:
    if isinstance(value, JobStatus | ExecStatus):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dump(svc: LocalIotService) -> dict[str, Any]:
    eng = svc.engine
    return {
        "format": FORMAT,
        "things": [_plain(asdict(t)) for t in svc.registry.things.values()],
        "groups": [_plain(asdict(g)) for g in svc.registry.groups.values()],
        "streams": [_plain(asdict(s)) for s in svc.streams.streams.values()],
        "jobs": [_plain(asdict(j)) for j in eng.jobs.values()],
        "events": dict(svc.events),
        "certificates": [_plain(asdict(c)) for c in svc.provisioning.certificates.values()],
        "policies": [_plain(asdict(p)) for p in svc.provisioning.policies.values()],
    }


def _build(cls: type[T], data: dict[str, Any]) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def _execution(data: dict[str, Any]) -> Execution:
    e = _build(Execution, data)
    e.status = ExecStatus(e.status)
    return e


def _job(data: dict[str, Any]) -> Job:
    job = _build(Job, {k: v for k, v in data.items() if k != "executions"})
    job.status = JobStatus(job.status)
    job.executions = {
        t: [_execution(r) for r in runs] for t, runs in (data.get("executions") or {}).items()
    }
    return job


def load(svc: LocalIotService, state: dict[str, Any]) -> None:
    if state.get("format") != FORMAT:
        raise ValueError(f"unsupported local IoT state format {state.get('format')!r}")
    svc.registry.things = {d["name"]: _build(Thing, d) for d in state.get("things", [])}
    svc.registry.groups = {d["name"]: _build(ThingGroup, d) for d in state.get("groups", [])}
    svc.streams.streams = {d["stream_id"]: _build(Stream, d) for d in state.get("streams", [])}
    svc.engine.jobs = {d["job_id"]: _job(d) for d in state.get("jobs", [])}
    svc.events.update({k: bool(v) for k, v in state.get("events", {}).items()})
    svc.provisioning.certificates = {
        d["certificate_id"]: _build(Certificate, d) for d in state.get("certificates", [])
    }
    svc.provisioning.policies = {d["name"]: _build(Policy, d) for d in state.get("policies", [])}
    svc.engine.rebuild_indexes()
