"""An in-memory peer for the sans-I/O device agent: answers its Jobs and GetStream requests.

``Harness`` plays the service side of the Jobs MQTT API and MQTT file delivery just enough to
drive whole flows through ``DeviceAgent`` with a fake clock: it turns the agent's ``Publish``
actions into replies, fires timers in time order and answers ``HttpGet`` from a URL table.
Knobs let tests lose requests, cancel executions and check what the agent sent.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import cbor2
import pytest

from ota_deploy.core.clock import FakeClock
from ota_deploy.fleet.agent import DeviceAgent
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

TERMINAL = {"SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED"}


@dataclass
class Execution:
    job_id: str
    document: dict[str, Any]
    status: str = "QUEUED"
    version: int = 1
    number: int = 1
    details: dict[str, str] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)


class Harness:
    def __init__(self, thing: str = "dev-1", options: FleetOptions | None = None, **kw: Any):
        self.thing = thing
        self.clock = FakeClock()
        self.agent = DeviceAgent(thing, options or FleetOptions(), clock=self.clock, **kw)
        self.proto = self.agent.protocol
        self.executions: list[Execution] = []
        self.streams: dict[str, tuple[int, dict[int, bytes]]] = {}
        self.urls: dict[str, bytes] = {}
        self.inbox: deque[Event] = deque()
        self.timers: dict[str, tuple[float, int]] = {}
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.subscriptions: list[tuple[str, ...]] = []
        self.finished: list[JobResult] = []
        self.drops = 0
        self.lose_gets = 0  # drop this many GetStream requests
        self.lose_updates = 0  # drop this many update requests
        self.reject_gets_with: str | None = None
        self.connected = False
        self.http_gets: list[str] = []

    # -- service side --------------------------------------------------------------

    def add_job(self, job_id: str, document: dict[str, Any]) -> Execution:
        ex = Execution(job_id, document)
        self.executions.append(ex)
        if self.connected and self._head() is ex:
            self._notify_next()
        return ex

    def _head(self) -> Execution | None:
        active = [e for e in self.executions if e.status == "IN_PROGRESS"]
        active += [e for e in self.executions if e.status == "QUEUED"]
        return active[0] if active else None

    def _exec_json(self, e: Execution, doc: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "jobId": e.job_id,
            "status": e.status,
            "versionNumber": e.version,
            "executionNumber": e.number,
            "statusDetails": e.details,
        }
        if doc:
            out["jobDocument"] = e.document
        return out

    def _notify_next(self) -> None:
        head = self._head()
        msg: dict[str, Any] = {"timestamp": 1}
        if head is not None:
            msg["execution"] = self._exec_json(head)
        self._deliver(f"$aws/things/{self.thing}/jobs/notify-next", json.dumps(msg).encode())

    def end_execution(self, ex: Execution, status: str) -> None:
        """The service ends an execution (timeout, cancel)."""
        ex.status = status
        ex.version += 1
        self._notify_next()

    def _deliver(self, topic: str, payload: bytes) -> None:
        if self.connected:
            self.inbox.append(MessageReceived(topic, payload))

    def _reply(self, topic: str, obj: dict[str, Any]) -> None:
        self._deliver(topic, json.dumps(obj).encode())

    def _stream_reply(self, topic: str, obj: dict[str, Any]) -> None:
        if self.proto == "cbor":
            self._deliver(topic, cbor2.dumps(obj))
        else:
            enc = {
                k: base64.b64encode(v).decode() if isinstance(v, bytes) else v
                for k, v in obj.items()
            }
            self._deliver(topic, json.dumps(enc).encode())

    def _on_publish(self, topic: str, payload: bytes) -> None:
        base = f"$aws/things/{self.thing}/"
        assert topic.startswith(base), topic
        parts = topic[len(base) :].split("/")
        if parts[0] == "jobs":
            req = json.loads(payload)
            self.sent.append((topic, req))
            self._on_jobs(parts[1:], req)
        else:
            if self.proto == "cbor":
                req = cbor2.loads(payload)
            else:
                req = json.loads(payload)
                if "b" in req:
                    req["b"] = base64.b64decode(req["b"])
            self.sent.append((topic, req))
            self._on_stream(parts[1], parts[2], req)

    def _on_jobs(self, parts: list[str], req: dict[str, Any]) -> None:
        prefix = f"$aws/things/{self.thing}/jobs/"
        token = req.get("clientToken")
        if parts == ["start-next"]:
            head = self._head()
            out: dict[str, Any] = {"timestamp": 1, "clientToken": token}
            if head is not None:
                if head.status == "QUEUED":
                    head.status = "IN_PROGRESS"
                    head.version += 1
                out["execution"] = self._exec_json(head)
            self._reply(prefix + "start-next/accepted", out)
            return
        job_id, verb = parts[0], parts[1]
        ex = next((e for e in reversed(self.executions) if e.job_id == job_id), None)
        if verb == "get":
            if ex is None:
                self._reply(
                    prefix + f"{job_id}/get/rejected",
                    {"code": "ResourceNotFound", "clientToken": token},
                )
            else:
                self._reply(
                    prefix + f"{job_id}/get/accepted",
                    {"execution": self._exec_json(ex, False), "clientToken": token},
                )
            return
        assert verb == "update"
        if self.lose_updates:
            self.lose_updates -= 1
            return
        assert ex is not None
        state = {"status": ex.status, "versionNumber": ex.version, "statusDetails": ex.details}
        if ex.status in TERMINAL:
            self._reply(
                prefix + f"{job_id}/update/rejected",
                {"code": "InvalidStateTransition", "clientToken": token, "executionState": state},
            )
            return
        if "expectedVersion" in req and req["expectedVersion"] != ex.version:
            self._reply(
                prefix + f"{job_id}/update/rejected",
                {"code": "VersionMismatch", "clientToken": token, "executionState": state},
            )
            return
        was_head = self._head()
        ex.status = req["status"]
        ex.details = req.get("statusDetails", ex.details)
        ex.version += 1
        ex.updates.append(req)
        self._reply(
            prefix + f"{job_id}/update/accepted",
            {
                "clientToken": token,
                "executionState": {"status": ex.status, "versionNumber": ex.version},
            },
        )
        if self._head() is not was_head:
            self._notify_next()

    def _on_stream(self, stream_id: str, verb: str, req: dict[str, Any]) -> None:
        prefix = f"$aws/things/{self.thing}/streams/{stream_id}/"
        if stream_id not in self.streams:
            self._stream_reply(
                prefix + f"rejected/{self.proto}",
                {"o": "ResourceNotFound", "m": "no stream", "c": req.get("c")},
            )
            return
        version, files = self.streams[stream_id]
        if verb == "describe":
            self._stream_reply(
                prefix + f"description/{self.proto}",
                {
                    "c": req["c"],
                    "s": version,
                    "r": [{"f": f, "z": len(b)} for f, b in files.items()],
                },
            )
            return
        assert verb == "get"
        if self.reject_gets_with:
            self._stream_reply(
                prefix + f"rejected/{self.proto}",
                {"o": self.reject_gets_with, "m": "no", "c": req.get("c")},
            )
            return
        if self.lose_gets:
            self.lose_gets -= 1
            return
        data, size = files[req["f"]], req["l"]
        offset = req.get("o", 0)
        if "b" in req:
            bits = req["b"]
            idx = [
                offset + (n << 3) + b
                for n, byte in enumerate(bits)
                for b in range(8)
                if byte >> b & 1
            ]
        else:
            idx = list(range(offset, offset + req.get("n", 1)))
        for i in idx:
            chunk = data[i * size : (i + 1) * size]
            if chunk:
                self._stream_reply(
                    prefix + f"data/{self.proto}",
                    {"c": req["c"], "f": req["f"], "l": len(chunk), "i": i, "p": chunk},
                )

    # -- driver --------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        for action in self.agent.handle(event):
            if isinstance(action, Subscribe):
                self.subscriptions.append(action.topics)
            elif isinstance(action, Publish):
                if self.connected:
                    self._on_publish(action.topic, action.payload)
            elif isinstance(action, StartTimer):
                self.timers[action.name] = (self.clock.now() + action.delay, action.token)
            elif isinstance(action, CancelTimer):
                self.timers.pop(action.name, None)
            elif isinstance(action, HttpGet):
                self.http_gets.append(action.url)
                body = self.urls.get(action.url)
                ev = (
                    HttpCompleted(action.url, 200, body)
                    if body is not None
                    else HttpCompleted(action.url, 403, b"denied")
                )
                self.inbox.append(ev)
            elif isinstance(action, DropConnection):
                self.drops += 1
                self.connected = False
                self.inbox.clear()
                self.feed(ConnectionLost())
                self.clock.advance(action.reconnect_after)
                self.connect()
            elif isinstance(action, JobFinished):
                self.finished.append(action.result)

    def connect(self) -> None:
        self.connected = True
        self.feed(Connected())

    def run(self, *, until: float = 3600.0, max_steps: int = 100_000) -> None:
        """Deliver messages, then fire timers in time order, until quiet or ``until`` seconds."""
        end = self.clock.now() + until
        for _ in range(max_steps):
            if self.inbox:
                self.feed(self.inbox.popleft())
                continue
            if not self.timers:
                return
            name, (when, token) = min(self.timers.items(), key=lambda kv: kv[1][0])
            if when > end:
                return
            del self.timers[name]
            self.clock.set(max(when, self.clock.now()))
            self.feed(TimerFired(name, token))
        raise AssertionError("agent did not settle")

    def stream_requests(self) -> list[dict[str, Any]]:
        return [req for topic, req in self.sent if "/streams/" in topic and "/get/" in topic]


@pytest.fixture
def make_harness() -> type[Harness]:
    return Harness
